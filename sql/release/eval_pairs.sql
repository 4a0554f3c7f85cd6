-- Every US Task-1 test judgement of a release's queries (scores are computed in numpy:
-- list_cosine_similarity rejects columns that hold NULL lists anywhere).
SELECT CAST(e.query_id AS VARCHAR) AS query_id, e.product_id, e.esci_label
FROM read_parquet($examples) AS e
JOIN read_parquet($query_features) AS q ON q.query_id = CAST(e.query_id AS VARCHAR)
WHERE e.small_version = 1 AND e.split = 'test' AND e.product_locale = 'us'
ORDER BY 1, 2
