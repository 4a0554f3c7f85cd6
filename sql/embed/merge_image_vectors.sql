INSERT OR IGNORE INTO image_embeddings
SELECT DISTINCT ON (model_id, revision, sha256) model_id, revision, sha256, embedding
FROM read_parquet($files)
