"""Stage 4, release: versioned, validated SQID releases in the published layout.

- ``layout``: what a release holds (file names, schemas, the index's files), its manifest
  and checksums; the bottom that making, checking and reading a release all use.
- ``pipeline``: the steps in order (unchanged? stage, index, document, gate, publish), for
  the DAG's tasks, ``sqid release`` and the tests.
- ``assemble``: the data files and the manifest; the inputs' fingerprint (+ ``vectors``).
- ``index``: the release's search index (``index/``) and its recall gate.
- ``versions``: version names, the releases lock, staging folders, publishing, ``latest``.
- ``validate``: the gate, and the file-level validation of any release (``sqid validate``),
  on ``checked`` (the release under check, its policy and problems); ``vector_checks``:
  its checks of the vector files.
- ``evaluate``: the CLIP baselines on the SQID benchmark; ``retrieval``: whole-catalogue
  retrieval metrics; ``scores``: a user's own scores; ``ndcg``: the metric.
- ``documents``: changelog, dataset card, Croissant, and whether they are what the data
  make; ``report``: report.html.
"""
