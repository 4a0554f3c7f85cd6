-- Why a plan selected what it did: the product set by where each product stands for
-- the default rule (never scraped, retryable and due, retryable but scraped within
-- $retry_age_hours, final). Read by the plan's log line, not by the selection itself.
SELECT
    count(*) AS products,
    count(*) FILTER (WHERE i.product_id IS NULL) AS never_scraped,
    count(*) FILTER (
        WHERE list_contains($retryable, i.status)
            AND i.scraped_at < now() - to_hours(CAST($retry_age_hours AS BIGINT))
    ) AS retryable_due,
    count(*) FILTER (
        WHERE list_contains($retryable, i.status)
            AND i.scraped_at >= now() - to_hours(CAST($retry_age_hours AS BIGINT))
    ) AS retryable_recent,
    count(*) FILTER (
        WHERE i.product_id IS NOT NULL AND NOT list_contains($retryable, i.status)
    ) AS final
FROM sqid_products AS p
LEFT JOIN product_images AS i USING (product_id)
