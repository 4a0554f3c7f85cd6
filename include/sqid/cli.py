"""The ``sqid`` command line: tools for users of the pipeline and of its data."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sqid.sample import FULL_SCALE_QUERIES


def _cmd_sample(args: argparse.Namespace) -> int:
    from sqid.sample import generate

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sqid", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sample = sub.add_parser(
        "sample",
        help="write SQD-shaped sample files (examples, products, sources) and a checksum manifest",
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
