-- Title vectors by row id, for the rows in the registered Arrow table wanted_rows.
SELECT rowid AS row_id, embedding
FROM text_embeddings
WHERE rowid IN (SELECT row_id FROM wanted_rows)
