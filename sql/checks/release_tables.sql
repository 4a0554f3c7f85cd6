-- Each column must be true before a release is assembled from DuckDB.
SELECT
    (SELECT count(*) FROM sqid_products WHERE product_set = 'test') > 0        AS has_test_products,
    (SELECT count(*) FROM sqid_queries) > 0                                    AS has_queries,
    (SELECT count(*) = count(DISTINCT product_id) FROM product_images)         AS product_images_unique,
    (SELECT count(*) FROM image_embeddings) > 0                                AS has_image_vectors,
    (SELECT count(*) FROM text_embeddings) > 0                                 AS has_text_vectors,
    (SELECT count(*) FROM product_images i
       WHERE i.status = 'ok' AND i.default_reason IS NOT NULL) = 0             AS no_default_published
