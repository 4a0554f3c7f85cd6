-- Vectors are keyed by (model, revision, content hash) and never rewritten: a key
-- merged before, or twice in these files (a resumed shard), keeps its first vector.
-- INSERT OR IGNORE skips duplicates on the key alone; a DISTINCT ON here would carry
-- every 768-float payload through a hash aggregate (about 3x the cost of the insert).
INSERT OR IGNORE INTO image_embeddings
SELECT model_id, revision, sha256, embedding
FROM read_parquet($files)
