-- The US Task-1 test queries: the queries of the SQID ranking benchmark.
INSERT INTO sqid_queries
SELECT
    e.query_id,
    any_value(e.query) AS query,
    any_value(s.source) AS source,
    count(*) AS n_judgements
FROM sqd_examples AS e
LEFT JOIN sqd_sources AS s USING (query_id)
WHERE e.small_version = 1 AND e.split = 'test' AND e.product_locale = 'us'
GROUP BY e.query_id
ORDER BY e.query_id
