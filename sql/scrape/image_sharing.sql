-- (product_id, image_id, title) of scraped product images, for the shared-image rule.
SELECT i.product_id, i.image_id, p.title
FROM product_images AS i
LEFT JOIN sqid_products AS p USING (product_id)
WHERE i.status = 'ok' AND i.image_id IS NOT NULL
