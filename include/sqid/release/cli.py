"""``sqid takedown`` and ``sqid publish``: the release commands of the CLI besides
``sqid release`` itself."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path


def _release_dir(args: argparse.Namespace) -> Path:
    from sqid.config import load_settings

    return Path(args.release_dir) if args.release_dir else load_settings().release_dir


def _cmd_takedown(args: argparse.Namespace, fail: Callable[..., int]) -> int:
    from sqid.release.takedowns import TakedownError, add_takedown, read_takedowns, takedown_path

    path = takedown_path(_release_dir(args))
    try:
        if args.action == "add":
            kind, id_ = ("product", args.product) if args.product else ("image", args.image)
            entry = add_takedown(path, kind, id_, args.reason, args.date)
            print(f"listed {entry.kind} {entry.id} in {path}; the next release leaves it out")
            return 0
        entries = read_takedowns(path)
    except TakedownError as exc:
        return fail("takedown", str(exc))
    print(f"{len(entries)} takedowns in {path}")
    for e in entries:
        print(f"{e.date}  {e.kind:<7} {e.id:<12} {e.reason}")
    return 0


def _cmd_publish(args: argparse.Namespace, fail: Callable[..., int]) -> int:
    from sqid.release.hub import HubError, plan, publish

    release = Path(args.release)
    if not release.is_dir():
        return fail("publish", f"{release} is not a release directory")
    try:
        hub_plan = plan(release, args.hub_repo)
        print(hub_plan.describe())
        if args.dry_run:
            print("dry run: nothing was sent")
            return 0
        print(f"sent: {publish(release, hub_plan, args.token)}")
    except HubError as exc:
        return fail("publish", str(exc), code=1 if "not valid" in str(exc) else 2)
    return 0


def add_commands(command: Callable[[str, str], argparse.ArgumentParser],
                 fail: Callable[..., int]) -> None:  # fmt: skip
    takedown = command("takedown", "list or add takedowns: products or images every later "
                                   "release publishes without URL or vectors")  # fmt: skip
    takedown.add_argument("action", choices=["add", "list"])
    which = takedown.add_mutually_exclusive_group()
    which.add_argument("--product", help="a product ID (ASIN or ISBN-10)")
    which.add_argument("--image", help="an image ID, e.g. 71fv4Dv5RaL")
    takedown.add_argument("--reason", default="", help="why (required for add)")
    takedown.add_argument("--date", help="YYYY-MM-DD of the request (default: today)")
    takedown.add_argument("--release-dir", help="releases folder (default: $SQID_RELEASE_DIR)")
    takedown.set_defaults(func=lambda a: _takedown_or_usage(a, fail, takedown))

    publish = command("publish", "upload a valid release folder to the Hugging Face Hub "
                                 "as a dataset, tagged with its version")  # fmt: skip
    publish.add_argument("release", help="a release folder, e.g. .sqid/releases/v1.2.0")
    publish.add_argument("--hub-repo", required=True, metavar="OWNER/NAME")
    publish.add_argument("--token", help="Hugging Face token (default: $HF_TOKEN)")
    publish.add_argument("--dry-run", action="store_true",
                         help="list the files, sizes and commit message; send nothing")  # fmt: skip
    publish.set_defaults(func=lambda a: _cmd_publish(a, fail))


def _takedown_or_usage(args: argparse.Namespace, fail: Callable[..., int],
                       parser: argparse.ArgumentParser) -> int:  # fmt: skip
    if args.action == "add" and not (args.product or args.image):
        parser.error("add needs --product or --image")
    return _cmd_takedown(args, fail)
