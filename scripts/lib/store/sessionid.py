"""Session ids: `<INITIALS>-YYMMDD-NN` (docs/conventions/ids.md), and the legacy `CONV-`/`LOCAL-` ids.

The one place the shapes are written down; every reader of an id parses it here.
Imports nothing heavier than `re`, `datetime` and `typing` (no dataclasses), so the index's hot
path can use it.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import NamedTuple

# Building blocks for callers that embed an id in a larger pattern (a Session Log line, a link).
PATTERN = r"[A-Z]{2,4}-\d{6}-\d{2}"
LEGACY_PATTERN = r"(?:CONV|LOCAL)-[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
ANY_PATTERN = rf"(?:{PATTERN}|{LEGACY_PATTERN})"

SESSION_ID = re.compile(
    r"^(?P<initials>[A-Z]{2,4})-(?P<date>(?P<yy>\d{2})(?P<mm>\d{2})(?P<dd>\d{2}))-(?P<number>\d{2})\Z")
LEGACY_SESSION_ID = re.compile(r"^(?:CONV|LOCAL)-[A-Za-z0-9][A-Za-z0-9._-]*\Z")


class SessionId(NamedTuple):
    initials: str
    yymmdd: str
    number: int

    @property
    def day(self) -> dt.date | None:
        """The day the id names; None when its digits are not a real date (e.g. `AB-991399-01`)."""
        try:
            return dt.date(2000 + int(self.yymmdd[:2]), int(self.yymmdd[2:4]), int(self.yymmdd[4:]))
        except ValueError:
            return None

    def __str__(self) -> str:
        return f"{self.initials}-{self.yymmdd}-{self.number:02d}"


def parse(text: str) -> SessionId | None:
    """The parts of a current-format id; None for anything else (legacy ids included)."""
    match = SESSION_ID.match(text)
    if match is None:
        return None
    return SessionId(match["initials"], match["date"], int(match["number"]))


def is_session_id(text: str) -> bool:
    return SESSION_ID.match(text) is not None


def is_legacy_id(text: str) -> bool:
    return LEGACY_SESSION_ID.match(text) is not None


def day_of(text: str) -> dt.date | None:
    """The day a current-format id names, else None."""
    parsed = parse(text)
    return parsed.day if parsed else None
