SELECT
    count(*) FILTER (WHERE product_set = 'test') AS test_products,
    count(*) FILTER (WHERE product_set = 'supp') AS supp_products,
    (SELECT count(*) FROM sqid_queries)          AS test_queries
FROM sqid_products
