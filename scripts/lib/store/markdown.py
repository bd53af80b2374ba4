"""The one reader of a note's `## ` sections.

Rules, written once (CommonMark's ATX headings and fences, as far as notes use them):
- a section starts at a level-2 ATX heading: up to three spaces, `##`, then a space or tab
  (or nothing: an empty heading), an optional closing run of `#`;
- it ends at the next level-1 or level-2 heading, or at the end of the body;
- nothing inside a fenced code block (``` or ~~~, three or more, closed by the same
  character at least as long) is a heading;
- headings match by `heading_key`: case-insensitive, surrounding space and a trailing `:`
  ignored, inner runs of whitespace as one space. When a note repeats a heading, the first wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


class Section(NamedTuple):
    # A NamedTuple, not a frozen dataclass: the index builds one per section of every note it
    # parses, and importing dataclasses costs a search's start-up ~6 ms.
    heading: str  # as written, without the `##` and closing hashes
    key: str  # heading_key(heading)
    start: int  # index of the heading line
    end: int  # index of the first line after the section


def heading_key(text: str) -> str:
    return " ".join(text.strip().rstrip(":").split()).lower()


def _strip_eol(line: str) -> str:
    return line.rstrip("\r\n")


def headings(lines: Sequence[str]) -> Iterable[tuple[int, int, str]]:
    """(index, level, text) of every ATX heading outside fenced code blocks."""
    fence: str | None = None
    for index, raw in enumerate(lines):
        first = raw.lstrip(" ")[:1]
        if first not in ("#", "`", "~"):  # most lines: no regex at all
            continue
        line = _strip_eol(raw)
        opening = _FENCE.match(line)
        if fence is not None:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence) \
                    and not line.strip()[len(opening.group(1)):].strip():
                fence = None
            continue
        if opening:
            fence = opening.group(1)
            continue
        match = _ATX.match(line)
        if match:
            yield index, len(match.group(1)), (match.group(2) or "").strip()


def find_sections(lines: Sequence[str]) -> list[Section]:
    """Every level-2 section of `lines` (with or without line ends), in order."""
    found: list[Section] = []
    open_at: tuple[int, str] | None = None
    for index, level, text in headings(lines):
        if level > 2:
            continue
        if open_at is not None:
            found.append(Section(open_at[1], heading_key(open_at[1]), open_at[0], index))
            open_at = None
        if level == 2:
            open_at = (index, text)
    if open_at is not None:
        found.append(Section(open_at[1], heading_key(open_at[1]), open_at[0], len(lines)))
    return found


def find_section(lines: Sequence[str], heading: str) -> Section | None:
    """The first section whose heading matches `heading`."""
    key = heading_key(heading)
    return next((s for s in find_sections(lines) if s.key == key), None)


def section_text(lines: Sequence[str], section: Section) -> str:
    return "\n".join(_strip_eol(line) for line in lines[section.start + 1:section.end]).strip()


def sections(body: str) -> dict[str, str]:
    """heading_key -> the section's text (stripped); the first of repeated headings wins."""
    lines = body.splitlines()
    out: dict[str, str] = {}
    for section in find_sections(lines):
        out.setdefault(section.key, section_text(lines, section))
    return out


def select(body: str, names: Iterable[str]) -> str:
    """The named sections, heading included, in the note's order (for showing part of a note)."""
    wanted = {heading_key(n) for n in names}
    lines = body.splitlines()
    parts = ["\n".join(lines[s.start:s.end]).strip() for s in find_sections(lines) if s.key in wanted]
    return "\n\n".join(parts)
