-- index/catalogue.parquet: what a search hit shows, one row per row of
-- product_features.parquet (the test set, ordered by product_id): the title from the
-- SQD products, the image URL, image hash and status as the release's status file has them.
SELECT s.product_id, p.title, s.image_url, s.image_sha256, s.status
FROM read_parquet($status_file) AS s
LEFT JOIN sqid_products AS p ON p.product_id = s.product_id
WHERE s.product_set = 'test'
ORDER BY s.product_id
