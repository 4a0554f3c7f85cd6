-- Assembling sorts a gigabyte of vectors by product_id: past this much memory DuckDB
-- spills the sort to its temp directory instead of growing (the release's peak stays
-- near 3 GiB at 192k products).
SET memory_limit = '1500MB'
