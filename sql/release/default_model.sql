-- The (model_id, revision) with the most image vectors: what a release carries by default.
SELECT model_id, revision FROM image_embeddings
GROUP BY ALL ORDER BY count(*) DESC, model_id LIMIT 1
