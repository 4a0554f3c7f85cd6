-- Baseline for bench/bench_ingest.py: insert a pandas DataFrame registered as `frame`.
INSERT INTO sqd_sources SELECT query_id, source FROM frame
