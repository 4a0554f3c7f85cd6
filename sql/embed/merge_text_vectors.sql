INSERT OR IGNORE INTO text_embeddings
SELECT DISTINCT ON (model_id, revision, text_sha256) model_id, revision, text_sha256, embedding
FROM read_parquet($files)
