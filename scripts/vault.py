"""The store as linked notes: check links and back-links, fix what can be fixed, keep maps and INDEX.md.

    vault.py check [--json] [--strict]   report broken links, orphans, missing (back-)links, stale maps
    vault.py fix [--json] [--strict]     repair what can be repaired (idempotent), regenerate maps

Exit 0, or 1 with --strict when problems remain.
"""

from __future__ import annotations

import _project_python  # noqa: F401  (first: re-executes with baton's Python when needed)

import argparse
from collections.abc import Sequence
from pathlib import Path

from lib import vault
from lib.core import cli
from lib.core.paths import find_root


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vault.py",
        description="Keep the store's notes linked: sessions to workstreams and plans, Session Logs to sessions, "
                    "plans to workstreams, ADRs to sessions; maps of content, INDEX.md and Obsidian templates.",
    )
    parser.add_argument("--root", type=Path, help="repository root (default: found from the current folder)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, text in (
        ("check", "report broken links, dangling references, orphan notes, missing links and back-links, "
                  "and generated files that are out of date"),
        ("fix", "add missing links and back-links through the round-trip writer, repair links whose target is "
                "unambiguous, regenerate docs/maps/, INDEX.md and docs/templates/; a second run changes nothing"),
    ):
        cmd = sub.add_parser(name, help=text, description=text)
        cmd.add_argument("--json", action="store_true", help="print a versioned JSON report")
        cmd.add_argument("--strict", action="store_true", help="exit 1 when any problem is (still) there")
        cmd.add_argument("--root", type=Path, default=argparse.SUPPRESS,
                         help="repository root (default: found from the current folder)")
    return parser


def run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    root = (args.root or find_root()).resolve()
    report = vault.check(root) if args.command == "check" else vault.fix(root)
    if args.json:
        payload = report.as_dict()
        payload["command"] = args.command
        payload["strict"] = args.strict
        cli.print_json(payload)
    else:
        for rel in report.created:
            print(f"created {rel}")
        for rel in report.changed:
            print(f"changed {rel}")
        for rel in report.deleted:
            print(f"deleted {rel}")
        for problem in report.problems:
            print(problem)
        print(_summary(args.command, report))
    return 1 if args.strict and report.problems else 0


def _summary(command: str, report: vault.Report) -> str:
    problems = report.problems
    if command == "fix":
        written = len(report.created) + len(report.changed) + len(report.deleted)
        head = f"vault: {written} files written" if written else "vault: nothing to fix"
        if not problems:
            return head + ", no problems left"
        return head + f", {len(problems)} problems left that need a person"
    if not problems:
        return "vault: no problems"
    fixable = sum(1 for p in problems if p.fixable)
    return f"vault: {len(problems)} problems ({fixable} repaired by `scripts/vault.py fix`)"


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run(lambda: run(argv), "vault")


if __name__ == "__main__":
    raise SystemExit(main())
