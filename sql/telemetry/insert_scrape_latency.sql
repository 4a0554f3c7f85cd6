-- Latency percentiles of a scrape run per host (where the page was served from).
INSERT INTO run_latency
SELECT $run_id,
       coalesce(regexp_extract(final_url, '^[a-z]+://([^/:?#]+)', 1), 'unknown') AS host,
       count(*),
       quantile_cont(latency_ms, 0.5), quantile_cont(latency_ms, 0.95),
       quantile_cont(latency_ms, 0.99)
FROM scrape_attempts WHERE run_id = $run_id
GROUP BY 2
