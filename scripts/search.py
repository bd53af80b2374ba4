"""Search every note the team wrote: sessions, workstreams, plans, ADRs, learnings.

Full text over titles, summaries, tags and every body section (decisions, open
questions and Resume Prompts included), ranked by BM25, one highlighted snippet per
hit. Served by the store index (.claude/state/index.sqlite), brought up to date by
stat first, so a note written a second ago is found. Only the working tree is read;
nothing leaves the machine.

Query syntax: words (every one must match), "a phrase", prefix*, a OR b, a NOT b,
(grouping), title: word (one field: title, summary, tags, decisions, questions,
prompt, body).
"""

from __future__ import annotations

import _project_python  # noqa: F401  (first: re-executes with baton's Python when needed)

import os
import sys

if __name__ == "__main__":
    # Before the imports below: a child stats every note while this process imports (see
    # lib.store.prescan); the two take about as long as each other.
    from lib.store import prescan

    EARLY = prescan.start(sys.argv[1:])
else:
    EARLY = None

import argparse
from collections.abc import Sequence
from pathlib import Path

from lib.core import cli
from lib.core.paths import KINDS, find_root

PROG = "search.py"
BOLD, RESET = "\x1b[1m", "\x1b[0m"


class _Help(argparse.RawDescriptionHelpFormatter):
    """argparse's layout at the terminal's width, found without importing shutil (a search's start-up)."""

    def __init__(self, prog: str) -> None:
        try:
            columns = int(os.environ.get("COLUMNS") or os.get_terminal_size().columns)
        except (OSError, ValueError):
            columns = 80
        super().__init__(prog, width=max(columns - 2, 40))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=_Help)
    parser.add_argument("query", nargs="+", help='what to look for (words, "a phrase", prefix*)')
    parser.add_argument("--kind", choices=KINDS, help="only notes of this kind")
    parser.add_argument("--operator", metavar="SLUG", help="only this operator's notes (a workstream's owner)")
    parser.add_argument("--workstream", metavar="SLUG", help="only sessions of this workstream")
    parser.add_argument("--since", type=_date, metavar="YYYY-MM-DD", help="only notes dated on or after this day")
    parser.add_argument("--outcome", metavar="O", help="only sessions with this outcome (done, incomplete, ...)")
    parser.add_argument("--limit", type=_positive, default=10, metavar="N", help="at most N hits (default 10)")
    parser.add_argument("--json", action="store_true", help="print JSON (snippet matches between ** and **)")
    parser.add_argument("--root", type=Path, help="repository root (default: $CLAUDE_PROJECT_DIR or git's top level)")
    return parser


def _date(text: str) -> str:
    import datetime as dt  # only when --since is given

    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a positive number: {text!r}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        from lib.store import fulltext
        from lib.store.index import Index

        root = (args.root or find_root()).resolve()
        query = " ".join(args.query)
        scanned = EARLY.result(root) if EARLY is not None else None
        with Index(root) as index:
            index.refresh(validate=False, scanned=scanned)
            hits = fulltext.search(index, query, kind=args.kind, operator=args.operator,
                                   workstream=args.workstream, since=args.since, outcome=args.outcome,
                                   limit=args.limit)
        if args.json:
            cli.print_json({"query": query, "count": len(hits), "hits": [h.as_dict("**", "**") for h in hits]})
            return 0
        sys.stdout.write(render(hits, query, color=_color()))
        return 0

    return cli.run(body, PROG)


def _color() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def render(hits: Sequence[object], query: str, *, color: bool) -> str:
    from lib.store.fulltext import Hit

    if not hits:
        return f"no notes match {query!r}\n"
    start, end = (BOLD, RESET) if color else ("**", "**")
    lines = []
    for hit in hits:
        assert isinstance(hit, Hit)
        note = hit.note
        who = note.operator or "-"
        head = f"{note.id}  {note.kind or '?'}  {note.date or '-'}  {who}  {note.title or ''}".rstrip()
        lines.append(f"{BOLD}{head}{RESET}" if color else head)
        if hit.snippet:
            lines.append(f"    {hit.plain_snippet(start, end)}")
        lines.append(f"    {note.path}")
    n = len(hits)
    lines.append(f"{n} note{'s' if n != 1 else ''}, best first")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
