-- A user's scores file: CSV with a header and columns query_id, product_id, score.
-- Scores are cast leniently (TRY_CAST) so the caller can name the rows that are not numbers.
SELECT CAST(query_id AS VARCHAR) AS query_id, CAST(product_id AS VARCHAR) AS product_id,
       CAST(score AS VARCHAR) AS raw_score, TRY_CAST(score AS DOUBLE) AS score
FROM read_csv($path, header = true, all_varchar = true)
