"""Validate the store's frontmatter against the contract (docs/conventions/frontmatter.md).

With no paths: every note of the five kinds in the store. One line per problem,
`PATH:LINE: /json/pointer: message`. Exit 0 when clean; with problems, exit 0
(warn mode) or 1 with --strict.
"""

from __future__ import annotations

import _project_python  # noqa: F401  (first: re-executes with baton's Python when needed)

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from lib.core import cli, config, gitfacts
from lib.core.paths import find_root
from lib.store import report, validate


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="validate_frontmatter.py",
        description="Check session, workstream, plan, ADR and learning notes against their schemas.",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="files to check (default: the whole store)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when there is any problem")
    parser.add_argument("--json", action="store_true", help="print a versioned JSON report")
    parser.add_argument("--staged", action="store_true",
                        help="check the staged content of staged store files (what the pre-commit hook runs)")
    parser.add_argument("--summary", action="store_true", help="print only a one-line summary")
    parser.add_argument("--root", type=Path, help="repository root (default: found from the current folder)")
    return parser


def collect(args: argparse.Namespace, root: Path) -> validate.Report:
    if args.staged:
        return validate.check_many(gitfacts.staged_store_files(root))
    if not args.paths:
        return report.check_store(root)
    return validate.check_paths([Path(p) for p in args.paths], root)


def _hook_settings(root: Path) -> tuple[bool, str | None]:
    """Whether the pre-commit hook blocks, and the day it starts to when that is still ahead."""
    settings = config.load(root)
    strict = os.environ.get("BATON_STRICT") == "1" or settings.get("pre_commit") == "strict"
    return strict, None if strict else settings.get("strict_from")


def run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    root = (args.root or find_root()).resolve()
    report = collect(args, root)
    hook_strict, strict_from = _hook_settings(root) if args.staged else (False, None)
    strict = args.strict or hook_strict
    problems = report.problems

    if args.json:
        payload = report.as_dict()
        payload["strict"] = strict
        cli.print_json(payload)
    elif args.summary:
        files = len(report.files)
        if problems:
            print(f"store: {files} notes checked, {len(problems)} problems in "
                  f"{len({p.path for p in problems})} files (run scripts/validate_frontmatter.py for details)")
        else:
            print(f"store: {files} notes checked, no problems")
    else:
        for problem in problems:
            print(problem)
        if args.staged and problems:
            later = f"; commits like this are blocked from {strict_from}" if strict_from else ""
            mode = ("blocking the commit" if strict
                    else f"warning only{later} (BATON_STRICT=1 or pre_commit: strict blocks now)")
            print(f"baton pre-commit: {len(problems)} frontmatter problems; {mode}", file=sys.stderr)
    if problems and strict:
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run(lambda: run(argv), "validate_frontmatter")


if __name__ == "__main__":
    raise SystemExit(main())
