SELECT * FROM run_counts ORDER BY stage, run_id, dimension, key
