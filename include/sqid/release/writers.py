"""How a release's data files are written: the SQID CSVs byte for byte as published, and
Parquet with vectors as plain float32 lists in row groups the Hub's viewer reads, each
table as published (canonical image URLs, takedowns applied)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sqid.imageurl import canonical_column
from sqid.release.layout import (
    HUB_ROW_GROUP_BYTES,
)


def write_csv(table: pa.Table, path: Path) -> int:
    """``product_id,image_url`` rows with the csv module's minimal quoting (the bytes of
    the published SQID files: only URLs with a comma are quoted)."""
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["product_id", "image_url"])
        writer.writerows(zip(table.column("product_id").to_pylist(),
                             table.column("image_url").to_pylist(), strict=True))  # fmt: skip
    return table.num_rows


def published_urls(table: pa.Table) -> pa.Table:
    """:func:`sqid.imageurl.published_url` over the ``image_url`` column, if any."""
    index = table.schema.get_field_index("image_url")
    if index < 0:
        return table
    urls = canonical_column(table.column(index).combine_chunks())
    return table.set_column(index, table.schema.field(index), urls)


def parquet_options(schema: pa.Schema) -> dict[str, Any]:
    """Vector columns plain, uncompressed and without statistics: float32 embeddings
    neither repeat nor compress, a dictionary attempt (that then falls back) makes writing
    and reading a gigabyte of them several times slower, and min/max of a float inside a
    list helps no reader; the other columns keep all three."""
    vectors = {f.name for f in schema if pa.types.is_list(f.type)}
    others = [f.name for f in schema if f.name not in vectors]
    return {
        "use_dictionary": others,
        "write_statistics": others,
        "compression": {f.name: "none" if f.name in vectors else "snappy" for f in schema},
    }


def write_parquet(batches: Iterable[pa.RecordBatch | pa.Table], schema: pa.Schema | None,
                   path: Path, publish: Callable[[pa.Table], pa.Table] | None = None) -> int:  # fmt: skip
    """Write record batches into a Parquet file with ``schema`` (vectors as list<float32>),
    each as :func:`published_urls` and ``publish`` (takedowns) make it, in row groups
    the Hub's viewer can read (:data:`HUB_ROW_GROUP_BYTES`)."""
    rows = 0
    writer = None
    try:
        for batch in batches:
            table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
            table = published_urls(table)
            table = publish(table) if publish is not None else table
            table = table.cast(schema) if schema is not None else table
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema, **parquet_options(table.schema))
            per_row = max(1, table.nbytes // max(1, table.num_rows))
            writer.write_table(table, row_group_size=max(1, HUB_ROW_GROUP_BYTES // per_row))
            rows += table.num_rows
        if writer is None:  # no rows: still a valid, typed file
            empty = (schema or getattr(batches, "schema", pa.schema([]))).empty_table()
            pq.write_table(empty, path, **parquet_options(empty.schema))
    finally:
        if writer is not None:
            writer.close()
    return rows


def empty_as_null(table: pa.Table) -> pa.Table:
    urls = table.column("image_url")
    nulled = pc.if_else(pc.equal(urls, ""), pa.nulls(len(table), pa.string()), urls)
    return table.set_column(1, "image_url", nulled)
