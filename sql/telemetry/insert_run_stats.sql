INSERT INTO run_stats VALUES (
    $stage, $run_id, now(), $started_at, $finished_at, $shards, $items, $requests, $seconds,
    $per_second, $bytes, $retries, $captchas, $throttled, $drift_stops, $cache_hits,
    $finish_reason
)
