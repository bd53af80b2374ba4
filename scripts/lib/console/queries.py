"""Reading what a reader asks for: the console's errors, forgiving parameter parsing, the session filter.

Pages and the API share the parsers. A page turns a value it cannot use into a message beside its
field (the form is kept); the API answers 400 with the same message.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lib.console.storeview import NoteView
from lib.core.errors import BatonError

SESSION_STATUSES = ("claimed", "written")
SESSION_OUTCOMES = ("done", "incomplete", "blocked")
CHAIN_STATUSES = ("running", "done", "max_sessions", "failed", "budget_exhausted", "circuit_open", "stopped")
MAX_LIMIT = 500
SESSION_PARAMS = ("project", "operator", "workstream", "since", "until", "status", "outcome", "chain", "limit",
                  "offset", "failed",
                  "failure_class")
# As lib.store.operators.SLUG_MAX: no operator's slug is longer.
SLUG_MAX = 40
_SLUG_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")
_AGO = re.compile(r"^(\d{1,4})\s*(d|days?|w|weeks?)(\s+ago)?$")
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%d.%m.%Y", "%d %b %Y", "%d %B %Y", "%b %d %Y", "%B %d %Y",
                 "%b %d, %Y", "%B %d, %Y", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M")


# Bad input is quoted in error text up to this many characters; the rest is counted, not echoed.
QUOTE_LIMIT = 100


def quote_input(value: object, limit: int = QUOTE_LIMIT) -> str:
    """repr() of untrusted input for an error message, at most `limit` characters of it."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def clip_input(value: str, limit: int = QUOTE_LIMIT) -> str:
    """Untrusted input shown as is (an id in a path), at most `limit` characters of it."""
    return value if len(value) <= limit else f"{value[:limit]}... ({len(value)} characters)"


class NotFound(BatonError):
    """An id that names nothing (HTTP 404)."""


class BadRequest(BatonError):
    """A parameter the console cannot use (HTTP 400)."""

    def __init__(self, message: str, field_name: str | None = None) -> None:
        super().__init__(message)
        self.field = field_name


class Conflict(BatonError):
    """A request that does not fit the current state, such as stopping a finished chain (HTTP 409)."""


class Unavailable(BatonError):
    """Something the request needs is missing or did not answer in time (HTTP 503)."""


def parse_date(value: str | None, name: str, today: dt.date | None = None) -> dt.date | None:
    """A day as people type it: 2026-12-05, 2026/12/05, 05.12.2026, 5 Dec 2026, today, yesterday, 7d."""
    text = (value or "").strip()
    if not text:
        return None
    lowered = text.lower()
    today = today or dt.datetime.now(dt.UTC).date()
    if lowered == "today":
        return today
    if lowered == "yesterday":
        return today - dt.timedelta(days=1)
    ago = _AGO.match(lowered)
    if ago:
        days = int(ago.group(1)) * (7 if ago.group(2).startswith("w") else 1)
        return today - dt.timedelta(days=days)
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise BadRequest(f"{name}: {quote_input(text)} is not a date (2026-12-05, 05.12.2026, 5 Dec 2026, today, 7d)", name)


def parse_int(value: str | None, name: str, default: int, lo: int, hi: int) -> int:
    text = (value or "").strip()
    if not text:
        return default
    try:
        number = int(text)
    except ValueError:
        raise BadRequest(f"{name}: {quote_input(text)} is not a whole number", name) from None
    if not lo <= number <= hi:
        raise BadRequest(f"{name}: {clip_input(text)} is out of range ({lo}-{hi})", name)
    return number


def choice(value: str | None, name: str, allowed: Iterable[str]) -> str | None:
    typed = (value or "").strip()
    text = typed.lower()
    if not text:
        return None
    options = tuple(allowed)
    if text not in options:
        raise BadRequest(f"{name}: {quote_input(typed)} is not one of {', '.join(options)}", name)
    return text


def parse_bool(value: str | None, name: str) -> bool:
    typed = (value or "").strip()
    text = typed.lower()
    if not text:
        return False
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise BadRequest(f"{name}: {quote_input(typed)} is not true or false", name)


def slug(value: str | None, name: str) -> str | None:
    """A slug, trimmed and lowercased; anything else is refused before it touches a filter or a path."""
    typed = (value or "").strip()
    text = typed.lower()
    if not text:
        return None
    if not set(text) <= _SLUG_CHARS or text[0] in "-_":
        raise BadRequest(f"{name}: {quote_input(typed)} is not a slug (letters, digits, - and _)", name)
    return text


def known(params: Mapping[str, str], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        # The known ones help with a typo; a name this long is not one, and the message stays short.
        hint = f"known: {', '.join(allowed) or 'none'}" if len(unknown[0]) <= 40 else "see /openapi.json"
        raise BadRequest(f"unknown parameter {quote_input(unknown[0])} ({hint})")


def text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def number_or_none(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return None
    return float(value)


@dataclass(frozen=True)
class Person:
    slug: str
    name: str | None = None
    initials: str | None = None


def resolve_operator(value: str | None, roster: Iterable[Person], name: str = "operator") -> str | None:
    """The slug a reader means: a slug, initials or a (first or full) name from the roster, any case, trimmed.
    A slug-shaped value that is in no roster is kept (notes may name someone who has left the roster)."""
    text = " ".join((value or "").split())
    if not text:
        return None
    lowered = text.lower()
    people = list(roster)
    tests: tuple[Callable[[Person], bool], ...] = (
                 lambda p: p.slug == lowered,
                 lambda p: (p.initials or "").lower() == lowered,
                 lambda p: (p.name or "").lower() == lowered,
                 lambda p: (p.name or "").lower().split(" ")[0] == lowered)
    for test in tests:
        found = [p for p in people if test(p)]
        if len(found) == 1:
            return found[0].slug
    try:
        found_slug = slug(text, name)
        if found_slug is not None and len(found_slug) > SLUG_MAX:
            raise BadRequest(f"{name}: longer than a slug ({SLUG_MAX} characters)", name)
        return found_slug
    except BadRequest:
        offered = ", ".join(f"{p.name or p.slug} ({p.slug})" for p in people[:8])
        raise BadRequest(f"{name}: nobody called {quote_input(text)}" + (f"; the roster has {offered}" if offered else ""),
                         name) from None


@dataclass
class SessionQuery:
    project: str | None = None
    operator: str | None = None
    workstream: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    status: str | None = None
    outcome: str | None = None
    chain: str | None = None
    failed: bool = False
    failure_class: str | None = None
    limit: int = 50
    offset: int = 0
    # Chain-session ids the registry counts as failed (filled by the console for `failed`).
    failed_ids: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_params(cls, params: Mapping[str, str], roster: Iterable[Person] = (), *,
                    errors: dict[str, str] | None = None) -> SessionQuery:
        """The query these parameters ask for. With `errors`, a value that cannot be used is left out and
        its message kept there under the field's name; without, the first one raises BadRequest."""
        query = cls()
        people = list(roster)
        parsers: list[tuple[str, Callable[[], Any]]] = [
            ("project", lambda: text_or_none((params.get("project") or "").strip())),
            ("operator", lambda: resolve_operator(params.get("operator"), people)),
            ("workstream", lambda: slug(params.get("workstream"), "workstream")),
            ("since", lambda: parse_date(params.get("since"), "since")),
            ("until", lambda: parse_date(params.get("until"), "until")),
            ("status", lambda: choice(params.get("status"), "status", SESSION_STATUSES)),
            ("outcome", lambda: choice(params.get("outcome"), "outcome", SESSION_OUTCOMES)),
            ("chain", lambda: text_or_none((params.get("chain") or "").strip())),
            ("failed", lambda: parse_bool(params.get("failed"), "failed")),
            ("failure_class", lambda: slug(params.get("failure_class"), "failure_class")),
            ("limit", lambda: parse_int(params.get("limit"), "limit", 50, 1, MAX_LIMIT)),
            ("offset", lambda: parse_int(params.get("offset"), "offset", 0, 0, 10_000_000)),
        ]
        for key, parse in parsers:
            try:
                setattr(query, key, parse())
            except BadRequest as exc:
                if errors is None:
                    raise
                errors[key] = str(exc)
        if query.since and query.until and query.since > query.until:
            message = f"since {query.since} is after until {query.until}"
            if errors is None:
                raise BadRequest(message, "until")
            errors["until"] = message
            query.until = None
        return query

    def cache_key(self) -> tuple[Any, ...]:
        return (self.operator, self.workstream, self.since, self.until, self.status, self.outcome, self.chain,
                self.failed, self.failure_class, self.failed_ids if self.failed else None)

    def matches(self, note: NoteView) -> bool:
        return bool(self.filter([note]))

    def filter(self, notes: list[NoteView]) -> list[NoteView]:
        """The notes that match, in their order. `notes` newest first (by day), as the store view gives them."""
        if self.since is not None or self.until is not None:
            low = self.since.isoformat() if self.since else ""
            high = self.until.isoformat() if self.until else "~"
            # Newest first by day: the range is one run of the list; notes without a day come last.
            lo = _first(notes, lambda n: n.date <= high)
            hi = _first(notes, lambda n: n.date < low or not n.date, start=lo)
            notes = notes[lo:hi]
        if self.status is not None:
            notes = [n for n in notes if n.meta.get("status") == self.status]
        else:
            # A claim stub is "no session yet" to every reader unless asked for.
            notes = [n for n in notes if n.meta.get("status") != "claimed"]
        for key, value in (("operator", self.operator), ("workstream", self.workstream), ("outcome", self.outcome),
                           ("chain_id", self.chain)):
            if value is not None:
                notes = [n for n in notes if n.meta.get(key) == value]
        if self.failed:
            from lib.failures import insights

            notes = [n for n in notes if n.meta.get("outcome") in insights.FAILED_OUTCOMES
                     or n.external_id in self.failed_ids]
        if self.failure_class is not None:
            from lib.failures import insights

            notes = [n for n in notes if insights.failures_by_class(n.meta).get(self.failure_class)]
        return notes


def _first(notes: list[NoteView], test: Callable[[NoteView], bool], start: int = 0) -> int:
    """The index of the first note from `start` that passes `test` (len when none): a bisection, as
    `test` turns true once and stays true along the list."""
    lo, hi = start, len(notes)
    while lo < hi:
        mid = (lo + hi) // 2
        if test(notes[mid]):
            hi = mid
        else:
            lo = mid + 1
    return lo
