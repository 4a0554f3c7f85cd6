"""Stage 4, release: versioned, validated SQID releases in the published layout.

- ``assemble``: the data files, manifest, checksums and versions; publishing.
- ``validate``: the file-level validation of any release folder (``sqid validate``).
- ``evaluate``: nDCG on the SQID benchmark.
- ``documents``: evaluation of a release, changelog, report, dataset card, Croissant.
"""
