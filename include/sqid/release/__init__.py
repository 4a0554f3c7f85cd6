"""Stage 4, release: versioned, validated SQID releases in the published layout.

- ``pipeline``: the steps in order (unchanged? stage, document, gate, publish), for the
  DAG's tasks, ``sqid release`` and the tests.
- ``assemble``: the data files and the manifest; the inputs' fingerprint.
- ``versions``: version names, staging folders, publishing, ``latest``.
- ``validate``: the gate, and the file-level validation of any release (``sqid validate``);
  ``features``: its checks of the vector files.
- ``evaluate``: the CLIP baselines on the SQID benchmark; ``scores``: a user's own scores;
  ``ndcg``: the metric, for every query at once.
- ``documents``: changelog, dataset card, Croissant; ``report``: report.html.
"""
