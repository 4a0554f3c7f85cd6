-- bench/bench_release.py: generated SQID products registered as `products_frame`.
INSERT INTO sqid_products SELECT * FROM products_frame
