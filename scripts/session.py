"""Who is working and which session this is: operators and session ids.

    session.py whoami [--email E] [--json]         the operator running now (slug and initials)
    session.py claim [--date YYYY-MM-DD] [--json]  claim the next <INITIALS>-YYMMDD-NN
    session.py claims [--stale HOURS] [--json]     claim stubs never turned into a session note
    session.py wrappers [--check]                  per-operator /handoff-xx and /resume-xx commands

Contracts: docs/conventions/operators.md and docs/conventions/ids.md.
"""

from __future__ import annotations

import _project_python  # noqa: F401  (first: re-executes with baton's Python when needed)

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path

from lib.core import cli
from lib.core.paths import find_root
from lib.store import operators


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _hours(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of hours: {text!r}") from None
    if value < 0 or value != value:
        raise argparse.ArgumentTypeError(f"hours must be 0 or more: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="session.py",
        description="Operators (who is working) and session ids (<INITIALS>-YYMMDD-NN).",
    )
    parser.add_argument("--root", type=Path, help="repository root (default: found from the current folder)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    whoami = sub.add_parser(
        "whoami",
        help="print the operator running now",
        description="Resolve the operator: --email, then $OPERATOR (slug or initials), then $CLAUDE_USER_EMAIL, "
        "then `git config user.email`. Prints `slug initials`.",
    )
    whoami.add_argument("--email", help="resolve this email instead of the environment and git")
    whoami.add_argument("--json", action="store_true", help="print the operator and where it came from as JSON")

    claim = sub.add_parser(
        "claim",
        help="claim the next session id",
        description="Atomically claim the next <INITIALS>-YYMMDD-NN by creating docs/sessions/<id>.md as a claim "
        "stub. With $BATON_SESSION_ID set to an id this operator already claimed, print that id instead.",
    )
    claim.add_argument("--date", type=_day, metavar="YYYY-MM-DD", help="the id's date (default: today, local time)")
    claim.add_argument("--email", help="claim as the operator with this email (as in whoami)")
    claim.add_argument("--json", action="store_true", help="print the id, path and operator as JSON")

    stubs = sub.add_parser(
        "claims",
        help="list claim stubs that never became session notes",
        description="List docs/sessions files still at `status: claimed` (and empty files an interrupted claim "
        "left), oldest first, so they can be removed or reused with BATON_SESSION_ID.",
    )
    stubs.add_argument("--stale", type=_hours, metavar="HOURS", help="only claims older than HOURS")
    stubs.add_argument("--json", action="store_true", help="print the claims as JSON")

    wrappers = sub.add_parser(
        "wrappers",
        help="generate the per-operator /handoff-xx and /resume-xx commands",
        description="Write .claude/commands/handoff-<initials>.md and resume-<initials>.md for every operator in "
        ".claude/operators.yaml (and remove those of operators no longer listed). Idempotent.",
    )
    wrappers.add_argument("--check", action="store_true", help="change nothing; exit 1 when a wrapper is out of date")
    wrappers.add_argument("--json", action="store_true", help="print what changed (or would change) as JSON")
    return parser


def cmd_whoami(args: argparse.Namespace, root: Path) -> int:
    found = operators.resolve(root, email=args.email)
    if args.json:
        cli.print_json({"version": cli.JSON_VERSION, **found.as_dict()})
    else:
        print(f"{found.operator.slug} {found.operator.initials}")
    return 0


def cmd_claim(args: argparse.Namespace, root: Path) -> int:
    from lib.store import ids

    found = operators.resolve(root, email=args.email)
    claimed = ids.claim(root, found.operator, day=args.date)
    for warning in claimed.warnings:
        print(f"session.py: warning: {warning}", file=sys.stderr)
    if args.json:
        cli.print_json({
            "version": cli.JSON_VERSION,
            "id": claimed.id,
            "path": _relative(claimed.path, root),
            "operator": found.operator.slug,
            "initials": found.operator.initials,
            "claimed_at": claimed.claimed_at,
            "reused": claimed.reused,
            "operator_source": found.source,
            "warnings": list(claimed.warnings),
        })
    else:
        print(claimed.id)
    return 0


def cmd_claims(args: argparse.Namespace, root: Path) -> int:
    from lib.store import ids

    stubs = ids.claims(root, stale_hours=args.stale)
    if args.json:
        cli.print_json({
            "version": cli.JSON_VERSION,
            "stale_hours": args.stale,
            "claims": [
                {
                    "id": s.id,
                    "path": _relative(s.path, root),
                    "operator": s.operator,
                    "claimed_at": ids.format_timestamp(s.claimed_at) if s.claimed_at else None,
                    "age_hours": round(s.age_hours, 2),
                    "empty": s.empty,
                }
                for s in stubs
            ],
        })
        return 0
    if not stubs:
        limit = f" older than {args.stale:g} h" if args.stale is not None else ""
        print(f"no claim stubs{limit}")
        return 0
    for s in stubs:
        who = s.operator or "(empty file: interrupted claim)"
        print(f"{s.id}  {who}  {s.age_hours:.1f} h old  {_relative(s.path, root)}")
    return 0


def cmd_wrappers(args: argparse.Namespace, root: Path) -> int:
    from lib.adopt import wrappers

    roster = operators.load(root)
    plan = wrappers.plan(root, roster)
    if not args.check:
        wrappers.apply(plan)
    changed = sorted(_relative(p, root) for p in plan.write)
    removed = sorted(_relative(p, root) for p in plan.remove)
    if args.json:
        cli.print_json({
            "version": cli.JSON_VERSION,
            "check": args.check,
            "up_to_date": plan.up_to_date,
            "written" if not args.check else "out_of_date": changed,
            "removed" if not args.check else "to_remove": removed,
            "unchanged": sorted(_relative(p, root) for p in plan.unchanged),
        })
    elif args.check:
        for path in changed:
            print(f"out of date: {path}")
        for path in removed:
            print(f"no longer an operator's: {path}")
        if not plan.up_to_date:
            print(f"run: {wrappers.launcher()}session.py wrappers", file=sys.stderr)
    else:
        for path in changed:
            print(f"wrote {path}")
        for path in removed:
            print(f"removed {path}")
        if plan.up_to_date:
            print(f"wrappers up to date ({len(plan.unchanged)} files)")
    return 1 if args.check and not plan.up_to_date else 0


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


COMMANDS = {"whoami": cmd_whoami, "claim": cmd_claim, "claims": cmd_claims, "wrappers": cmd_wrappers}


def run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    root = (args.root or find_root()).resolve()
    return COMMANDS[args.command](args, root)


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run(lambda: run(argv), "session.py")


if __name__ == "__main__":
    raise SystemExit(main())
