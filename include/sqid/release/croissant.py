"""The release's Croissant metadata (``croissant.json``): what ML tooling reads to load
the files, made from the layout and the files themselves, and checked by mlcroissant
against sample rows before a release ships."""

from __future__ import annotations

import itertools
import json
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sqid.files import sha256_file
from sqid.release.layout import (
    CHANGES,
    CHECKSUMS,
    PRODUCT_FEATURES,
    QUERY_FEATURES,
    STATUS_FILE,
    manifest_of,
    read_checksums,
)

CROISSANT_CONTEXT = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}
_TABLES = {
    "product_image_urls": ("product_image_urls.csv", "text/csv", [("product_id", "sc:Text"), ("image_url", "sc:URL")]),
    "supp_product_image_urls": ("supp_product_image_urls.csv", "text/csv", [("product_id", "sc:Text"), ("image_url", "sc:URL")]),
    "product_features": (PRODUCT_FEATURES, "application/x-parquet",
                         [("product_id", "sc:Text"), ("clip_text_features", "sc:Float"), ("clip_image_features", "sc:Float")]),
    "query_features": (QUERY_FEATURES, "application/x-parquet", [("query_id", "sc:Text"), ("clip_text_features", "sc:Float")]),
    "product_image_status": (STATUS_FILE, "application/x-parquet",
                             [("product_id", "sc:Text"), ("product_set", "sc:Text"), ("status", "sc:Text"),
                              ("image_id", "sc:Text"), ("hires_url", "sc:URL")]),
    "changes": (CHANGES, "application/x-parquet",
                [("product_id", "sc:Text"), ("change", "sc:Text"), ("old_image_id", "sc:Text"),
                 ("new_image_id", "sc:Text")]),
}  # fmt: skip
RESPONSIBLE_AI = {
    "rai:dataCollection": "The main image URL of each product was read from its public Amazon "
    "product page; images were downloaded from Amazon's image hosts and embedded with CLIP.",
    "rai:dataCollectionType": "Web scraping",
    "rai:dataCollectionMissingData": "Products without a product image, gone or not answered "
    "have an empty image_url; product_image_status.parquet gives each one's status.",
    "rai:dataLimitations": "One snapshot of the US site; coverage is lower for products no "
    "longer sold and for digital videos; images are sellers' marketing photos.",
    "rai:dataBiases": "CLIP's embeddings carry the biases of its web training data and are "
    "English-centric; categories and sellers differ in how their images look.",
    "rai:personalSensitiveInformation": "None intended: product images and titles; images of "
    "people appear only as sellers published them. Products are removed on request "
    "(takedown list).",
    "rai:dataUseCases": "Research on multimodal product search and ranking with the ESCI "
    "judgements; not for identifying people or for training image generators.",
    "rai:dataReleaseMaintenancePlan": "Versioned releases with a changelog and per-product "
    "changes; takedowns are honoured by every later release.",
}
CITATION = (
    "Al Ghossein, M., Chen, C.-W., Tang, J. Shopping Queries Image Dataset (SQID): An Image-Enriched "
    "ESCI Dataset for Exploring Multimodal Learning in Product Search. arXiv:2405.15190 (2024). "
    "Reddy, C. K. et al. Shopping Queries Dataset: A Large-Scale ESCI Benchmark for Improving Product "
    "Search. arXiv:2206.06588 (2022)."
)


def croissant(directory: Path, sums: dict[str, str] | None = None) -> dict[str, Any]:
    """Croissant 1.0 metadata of a release folder (``sums``: its data files' sha256)."""
    m = manifest_of(directory)
    sums = sums or {}
    distribution, record_sets = [], []
    for rs, (file_name, fmt, fields) in _TABLES.items():
        if file_name == CHANGES and not (directory / CHANGES).is_file():
            continue
        distribution.append({
            "@type": "cr:FileObject", "@id": file_name, "name": file_name,
            "contentUrl": file_name, "encodingFormat": fmt,
            "sha256": sums.get(file_name) or sha256_file(directory / file_name),
        })  # fmt: skip
        record_sets.append({
            "@type": "cr:RecordSet", "@id": rs, "name": rs,
            "field": [
                {"@type": "cr:Field", "@id": f"{rs}/{name}", "name": name, "dataType": dtype,
                 **({"repeated": True} if name.startswith("clip_") else {}),
                 "source": {"fileObject": {"@id": file_name}, "extract": {"column": name}}}
                for name, dtype in fields
            ],
        })  # fmt: skip
    return {
        "@context": CROISSANT_CONTEXT,
        "@type": "sc:Dataset",
        "name": "SQID",
        "description": "Shopping Queries Image Dataset: product image URLs and CLIP image and text "
        "embeddings for the US products of the Shopping Queries Dataset (ESCI).",
        "conformsTo": "http://mlcommons.org/croissant/1.0",
        "license": "https://opensource.org/licenses/MIT",
        "url": "https://github.com/Crossing-Minds/shopping-queries-image-dataset",
        "version": m["version"].lstrip("v"),
        "datePublished": m["created_at"][:10],
        "citeAs": CITATION,
        **RESPONSIBLE_AI,
        "distribution": distribution,
        "recordSet": record_sets,
    }


CROISSANT_SAMPLE_ROWS = 10
"""Rows of each data file the records are read from (mlcroissant casts every float)."""


def _sample_file(source: Path, target: Path, rows: int) -> None:
    """The first ``rows`` rows of a CSV or Parquet data file, in the same format."""
    if source.suffix == ".parquet":
        parquet = pq.ParquetFile(source)
        batch = next(parquet.iter_batches(batch_size=rows), None)
        pq.write_table(pa.Table.from_batches([batch]) if batch is not None
                       else parquet.schema_arrow.empty_table(), target)  # fmt: skip
    else:
        with source.open(newline="") as fh, target.open("w", newline="") as out:
            out.writelines(itertools.islice(fh, rows + 1))


def validate_croissant(path: Path, records: int = 3) -> list[str]:
    """Problems mlcroissant finds in ``path``, reading a few records of every record set.

    mlcroissant loads a whole file to yield its first record (at 192k x 768 that is
    gigabytes through pandas), so records are read from a sample: the first rows of each
    data file beside a copy of this very metadata whose ``sha256`` are the sample's. The
    metadata, its record sets and fields are checked as they are; the real files' hashes
    are checked against ``SHA256SUMS``, which the validator checks against the files.
    """
    import mlcroissant as mlc

    path = Path(path)
    try:
        metadata = json.loads(path.read_text())
        files = [d for d in metadata.get("distribution", []) if d.get("@type") == "cr:FileObject"]
    except (OSError, ValueError, AttributeError) as exc:
        return [f"{path.name}: not readable JSON-LD: {exc}"]
    problems = []
    sums = path.parent / CHECKSUMS
    listed = read_checksums(path.parent) if sums.is_file() else {}
    with tempfile.TemporaryDirectory(prefix="sqid-croissant-") as tmp:
        for entry in files:
            name = entry.get("contentUrl")
            source = path.parent / str(name)
            if (
                not isinstance(name, str)
                or "/" in name
                or not source.is_file()
                or source.is_symlink()
            ):
                return [f"{path.name}: {name!r} is not a data file of this release"]
            if listed and entry.get("sha256") != listed.get(name):
                problems.append(f"{path.name}: sha256 of {name} differs from {CHECKSUMS}")
            _sample_file(source, Path(tmp) / name, CROISSANT_SAMPLE_ROWS)
            entry["sha256"] = sha256_file(Path(tmp) / name)
        sample = Path(tmp) / path.name
        sample.write_text(json.dumps(metadata))
        try:
            dataset = mlc.Dataset(jsonld=str(sample))
            for record_set in dataset.metadata.record_sets:
                for i, _ in enumerate(dataset.records(record_set=record_set.uuid)):
                    if i + 1 >= records:
                        break
        except Exception as exc:  # mlcroissant raises many types; all mean "not valid"
            problems.append(f"{type(exc).__name__}: {exc}")
    return problems
