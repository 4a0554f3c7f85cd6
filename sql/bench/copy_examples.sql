-- bench/bench_ingest.py's anchor: the SQD examples copied as they are, no keys, no checks.
CREATE TABLE plain_examples AS SELECT * FROM read_parquet($path)
