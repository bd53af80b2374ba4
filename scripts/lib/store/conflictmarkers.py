"""The conflict markers git leaves in a file it could not merge (`<<<<<<<`, `|||||||`, `=======`, `>>>>>>>`)."""

from __future__ import annotations

MARKER_OURS, MARKER_BASE, MARKER_SPLIT, MARKER_THEIRS = "<<<<<<<", "|||||||", "=======", ">>>>>>>"


def conflict_lines(text: str) -> list[int]:
    """1-based line numbers of conflict markers git leaves in a file it could not merge."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith((MARKER_OURS + " ", MARKER_THEIRS + " ", MARKER_BASE)) \
                or line.rstrip() in (MARKER_SPLIT, MARKER_OURS, MARKER_THEIRS):
            found.append(number)
    return found
