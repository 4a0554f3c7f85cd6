SELECT
    (SELECT count(*) FROM image_fetches)    AS image_fetches,
    (SELECT count(*) FROM image_embeddings) AS image_embeddings,
    (SELECT count(*) FROM text_embeddings)  AS text_embeddings
