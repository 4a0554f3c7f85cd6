-- bench/bench_release.py's anchor for the embed merge: the same download part files,
-- a plain insert (no upsert, no latest-per-URL window).
INSERT INTO image_fetches
SELECT url, image_url, sha256, status, error, http_status, attempts, make_timestamp(fetched_at)
FROM read_parquet($files)
