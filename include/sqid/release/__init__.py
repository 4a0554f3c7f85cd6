"""Stage 4, release: versioned, validated SQID releases in the published layout.

- ``assemble``: the data files, manifest, checksums and versions; publishing.
- ``validate``: the gate, and the file-level validation of any release (``sqid validate``).
- ``evaluate``: nDCG on the SQID benchmark, of CLIP scores or a user's own scores.
- ``documents``: changelog, report, dataset card, Croissant; ``build_release``.
"""
