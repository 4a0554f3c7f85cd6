SELECT status, count(*) FROM image_fetches GROUP BY status ORDER BY status
