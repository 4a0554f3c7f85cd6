-- Latest download outcome per URL. Times are int64 microseconds since the epoch, UTC.
INSERT INTO image_fetches
SELECT url, image_url, sha256, status, error, http_status, attempts,
       timezone('UTC', make_timestamp(fetched_at)) AS fetched_at
FROM read_parquet($files)
QUALIFY row_number() OVER (PARTITION BY url ORDER BY fetched_at DESC) = 1
ON CONFLICT (url) DO UPDATE SET
    image_url = excluded.image_url,
    sha256 = excluded.sha256,
    status = excluded.status,
    error = excluded.error,
    http_status = excluded.http_status,
    attempts = excluded.attempts,
    fetched_at = excluded.fetched_at
WHERE excluded.fetched_at >= image_fetches.fetched_at
