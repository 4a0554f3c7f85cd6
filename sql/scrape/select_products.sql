-- Products to (re)scrape:
--   * explicit $product_ids (any status), else
--   * products whose current status is in $statuses (any age), else
--   * never scraped, or a retryable status older than $retry_age_hours,
--   * or everything when $force.
SELECT p.product_id
FROM sqid_products AS p
LEFT JOIN product_images AS i USING (product_id)
WHERE CASE
    WHEN len($product_ids) > 0 THEN list_contains($product_ids, p.product_id)
    WHEN len($statuses) > 0 THEN list_contains($statuses, coalesce(i.status, 'pending'))
    WHEN $force THEN true
    ELSE i.product_id IS NULL
        OR (list_contains($retryable, i.status)
            AND i.scraped_at < now() - to_hours(CAST($retry_age_hours AS BIGINT)))
END
ORDER BY p.product_set DESC, p.product_id
LIMIT $limit
