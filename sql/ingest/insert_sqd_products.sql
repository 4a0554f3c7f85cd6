INSERT INTO sqd_products
SELECT
    CAST(product_id AS VARCHAR),
    CAST(product_locale AS VARCHAR),
    CAST(product_title AS VARCHAR),
    CAST(product_description AS VARCHAR),
    CAST(product_bullet_point AS VARCHAR),
    CAST(product_brand AS VARCHAR),
    CAST(product_color AS VARCHAR)
FROM read_parquet($path)
