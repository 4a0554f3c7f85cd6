"""The takedown list: products or images a rights holder asked to remove, honoured by
every release made after they are listed.

The list is a CSV beside the releases (``takedowns.csv`` in the releases folder, or
``$SQID_TAKEDOWNS``) with ``kind`` (``product`` or ``image``), ``id`` (a product ID, or an
image ID such as ``71fv4Dv5RaL``), ``reason`` and ``date``; ``sqid takedown add|list``
manages it. A listed product, or a product whose current image is listed, is published
with status ``taken_down``: no image URL, no image IDs, no vectors. The manifest counts
them, and a change to the list changes the release's input fingerprint, so the next run
publishes a release without them even when nothing else changed.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from sqid.config import ConfigError
from sqid.scrape.records import is_valid_product_id

TAKEDOWNS = "takedowns.csv"
COLUMNS = ("kind", "id", "reason", "date")
KINDS = ("product", "image")
TAKEN_DOWN = "taken_down"
"""The status of a taken-down product in ``product_image_status.parquet``."""
_IMAGE_ID = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+-%")
_CLEARED = ("image_id", "image_key", "image_url", "hires_url", "image_sha256", "source",
            "default_reason")  # fmt: skip
"""Status-file columns a taken-down product publishes empty."""


class TakedownError(ConfigError):
    """The takedown list cannot be read, or an entry is malformed."""


@dataclass(frozen=True)
class Takedown:
    kind: str
    id: str
    reason: str
    date: str


def takedown_path(release_dir: Path) -> Path:
    return Path(os.environ.get("SQID_TAKEDOWNS") or Path(release_dir) / TAKEDOWNS)


def _checked(kind: str, id_: str, reason: str, date: str, where: str) -> Takedown:
    if kind not in KINDS:
        raise TakedownError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    if kind == "product" and not is_valid_product_id(id_):
        raise TakedownError(f"{where}: {id_!r} is not a 10-character ASIN or ISBN-10")
    if kind == "image" and not (id_ and len(id_) <= 64 and set(id_) <= _IMAGE_ID):
        raise TakedownError(f"{where}: {id_!r} is not an image ID (e.g. 71fv4Dv5RaL)")
    if not reason.strip():
        raise TakedownError(f"{where}: a takedown needs a reason")
    try:
        datetime.strptime(date, "%Y-%m-%d")
    except ValueError:
        raise TakedownError(f"{where}: date {date!r} is not YYYY-MM-DD") from None
    return Takedown(kind, id_, reason.strip(), date)


def read_takedowns(path: Path) -> list[Takedown]:
    """The list, each entry checked; an absent file is an empty list."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise TakedownError(f"cannot read the takedown list {path}: {exc}") from exc
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise TakedownError(f"{path}: the header must be {','.join(COLUMNS)}")
    return [_checked(r["kind"] or "", r["id"] or "", r["reason"] or "", r["date"] or "",
                     f"{path} line {n}") for n, r in enumerate(reader, start=2)]  # fmt: skip


def add_takedown(path: Path, kind: str, id_: str, reason: str, date: str | None = None) -> Takedown:
    """Append an entry (written to a temp file, then renamed); one already listed is an error."""
    date = date or datetime.now(UTC).strftime("%Y-%m-%d")
    entry = _checked(kind, id_, reason, date, "the new takedown")
    entries = read_takedowns(path)
    if any((e.kind, e.id) == (kind, id_) for e in entries):
        raise TakedownError(f"{kind} {id_} is already on the takedown list {path}")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows((e.kind, e.id, e.reason, e.date) for e in [*entries, entry])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(out.getvalue(), encoding="utf-8")
    os.replace(tmp, path)
    return entry


def digest(entries: list[Takedown]) -> str:
    """What the list says, order aside (reasons and dates change no published byte)."""
    keys = sorted(f"{e.kind}:{e.id}" for e in entries)
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()


class TakenDown:
    """The products a release must publish as taken down, and how each file shows them."""

    def __init__(self, entries: list[Takedown], status: pa.Table) -> None:
        """``status``: the release's product statuses (product_id, image_id, image_key)."""
        products = {e.id for e in entries if e.kind == "product"}
        images = pa.array(sorted({e.id for e in entries if e.kind == "image"}), pa.string())
        by_image = pc.or_(pc.is_in(status.column("image_id"), value_set=images),
                          pc.is_in(status.column("image_key"), value_set=images))  # fmt: skip
        matched = status.column("product_id").filter(pc.fill_null(by_image, False)).to_pylist()
        self.products = pa.array(sorted(products | set(matched)), pa.string())

    def __len__(self) -> int:
        return len(self.products)

    def apply(self, table: pa.Table) -> pa.Table:
        """``table`` as published: taken-down rows without URL, image IDs or vectors."""
        if not len(self.products) or "product_id" not in table.column_names:
            return table
        mask = pc.is_in(table.column("product_id"), value_set=self.products)
        for i, field in enumerate(table.schema):
            if field.name == "status":
                value = pa.scalar(TAKEN_DOWN, field.type)
            elif field.name in _CLEARED or field.name.startswith("clip_"):
                value = pa.scalar("", field.type) if _is_csv_url(table, field) else None
            else:
                continue
            replacement = value if value is not None else pa.nulls(len(table), field.type)
            column = pc.if_else(mask, replacement, table.column(i))
            table = table.set_column(i, field, column)
        return table


def _is_csv_url(table: pa.Table, field: pa.Field) -> bool:
    """The URL column of a SQID CSV table (``product_id,image_url``): empty, not null."""
    return field.name == "image_url" and table.column_names == ["product_id", "image_url"]
