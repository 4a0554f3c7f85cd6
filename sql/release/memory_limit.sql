-- Assembling only streams: DuckDB sorts keys, not vectors (sqid.release.vectors), so
-- its buffer pool needs little; the cap keeps cached table blocks from adding to the
-- vectors the release holds in Python (the peak stays well under 3 GiB at 192k products).
SET memory_limit = '512MB'
