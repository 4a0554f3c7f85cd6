SELECT file_name, url, size, sha256 FROM sqd_files ORDER BY file_name
