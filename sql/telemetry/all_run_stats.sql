SELECT * FROM run_stats ORDER BY recorded_at, stage, run_id
