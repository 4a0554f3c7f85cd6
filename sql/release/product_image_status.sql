-- Extra columns kept out of the SQID files: status and provenance of every product image.
WITH latest_fetch AS (
    SELECT image_url, sha256 FROM image_fetches WHERE status = 'ok'
    QUALIFY row_number() OVER (PARTITION BY image_url ORDER BY fetched_at DESC) = 1
)
SELECT
    p.product_id,
    p.product_set,
    coalesce(i.status, 'not_scraped') AS status,
    i.page_kind,
    i.image_id,
    i.image_key,
    CASE WHEN i.status = 'ok' THEN i.image_url END AS image_url,
    CASE WHEN i.status = 'ok' THEN i.hires_url END AS hires_url,
    i.source,
    i.default_reason,
    strftime(i.scraped_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') AS scraped_at,
    f.sha256 AS image_sha256
FROM sqid_products AS p
LEFT JOIN product_images AS i ON i.product_id = p.product_id
LEFT JOIN latest_fetch AS f ON f.image_url = i.image_url AND i.status = 'ok'
ORDER BY p.product_set DESC, p.product_id
