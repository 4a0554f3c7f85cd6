-- The layout-drift guard's baseline for one run: the share of unrecognised pages, and of
-- no-image pages that no known default explains, that the run's own products are
-- expected to show. A product with an analysed page so far (its latest outcome) is
-- expected to look as it did: a retry pass over pages not understood yesterday expects
-- them not understood today, which is no drift. A product never analysed is expected to
-- look like the product set as a whole. Outcomes that only supersede pages read while a
-- shard's layout drifted ($held_prefix) are not pages and are left out. With no products
-- named, the set's own shares.
WITH analysed AS (
    SELECT
        product_id,
        CASE WHEN status = $unrecognised THEN 1.0 ELSE 0.0 END AS unrecognised,
        CASE WHEN status = $no_image AND default_reason IS NULL THEN 1.0 ELSE 0.0 END
            AS unexplained_no_image
    FROM product_images
    WHERE list_contains($analysed_kinds, page_kind)
      AND NOT coalesce(starts_with(error, $held_prefix), false)
),
overall AS (
    SELECT count(*) AS pages,
           coalesce(avg(unrecognised), 0.0) AS unrecognised,
           coalesce(avg(unexplained_no_image), 0.0) AS unexplained_no_image
    FROM analysed
),
selected AS (SELECT DISTINCT unnest($product_ids) AS product_id),
expected AS (
    SELECT
        coalesce(a.unrecognised, (SELECT unrecognised FROM overall)) AS unrecognised,
        coalesce(a.unexplained_no_image, (SELECT unexplained_no_image FROM overall))
            AS unexplained_no_image
    FROM selected AS s
    LEFT JOIN analysed AS a ON a.product_id = s.product_id
)
SELECT
    (SELECT pages FROM overall) AS pages,
    coalesce((SELECT avg(unrecognised) FROM expected), (SELECT unrecognised FROM overall)),
    coalesce((SELECT avg(unexplained_no_image) FROM expected),
             (SELECT unexplained_no_image FROM overall))
