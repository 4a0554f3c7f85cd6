-- The rows of SQID product_features.parquet (the test set), ordered by product_id, with
-- the row ids of each product's title and image vectors instead of the vectors: the
-- sort moves 24 bytes a row, and sqid.release.vectors gathers the vectors after.
WITH latest_fetch AS (
    SELECT image_url, sha256 FROM image_fetches WHERE status = 'ok'
    QUALIFY row_number() OVER (PARTITION BY image_url ORDER BY fetched_at DESC) = 1
)
SELECT
    p.product_id,
    t.rowid AS text_row,
    e.rowid AS image_row
FROM sqid_products AS p
LEFT JOIN product_images AS i ON i.product_id = p.product_id AND i.status = 'ok'
LEFT JOIN latest_fetch AS f ON f.image_url = i.image_url
LEFT JOIN image_embeddings AS e
    ON e.sha256 = f.sha256 AND e.model_id = $model_id AND e.revision = $revision
LEFT JOIN text_embeddings AS t
    ON t.text_sha256 = sha256(p.title) AND t.model_id = $model_id AND t.revision = $revision
WHERE p.product_set = 'test'
ORDER BY p.product_id
