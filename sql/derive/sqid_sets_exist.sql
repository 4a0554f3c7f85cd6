-- Whether sqid_ingest has published the SQID sets in this file yet.
SELECT count(*) = 2 FROM duckdb_tables()
WHERE schema_name = 'main' AND table_name IN ('sqid_products', 'sqid_queries')
