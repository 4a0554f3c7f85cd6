"""Files on disk, written whole or not at all, and known by their hash.

Every task that writes a file other tasks read (shard parts, work lists, releases)
writes it under a temporary name and renames it: a reader never sees half a file, and
a killed task leaves at most a temporary file behind.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def sha256_file(path: Path) -> str:
    """The sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _column(values: list[Any], field: pa.Field) -> pa.Array:
    # Times travel as int64 microseconds since the epoch (UTC); the merge SQL turns them
    # back into TIMESTAMPTZ. (Python datetimes with a tzinfo would need pytz here.)
    if pa.types.is_int64(field.type):
        values = [(v - _EPOCH) // _MICROSECOND if isinstance(v, datetime) else v for v in values]
    return pa.array(values, type=field.type)


def write_parquet_atomic(rows: list[dict[str, Any]], schema: pa.Schema, path: Path) -> None:
    """Write ``rows`` to ``path`` via a temp file and a rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    columns = [_column([row[f.name] for row in rows], f) for f in schema]
    pq.write_table(pa.Table.from_arrays(columns, schema=schema), tmp)
    os.replace(tmp, path)
