"""A release under check: the validator's policy, its problems, and what it has read of
the folder so far. Shared by the validator's modules (files, vectors, index), so each
check can live beside the data it reads without importing the others."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from sqid.files import read_batches
from sqid.release.layout import MANIFEST
from sqid.setting import default_of
from sqid.settings import NORM_BAND, VALIDATE

if TYPE_CHECKING:
    from sqid.release.recall import RecallCheck

MAX_LISTED = 10


@dataclass(frozen=True)
class ValidationPolicy:
    """What a valid release must satisfy. The validator's own, never the release's."""

    dimension: int | None = None
    """Vector dimension; None: from the manifest's model id if it is a known model, else
    whatever single dimension the release's vectors share."""
    norm_band: tuple[float, float] = NORM_BAND
    coverage_threshold: float = default_of(VALIDATE, "coverage_threshold")
    min_image_vector_share: float = default_of(VALIDATE, "min_image_vectors")
    min_text_vector_share: float = default_of(VALIDATE, "min_text_vectors")
    require_index: bool = False
    """Whether ``index/`` must be there (the release gate: yes; releases made before
    search existed have none, and ``sqid validate`` accepts them)."""
    min_recall_at_10: float = 0.95
    """Least recall@10 of each search index against exact search."""


@dataclass
class Problem:
    check: str
    message: str
    rows: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        more = (
            f" (e.g. {', '.join(map(str, self.rows[:MAX_LISTED]))}"
            f"{' …' if len(self.rows) > MAX_LISTED else ''})"
            if self.rows
            else ""
        )
        return f"[{self.check}] {self.message}{more}"


@dataclass
class Measure:
    """A number the gate judges: its value against a threshold. ``fail`` blocks the
    release; ``warn`` is shown beside it on the releases page."""

    check: str
    name: str
    value: float
    threshold: float
    severity: str = "fail"
    at_least: bool = True
    """The value must be at least the threshold (else at most)."""

    @property
    def passed(self) -> bool:
        return self.value >= self.threshold if self.at_least else self.value <= self.threshold


class CheckedRelease:
    """The folder being validated, and what has been read of it so far."""

    def __init__(self, directory: Path, policy: ValidationPolicy) -> None:
        self.directory = directory
        self.policy = policy
        self.problems: list[Problem] = []
        self.manifest: dict[str, Any] = {}
        self.csv_rows: dict[str, list[tuple[str, str]]] = {}
        self.image_sha256: dict[str, str | None] = {}
        """Product -> sha256 of its image bytes, from the status file."""
        self.statuses: dict[str, str] = {}
        """Product -> its status, from the status file."""
        self.dimensions: Counter[int] = Counter()
        self.recall: RecallCheck | None = None
        """Exact search for the index's recall check, fed by the product file's scan."""
        self.measures: list[Measure] = []

    def measure(self, check: str, name: str, value: float, threshold: float,
                severity: str = "fail", at_least: bool = True) -> Measure:  # fmt: skip
        found = Measure(check, name, float(value), float(threshold), severity, at_least)
        self.measures.append(found)
        return found

    def add(self, check: str, message: str, rows: list[Any] | None = None) -> None:
        self.problems.append(Problem(check, message, [str(r) for r in rows or []]))

    def file(self, name: str) -> Path | None:
        """``name`` inside the release if it is a regular file, else None (a link is
        never followed; :func:`_entries` reports it once)."""
        path = self.directory / name
        return path if path.is_file() and not path.is_symlink() else None

    def claim(self, what: str, claimed: Any, actual: Any) -> None:
        if claimed != actual:
            check = "row_count" if what.startswith(("rows", "counts")) else "manifest"
            self.add(check, f"{MANIFEST} claims {what} = {claimed!r}, the files hold {actual!r}")

    def ids(self, name: str, key: str, ids: list[str | None]) -> None:
        counts = Counter(ids)
        if None in counts:
            self.add("unique_ids", f"{name}: {counts.pop(None)} rows without a {key}")
        dupes = sorted(i for i, n in counts.items() if n > 1)
        if dupes:
            self.add("unique_ids", f"{name}: duplicate {key}", dupes)

    def read(self, name: str, schema: dict[str, pa.DataType]) -> pq.ParquetFile | None:
        """The Parquet file ``name`` if it is present, readable and has ``schema``'s columns."""
        path = self.file(name)
        if path is None:
            return None
        try:
            parquet = pq.ParquetFile(path)
            found = {f.name: f.type for f in parquet.schema_arrow}
        except (pa.ArrowException, OSError) as exc:
            self.add("files", f"{name}: cannot read as Parquet: {exc}")
            return None
        wrong = [f"{col}: expected {t}, found {found.get(col, 'nothing')}"
                 for col, t in schema.items() if col not in found or not found[col].equals(t)]  # fmt: skip
        if wrong:
            self.add("schema", f"{name}: wrong columns", wrong)
            return None
        return parquet

    @staticmethod
    def batches(parquet: pq.ParquetFile, columns: list[str]) -> Iterator[pa.RecordBatch]:
        yield from read_batches(parquet, columns)
