-- Column names and types of a parquet file, read from its footer only.
DESCRIBE SELECT * FROM read_parquet($path)
