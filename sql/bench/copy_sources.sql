-- bench/bench_ingest.py's anchor: the SQD sources copied as they are, no keys, no checks.
CREATE TABLE plain_sources AS SELECT * FROM read_csv($path)
