-- test: every product judged in the US Task-1 (small_version = 1) test split.
-- supp: every other US Task-1 product with at least $min_supp_judgements judgements
--       (all splits; a product outside the test set can only be judged in train).
INSERT INTO sqid_products
WITH task1_us AS (
    SELECT product_id, query_id, split
    FROM sqd_examples
    WHERE small_version = 1 AND product_locale = 'us'
),
per_product AS (
    SELECT
        product_id,
        bool_or(split = 'test')  AS in_test,
        count(DISTINCT query_id) AS n_queries,
        count(*)                 AS n_judgements
    FROM task1_us
    GROUP BY product_id
)
SELECT
    pp.product_id,
    CASE WHEN pp.in_test THEN 'test' ELSE 'supp' END AS product_set,
    p.product_title AS title,
    p.product_brand AS brand,
    pp.n_queries,
    pp.n_judgements
FROM per_product AS pp
LEFT JOIN sqd_products AS p
    ON p.product_locale = 'us' AND p.product_id = pp.product_id
WHERE pp.in_test OR pp.n_judgements >= $min_supp_judgements
ORDER BY pp.product_id
