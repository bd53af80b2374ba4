#!/usr/bin/env python3
"""baton's git merge driver: Session Logs and CHANGELOG.md merge as ordered unions, generated indexes
and maps merge row by row (what regenerating them from the merged notes gives).

git runs `merge_driver.py merge %O %A %B %P` (registered by `merge_driver.py install`, which
setup.sh runs); the merged text replaces %A, and the exit status says whether it is clean.
"""

from __future__ import annotations

import _project_python  # noqa: F401  (first: re-executes with baton's Python when needed)

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from lib.adopt import mergedriver
from lib.core import atomic, cli
from lib.core.errors import BatonError
from lib.core.paths import find_root
from lib.vault import merge


def _read(path: Path, what: str) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise BatonError(f"{path}: cannot read the {what} version: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise BatonError(f"{path}: the {what} version is not UTF-8 text") from None


def cmd_merge(args: argparse.Namespace) -> int:
    base = _read(args.base, "common ancestor's")
    ours = _read(args.ours, "current")
    theirs = _read(args.theirs, "other branch's")
    result = merge.merge(args.path, base, ours, theirs)
    atomic.write_text(args.ours, result.text)
    if args.json:
        cli.print_json({"path": args.path, "kind": merge.kind_of(args.path), "clean": result.clean,
                        "conflicts": result.conflicts})
    if not result.clean:
        print(f"merge_driver.py: {args.path}: {result.conflicts} conflict(s) outside the Session Log or entries; "
              "resolve them, then `git add` it", file=sys.stderr)
        return 1
    return 0


def cmd_install(args: argparse.Namespace) -> int:
    root = (args.root or find_root()).resolve()
    result = mergedriver.register(root, args.scripts, dry_run=args.dry_run)
    if args.json:
        cli.print_json(result.as_dict())
    else:
        print(f"merge driver: .gitattributes {result.attributes}, git config {result.config} ({result.driver})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="merge_driver.py", description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    text = "what git runs for a file with merge=baton: merge THEIRS into OURS (common ancestor BASE) for PATH"
    p = sub.add_parser("merge", help="what git runs for a file with merge=baton", description=text)
    p.add_argument("base", type=Path, help="the common ancestor's version (git's %%O)")
    p.add_argument("ours", type=Path, help="the current version, replaced by the result (git's %%A)")
    p.add_argument("theirs", type=Path, help="the other branch's version (git's %%B)")
    p.add_argument("path", help="the file's path in the repository (git's %%P)")
    p.add_argument("--json", action="store_true", help="print whether the merge is clean as JSON")
    p.set_defaults(func=cmd_merge)
    text = "register the driver: the .gitattributes lines and this clone's git config (safe to run again)"
    p = sub.add_parser("install", help=text, description=text)
    p.add_argument("--root", type=Path, help="repository root (default: found from the current folder)")
    p.add_argument("--scripts", default="scripts", help="where baton's scripts are, from the root (default: scripts)")
    p.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_install)
    return parser


def run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run(lambda: run(argv), "merge_driver")


if __name__ == "__main__":
    raise SystemExit(main())
