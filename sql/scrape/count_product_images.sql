SELECT status, count(*) AS products FROM product_images GROUP BY status ORDER BY status
