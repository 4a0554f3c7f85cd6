-- SQID query_features.parquet: CLIP text vectors of the benchmark queries.
SELECT CAST(q.query_id AS VARCHAR) AS query_id, t.embedding AS clip_text_features
FROM sqid_queries AS q
LEFT JOIN text_embeddings AS t
    ON t.text_sha256 = sha256(q.query) AND t.model_id = $model_id AND t.revision = $revision
ORDER BY q.query_id
