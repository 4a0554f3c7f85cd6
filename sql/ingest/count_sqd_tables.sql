SELECT
    (SELECT count(*) FROM sqd_examples) AS examples,
    (SELECT count(*) FROM sqd_products) AS products,
    (SELECT count(*) FROM sqd_sources)  AS sources
