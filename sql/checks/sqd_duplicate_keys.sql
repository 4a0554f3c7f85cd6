-- Keys of the raw SQD tables that occur more than once: one row per table, with the
-- number of duplicated keys and one of them to name (NULL when there are none).
-- A load fails on any; the tables carry no index to enforce them (create_sqd_tables).
SELECT 'shopping_queries_dataset_examples.parquet' AS file_name, count(*) AS duplicates,
       CAST(min(example_id) AS VARCHAR) AS example_key
FROM (SELECT example_id FROM sqd_examples GROUP BY example_id HAVING count(*) > 1)
UNION ALL
SELECT 'shopping_queries_dataset_products.parquet', count(*),
       min(product_locale || '/' || product_id)
FROM (
    SELECT product_locale, product_id FROM sqd_products
    GROUP BY product_locale, product_id HAVING count(*) > 1
)
UNION ALL
SELECT 'shopping_queries_dataset_sources.csv', count(*), CAST(min(query_id) AS VARCHAR)
FROM (SELECT query_id FROM sqd_sources GROUP BY query_id HAVING count(*) > 1)
