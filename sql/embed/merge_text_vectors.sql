-- Keyed by (model, revision, sha256 of the text) and never rewritten: see
-- merge_image_vectors.sql for why duplicates are skipped by the key alone.
INSERT OR IGNORE INTO text_embeddings
SELECT model_id, revision, text_sha256, embedding
FROM read_parquet($files)
