-- Whether a load is staged and waiting for the gate.
SELECT count(*) > 0 FROM duckdb_tables() WHERE schema_name = 'staging' AND table_name = 'sqd_examples'
