-- A run's telemetry, removed before it is written again (a merge re-run replaces it).
DELETE FROM run_stats WHERE stage = $stage AND run_id = $run_id;
