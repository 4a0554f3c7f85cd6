-- Products whose image the data-driven rule found to be a shared default.
UPDATE product_images
SET status = 'no_image', default_reason = 'shared_image'
WHERE status = 'ok' AND list_contains($image_keys, image_key)
