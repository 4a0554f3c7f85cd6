-- Baseline for bench/bench_ingest.py: insert a pandas DataFrame registered as `frame`.
INSERT INTO sqd_products
SELECT product_id, product_locale, product_title, product_description,
       product_bullet_point, product_brand, product_color
FROM frame
