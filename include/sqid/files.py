"""Files on disk, written whole or not at all, and known by their hash.

Every task that writes a file other tasks read (shard parts, work lists, releases)
writes it under a temporary name and renames it: a reader never sees half a file, and
a killed task leaves at most a temporary file behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from queue import Empty, Queue
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

T = TypeVar("T")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def sha256_file(path: Path) -> str:
    """The sha256 of a file, read in 1 MiB blocks."""
    with Path(path).open("rb") as fh:
        return _sha256_of(fh)


def _sha256_of(fh: Any) -> str:
    digest = hashlib.sha256()
    while block := fh.read(1 << 20):
        digest.update(block)
    return digest.hexdigest()


class ChangedFileError(RuntimeError):
    """A file's bytes are not the ones verified earlier (swapped or edited since)."""


@contextlib.contextmanager
def pinned(path: Path, size: int, sha256: str) -> Iterator[str]:
    """A name for exactly the bytes ``path`` held when checked against ``size`` and
    ``sha256``, for a reader that opens files by name (DuckDB).

    The file is opened once and hashed through that descriptor; the reader is given the
    descriptor's own name (``/proc/self/fd/N`` where the system has one), so a file
    renamed over ``path`` after the check is not what gets read, and a copy edited in
    place with its size and mtime kept is refused by the hash. Raises
    :class:`ChangedFileError` naming the file and both digests.
    """
    path = Path(path)
    with path.open("rb") as fh:
        actual_size = os.fstat(fh.fileno()).st_size
        if actual_size != size:
            raise ChangedFileError(
                f"{path} changed since it was verified: {actual_size} bytes, expected {size}"
            )
        actual = _sha256_of(fh)
        if actual != sha256:
            raise ChangedFileError(
                f"{path} changed since it was verified: sha256 {actual}, expected {sha256}"
            )
        by_descriptor = Path(f"/proc/self/fd/{fh.fileno()}")
        yield str(by_descriptor if by_descriptor.exists() else path)


def _column(values: list[Any], field: pa.Field) -> pa.Array:
    # Times travel as int64 microseconds since the epoch (UTC); the merge SQL turns them
    # back into TIMESTAMPTZ. (Python datetimes with a tzinfo would need pytz here.)
    if pa.types.is_int64(field.type):
        values = [(v - _EPOCH) // _MICROSECOND if isinstance(v, datetime) else v for v in values]
    return pa.array(values, type=field.type)


def write_parquet_atomic(
    rows: list[dict[str, Any]], schema: pa.Schema, path: Path, row_group_size: int | None = None
) -> None:
    """Write ``rows`` to ``path`` via a temp file and a rename: readers never see half a
    file. Small row groups (``row_group_size``) let a reader of one slice skip the rest."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    columns = [_column([row[f.name] for row in rows], f) for f in schema]
    pq.write_table(pa.Table.from_arrays(columns, schema=schema), tmp, row_group_size=row_group_size)
    os.replace(tmp, path)


def read_batches(
    parquet: pq.ParquetFile,
    columns: list[str],
    max_rows: int = 65_536,
    row_groups: list[int] | None = None,
) -> Iterator[pa.RecordBatch]:
    """The file's rows batch by batch, one batch per row group (split only when a group
    holds more than ``max_rows``), decoded on one thread one group ahead of the caller:
    Arrow decodes the next group while the caller's numpy works on this one. Batches that
    cut across row groups re-slice every list column they touch, and threaded decoding of
    list columns is slower on a few cores: each measured at about 3x the time of this on
    1 GB of vectors. ``row_groups``: only these (default: all, in order)."""
    groups = range(parquet.num_row_groups) if row_groups is None else row_groups

    def decode() -> Iterator[pa.RecordBatch]:
        for group in groups:
            rows = parquet.metadata.row_group(group).num_rows
            if rows <= max_rows:
                table = parquet.read_row_group(group, columns=columns, use_threads=False)
                yield from table.to_batches(max_chunksize=max_rows)
            else:
                yield from parquet.iter_batches(
                    batch_size=max_rows, row_groups=[group], columns=columns, use_threads=False
                )

    yield from read_ahead(decode())


def read_ahead(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """``items`` produced on a worker thread, up to ``depth`` ahead of the consumer; an
    exception in the worker is raised in the consumer, where it would have been."""
    done = object()
    queue: Queue = Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                queue.put((item, None))
        except BaseException as exc:  # handed to the consumer
            queue.put((done, exc))
            return
        queue.put((done, None))

    worker = threading.Thread(target=produce, name="read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item, error = queue.get()
            if error is not None:
                raise error
            if item is done:
                return
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a worker waiting on a full queue
            try:
                queue.get_nowait()
            except Empty:
                worker.join(0.01)
