"""Bring an existing store up to the frontmatter contract, adding only what can be derived.

Dry run by default: a table of every file and what would change. --apply writes
(all or nothing: every result is validated before the first write); --commit
makes the whole backfill one commit.

A run records in BACKFILL_LOCK the files it is about to change. If it is killed, the lock
stays; the next `--apply --break-stale-lock` carries those files over (its commit includes
them, even those rewritten before the kill) and removes the killed run's temp files.
"""

from __future__ import annotations

import _project_python  # noqa: F401  (first: re-executes with baton's Python when needed)

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lib.core import cli, git
from lib.core.errors import BatonError
from lib.core.paths import find_root
from lib.store import backfill


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="backfill_frontmatter.py",
        description="Add the frontmatter keys the contract wants and that can be derived; keep everything else.",
    )
    parser.add_argument("--apply", action="store_true", help="write the changes (default: dry run)")
    parser.add_argument("--commit", action="store_true", help="with --apply: commit the result as one commit")
    parser.add_argument("--json", action="store_true", help="print the plan (and result) as JSON")
    parser.add_argument("--break-stale-lock", action="store_true",
                        help="remove a BACKFILL_LOCK left by a backfill that is no longer running")
    parser.add_argument("--root", type=Path, help="repository root (default: found from the current folder)")
    return parser


def owner_lookup(root: Path) -> backfill.OwnerLookup:
    """email -> operator slug through .claude/operators.yaml (read only if a workstream needs it)."""
    from lib.store import operators

    roster: operators.Roster | None = None

    def lookup(email: str) -> str | None:
        nonlocal roster
        if roster is None:
            roster = operators.load(root)
        found = roster.by_email(email)
        return found.slug if found else None

    return lookup


def render_table(the_plan: backfill.BackfillPlan) -> None:
    rows = the_plan.to_write
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(title="backfill plan", show_lines=False)
        for column in ("file", "kind", "keys added", "keys normalised"):
            table.add_column(column)
        for change in rows:
            table.add_row(change.path, change.kind, ", ".join(change.added) or "-",
                          ", ".join(change.normalised) or "-")
        Console().print(table)
    else:
        for change in rows:
            added = ", ".join(change.added) or "-"
            normalised = ", ".join(change.normalised) or "-"
            print(f"{change.path}\t{change.kind}\tadded: {added}\tnormalised: {normalised}")


def uncommitted(root: Path, paths: list[str]) -> list[str]:
    """Those of `paths` whose content differs from HEAD (or that git does not track yet)."""
    if not paths:
        return []
    status = git.run_bytes(root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *paths)
    if not status.ok:
        raise BatonError(f"git status failed: {status.stderr.decode('utf-8', 'replace').strip()}")
    out = status.stdout.decode("utf-8", "surrogateescape")
    changed = {entry[3:] for entry in out.split("\0") if len(entry) > 3}
    return [p for p in paths if p in changed]


def commit(root: Path, paths: list[str]) -> str:
    git.check(root, "add", "--", *paths)
    git.check(root, "commit", "-q", "-m", f"backfill: {len(paths)} files", "--only", "--", *paths)
    return git.check(root, "rev-parse", "--short", "HEAD").strip()


def run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.commit and not args.apply:
        raise BatonError("--commit needs --apply")
    root = (args.root or find_root()).resolve()
    payload: dict[str, Any] = {"version": 1, "mode": "apply" if args.apply else "dry-run"}

    def plan_now() -> backfill.BackfillPlan:
        return backfill.plan(root, owner_lookup(root))

    if args.apply:
        with backfill.lock(root, break_stale=args.break_stale_lock) as held:
            swept = backfill.sweep_temp_files(root)
            if swept:
                payload["temp_files_removed"] = swept
            if held.carried:
                payload["carried_over"] = held.carried
            the_plan = plan_now()
            if not the_plan.problems:
                held.record(c.path for c in the_plan.to_write)  # before the first write: a kill loses nothing
                written = backfill.apply(root, the_plan)
                payload["written"] = [c.path for c in written]
                if args.commit:
                    pending = uncommitted(root, held.changed)
                    if pending:
                        payload["committed"] = pending
                        payload["commit"] = commit(root, pending)
    else:
        the_plan = plan_now()

    payload.update({
        "files_checked": the_plan.files_checked,
        "files_to_change": len(the_plan.to_write),
        "changes": [c.as_dict() for c in the_plan.to_write],
        "problems": [p.as_dict() for p in the_plan.problems],
    })
    if args.json:
        cli.print_json(payload)
    else:
        render_table(the_plan)
        for problem in the_plan.problems:
            print(problem)
        verb = "would change" if not args.apply else ("changed" if not the_plan.problems else "would change")
        carried = len(payload.get("carried_over", []))
        committed = (f", committed as {payload['commit']} ({len(payload['committed'])} files"
                     + (", including what an interrupted run changed" if carried else "") + ")"
                     if payload.get("commit") else "")
        print(f"backfill: {the_plan.files_checked} notes checked, {len(the_plan.to_write)} {verb}{committed}")
        if payload.get("temp_files_removed"):
            print(f"backfill: removed {len(payload['temp_files_removed'])} temp files left by an interrupted run")
        if the_plan.problems:
            print(f"backfill: {len(the_plan.problems)} problems; nothing was written", file=sys.stderr)
        elif not args.apply and the_plan.to_write:
            print("backfill: dry run; re-run with --apply to write")
    return 1 if the_plan.problems else 0


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run(lambda: run(argv), "backfill_frontmatter")


if __name__ == "__main__":
    raise SystemExit(main())
