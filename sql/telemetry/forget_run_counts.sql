DELETE FROM run_counts WHERE stage = $stage AND run_id = $run_id;
