-- Each column must be true: the derived product set follows its rules.
SELECT
    count(*) FILTER (WHERE product_set = 'test') > 0          AS has_test_products,
    bool_and(product_set IN ('test', 'supp'))                 AS product_set_accepted,
    bool_and(n_judgements >= 1 AND n_queries >= 1)            AS judged,
    bool_and(product_set = 'test' OR n_judgements >= (SELECT min_supp_judgements FROM sqid_set_rule)) AS supp_judged_twice
FROM sqid_products
