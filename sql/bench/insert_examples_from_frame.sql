-- Baseline for bench/bench_ingest.py: insert a pandas DataFrame registered as `frame`.
INSERT INTO sqd_examples
SELECT example_id, query, query_id, product_id, product_locale, esci_label,
       small_version, large_version, split
FROM frame
