-- A scrape run's attempts in a row: first and last fetch, requests and bytes.
SELECT min(fetched_at) AS started_at, max(fetched_at) AS finished_at,
       count(*) AS requests, coalesce(sum(bytes), 0) AS bytes
FROM scrape_attempts WHERE run_id = $run_id
