-- Whether sqid_ingest has derived the SQID sets in this file yet.
SELECT count(*) = 2 FROM duckdb_tables() WHERE table_name IN ('sqid_products', 'sqid_queries')
