"""Release benchmark at the real SQID scale, every step in a fresh process.

Builds the state a release is made from with the project's own table definitions and
merge functions: 164,900 test and 27,139 supplementary products (x ``--scale``), their
scrape outcomes (92% with an image, some shared), 768-d float32 vectors for every
distinct image and every title and query (random values around cluster centres, see
``_centres``: the figures are about volume and the index, not about CLIP), and 8,956
US Task-1 test queries with about 182k judgements.
Then it times, each in a fresh process (seconds include interpreter start-up; peak is
the process's own high-water resident set):

- the embed merge against its anchor, a plain keyed ``INSERT`` of the same part files;
- a first release step by step (check, stage, index, evaluate, document, validate,
  publish);
- a release on the next, quiet day, when nothing changed (the whole ``run_release``).

All figures come from synthetic data generated here.

    python bench/bench_release.py                # 1x, about 10 minutes on 2 cores
    python bench/bench_release.py --scale 0.1
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve()
TEST_PRODUCTS, SUPP_PRODUCTS, QUERIES, JUDGEMENTS = 164_900, 27_139, 8_956, 181_701
DIM = 768
MODEL = "openai/clip-vit-large-patch14"
REVISION = "bench"
WITH_IMAGE, SHARED_IMAGE = 0.92, 0.03
"""Share of products scraped with an image, and of those whose image another one shares."""
VERSION = "v1.0.0"


# --- building the state -----------------------------------------------------------------


def _ids(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i:08d}" for i in range(n)]


def _centres() -> np.ndarray:
    """4,000 cluster centres in 200 broad groups: embeddings have neighbourhoods, and the
    search index's cost depends on them (uniform random vectors have none)."""
    rng = np.random.default_rng(7)
    groups = rng.standard_normal((200, DIM), dtype=np.float32)
    groups /= np.linalg.norm(groups, axis=1, keepdims=True)
    centres = groups[rng.integers(0, 200, 4_000)] + rng.standard_normal(
        (4_000, DIM), dtype=np.float32
    ) * 0.9 / np.sqrt(DIM)
    return centres / np.linalg.norm(centres, axis=1, keepdims=True)


_CENTRES = _centres()


def _vectors(rng: np.random.Generator, n: int) -> pa.Array:
    picked = _CENTRES[rng.integers(0, len(_CENTRES), n)]
    values = picked + rng.standard_normal((n, DIM), dtype=np.float32) * 1.2 / np.sqrt(DIM)
    values *= rng.uniform(5, 15, (n, 1)).astype(np.float32)  # unnormalised, as CLIP's are
    return pa.ListArray.from_arrays(
        pa.array(np.arange(0, (n + 1) * DIM, DIM, dtype=np.int32)), pa.array(values.ravel())
    )


def _write(table: pa.Table, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return str(path)


def build(state: Path, scale: float) -> dict[str, int]:
    """The DuckDB file, the scrape and embed run folders, and the SQD examples file."""
    from sqid import db
    from sqid.embed.plan import ensure_tables as ensure_embed_tables
    from sqid.embed.shard import FETCH_SCHEMA, IMAGE_VECTOR_SCHEMA, TEXT_VECTOR_SCHEMA
    from sqid.scrape.merge import merge_run
    from sqid.scrape.records import OUTCOME_SCHEMA

    rng = np.random.default_rng(0)
    n_test, n_supp = round(TEST_PRODUCTS * scale), round(SUPP_PRODUCTS * scale)
    n_queries, n_judgements = round(QUERIES * scale), round(JUDGEMENTS * scale)
    db_path = state / "sqid.duckdb"
    ids = _ids("B0", n_test) + _ids("B1", n_supp)
    sets = ["test"] * n_test + ["supp"] * n_supp
    titles = [f"product title {i}" for i in range(len(ids))]
    query_text = [f"query {i}" for i in range(n_queries)]
    con = db.connect(db_path)
    db.run_script(con, "derive/create_sqid_sets")
    db.run_script(con, "ingest/create_sqd_tables")
    products = pa.table({"product_id": ids, "product_set": sets, "title": titles,
                         "brand": ["brand"] * len(ids), "n_queries": [1] * len(ids),
                         "n_judgements": [1] * len(ids)})  # fmt: skip
    queries = pa.table({"query_id": np.arange(n_queries, dtype=np.int64), "query": query_text,
                        "source": ["other"] * n_queries, "n_judgements": [20] * n_queries})  # fmt: skip
    con.register("products_frame", products)
    con.register("queries_frame", queries)
    db.run(con, "bench/insert_sqid_products_from_frame")
    db.run(con, "bench/insert_sqid_queries_from_frame")
    db.run(con, "derive/insert_sqid_set_rule", {"min_supp_judgements": 2})
    con.close()

    # Scrape: one outcome per product, merged by the scraper's own merge.
    now_us = int(time.time() * 1e6)
    has_image = rng.random(len(ids)) < WITH_IMAGE
    image_of = np.arange(len(ids))
    shared = has_image & (rng.random(len(ids)) < SHARED_IMAGE)
    image_of[shared] = rng.integers(0, len(ids), shared.sum())
    urls = [f"https://m.media-amazon.com/images/I/{i:010d}.jpg" if ok else None
            for i, ok in zip(image_of, has_image, strict=True)]  # fmt: skip
    outcomes = pa.table(
        {"product_id": ids, "status": ["ok" if u else "no_image" for u in urls],
         "page_kind": ["product" if u else "no_image" for u in urls],
         "image_id": [u and u.rsplit("/", 1)[1][:-4] for u in urls],
         "image_key": [u and u.rsplit("/", 1)[1][:-4] for u in urls], "image_url": urls,
         "hires_url": urls, "original_url": urls, "source": ["landingImage"] * len(ids),
         "default_reason": [None if u else "no_image_placeholder" for u in urls],
         "http_status": [200] * len(ids), "attempts": [1] * len(ids), "error": [None] * len(ids),
         "scraped_at": [now_us] * len(ids), "run_id": ["bench"] * len(ids)},
        schema=OUTCOME_SCHEMA,
    )  # fmt: skip
    _write(outcomes, state / "scrape" / "shard-00000" / "outcomes-00000.parquet")
    merge_run(state / "scrape", db_path)

    # Embed part files: a download and a vector per distinct image, a vector per text.
    distinct = sorted({u for u in urls if u})
    shas = [hashlib.sha256(u.encode()).hexdigest() for u in distinct]
    embed_dir = state / "embed"
    fetches = pa.table({"url": distinct, "image_url": distinct, "sha256": shas,
                        "status": ["ok"] * len(shas), "error": [None] * len(shas),
                        "http_status": [200] * len(shas), "attempts": [1] * len(shas),
                        "fetched_at": [now_us] * len(shas)}, schema=FETCH_SCHEMA)  # fmt: skip
    _write(fetches, embed_dir / "image-00000" / "fetches-00000.parquet")
    texts = sorted({hashlib.sha256(t.encode()).hexdigest() for t in titles + query_text})
    for kind, keys, schema, key in (("image", shas, IMAGE_VECTOR_SCHEMA, "sha256"),
                                    ("text", texts, TEXT_VECTOR_SCHEMA, "text_sha256")):  # fmt: skip
        for part, start in enumerate(range(0, len(keys), 50_000)):
            chunk = keys[start : start + 50_000]
            table = pa.table({"model_id": [MODEL] * len(chunk), "revision": [REVISION] * len(chunk),
                              key: chunk, "embedding": _vectors(rng, len(chunk))}, schema=schema)  # fmt: skip
            _write(table, embed_dir / f"{kind}-00000" / f"vectors-{part:05d}.parquet")
    ensure_embed_tables(db_path)

    # SQD examples: the US Task-1 test judgements of the queries.
    labels = rng.choice(["E", "S", "C", "I"], n_judgements, p=[0.65, 0.22, 0.03, 0.10])
    examples = pa.table({
        "example_id": np.arange(n_judgements), "query": ["q"] * n_judgements,
        "query_id": rng.integers(0, n_queries, n_judgements),
        "product_id": [ids[i] for i in rng.integers(0, n_test, n_judgements)],
        "product_locale": ["us"] * n_judgements, "esci_label": labels,
        "small_version": np.ones(n_judgements, dtype=np.int64),
        "large_version": np.ones(n_judgements, dtype=np.int64), "split": ["test"] * n_judgements,
    })  # fmt: skip
    _write(examples, state / "examples.parquet")
    return {"products": len(ids), "queries": n_queries, "judgements": n_judgements,
            "image_vectors": len(shas), "text_vectors": len(texts)}  # fmt: skip


# --- the steps, each called in a fresh process ---------------------------------------


def _config(state: str):
    from sqid.release.assemble import ReleaseConfig

    return ReleaseConfig(release_dir=Path(state) / "releases")


def _staging(state: str) -> Path:
    return Path((Path(state) / "staging.txt").read_text())


def step_embed_merge(state: str) -> dict:
    from sqid.embed.merge import merge

    counts = merge(Path(state) / "embed", Path(state) / "sqid.duckdb")
    return {k: counts[k] for k in ("image_embeddings", "text_embeddings")}


def step_plain_insert(state: str) -> dict:
    """The anchor: the same part files (downloads and vectors) into fresh keyed tables,
    plain inserts with no upsert or de-duplication."""
    from sqid import db

    scratch = Path(state) / "anchor.duckdb"
    scratch.unlink(missing_ok=True)
    con = db.connect(scratch)
    db.run_script(con, "embed/create_embed_tables")
    embed = Path(state) / "embed"
    for statement, pattern in (("bench/anchor_fetches", "image-*/fetches-*.parquet"),
                               ("bench/anchor_image_vectors", "image-*/vectors-*.parquet"),
                               ("bench/anchor_text_vectors", "text-*/vectors-*.parquet")):  # fmt: skip
        db.run(con, statement, {"files": sorted(str(p) for p in embed.glob(pattern))})
    con.close()
    scratch.unlink()
    return {}


def step_check(state: str) -> str | None:
    from sqid.release.steps import unchanged_since

    return unchanged_since(Path(state) / "sqid.duckdb", _config(state))


def step_stage(state: str) -> dict:
    from sqid.release.steps import stage

    manifest = stage(Path(state) / "sqid.duckdb", _config(state), VERSION)
    (Path(state) / "staging.txt").write_text(manifest["staging"])
    return manifest["rows"]


def step_index(state: str) -> dict:
    from sqid.release.steps import index

    entry = index(_staging(state), Path(state) / "sqid.duckdb")
    return {"nprobe": entry["nprobe"], "tuned_recall_at_10": entry["tuned_recall_at_10"]}


def step_evaluate(state: str) -> dict:
    from sqid.release.evaluate import evaluate_release

    evaluation = evaluate_release(_staging(state), Path(state) / "examples.parquet")
    (Path(state) / "evaluation.json").write_text(json.dumps(evaluation))
    return {"queries": evaluation["queries"], "judgements": evaluation["judgements"]}


def step_document(state: str) -> dict:
    from sqid.release.documents import document_release

    evaluation = json.loads((Path(state) / "evaluation.json").read_text())
    document_release(_staging(state), VERSION, evaluation)
    return {}


def step_validate(state: str) -> dict:
    from sqid.release.steps import gate

    gate(_staging(state), _config(state))
    return {}


def step_publish(state: str) -> str:
    from sqid.release.steps import publish_release

    return str(publish_release(_staging(state), VERSION))


def step_quiet_day(state: str) -> str:
    from sqid.release.steps import run_release

    outcome = run_release(Path(state) / "sqid.duckdb", _config(state),
                          examples=Path(state) / "examples.parquet")  # fmt: skip
    assert outcome.published is None, outcome
    return outcome.reason


# --- the run ------------------------------------------------------------------------


def main() -> None:
    from fresh import run_fresh

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="x the SQID size (0.1, 1, 10)")
    parser.add_argument("--workdir", type=Path, help="default: a temporary folder, removed")
    args = parser.parse_args()
    state = args.workdir or Path(tempfile.mkdtemp(prefix="sqid-bench-release-"))
    state.mkdir(parents=True, exist_ok=True)
    try:
        start = time.perf_counter()
        sizes = build(state, args.scale)
        print(f"state at {args.scale}x built in {time.perf_counter() - start:.0f}s "
              f"(synthetic): {sizes}")  # fmt: skip
        rows = []

        def timed(name: str, function: str) -> tuple[float, float]:
            result, seconds, peak = run_fresh(HERE, function, str(state))
            rows.append((name, seconds, peak))
            print(f"  {name:<28} {seconds:>8.1f} s {peak:>8.2f} GiB   {result}", flush=True)
            return seconds, peak

        print(f"{'step':<30} {'wall':>8}   {'peak RSS':>9}")
        anchor, _ = timed("plain keyed insert (anchor)", "step_plain_insert")
        merge, _ = timed("embed merge", "step_embed_merge")
        first = 0.0
        for name in ("check", "stage", "index", "evaluate", "document", "validate", "publish"):
            first += timed(f"release: {name}", f"step_{name}")[0]
        quiet, _ = timed("release on a quiet day", "step_quiet_day")
        print(f"embed merge: {merge / anchor:.2f}x a plain keyed insert of the same files")
        print(f"a quiet day costs {quiet / first:.1%} of a first release "
              f"({quiet:.1f} s vs {first:.1f} s)")  # fmt: skip
    finally:
        if args.workdir is None:
            shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
