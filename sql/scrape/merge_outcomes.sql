-- Latest outcome per product wins; re-merging the same files changes nothing.
-- Shard files carry times as int64 microseconds since the epoch, UTC.
INSERT INTO product_images
SELECT product_id, status, page_kind, image_id, image_key, image_url, hires_url, original_url,
       source, default_reason, http_status, attempts, error,
       timezone('UTC', make_timestamp(scraped_at)) AS scraped_at, run_id
FROM read_parquet($files)
QUALIFY row_number() OVER (PARTITION BY product_id ORDER BY scraped_at DESC) = 1
ON CONFLICT (product_id) DO UPDATE SET
    status = excluded.status,
    page_kind = excluded.page_kind,
    image_id = excluded.image_id,
    image_key = excluded.image_key,
    image_url = excluded.image_url,
    hires_url = excluded.hires_url,
    original_url = excluded.original_url,
    source = excluded.source,
    default_reason = excluded.default_reason,
    http_status = excluded.http_status,
    attempts = excluded.attempts,
    error = excluded.error,
    scraped_at = excluded.scraped_at,
    run_id = excluded.run_id
WHERE excluded.scraped_at >= product_images.scraped_at
