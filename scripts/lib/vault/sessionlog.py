"""A workstream's `## Session Log` as the vault sees it: one linked line per session, newest first."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from urllib.parse import unquote

from lib.store import markdown
from lib.vault.links import _exists
from lib.vault.model import (
    _LOG_DATE,
    _LOG_LINKED,
    _LOG_PLAIN,
    BROKEN_LINK,
    DANGLING,
    MISSING_BACKLINK,
    MISSING_LINK,
    FixPlan,
    Problem,
    Vault,
    VaultNote,
    _eol,
    _newline,
    _strip_eol,
    relative,
    session_log_line,
)

# ----------------------------------------------------------------- session log

@dataclass
class LogEntry:
    index: int  # line index in the body
    session_id: str
    date: str | None
    linked: bool
    target: str | None
    match: re.Match[str]


def _log_section(lines: list[str]) -> tuple[int, int] | None:
    found = markdown.find_section(lines, "Session Log")
    return (found.start, found.end) if found else None


def _log_entries(lines: list[str], section: tuple[int, int]) -> list[LogEntry]:
    entries = []
    for index in range(section[0] + 1, section[1]):
        text = _strip_eol(lines[index])
        match = _LOG_LINKED.match(text)
        linked = match is not None
        if match is None:
            match = _LOG_PLAIN.match(text)
        if match is None:
            continue
        date = _LOG_DATE.match(match["rest"])
        entries.append(LogEntry(index, match["id"], date.group(1) if date else None, linked,
                                match["target"] if linked else None, match))
    return entries


def _log_text(session: VaultNote) -> str:
    return session.title()


def plan_session_log(ws: VaultNote, body: str, vault: Vault, plan: FixPlan) -> str:
    """The workstream body with its Session Log linked and complete; problems recorded in `plan`."""
    nl = _newline(body)
    lines = body.splitlines(keepends=True)
    section = _log_section(lines)
    present: set[str] = set()
    if section is not None:
        for entry in _log_entries(lines, section):
            present.add(entry.session_id)
            line_no = ws.body_line + entry.index
            session = vault.get("session", entry.session_id)
            eol = _eol(lines[entry.index], nl)
            if entry.linked:
                resolved = posixpath.normpath(posixpath.join(ws.folder, unquote(entry.target or "")))
                if session is not None and resolved == session.rel:
                    continue
                if session is None:
                    if not _exists(vault, resolved):
                        plan.problems.append(Problem(ws.rel, line_no, BROKEN_LINK,
                                                     f"Session Log links {entry.target} but there is no note "
                                                     f"{entry.session_id}"))
                    continue
                expected = relative(session.rel, ws.folder)
                plan.problems.append(Problem(ws.rel, line_no, BROKEN_LINK,
                                             f"Session Log links {entry.session_id} to {entry.target}, not "
                                             f"{expected}", fixable=True))
                m = entry.match
                lines[entry.index] = f"{m['lead']}[{entry.session_id}]({expected}){m['rest']}{eol}"
            else:
                if session is None:
                    plan.problems.append(Problem(ws.rel, line_no, DANGLING,
                                                 f"Session Log names {entry.session_id}, which has no note"))
                    continue
                plan.problems.append(Problem(ws.rel, line_no, MISSING_LINK,
                                             f"Session Log entry {entry.session_id} is not a link", fixable=True))
                m = entry.match
                target = relative(session.rel, ws.folder)
                lines[entry.index] = f"{m['lead']}[{entry.session_id}]({target}){m['rest']}{eol}"

    missing = [s for s in vault.sessions_of(ws.id) if s.id not in present]
    for session in missing:
        plan.problems.append(Problem(ws.rel, ws.body_line + (section[0] if section else 0), MISSING_BACKLINK,
                                     f"Session Log does not list {session.id} (its workstream is {ws.id})",
                                     fixable=True))
        lines = _insert_log_entry(lines, session, nl)
    return "".join(lines)


_LIST_ITEM = re.compile(r"^ {0,3}[-*+][ \t]")


def _insert_log_entry(lines: list[str], session: VaultNote, nl: str) -> list[str]:
    """Lines with a Session Log entry for `session`, newest first (a Session Log is added if missing)."""
    new_line = session_log_line(session.id, session.date(), _log_text(session)) + nl
    key = (session.date() or "", session.id)
    out = list(lines)
    if out and not out[-1].endswith(("\n", "\r")):
        out[-1] += nl
    section = _log_section(out)
    if section is None:
        if out and out[-1].strip():
            out.append(nl)
        return [*out, f"## Session Log{nl}", nl, new_line]
    for entry in _log_entries(out, section):
        if (entry.date or "", entry.session_id) < key:
            return [*out[: entry.index], new_line, *out[entry.index:]]
    start, end = section
    index = max((i for i in range(start, end) if out[i].strip()), default=start) + 1
    if index < len(out) and not out[index].strip() and not _LIST_ITEM.match(out[index - 1]):
        index += 1  # after the blank line under the heading (or the text)
    block = [new_line]
    if out[index - 1].strip() and not _LIST_ITEM.match(out[index - 1]):
        block.insert(0, nl)
    if index < len(out) and out[index].strip() and not _LIST_ITEM.match(out[index]):
        block.append(nl)
    return [*out[:index], *block, *out[index:]]
