-- The layout-drift guard's baseline: among the product set's analysed pages so far
-- (latest outcome per product), the share of unrecognised pages and the share of
-- no-image pages that no known default explains. Outcomes that only supersede pages
-- read while a shard's layout drifted ($held_prefix) are not pages and are left out.
SELECT
    count(*) AS pages,
    coalesce(avg(CASE WHEN status = $unrecognised THEN 1.0 ELSE 0.0 END), 0.0) AS unrecognised,
    coalesce(
        avg(CASE WHEN status = $no_image AND default_reason IS NULL THEN 1.0 ELSE 0.0 END), 0.0
    ) AS unexplained_no_image
FROM product_images
WHERE list_contains($analysed_kinds, page_kind)
  AND NOT coalesce(starts_with(error, $held_prefix), false)
