"""What failed, how often, and what it cost: figures from the committed session notes.

Failure rates by class, operator, workstream and model, and the cost lost to failed
sessions, come from the notes in the repository (the whole team's record). Retry success
comes from this machine's chain registry and decision log, and the output says so.
Definitions: scripts/lib/failures/insights.py.
"""

from __future__ import annotations

import _project_python  # noqa: F401  (first: re-executes with baton's Python when needed)

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lib.core import cli
from lib.core.errors import BatonError
from lib.core.paths import find_root
from lib.failures import decisions, insights


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="insights.py", description=__doc__.splitlines()[0])
    parser.add_argument("--since", metavar="DATE", help="only sessions on or after this date (YYYY-MM-DD)")
    parser.add_argument("--until", metavar="DATE", help="only sessions on or before this date (YYYY-MM-DD)")
    parser.add_argument("--operator", metavar="SLUG", help="only this operator's sessions")
    parser.add_argument("--workstream", metavar="SLUG", help="only this workstream's sessions")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--root", type=Path, help="repository root (default: found from the current folder)")
    return parser


def _date(value: str | None, flag: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BatonError(f"{flag} {value!r}: expected a date as YYYY-MM-DD") from None


def _chains(root: Path) -> list[dict[str, Any]]:
    from lib.chains.registry import Registry

    return [c.to_dict() for c in Registry(None).chains(root, archived=True)]


def gather(root: Path, filters: insights.Filters) -> dict[str, Any]:
    from lib.store.index import Index

    index = Index(root)
    index.refresh(validate=False)
    since = filters.since.isoformat() if filters.since else None
    unreadable = index.unreadable()
    for path, reason in unreadable.items():
        if path.startswith("docs/sessions/"):  # counted as no session at all, and said so
            print(f"insights: skipped {path}: {reason}", file=sys.stderr)
    metas = [n.metadata or {} for n in index.notes("session", not_status="claimed", since=since, with_metadata=True)
             if n.path not in unreadable]
    result = insights.compute(metas, chains=_chains(root), decisions=decisions.read_decisions(root=root),
                              filters=filters)
    return result


def _render(result: dict[str, Any]) -> None:
    rich = sys.stdout.isatty()
    tables: list[tuple[str, list[str], list[list[str]]]] = []
    totals = result["totals"]
    tables.append(("Failures by class (committed notes)", ["class", "failures", "sessions", "share"], [
        [r["failure_class"], str(r["failures"]), str(r["sessions"]), f"{r['share']:.0%}"] for r in result["by_class"]]))
    for title, key in (("By operator", "by_operator"), ("By workstream", "by_workstream"), ("By model", "by_model")):
        tables.append((title, ["", "sessions", "with failures", "failed", "failure rate", "cost", "cost lost"], [
            [r["key"], str(r["sessions"]), str(r["sessions_with_failures"]), str(r["failed_sessions"]),
             f"{r['failure_rate']:.0%}", f"${r['cost_usd']:.2f}", f"${r['cost_lost_usd']:.2f}"]
            for r in result[key]]))
    routing = result.get("routing") or {}
    tables.append(("Routing decisions (this machine's chain registry and decision log)",
                   ["decision", "class", "decisions", "resolved", "rate", "cost", "cost per resolved"], [
        [r["type"], r["failure_class"], str(r["decisions"]), str(r["resolved"]),
         f"{r['resolution_rate']:.0%}" if r["resolution_rate"] is not None else "-", f"${r['cost_usd']:.2f}",
         f"${r['cost_per_resolved_usd']:.2f}" if r["cost_per_resolved_usd"] is not None else "-"]
        for r in routing.get("rows", [])]))
    tables.append(("Most frequent error contexts", ["count", "context"], [
        [str(c["count"]), c["context"]] for c in result["top_contexts"]]))
    retries = result["retries"]
    summary = (f"{totals['sessions']} sessions, {totals['failed_sessions']} failed "
               f"({totals['failure_rate']:.0%}), cost ${totals['cost_usd']:.2f}, "
               f"lost to failed sessions ${totals['cost_lost_usd']:.2f}")
    retry_line = ("retries (this machine's chain registry and decision log): "
                  + ", ".join(f"{k} {v}" for k, v in retries.items() if isinstance(v, (int, float)))
                  if isinstance(retries, dict) else "")
    if rich:
        from rich.console import Console
        from rich.table import Table

        console = Console()
        console.print(f"[bold]insights[/bold]: {summary}")
        for title, header, rows in tables:
            if not rows:
                continue
            table = Table(title=title, title_justify="left")
            for column in header:
                table.add_column(column)
            for row in rows:
                table.add_row(*row)
            console.print(table)
        console.print(retry_line)
        return
    print(f"insights: {summary}")
    for title, header, rows in tables:
        if not rows:
            continue
        print(f"\n{title}")
        print("\t".join(header))
        for row in rows:
            print("\t".join(row))
    print(f"\n{retry_line}")


def run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    root = (args.root or find_root()).resolve()
    filters = insights.Filters(since=_date(args.since, "--since"), until=_date(args.until, "--until"),
                               operator=args.operator, workstream=args.workstream)
    result = gather(root, filters)
    if args.json:
        cli.print_json({"version": 1, **result})
    else:
        _render(result)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run(lambda: run(argv), "insights")


if __name__ == "__main__":
    raise SystemExit(main())
