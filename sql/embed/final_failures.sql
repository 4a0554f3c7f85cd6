-- URLs whose last download failed for good (the bytes are not an image, too large or
-- too small, undecodable, on a refused host, or gone): not planned again.
SELECT url FROM image_fetches
WHERE list_contains($final_statuses, status)
   OR (status = 'http_error' AND list_contains($gone, http_status))
