INSERT INTO sqd_examples
SELECT
    CAST(example_id AS BIGINT),
    CAST(query AS VARCHAR),
    CAST(query_id AS BIGINT),
    CAST(product_id AS VARCHAR),
    CAST(product_locale AS VARCHAR),
    CAST(esci_label AS VARCHAR),
    CAST(small_version AS TINYINT),
    CAST(large_version AS TINYINT),
    CAST(split AS VARCHAR)
FROM read_parquet($path)
