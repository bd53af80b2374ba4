"""Three-way merges of the files every handoff touches, so teammates' handoffs never need a hand merge.

- A workstream's `## Session Log` merges as an ordered union: each session's line once, newest first
  (by date, then id); the rest of the file merges line by line as git would (`git merge-file`).
- `CHANGELOG.md` likewise: each session's entry once, newest first, under the header.
- The generated files (`docs/sessions/INDEX.md`, `workstreams/INDEX.md`, `INDEX.md`, `docs/maps/*.md`) are
  tables and lists with one row per note: rows merge by the note they name and are put back in the order
  the generator uses, with the counts in headings recomputed, which is the file regenerated from the
  merged notes. (`commit --push` and `vault.py fix` regenerate them from the notes themselves anyway.)
- Anything else: `git merge-file`.

The same functions serve git's merge driver (`scripts/merge_driver.py`), the push that replays handoff
commits on the upstream (`lib.handoff.integrate`), and `vault.py fix`, which repairs a file a clone
without the driver left with conflict markers.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

from lib.core import git
from lib.core.errors import BatonError
from lib.store.conflictmarkers import MARKER_BASE, MARKER_OURS, MARKER_SPLIT, MARKER_THEIRS
from lib.store.conflictmarkers import conflict_lines as conflict_lines

SESSION_LOG = "session_log"
CHANGELOG = "changelog"
GENERATED = "generated"
TEXT = "text"


_ID = r"(?:[A-Z]{2,4}-\d{6}-\d{2}|(?:CONV|LOCAL)-[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)"
_LOG_HEADING = re.compile(r"^ {0,3}##[ \t]+session log[ \t#]*$", re.I)
_SECTION_END = re.compile(r"^ {0,3}#{1,2}(?:[ \t]|$)")
_LOG_ENTRY = re.compile(rf"^ {{0,3}}[-*+][ \t]+(?:\[(?P<linked>{_ID})\]\([^)\s]*\)|(?P<plain>{_ID}))"
                        rf"(?P<rest>.*)$")
_LOG_DATE = re.compile(r"^[ \t]*\((\d{4}-\d{2}-\d{2})\)")
_CHANGELOG_HEAD = re.compile(rf"^## (?P<date>\d{{4}}-\d{{2}}-\d{{2}})?.*?\[(?P<id>{_ID})\]\(")
_ROW = re.compile(r"^(?:\| |- )\[(?P<text>[^\]\n]*)\]\((?P<target>[^)\s]*)\)")
_HEADING = re.compile(r"^#{1,6} ")
_COUNT = re.compile(r"^(?P<head>#{1,6} .*?)\((?P<n>\d+)\)\s*$")
_PLACEHOLDER = ("None.", "None yet.")
_PLACE = "\x1ebaton-session-log\x1e"


@dataclass
class Merged:
    text: str
    conflicts: int = 0

    @property
    def clean(self) -> bool:
        return self.conflicts == 0


def kind_of(path: str) -> str:
    """Which merge a repository-relative path gets."""
    path = path.replace("\\", "/").lstrip("/")
    if path in ("INDEX.md", "docs/sessions/INDEX.md", "workstreams/INDEX.md") or (
            path.startswith("docs/maps/") and path.endswith(".md") and path.count("/") == 2):
        return GENERATED
    if path == "CHANGELOG.md":
        return CHANGELOG
    if path.startswith("workstreams/") and path.endswith(".md") and path.count("/") == 1 \
            and path != "workstreams/TEMPLATE.md":
        return SESSION_LOG
    return TEXT


def merge(path: str, base: str | None, ours: str, theirs: str) -> Merged:
    """The three-way merge of one file's texts (`base` None: the file was added on both sides)."""
    if ours == theirs:
        return Merged(ours)
    if base is not None and base == ours:
        return Merged(theirs)
    if base is not None and base == theirs:
        return Merged(ours)
    kind = kind_of(path)
    if kind == SESSION_LOG:
        return merge_session_log(base, ours, theirs)
    if kind == CHANGELOG:
        return merge_changelog(base, ours, theirs)
    if kind == GENERATED:
        return merge_generated(path, base, ours, theirs)
    return merge_file(base or "", ours, theirs)


# ----------------------------------------------------------------- plain text

def merge_file(base: str, ours: str, theirs: str, labels: tuple[str, str, str] = ("ours", "base", "theirs")) -> Merged:
    """`git merge-file -p`: git's own line merge, with conflict markers where both sides changed a line."""
    with tempfile.TemporaryDirectory(prefix="baton-merge-") as folder:
        names = []
        for name, text in (("ours", ours), ("base", base), ("theirs", theirs)):
            path = os.path.join(folder, name)
            with open(path, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
            names.append(path)
        proc = git.run_bytes(None, "merge-file", "-p", "-L", labels[0], "-L", labels[1], "-L", labels[2], *names,
                             env=git.HOOK)
    if proc.returncode < 0 or proc.returncode > 127:
        raise BatonError(f"git merge-file failed: {proc.stderr.decode('utf-8', 'replace').strip()}")
    return Merged(proc.stdout.decode("utf-8", "surrogateescape"), proc.returncode)


# ----------------------------------------------------------------- keyed union

def _union(base: list[tuple[str, str]] | None, ours: list[tuple[str, str]],
           theirs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(key, item) pairs of both sides, each key once: an item removed or changed on one side stays so."""
    base_map = dict(base or [])
    ours_map, theirs_map = dict(ours), dict(theirs)
    out: dict[str, str] = {}
    for key in [*ours_map, *(k for k in theirs_map if k not in ours_map)]:
        mine, other = ours_map.get(key), theirs_map.get(key)
        if key in base_map:
            old = base_map[key]
            if mine is None or other is None:
                # Removed on one side: gone, unless the other side changed it.
                kept = mine if other is None else other
                if kept is not None and kept != old:
                    out[key] = kept
                continue
            out[key] = other if mine == old else mine
        else:
            out[key] = mine if mine is not None else other  # type: ignore[assignment]
    return list(out.items())


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


# ----------------------------------------------------------------- session log

def _log_span(lines: list[str]) -> tuple[int, int] | None:
    """(first, last + 1) line index of the Session Log's entries; (heading + 1, heading + 1) when empty."""
    start = next((i for i, line in enumerate(lines) if _LOG_HEADING.match(line)), None)
    if start is None:
        return None
    end = next((i for i in range(start + 1, len(lines)) if _SECTION_END.match(lines[i])), len(lines))
    entries = [i for i in range(start + 1, end) if _LOG_ENTRY.match(lines[i])]
    if not entries:
        return start + 1, start + 1
    return entries[0], entries[-1] + 1


def _log_entries(lines: list[str], span: tuple[int, int] | None) -> list[tuple[str, str]]:
    if span is None:
        return []
    out = []
    for line in lines[span[0]:span[1]]:
        match = _LOG_ENTRY.match(line)
        out.append(((match["linked"] or match["plain"]) if match else "\x00" + line, line))
    return out


def _log_key(item: tuple[str, str]) -> tuple[str, str]:
    key, line = item
    match = _LOG_ENTRY.match(line)
    date = _LOG_DATE.match(match["rest"]) if match else None
    return (date.group(1) if date else "", key)


def log_key(line: str) -> tuple[str, str] | None:
    """(date, id) of a Session Log entry line (date "" when it has none); None for any other line."""
    match = _LOG_ENTRY.match(line)
    if match is None:
        return None
    date = _LOG_DATE.match(match["rest"])
    return (date.group(1) if date else "", match["linked"] or match["plain"])


def changelog_key(line: str) -> tuple[str, str] | None:
    """(date, id) of a changelog entry's heading; None for any other line."""
    match = _CHANGELOG_HEAD.match(line)
    return ((match["date"] or ""), match["id"]) if match else None


def _split_log(text: str) -> tuple[list[str], list[tuple[str, str]], str]:
    """(lines with the entries replaced by one placeholder line, the entries, newline)."""
    nl = _newline(text)
    lines = text.split(nl)
    span = _log_span(lines)
    entries = _log_entries(lines, span)
    if span is not None:
        lines[span[0]:span[1]] = [_PLACE]
    return lines, entries, nl


def merge_session_log(base: str | None, ours: str, theirs: str) -> Merged:
    base_lines, base_entries, _ = _split_log(base or "")
    ours_lines, ours_entries, nl = _split_log(ours)
    theirs_lines, theirs_entries, _ = _split_log(theirs)
    merged_entries = _union(base_entries if base is not None else None, ours_entries, theirs_entries)
    # Newest first, by date then id; lines that are not entries (rare prose between them) keep their turn.
    entry_items = sorted((e for e in merged_entries if not e[0].startswith("\x00")), key=_log_key, reverse=True)
    others = [e for e in merged_entries if e[0].startswith("\x00")]
    block = [line for _, line in entry_items] + [line for _, line in others]
    rest = merge_file("\n".join(base_lines) if base is not None else "",
                      "\n".join(ours_lines), "\n".join(theirs_lines))
    lines = rest.text.split("\n")
    if _PLACE in lines:
        at = lines.index(_PLACE)
        lines[at:at + 1] = block
    elif block:
        while lines and lines[-1] == "":
            lines.pop()
        lines += ["", "## Session Log", "", *block, ""]
    return Merged(nl.join(lines), rest.conflicts)


# ----------------------------------------------------------------- changelog

def _changelog_parts(text: str) -> tuple[str, list[tuple[str, str]]]:
    nl = _newline(text)
    lines = text.split(nl)
    starts = [i for i, line in enumerate(lines) if line.startswith("## ")]
    if not starts:
        return text, []
    header = nl.join(lines[: starts[0]])
    blocks = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        block = nl.join(lines[start:end]).rstrip("\r\n")
        match = _CHANGELOG_HEAD.match(lines[start])
        blocks.append((match["id"] if match else lines[start], block))
    return header, blocks


def _changelog_key(item: tuple[str, str]) -> tuple[str, str]:
    match = _CHANGELOG_HEAD.match(item[1])
    return ((match["date"] or "") if match else "", item[0])


def merge_changelog(base: str | None, ours: str, theirs: str) -> Merged:
    nl = _newline(ours or theirs)
    base_head, base_blocks = _changelog_parts(base or "")
    ours_head, ours_blocks = _changelog_parts(ours)
    theirs_head, theirs_blocks = _changelog_parts(theirs)
    header = merge(".changelog-header", base_head if base is not None else None, ours_head, theirs_head)
    blocks = sorted(_union(base_blocks if base is not None else None, ours_blocks, theirs_blocks),
                    key=_changelog_key, reverse=True)
    head = header.text.rstrip("\r\n")
    body = (nl + nl).join(block for _, block in blocks)
    text = (head + nl + nl if head else "") + body + nl if body else header.text
    return Merged(text, header.conflicts)


# ----------------------------------------------------------------- generated files

@dataclass
class _Section:
    head: list[str]   # the heading and whatever precedes the first row
    rows: list[tuple[str, str]]
    tail: list[str]


def _sections(text: str) -> list[_Section]:
    lines = text.split("\n")
    cuts = [i for i, line in enumerate(lines) if _HEADING.match(line)]
    bounds = list(zip([0, *cuts], [*cuts, len(lines)], strict=True))
    out = []
    for start, end in bounds:
        if start == end:
            continue
        chunk = lines[start:end]
        rows_at = [i for i, line in enumerate(chunk) if _ROW.match(line)]
        if not rows_at:
            out.append(_Section(chunk, [], []))
            continue
        first, last = rows_at[0], rows_at[-1] + 1
        rows = []
        for line in chunk[first:last]:
            match = _ROW.match(line)
            key = match["target"] if match else "\x00" + line
            rows.append((key, line))
        out.append(_Section(chunk[:first], rows, chunk[last:]))
    return out


_STATUS_ORDER = ("active", "blocked", "paused", "done", "superseded", "archived")


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]


def _newest_first(date_cell: int) -> Callable[[tuple[str, str]], tuple[str, str]]:
    def key(item: tuple[str, str]) -> tuple[str, str]:
        cells = _cells(item[1])
        return (cells[date_cell] if len(cells) > date_cell else "", _text(item))
    return key


def _by_status(item: tuple[str, str]) -> tuple[int, str]:
    cells = _cells(item[1])
    status = cells[1] if len(cells) > 1 else ""
    slug = item[0].rsplit("/", 1)[-1].removesuffix(".md")
    return (_STATUS_ORDER.index(status) if status in _STATUS_ORDER else len(_STATUS_ORDER), slug)


def _text(item: tuple[str, str]) -> str:
    match = _ROW.match(item[1])
    return match["text"] if match else item[1]


def _order(path: str, heading: str, rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Rows in the order `handoff_helpers.py regen-index` and `vault.py fix` write them."""
    if path == "docs/sessions/INDEX.md":
        return sorted(rows, key=_newest_first(1), reverse=True)
    if path == "workstreams/INDEX.md":
        return sorted(rows, key=_by_status)
    if path.startswith("docs/maps/"):
        if heading.startswith("## Sessions"):
            return sorted(rows, key=_newest_first(1), reverse=True)
        if heading.startswith("## Plan"):
            return rows  # the workstream's own plan first: ours' order, theirs' additions after
    return sorted(rows, key=_text)


def merge_generated(path: str, base: str | None, ours: str, theirs: str) -> Merged:
    ours_sections, theirs_sections = _sections(ours), _sections(theirs)
    base_sections = _sections(base) if base is not None else []

    def by_heading(sections: list[_Section]) -> dict[str, _Section]:
        return {section.head[0] if section.head else "": section for section in sections}

    theirs_map, base_map = by_heading(theirs_sections), by_heading(base_sections)
    ours_keys = {section.head[0] if section.head else "" for section in ours_sections}
    out: list[str] = []
    for section in [*ours_sections, *(s for s in theirs_sections if (s.head[0] if s.head else "") not in ours_keys)]:
        heading = section.head[0] if section.head else ""
        other = theirs_map.get(heading)
        old = base_map.get(heading)
        rows = _union(old.rows if old else (None if base is None else []), section.rows,
                      other.rows if other else [])
        rows = [row for row in _order(path, _COUNT.sub(r"\g<head>", heading), rows)]
        shape = section if section.rows or not (other and other.rows) else other
        head = list(shape.head)
        if rows:
            head = [line for line in head if line.strip() not in _PLACEHOLDER]
        if head and (count := _COUNT.match(head[0])):
            head[0] = f"{count['head']}({len(rows)})"
        out += [*head, *(line for _, line in rows), *shape.tail]
    return Merged("\n".join(out))


# ----------------------------------------------------------------- conflict markers

def split_conflicts(text: str) -> tuple[str | None, str, str] | None:
    """(base, ours, theirs) texts of a file with conflict markers; None when they do not pair up.

    The base is known only when git wrote it (merge.conflictStyle diff3/zdiff3).
    """
    ours: list[str] = []
    theirs: list[str] = []
    base: list[str] = []
    has_base = False
    state = None
    for line in text.splitlines(keepends=True):
        bare = line.rstrip("\r\n")
        if bare.startswith(MARKER_OURS) and state is None:
            state = "ours"
        elif bare.startswith(MARKER_BASE) and state == "ours":
            state, has_base = "base", True
        elif bare == MARKER_SPLIT and state in ("ours", "base"):
            state = "theirs"
        elif bare.startswith(MARKER_THEIRS) and state == "theirs":
            state = None
        elif state is None:
            ours.append(line)
            theirs.append(line)
            base.append(line)
        elif state == "ours":
            ours.append(line)
        elif state == "base":
            base.append(line)
        else:
            theirs.append(line)
    if state is not None:
        return None
    return ("".join(base) if has_base else None), "".join(ours), "".join(theirs)


def resolve_conflicts(path: str, text: str) -> str | None:
    """The file's text with git's conflict markers merged away, for the files baton knows how to merge;
    None when it cannot (a plain note: the user decides)."""
    if not conflict_lines(text) or kind_of(path) == TEXT:
        return None
    parts = split_conflicts(text)
    if parts is None:
        return None
    base, ours, theirs = parts
    merged = merge(path, base, ours, theirs)
    return merged.text if merged.clean else None
