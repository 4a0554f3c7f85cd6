-- Idempotent: an attempt already merged (same attempt_id) is ignored.
-- Shard files carry times as int64 microseconds since the epoch, UTC.
INSERT OR IGNORE INTO scrape_attempts BY NAME
SELECT attempt_id, product_id, attempt, timezone('UTC', make_timestamp(fetched_at)) AS fetched_at,
       http_status, page_kind, latency_ms, bytes, error, run_id, final_url
FROM read_parquet($files)
