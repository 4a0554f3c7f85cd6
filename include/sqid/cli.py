"""The ``sqid`` command line: tools for users of the pipeline and of its data."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from sqid.ingest.sample import FULL_SCALE_QUERIES
from sqid.setting import add_flags


def _cmd_sample(args: argparse.Namespace) -> int:
    from sqid.ingest.sample import generate

    n_queries = FULL_SCALE_QUERIES if args.full else args.queries
    summary = generate(Path(args.out), n_queries=n_queries, seed=args.seed)
    print(
        json.dumps(
            {
                "out_dir": str(summary.out_dir),
                "queries": summary.queries,
                "examples": summary.examples,
                "products": summary.products,
                "files": {
                    n: {"size": s.size, "sha256": s.sha256} for n, s in summary.specs.items()
                },
            },
            indent=2,
        )
    )
    return 0


def _cmd_parse_page(args: argparse.Namespace) -> int:
    from sqid.scrape.pages import analyse_page

    try:
        data = sys.stdin.buffer.read() if args.path == "-" else Path(args.path).read_bytes()
    except OSError as exc:
        print(f"sqid parse-page: cannot read {args.path}: {exc}", file=sys.stderr)
        return 2
    result = analyse_page(data, args.status, full_parse=args.full_parse)
    print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    return 0


def _cmd_audit_urls(args: argparse.Namespace) -> int:
    import csv

    from sqid.scrape.placeholders import SharedImageRule, audit_image_urls

    try:
        with open(args.csv, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = {"product_id", "image_url"} - set(reader.fieldnames or [])
            if missing:
                return _fail("audit-urls", f"{args.csv}: needs the columns product_id and "
                             f"image_url; missing {', '.join(sorted(missing))}")  # fmt: skip
            rows = [(r["product_id"], r["image_url"]) for r in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return _fail("audit-urls", f"cannot read {args.csv}: {exc}")
    report = audit_image_urls(rows, SharedImageRule(min_products=args.min_products))
    print(json.dumps(report, indent=2))
    return 0


def _fail(command: str, message: str, code: int = 2) -> int:
    """A user mistake: one line on stderr, no traceback."""
    print(f"sqid {command}: {message}", file=sys.stderr)
    return code


def _cmd_validate(args: argparse.Namespace) -> int:
    from sqid.release.validate import ValidationPolicy, check_release, report

    directory = Path(args.release_dir)
    if not directory.is_dir():
        return _fail("validate", f"{directory} is not a release directory (no such directory)")
    policy = ValidationPolicy(
        dimension=args.dimension,
        norm_band=(args.norm_min, args.norm_max),
        coverage_threshold=args.coverage_threshold,
        min_image_vector_share=args.min_image_vectors,
        min_text_vector_share=args.min_text_vectors,
    )
    problems = check_release(directory, policy, croissant=not args.skip_croissant)
    print(report(problems, directory))
    return 1 if problems else 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import duckdb

    from sqid.release.evaluate import evaluate_release
    from sqid.release.scores import ScoresError

    for what, path in (("release", args.release_dir), ("examples file", args.examples)):
        if not Path(path).exists():
            print(f"sqid evaluate: no such {what}: {path}", file=sys.stderr)
            return 2
    try:
        result = evaluate_release(
            Path(args.release_dir), Path(args.examples), Path(args.scores) if args.scores else None
        )
    except ScoresError as exc:
        return _fail("evaluate", str(exc))
    except duckdb.Error as exc:  # the examples file or a feature file is not what it should be
        return _fail("evaluate", f"cannot read the examples or the release's feature files: {exc}")
    print(json.dumps(result, indent=2) if args.json else _evaluation_table(result))
    return 0


def _evaluation_table(result: dict) -> str:
    """nDCG as a small table: the CLIP baselines, or one row for the user's own scores."""
    lines = [f"{result['queries']} queries ({result['skipped_queries']} all-irrelevant left out)"]
    if "ndcg" in result:
        lines += [f"{'your scores':<28} nDCG {result['ndcg']:.4f}",
                  f"judgements without a score: {result['unscored_judgements']}; scored pairs "
                  f"matching no judgement: {result['unknown_pairs']}"]  # fmt: skip
        return "\n".join(lines)
    best = result["best_combination"]
    rows = [("random order (expected)", result["random"]), ("CLIP text (title)", result["clip_text"]),
            ("CLIP image", result["clip_image"]),
            (f"CLIP text+image (w={best['weight_text']:.1f})", best["ndcg"])]  # fmt: skip
    lines += [f"{name:<28} nDCG {value:.4f}" for name, value in rows]
    return "\n".join(lines)


def _cmd_release(args: argparse.Namespace) -> int:
    from sqid.config import load_settings
    from sqid.embed.shard import cache_dir_default
    from sqid.ingest.sqd import EXAMPLES
    from sqid.release.assemble import ReleaseConfig
    from sqid.release.steps import run_release
    from sqid.release.versions import ReleaseError

    settings = load_settings()
    db_path = Path(args.db) if args.db else settings.duckdb_path
    if not db_path.exists():
        print(f"sqid release: no such database: {db_path}", file=sys.stderr)
        return 2
    config = ReleaseConfig(
        release_dir=Path(args.release_dir) if args.release_dir else settings.release_dir,
        coverage_threshold=args.coverage_threshold,
        min_vector_share=args.min_vector_share,
        model_id=args.model_id,
        revision=args.revision,
    )
    examples = Path(args.examples) if args.examples else settings.download_dir / EXAMPLES
    try:
        outcome = run_release(
            db_path, config, bump=args.bump, version=args.version, examples=examples,
            dry_run=args.dry_run, publish_unchanged=args.publish_unchanged,
            image_cache=cache_dir_default(),
        )  # fmt: skip
    except ValueError as exc:  # a usage mistake: a malformed or taken version, a bad bump
        return _fail("release", str(exc))
    except ReleaseError as exc:  # the release failed: its gate, the disk, another run
        return _fail("release", str(exc), code=1)
    if outcome.published:
        print(f"published {outcome.version} at {outcome.published}")
    else:
        print(outcome.reason)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from sqid.release.assemble import package_version
    from sqid.release.cli import add_commands as add_release_commands
    from sqid.search.cli import add_commands

    parser = argparse.ArgumentParser(prog="sqid", description=__doc__)
    parser.add_argument("--version", action="version", version=f"sqid {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=summary, description=summary)

    for add in (_add_sample, _add_parse_page, _add_audit_urls, _add_validate, _add_evaluate,
                _add_release):  # fmt: skip
        add(command)
    add_commands(command, _fail)
    add_release_commands(command, _fail)
    return parser


def _add_sample(command) -> None:
    sample = command(
        "sample",
        "write SQD-shaped sample files (examples, products, sources) and a checksum manifest",
    )
    sample.add_argument("--out", required=True, help="output directory")
    sample.add_argument(
        "--queries", type=int, default=1_000, help="number of queries (default 1000)"
    )
    sample.add_argument(
        "--full", action="store_true", help=f"full SQD scale ({FULL_SCALE_QUERIES} queries)"
    )
    sample.add_argument("--seed", type=int, default=0, help="random seed (same seed, same bytes)")
    sample.set_defaults(func=_cmd_sample)


def _add_parse_page(command) -> None:
    page = command("parse-page", "classify a saved product page and print its main image as JSON")
    page.add_argument("path", help="HTML file, or - for standard input")
    page.add_argument("--status", type=int, default=200, help="HTTP status it was served with")
    page.add_argument("--full-parse", action="store_true", help="parse the whole page (slower)")
    page.set_defaults(func=_cmd_parse_page)


def _add_audit_urls(command) -> None:
    from sqid.scrape.placeholders import SharedImageRule

    audit = command(
        "audit-urls",
        "find empty, default, furniture and shared images in a product_id,image_url CSV",
    )
    audit.add_argument("csv", help="e.g. a release's product_image_urls.csv")
    audit.add_argument(
        "--min-products", type=int, default=SharedImageRule.min_products,
        help=f"report images shared by at least this many products (default {SharedImageRule.min_products})",
    )  # fmt: skip
    audit.set_defaults(func=_cmd_audit_urls)


def _add_validate(command) -> None:
    from sqid.settings import VALIDATE

    validate = command(
        "validate", "check a release directory (files, checksums, schemas, vectors, URLs)"
    )
    validate.add_argument("release_dir")
    validate.add_argument(
        "--skip-croissant", action="store_true", help="skip the mlcroissant check"
    )
    add_flags(validate, VALIDATE)
    validate.set_defaults(func=_cmd_validate)


def _add_evaluate(command) -> None:
    evaluate = command(
        "evaluate",
        "nDCG on the US Task-1 test judgements: CLIP baselines, or your own --scores",
    )
    evaluate.add_argument("release_dir", help="a release directory (its feature files)")
    evaluate.add_argument(
        "--examples", required=True, help="shopping_queries_dataset_examples.parquet of SQD"
    )
    evaluate.add_argument("--scores", help="CSV or Parquet with query_id, product_id, score")
    evaluate.add_argument("--json", action="store_true", help="print the full result as JSON")
    evaluate.set_defaults(func=_cmd_evaluate)


def _add_release(command) -> None:
    from sqid.settings import RELEASE

    release = command(
        "release",
        "stage, document, validate and publish a release from the pipeline's DuckDB "
        "(the same steps as the sqid_release DAG); nothing is written when nothing changed",
    )
    release.add_argument("--db", help="DuckDB file (default: $SQID_DUCKDB_PATH)")
    release.add_argument("--release-dir", help="releases folder (default: $SQID_RELEASE_DIR)")
    release.add_argument("--examples", help="SQD examples parquet for the evaluation")
    add_flags(release, RELEASE)
    release.set_defaults(func=_cmd_release)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:  # e.g. `sqid parse-page page.html | head`: the reader is gone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
