-- bench/bench_release.py: generated SQID queries registered as `queries_frame`.
INSERT INTO sqid_queries SELECT * FROM queries_frame
