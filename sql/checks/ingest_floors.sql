-- What the ingest gate's floors compare: rows of each raw table and of the product set,
-- and the share of SQID products that have a title.
SELECT
    (SELECT count(*) FROM sqd_examples)  AS examples,
    (SELECT count(*) FROM sqd_products)  AS products,
    (SELECT count(*) FROM sqd_sources)   AS sources,
    (SELECT count(*) FROM sqid_products) AS sqid_products,
    (SELECT coalesce(avg(CASE WHEN title IS NOT NULL AND length(title) > 0 THEN 1.0 ELSE 0.0 END), 0.0)
       FROM sqid_products)               AS title_share
