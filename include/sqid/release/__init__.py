"""Stage 4, release: versioned, validated SQID releases in the published layout.

- ``pipeline``: the steps in order (unchanged? stage, document, gate, publish), for the
  DAG's tasks, ``sqid release`` and the tests.
- ``assemble``: the data files and the manifest; the inputs' fingerprint.
- ``versions``: version names, staging folders, publishing, ``latest``.
- ``validate``: the gate, and the file-level validation of any release (``sqid validate``).
- ``evaluate``: nDCG on the SQID benchmark, of CLIP scores or a user's own scores.
- ``documents``: changelog, dataset card, Croissant; ``report``: report.html.
"""
