SELECT * FROM run_latency ORDER BY run_id, host
