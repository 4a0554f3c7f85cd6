INSERT INTO run_counts VALUES ($stage, $run_id, $dimension, $key, $n)
