"""`/resume` helpers: where you left off, what you own, what your peers did.

Every subcommand reads the store through the index (lib.store.index), so a warm run
parses nothing that did not change. Output is plain text (rich panels when stdout
is a terminal) or `--json`.
"""

from __future__ import annotations

import _project_python  # noqa: F401  (first: re-executes with baton's Python when needed)

import argparse
import datetime as dt
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lib.core import cli
from lib.core.errors import BatonError
from lib.core.paths import find_root
from lib.resume import dashboard as resume
from lib.store.index import Index

EXAMPLE_STORE = "examples/store"
WRAP = 100


# ---------------------------------------------------------------- arguments

def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print JSON instead of text")
    common.add_argument("--root", type=Path, help="repository root (default: $CLAUDE_PROJECT_DIR or git's top level)")
    common.add_argument("--today", type=dt.date.fromisoformat, metavar="YYYY-MM-DD",
                        help="treat this date as today (default: the local date)")

    who = argparse.ArgumentParser(add_help=False)
    who.add_argument("--operator", metavar="SLUG",
                     help="operator slug or initials (default: $OPERATOR; none: the team view)")

    parser = argparse.ArgumentParser(
        prog="resume_helpers.py",
        description="Where you left off: sessions, workstreams, peers' activity and the /resume dashboard.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common, who], help=text, description=text[:1].upper() + text[1:] + ".")

    p = add("scan-sessions", "written sessions, newest first (both naming schemes; claim stubs skipped)")
    p.add_argument("--limit", type=int, metavar="N", help="at most N sessions")

    add("partition-workstreams", "live workstreams split into mine / peers' / unowned, with last activity")

    p = add("peers", "other operators' recent sessions")
    p.add_argument("--days", type=int, default=resume.DEFAULT_PEER_DAYS, metavar="N",
                   help=f"how far back counts as recent (default {resume.DEFAULT_PEER_DAYS})")

    for name, text in (("write-resume-cache", "store the dashboard in .claude/state/resume-cache.json"),
                       ("read-resume-cache", "print the cached dashboard if the store has not changed since "
                                             "(exit 1 when it is stale or missing)")):
        p = add(name, text)
        _dashboard_options(p)

    p = add("dashboard", "last session, resume prompt, my workstreams, peers, stale claims, problems")
    _dashboard_options(p)
    p.add_argument("--plain", action="store_true", help="plain text even on a terminal")
    p.add_argument("--setup-banner", action="store_true",
                   help="for setup.sh: this repository's store, or examples/store while it is empty, "
                        "with a line saying which; never fails for want of an operator")
    return parser


def _dashboard_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--days", type=int, default=resume.DEFAULT_PEER_DAYS, metavar="N",
                   help=f"peers' activity window in days (default {resume.DEFAULT_PEER_DAYS})")
    p.add_argument("--stale-hours", type=float, default=resume.DEFAULT_STALE_HOURS, metavar="H",
                   help=f"a claim stub older than this is stale (default {resume.DEFAULT_STALE_HOURS:g})")
    p.add_argument("--max-items", type=int, default=resume.DEFAULT_MAX_ITEMS, metavar="N",
                   help=f"at most N entries in each list (default {resume.DEFAULT_MAX_ITEMS}; "
                        "the totals are always given)")


# ---------------------------------------------------------------- commands

def run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    root = (args.root or find_root()).resolve()
    today = args.today or dt.date.today()
    banner = None
    env: dict[str, str] | None = None
    if getattr(args, "setup_banner", False):
        root, banner, example = _setup_store(root)
        if example:
            env = {}  # the example's operators are fictional: only --operator picks one of them

    operator, operator_error = _operator(root, args, env)
    if operator_error and not args.json and args.command != "dashboard":
        print(f"resume_helpers: {operator_error.splitlines()[0]} (showing everyone)", file=sys.stderr)
    with Index(root) as index:
        index.refresh()
        if args.command == "scan-sessions":
            return _scan_sessions(index, operator, operator_error, args)
        if args.command == "partition-workstreams":
            return _partition(index, operator, operator_error, args)
        if args.command == "peers":
            return _peers(index, operator, operator_error, today, args)
        now = dt.datetime.now(dt.UTC)
        if args.command == "read-resume-cache":
            payload, why = resume.read_cache(root, operator, index.fingerprint, today)
            if payload is None:
                if args.json:
                    cli.print_json({"version": 1, "fresh": False, "reason": why})
                else:
                    print(f"resume cache: {why}", file=sys.stderr)
                return 1
            return _show(payload, args, root, banner)
        payload = resume.dashboard(index, operator, today=today, now=now, days=args.days,
                                   stale_hours=args.stale_hours, max_items=args.max_items)
        payload["root"] = str(root)
        if operator_error:
            payload["operator_error"] = operator_error
        if args.command == "write-resume-cache":
            path = resume.write_cache(root, operator, index.fingerprint, payload)
            if args.json:
                cli.print_json({"version": 1, "written": str(path), "key": resume.cache_key(operator)})
            else:
                print(f"wrote {path}")
            return 0
        return _show(payload, args, root, banner)


def _operator(root: Path, args: argparse.Namespace,
              env: dict[str, str] | None = None) -> tuple[resume.OperatorRef | None, str | None]:
    """The operator, or (None, why) for the team view. A bad --operator is an error except on the
    dashboard, which always shows something; an operator that cannot be resolved is not."""
    try:
        return resume.resolve_operator(root, args.operator, env), None
    except BatonError as exc:
        if args.operator and args.command != "dashboard":
            raise
        return None, str(exc)


def _setup_store(root: Path) -> tuple[Path, str, bool]:
    """This repository's store, or the example store while this one has no notes; and a line saying which."""
    with Index(root) as index:
        index.refresh(validate=False)
        own = index.count()
    example = root / EXAMPLE_STORE
    if own == 0 and (example / "docs" / "sessions").is_dir():
        return example, (f"This repository's store is empty, so this is the dashboard of the example store "
                         f"({EXAMPLE_STORE}/, three fictional operators). Yours appears after your first /handoff."
                         ), True
    return root, f"Dashboard of this repository's store ({own} notes).", False


def _scan_sessions(index: Index, operator: resume.OperatorRef | None, operator_error: str | None,
                   args: argparse.Namespace) -> int:
    slug = operator.slug if operator else None
    found = resume.sessions(index, slug, args.limit)
    if args.json:
        cli.print_json({"version": 1, "operator": slug, "operator_error": operator_error, "count": len(found),
                        "message": None if found else resume.no_sessions_message(slug),
                        "sessions": [n.as_dict() for n in found]})
        return 0
    if not found:
        print(resume.no_sessions_message(slug))
        return 0
    for note in found:
        print(f"{note.id:<22} {note.date or '?':<10} {note.operator or '-':<10} {note.outcome or '-':<10} "
              f"{note.title or note.summary or ''}".rstrip())
    return 0


def _partition(index: Index, operator: resume.OperatorRef | None, operator_error: str | None,
               args: argparse.Namespace) -> int:
    slug = operator.slug if operator else None
    groups = resume.partition_workstreams(index, slug)
    if args.json:
        cli.print_json({"version": 1, "operator": slug, "operator_error": operator_error, **groups})
        return 0
    print("\n".join(_workstream_lines(groups, slug)))
    return 0


def _peers(index: Index, operator: resume.OperatorRef | None, operator_error: str | None, today: dt.date,
           args: argparse.Namespace) -> int:
    slug = operator.slug if operator else None
    data = resume.peers(index, slug, args.days, today)
    if args.json:
        cli.print_json({"version": 1, "operator": slug, "operator_error": operator_error, **data})
        return 0
    print("\n".join(_peer_lines(data)))
    return 0


def _show(payload: dict[str, Any], args: argparse.Namespace, root: Path, banner: str | None) -> int:
    if args.json:
        if banner:
            payload = {**payload, "banner": banner}
        cli.print_json(payload)
        return 0
    if banner:
        print(banner)
    if sys.stdout.isatty() and not getattr(args, "plain", False) and not os.environ.get("NO_COLOR"):
        _render_rich(payload)
    else:
        print("\n".join(plain_lines(payload)))
    return 0


# ---------------------------------------------------------------- text

def _who(payload: dict[str, Any]) -> str:
    op = payload.get("operator")
    if not op:
        return "team view (no operator: pass --operator or set $OPERATOR)"
    label = op["slug"] + (f" ({op['initials']})" if op.get("initials") else "")
    return f"{op['name']}, {label}" if op.get("name") else label


_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s")


def unwrap(text: str) -> list[str]:
    """The text's paragraphs and list items, each on one line: a hard-wrapped note (lines broken at ~100
    characters by its writer) is joined back, so wrapping it again for the terminal is not ragged.
    Blank lines, list items, headings, tables and fenced code keep their own lines."""
    out: list[str] = []
    fenced = False
    joinable = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            fenced = not fenced
            out.append(line)
            joinable = False
            continue
        starts_block = (not stripped or fenced or _LIST_ITEM.match(line) is not None
                        or stripped.startswith(("#", "|", ">")))
        if joinable and not starts_block:
            out[-1] = out[-1].rstrip() + " " + stripped
            continue
        out.append(line)
        joinable = bool(stripped) and not fenced and not stripped.startswith(("#", "|"))
    return out


def _indent(text: str, prefix: str = "    ") -> list[str]:
    import textwrap

    lines: list[str] = []
    for para in unwrap(text):
        if not para.strip():
            lines.append("")
            continue
        lead = len(para) - len(para.lstrip())
        lines.extend(textwrap.wrap(para.strip(), WRAP, initial_indent=prefix + " " * lead,
                                   subsequent_indent=prefix + " " * (lead + (2 if para.lstrip()[:2] in ("- ", "* ") else 0)))
                     or [prefix])
    return lines


def _session_line(s: dict[str, Any]) -> str:
    bits = [s.get("date") or "?"]
    if s.get("outcome"):
        bits.append(s["outcome"])
    if s.get("confidence"):
        bits.append(f"confidence {s['confidence']}")
    return f"{s['id']} ({', '.join(bits)})"


def plain_lines(payload: dict[str, Any]) -> list[str]:
    lines = [f"baton /resume: {_who(payload)}"]
    if payload.get("operator_error"):
        lines.append(f"  note: {payload['operator_error']}")
    last = payload.get("last_session")
    lines.append("")
    if last is None:
        lines.append(f"Last session: {payload.get('message')}")
    else:
        who = "" if payload.get("operator") else f" by {last.get('operator') or 'unknown'}"
        lines.append(f"Last session{who}: {_session_line(last)}")
        if last.get("title"):
            lines.append(f"  {last['title']}")
        summary = last.get("summary") or last.get("summary_section")
        if summary:
            lines.append("  Summary:")
            lines.extend(_indent(summary))
        if last.get("resume_prompt"):
            lines.append("  Resume Prompt:")
            lines.extend(_indent(last["resume_prompt"]))
        if last.get("open_questions"):
            lines.append("  Open questions:")
            lines.extend(_indent(last["open_questions"]))
    related = payload.get("related") or []
    if related:
        lines.append("")
        lines.append(f"Related notes ({last.get('workstream') if last else ''}):")
        for r in related:
            lines.append(f"  {r['id']:<22} {r.get('kind') or '-':<10} {r.get('date') or '-':<10} {r.get('title') or ''}")
    lines.append("")
    slug = payload["operator"]["slug"] if payload.get("operator") else None
    lines.extend(_workstream_lines(payload["workstreams"], slug, payload.get("totals")))
    lines.append("")
    lines.extend(_peer_lines(payload["peers"]))
    claims = payload.get("stale_claims") or []
    if claims:
        lines.append("")
        total = payload.get("totals", {}).get("stale_claims", len(claims))
        lines.append(f"Stale claims ({total}): claimed ids never written up")
        for c in claims:
            age = f"{c['age_hours']:g} h ago" if c.get("age_hours") is not None else "no claimed_at"
            lines.append(f"  {c['id']:<22} {c.get('operator') or '-':<10} {age}")
    v = payload["validation"]
    lines.append("")
    if v["problems"]:
        lines.append(f"Validation: {v['problems']} problems in {v['files']} of {v['notes']} notes "
                     "(./scripts/py scripts/validate_frontmatter.py)")
    else:
        lines.append(f"Validation: {v['notes']} notes, no problems")
    return lines


def _workstream_lines(groups: dict[str, list[dict[str, Any]]], slug: str | None,
                      totals: dict[str, int] | None = None) -> list[str]:
    lines: list[str] = []
    titles = (("mine", "My live workstreams"), ("peers", "Peers' workstreams" if slug else "Workstreams"),
              ("unowned", "Unowned workstreams"))
    for key, title in titles:
        entries = groups.get(key) or []
        total = (totals or {}).get(f"workstreams_{key}", len(entries))
        if key == "mine" and not slug:
            continue
        if not entries and key != "mine":
            continue
        lines.append(f"{title} ({total})")
        if not entries:
            lines.append("  none")
        for e in entries:
            owner = "" if key == "mine" else f" [{e.get('owner') or 'no owner'}]"
            last = e.get("last_activity") or "no activity"
            ls = e.get("last_session")
            via = f" via {ls['id']}" if ls else ""
            lines.append(f"  {e['slug']}{owner}: {e['status']}, last {last}{via}")
            if e.get("whats_next"):
                lines.extend(_indent(e["whats_next"].splitlines()[0][:200]))
        if total > len(entries):
            lines.append(f"  ... and {total - len(entries)} more (resume_helpers.py partition-workstreams)")
    return lines


def _peer_lines(data: dict[str, Any]) -> list[str]:
    ops = data.get("operators") or []
    lines = [f"Peers (sessions in the last {data['days']} days; last session)"]
    if not ops:
        lines.append("  no other operators in this store")
    for o in ops:
        ls = o["last_session"]
        title = f": {ls['title']}" if ls.get("title") else ""
        lines.append(f"  {o['operator']:<10} {o['sessions_in_window']:>3} recent; last {ls['id']} ({ls['date'] or '?'})"
                     f"{title}")
    return lines


def _render_rich(payload: dict[str, Any]) -> None:
    # rich costs ~50-100 ms to import: only terminals pay for it.
    from rich.console import Console, Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    console = Console()
    console.print(Text(f"baton /resume: {_who(payload)}", style="bold"))
    if payload.get("operator_error"):
        console.print(Text(payload["operator_error"], style="yellow"))
    last = payload.get("last_session")
    if last is None:
        console.print(Panel(str(payload.get("message")), title="Last session"))
    else:
        parts: list[Any] = []
        if last.get("title"):
            parts.append(Text(last["title"], style="bold"))
        summary = last.get("summary") or last.get("summary_section")
        if summary:
            parts.append(Text(summary))
        if last.get("resume_prompt"):
            parts.append(Text("\nResume Prompt", style="bold cyan"))
            parts.append(Text(last["resume_prompt"]))
        if last.get("open_questions"):
            parts.append(Text("\nOpen questions", style="bold"))
            parts.append(Text(last["open_questions"]))
        who = "" if payload.get("operator") else f" by {last.get('operator') or 'unknown'}"
        console.print(Panel(Group(*parts), title=f"Last session{who}: {_session_line(last)}", title_align="left"))
        if payload.get("related"):
            related = Table(title=f"Related notes ({last.get('workstream')})", title_justify="left", expand=True)
            for column in ("id", "kind", "date", "title"):
                related.add_column(column)
            for r in payload["related"]:
                related.add_row(r["id"], r.get("kind") or "-", r.get("date") or "-", r.get("title") or "")
            console.print(related)

    slug = payload["operator"]["slug"] if payload.get("operator") else None
    table = Table(title="Live workstreams", title_justify="left", expand=True)
    for column in ("workstream", "group", "owner", "status", "last activity", "via"):
        table.add_column(column)
    for key, label in (("mine", "mine"), ("peers", "peers" if slug else "team"), ("unowned", "unowned")):
        for e in payload["workstreams"].get(key, [])[:15]:
            ls = e.get("last_session")
            table.add_row(e["slug"], label, e.get("owner") or "-", e["status"], e.get("last_activity") or "-",
                          ls["id"] if ls else "-")
    console.print(table)

    peers = Table(title=f"Peers (last {payload['peers']['days']} days)", title_justify="left", expand=True)
    for column in ("operator", "recent", "last session", "date", "title"):
        peers.add_column(column)
    for o in payload["peers"]["operators"]:
        ls = o["last_session"]
        peers.add_row(o["operator"], str(o["sessions_in_window"]), ls["id"], ls["date"] or "-", ls.get("title") or "")
    console.print(peers)
    claims = payload.get("stale_claims") or []
    if claims:
        console.print(Text(f"Stale claims: {', '.join(c['id'] for c in claims)}", style="yellow"))
    v = payload["validation"]
    if v["problems"]:
        console.print(Text(f"Validation: {v['problems']} problems in {v['files']} of {v['notes']} notes "
                           "(./scripts/py scripts/validate_frontmatter.py)", style="red"))
    else:
        console.print(Text(f"Validation: {v['notes']} notes, no problems", style="green"))


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run(lambda: run(argv), "resume_helpers")


if __name__ == "__main__":
    raise SystemExit(main())
