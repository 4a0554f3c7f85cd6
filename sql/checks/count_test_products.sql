SELECT count(*) FROM sqid_products WHERE product_set = 'test'
