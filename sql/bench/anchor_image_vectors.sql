-- bench/bench_release.py's anchor: the same vector part files, a plain keyed insert.
INSERT INTO image_embeddings SELECT * FROM read_parquet($files)
