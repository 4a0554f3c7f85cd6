-- Column names and sniffed types of a CSV file with a header row.
DESCRIBE SELECT * FROM read_csv($path, header = true)
