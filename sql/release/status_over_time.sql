-- Page kinds seen per day, for the release report.
SELECT strftime(fetched_at AT TIME ZONE 'UTC', '%Y-%m-%d') AS day,
       coalesce(page_kind, coalesce(error, 'http_' || CAST(http_status AS VARCHAR))) AS outcome,
       count(*) AS attempts
FROM scrape_attempts
GROUP BY ALL ORDER BY day, outcome
