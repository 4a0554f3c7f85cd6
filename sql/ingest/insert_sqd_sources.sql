INSERT INTO sqd_sources
SELECT CAST(query_id AS BIGINT), CAST(source AS VARCHAR)
FROM read_csv($path, header = true, columns = {'query_id': 'BIGINT', 'source': 'VARCHAR'})
