-- A user's scores file: Parquet with columns query_id, product_id, score.
SELECT CAST(query_id AS VARCHAR), CAST(product_id AS VARCHAR), CAST(score AS DOUBLE)
FROM read_parquet($path)
