-- A scrape run's attempts counted by HTTP status, page kind and error, and its retries by
-- what the retried attempt got (its error, else its page kind, else its HTTP status).
INSERT INTO run_counts
WITH attempts AS (SELECT * FROM scrape_attempts WHERE run_id = $run_id),
retried AS (
    SELECT coalesce(a.error, a.page_kind, 'http_' || CAST(a.http_status AS VARCHAR)) AS reason
    FROM attempts AS a
    JOIN attempts AS b ON b.product_id = a.product_id AND b.attempt = a.attempt + 1
),
counts AS (
    SELECT 'http_status' AS dimension, coalesce(CAST(http_status AS VARCHAR), 'none') AS key,
           count(*) AS n
    FROM attempts GROUP BY 2
    UNION ALL
    SELECT 'page_kind', coalesce(page_kind, 'none'), count(*) FROM attempts GROUP BY 2
    UNION ALL
    SELECT 'error', error, count(*) FROM attempts WHERE error IS NOT NULL GROUP BY 2
    UNION ALL
    SELECT 'retry_reason', reason, count(*) FROM retried GROUP BY 2
)
SELECT 'scrape', $run_id, dimension, key, n FROM counts
