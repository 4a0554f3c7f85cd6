DELETE FROM run_latency WHERE run_id = $run_id;
