"""Stage 1, ingest: the SQD files into DuckDB, and the SQID product and query sets.

- ``sources``: where the SQD files come from and what they must hash to; one verified
  download per file (the DAG's ``download`` task).
- ``download``: resumable, verified, atomic HTTP and ``file://`` downloads.
- ``load``: staging, the ingest gate and the swap into the live tables (``load`` and
  ``derive``).
- ``sqd``: the SQD file names, published sizes, hashes and counts.
- ``sample``: SQD-shaped sample files for the demo and the tests.
"""
