-- (product_id, image_key, title) of scraped product images, for the shared-image rule.
SELECT i.product_id, i.image_key, p.title
FROM product_images AS i
LEFT JOIN sqid_products AS p USING (product_id)
WHERE i.status = 'ok' AND i.image_key IS NOT NULL
