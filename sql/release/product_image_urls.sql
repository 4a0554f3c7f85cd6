-- product_id,image_url of one product set, as published: image_url empty where the
-- product has no product image (never a default or placeholder).
SELECT p.product_id, coalesce(i.image_url, '') AS image_url
FROM sqid_products AS p
LEFT JOIN product_images AS i ON i.product_id = p.product_id AND i.status = 'ok'
WHERE p.product_set = $product_set
ORDER BY p.product_id
