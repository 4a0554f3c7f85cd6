-- Idempotent: an attempt already merged (same attempt_id) is ignored.
INSERT OR IGNORE INTO scrape_attempts
SELECT attempt_id, product_id, attempt, fetched_at, http_status, page_kind,
       latency_ms, bytes, error, run_id
FROM read_parquet($files)
