-- bench/bench_ingest.py's anchor: the SQD products copied as they are, no keys, no checks.
CREATE TABLE plain_products AS SELECT * FROM read_parquet($path)
