-- Provenance of each loaded file, for release manifests.
INSERT OR REPLACE INTO sqd_files VALUES ($file_name, $url, $size, $sha256, now())
