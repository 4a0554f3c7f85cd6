-- Product ids the pipeline can fetch and publish: an ASIN or an ISBN-10 ($pattern, the
-- scraper's own rule). Empty strings, "NaN" and NULLs from a malformed file are counted
-- and shown, so the gate refuses them before they reach the live tables.
SELECT
    count(*) AS bad_ids,
    list(coalesce('"' || product_id || '"', 'NULL') ORDER BY product_id NULLS FIRST)[1:5] AS examples
FROM sqid_products
WHERE product_id IS NULL OR NOT regexp_full_match(product_id, $pattern)
