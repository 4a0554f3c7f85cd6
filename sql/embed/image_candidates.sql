-- Every image URL a release would carry.
SELECT DISTINCT image_url FROM product_images WHERE status = 'ok' AND image_url IS NOT NULL
