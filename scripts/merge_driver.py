#!/usr/bin/env python3
"""baton's git merge driver: Session Logs and CHANGELOG.md merge as ordered unions, generated indexes
and maps merge row by row (what regenerating them from the merged notes gives).

git runs `merge_driver.py merge %O %A %B %P` (registered by `merge_driver.py install`, which
setup.sh runs); the merged text replaces %A, and the exit status says whether it is clean.
"""

from __future__ import annotations

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


def run(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="merge_driver.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("merge", help="what git runs: merge %%B into %%A (common ancestor %%O) for the file %%P")
    p.add_argument("base", type=Path, help="the common ancestor's version (%%O)")
    p.add_argument("ours", type=Path, help="the current version, replaced by the result (%%A)")
    p.add_argument("theirs", type=Path, help="the other branch's version (%%B)")
    p.add_argument("path", help="the file's path in the repository (%%P)")
    p.set_defaults(func=cmd_merge)
    p = sub.add_parser("install", help="register the driver: .gitattributes lines and this clone's git config")
    p.add_argument("--root", type=Path, help="repository root (default: found from the current folder)")
    p.add_argument("--scripts", default="scripts", help="where baton's scripts are, from the root (default: scripts)")
    p.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_install)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run(lambda: run(argv), "merge_driver")


if __name__ == "__main__":
    raise SystemExit(main())
