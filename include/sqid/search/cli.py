"""``sqid search`` and ``sqid export-qdrant``: the search commands of the CLI."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path


def read_image(source: str) -> bytes:
    """An image's bytes from a file, or from a URL through the embed stage's safe
    download (its host allow-list, size caps, no private addresses unless configured)."""
    from sqid.search.engine import SearchError

    if source.startswith(("http://", "https://")):
        from sqid.embed.config import EmbedConfig
        from sqid.embed.images import OK, fetch_image, image_session

        policy = replace(EmbedConfig.resolve({}).policy, any_public_host=True)
        with image_session(policy, pool_size=1) as session:
            fetched = fetch_image(source, session, policy)
        if fetched.status != OK or fetched.data is None:
            raise SearchError(f"cannot fetch {source}: {fetched.status} ({fetched.error})")
        return fetched.data
    path = Path(source)
    if not path.is_file():
        raise SearchError(f"{source}: no such image file")
    from sqid.embed.images import ImagePolicy

    if path.stat().st_size > ImagePolicy.max_bytes:
        raise SearchError(f"{source}: larger than {ImagePolicy.max_bytes:,} bytes")
    return path.read_bytes()


def _table(hits) -> str:
    lines = [f"{'#':>3}  {'product_id':<12} {'score':>7}  {'title':<48} image_url"]
    for h in hits:
        title = (h.title or "")[:48]
        lines.append(
            f"{h.rank:>3}  {h.product_id:<12} {h.score:>7.4f}  {title:<48} {h.image_url or ''}"
        )
    return "\n".join(lines)


def cmd_search(args: argparse.Namespace, fail: Callable[[str, str], int]) -> int:
    from sqid.search.engine import Searcher, SearchError

    try:
        searcher = Searcher(Path(args.release_dir), model=args.model, device=args.device)
        if args.image:
            hits = searcher.by_image(read_image(args.image), args.k, args.feedback, args.weight)
        elif args.product:
            hits = searcher.by_product(args.product, args.k)
        else:
            hits = searcher.by_text(args.text, args.k, over=args.over)
    except (SearchError, FileNotFoundError) as exc:
        return fail("search", str(exc))
    if args.json:
        print(json.dumps([h.as_dict() for h in hits], indent=2))
    else:
        print(_table(hits))
    return 0


def cmd_export_qdrant(args: argparse.Namespace, fail: Callable[[str, str], int]) -> int:
    from sqid.search.qdrant import export_release, qdrant_client

    try:
        client = qdrant_client(url=args.url, path=args.path)
        count = export_release(Path(args.release_dir), client, args.collection)
    except (ValueError, FileNotFoundError) as exc:
        return fail("export-qdrant", str(exc))
    where = args.url or args.path
    print(f"{count:,} products into collection {args.collection!r} at {where}")
    return 0


def add_commands(command: Callable[[str, str], argparse.ArgumentParser],
                 fail: Callable[[str, str], int]) -> None:  # fmt: skip
    search = command(
        "search",
        "search a release by text, by image (reverse image search), by image plus feedback "
        "text, or for products like one of its own",
    )
    search.add_argument("release_dir", help="a release directory with an index/ folder")
    what = search.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", help='e.g. "red running shoes"')
    what.add_argument("--image", help="an image file, or an https image URL")
    what.add_argument("--product", help="a product id of the release: products like it")
    search.add_argument("--feedback", help='with --image: e.g. "more floral", "in red"')
    search.add_argument(
        "--weight", type=float, default=0.3,
        help="with --feedback: how far toward the text (0: the image alone, 1: the text alone)",
    )  # fmt: skip
    search.add_argument(
        "--over", choices=["image", "title"], default="image",
        help="with --text: match image vectors (default) or title vectors",
    )  # fmt: skip
    search.add_argument("-k", type=int, default=10, help="results (default 10)")
    search.add_argument("--json", action="store_true", help="print the results as JSON")
    search.add_argument("--model", help="encode queries with this model (default: the release's)")
    search.add_argument("--device", default="auto", help="cpu, cuda or auto")
    search.set_defaults(func=lambda a: _checked_search(a, search, fail))

    export = command(
        "export-qdrant",
        "load a release's image and title vectors into a Qdrant collection (a server by "
        "--url, or a local folder by --path)",
    )
    export.add_argument("release_dir")
    target = export.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="e.g. http://localhost:6333")
    target.add_argument("--path", help="a local Qdrant folder (qdrant-client's local mode)")
    export.add_argument("--collection", default="sqid", help="collection name (default sqid)")
    export.set_defaults(func=lambda a: cmd_export_qdrant(a, fail))


def _checked_search(args: argparse.Namespace, parser: argparse.ArgumentParser,
                    fail: Callable[[str, str], int]) -> int:  # fmt: skip
    if args.feedback and not args.image:
        return fail("search", "--feedback refines an image search: give --image too")
    if not 0.0 <= args.weight <= 1.0:
        return fail("search", f"--weight must be between 0 and 1, not {args.weight}")
    if args.k < 1:
        return fail("search", f"-k must be at least 1, not {args.k}")
    return cmd_search(args, fail)
