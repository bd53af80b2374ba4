"""Operators: who works in this repository (`.claude/operators.yaml`) and who is running now.

The file lists each operator's slug, initials, name and emails; it is validated
against scripts/schemas/operators.schema.json plus the checks a schema cannot
express (unique slugs, initials and emails). docs/conventions/operators.md is the
contract.

`resolve` answers "who is this?" with a fixed chain, first source that is set wins:
`--email` -> `$OPERATOR` (slug or initials) -> `$CLAUDE_USER_EMAIL` ->
`git config user.email` -> a halt that prints a ready-to-paste YAML entry. A set
source that names nobody halts too, rather than falling through to a source
that might name somebody else.

`.claude/state/operator.cache` keeps the validated table (keyed by the file's
mtime, size and CRC-32) and the git-email answer (also keyed by that email),
so the hot path (`session.py claim` from a wrapper) neither imports a YAML
parser nor a schema validator. The cached git answer is only consulted at the
git step, so it never overrides `--email` or `$OPERATOR`.
"""

from __future__ import annotations

import json
import os
import re
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from lib.core import git, settings
from lib.core.errors import BatonError, ConfigError

OPERATORS_PATH = ".claude/operators.yaml"
CACHE_PATH = ".claude/state/operator.cache"
CACHE_VERSION = 1

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
SLUG_MAX = 40
INITIALS = re.compile(r"^[A-Z]{2,4}$")

# Where each answer came from, as reported by `whoami --json`.
SOURCE_EMAIL_ARG = "--email"
SOURCE_OPERATOR_ENV = "$OPERATOR"
SOURCE_USER_EMAIL_ENV = "$CLAUDE_USER_EMAIL"
SOURCE_GIT = "git config user.email"


def is_slug(value: str) -> bool:
    return bool(SLUG.match(value)) and len(value) <= SLUG_MAX


def is_initials(value: str) -> bool:
    return bool(INITIALS.match(value))


# Records are NamedTuples, not dataclasses: every `session.py claim` imports this module, and building
# a frozen dataclass costs ~5x a NamedTuple at import (bench/bench_claim.py).
class Operator(NamedTuple):
    slug: str
    initials: str
    name: str
    emails: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"slug": self.slug, "initials": self.initials, "name": self.name, "emails": list(self.emails)}


class Roster(NamedTuple):
    """The validated contents of operators.yaml."""

    operators: tuple[Operator, ...]

    def by_email(self, email: str) -> Operator | None:
        wanted = email.strip().casefold()
        for op in self.operators:
            if any(e.casefold() == wanted for e in op.emails):
                return op
        return None

    def by_slug(self, slug: str) -> Operator | None:
        return next((op for op in self.operators if op.slug == slug), None)

    def by_initials(self, initials: str) -> Operator | None:
        wanted = initials.upper()
        return next((op for op in self.operators if op.initials == wanted), None)

    def by_name(self, token: str) -> Operator | None:
        """A slug, else initials (any case): what `$OPERATOR` may hold."""
        return self.by_slug(token.lower()) or self.by_initials(token)

    def describe(self) -> str:
        return ", ".join(f"{op.slug} ({op.initials})" for op in self.operators) or "none"


class Resolution(NamedTuple):
    operator: Operator
    source: str
    email: str | None = None
    cached: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {**self.operator.as_dict(), "source": self.source, "email": self.email, "cached": self.cached}


class UnknownOperator(BatonError):
    """No operator has this email: the message ends with a YAML entry to paste into operators.yaml."""

    def __init__(self, message: str, template: str) -> None:
        super().__init__(f"{message}\n\n{template}")
        self.template = template


# ------------------------------------------------------------------ parsing

def parse(text: str, source: str = OPERATORS_PATH) -> Roster:
    """Validate an operators.yaml text; every error names `source` and the line."""
    data = settings.parse_document(text, source, SCHEMA, shape="a mapping with an `operators:` list",
                                   message=_schema_message)

    def fail(pointer: list[str | int], message: str) -> ConfigError:
        return settings.fail_at(text, source, pointer, message)

    operators: list[Operator] = []
    seen: dict[str, dict[str, int]] = {"slug": {}, "initials": {}, "email": {}}
    for i, entry in enumerate(data["operators"]):
        op = Operator(
            slug=entry["slug"], initials=entry["initials"], name=entry["name"], emails=tuple(entry["emails"])
        )
        for field, value in (("slug", op.slug), ("initials", op.initials)):
            if value in seen[field]:
                other = seen[field][value]
                raise fail(["operators", i, field], f"duplicate {field} {value!r} (also operator #{other + 1})")
            seen[field][value] = i
        for j, email in enumerate(op.emails):
            key = email.casefold()
            if key in seen["email"]:
                other = seen["email"][key]
                raise fail(["operators", i, "emails", j], f"email {email!r} is listed twice (also operator #{other + 1})")
            seen["email"][key] = i
        operators.append(op)
    # `$OPERATOR` accepts a slug or initials: one operator's slug must not be another's initials.
    for i, op in enumerate(operators):
        clash = seen["initials"].get(op.slug.upper())
        if clash is not None and clash != i:
            raise fail(["operators", i, "slug"],
                       f"slug {op.slug!r} reads as the initials of operator #{clash + 1}, so $OPERATOR would be ambiguous")
    return Roster(tuple(operators))


SCHEMA = "operators.schema.json"


def schema_path() -> Path:
    return settings.schema_path(SCHEMA)


_FIELD_HINTS = {
    "slug": "must be lowercase letters, digits and hyphens, starting with a letter or digit (e.g. ada)",
    "initials": "must be 2-4 uppercase letters (e.g. AL)",
    "emails": "must be an email address like ada@example.com",
}


def _schema_message(error: Any) -> str:
    path = list(error.absolute_path)
    field = next((p for p in reversed(path) if isinstance(p, str)), None)
    if error.validator in ("pattern", "maxLength") and field in _FIELD_HINTS:
        return f"{error.instance!r} {_FIELD_HINTS[field]}"
    if error.validator == "required":
        match = re.match(r"'(.+)' is a required property", error.message)
        if match:
            return f"missing required key '{match.group(1)}'"
    return " ".join(str(error.message).split())


# ------------------------------------------------------------------ loading and the cache

class _Signature(NamedTuple):
    """What identifies a version of operators.yaml. CRC-32 rather than SHA-256: it only has to notice an
    edit that kept size and mtime, and hashlib's import costs more than the rest of a cache hit."""

    mtime_ns: int
    size: int
    crc32: int

    def as_dict(self) -> dict[str, Any]:
        return {"mtime_ns": self.mtime_ns, "size": self.size, "crc32": self.crc32}


def _read_operators_file(root: Path) -> tuple[str, _Signature]:
    path = root / OPERATORS_PATH
    try:
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())
            raw = fh.read()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file; list the operators there (docs/conventions/operators.md)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not valid UTF-8 text") from None
    return text, _Signature(st.st_mtime_ns, st.st_size, zlib.crc32(raw))


def _read_cache(root: Path) -> dict[str, Any]:
    try:
        with open(root / CACHE_PATH, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and data.get("version") == CACHE_VERSION else {}


def _write_cache(root: Path, data: dict[str, Any]) -> None:
    # The cache only saves time: a read-only checkout or a full disk must not stop anyone.
    from lib.core import atomic  # here: tempfile's import is only paid on a cache miss

    try:
        atomic.write_text(root / CACHE_PATH, json.dumps(data, sort_keys=True) + "\n")
    except OSError:
        pass


def _roster_from_cache(entries: Any) -> Roster | None:
    try:
        ops = tuple(
            Operator(str(e["slug"]), str(e["initials"]), str(e["name"]), tuple(str(m) for m in e["emails"]))
            for e in entries
        )
    except (TypeError, KeyError):
        return None
    if not ops or not all(is_slug(op.slug) and is_initials(op.initials) for op in ops):
        return None
    return Roster(ops)


class _Loaded(NamedTuple):
    roster: Roster
    signature: _Signature
    cache: dict[str, Any]
    from_cache: bool


def _load(root: Path) -> _Loaded:
    text, signature = _read_operators_file(root)
    cache = _read_cache(root)
    if cache.get("operators_file") == signature.as_dict():
        roster = _roster_from_cache(cache.get("operators"))
        if roster is not None:
            return _Loaded(roster, signature, cache, from_cache=True)
    roster = parse(text, str(root / OPERATORS_PATH))
    # A changed file invalidates everything, including the git answer.
    cache = {
        "version": CACHE_VERSION,
        "operators_file": signature.as_dict(),
        "operators": [op.as_dict() for op in roster.operators],
    }
    _write_cache(root, cache)
    return _Loaded(roster, signature, cache, from_cache=False)


def load(root: Path) -> Roster:
    """The validated operators of the repository at `root`."""
    return _load(root).roster


# ------------------------------------------------------------------ git identity

def _git_config(root: Path, key: str) -> str | None:
    return git.config(root, key)


def git_email(root: Path) -> str | None:
    return _git_config(root, "user.email")


# ------------------------------------------------------------------ resolution

def resolve(root: Path, email: str | None = None, env: Mapping[str, str] | None = None) -> Resolution:
    """Who is running: the first source that is set decides (see the module docstring)."""
    env = os.environ if env is None else env
    if email is not None:
        email = email.strip()
        if not email:
            raise BatonError("--email is empty")
        return _by_email(root, email, SOURCE_EMAIL_ARG)

    token = env.get("OPERATOR", "").strip()
    if token:
        if not (is_slug(token.lower()) or is_initials(token.upper())):
            raise BatonError(f"$OPERATOR={token!r} is neither an operator slug nor initials")
        roster = load(root)
        op = roster.by_name(token)
        if op is None:
            raise BatonError(
                f"$OPERATOR={token!r} names no operator in {OPERATORS_PATH} (known: {roster.describe()})"
            )
        return Resolution(op, SOURCE_OPERATOR_ENV)

    user_email = env.get("CLAUDE_USER_EMAIL", "").strip()
    if user_email:
        return _by_email(root, user_email, SOURCE_USER_EMAIL_ENV)

    found = git_email(root)
    if found:
        return _by_git_email(root, found)

    raise UnknownOperator(
        "cannot tell who you are: none of --email, $OPERATOR, $CLAUDE_USER_EMAIL or `git config user.email` is set. "
        "Set your git email (git config user.email you@example.com) and list it in "
        f"{OPERATORS_PATH}, for example:",
        entry_template("you@example.com", None, _roster_or_empty(root)),
    )


def _by_email(root: Path, email: str, source: str) -> Resolution:
    roster = _roster_for_email(root, email, source)
    op = roster.by_email(email)
    if op is None:
        raise _unknown_email(root, email, source, roster)
    return Resolution(op, source, email=email)


def _by_git_email(root: Path, email: str) -> Resolution:
    loaded = _load_for_email(root, email, SOURCE_GIT)
    cached = loaded.cache.get("git")
    if isinstance(cached, dict) and str(cached.get("email", "")).casefold() == email.casefold():
        op = loaded.roster.by_slug(str(cached.get("slug")))
        if op is not None:
            return Resolution(op, SOURCE_GIT, email=email, cached=True)
    op = loaded.roster.by_email(email)
    if op is None:
        raise _unknown_email(root, email, SOURCE_GIT, loaded.roster, name=_git_config(root, "user.name"))
    _write_cache(root, {**loaded.cache, "git": {"email": email, "slug": op.slug}})
    return Resolution(op, SOURCE_GIT, email=email)


def _roster_for_email(root: Path, email: str, source: str) -> Roster:
    return _load_for_email(root, email, source).roster


def _load_for_email(root: Path, email: str, source: str) -> _Loaded:
    if not (root / OPERATORS_PATH).exists():
        entry = entry_template(email, _git_config(root, "user.name") if source == SOURCE_GIT else None, Roster(()))
        raise UnknownOperator(
            f"{OPERATORS_PATH} does not exist yet. Create it with this content (adjust slug, initials and name), "
            "then run this again:",
            "operators:\n" + entry,
        )
    return _load(root)


def _roster_or_empty(root: Path) -> Roster:
    try:
        return load(root)
    except ConfigError:
        return Roster(())


def _unknown_email(root: Path, email: str, source: str, roster: Roster, name: str | None = None) -> UnknownOperator:
    return UnknownOperator(
        f"no operator in {OPERATORS_PATH} has the email {email} (from {source}). Add this entry under "
        "`operators:` (adjust slug, initials and name), then run this again:",
        entry_template(email, name, roster),
    )


# ------------------------------------------------------------------ the paste-ready entry

def entry_template(email: str, name: str | None, roster: Roster) -> str:
    """A YAML list item for operators.yaml, with a slug and initials no one else has."""
    local = email.split("@", 1)[0]
    display = (name or "").strip() or _title_from(local)
    slug = _unique(
        _slugify(display.split()[0] if name and display.split() else local) or "operator",
        {op.slug for op in roster.operators} | {op.initials.lower() for op in roster.operators},
    )
    initials = _initials_for(display, {op.initials for op in roster.operators} | {op.slug.upper() for op in roster.operators})
    return (
        f"  - slug: {_scalar(slug)}\n"
        f"    initials: {_scalar(initials)}\n"
        f"    name: {_scalar(display)}\n"
        f"    emails:\n"
        f"      - {_scalar(email)}\n"
    )


def _title_from(local: str) -> str:
    words = [w for w in re.split(r"[._+-]+", local) if w]
    return " ".join(w.capitalize() for w in words) or local


def _slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:SLUG_MAX].rstrip("-")


def _unique(base: str, taken: set[str]) -> str:
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def _initials_for(display: str, taken: set[str]) -> str:
    letters = [c for c in re.sub(r"[^A-Za-z ]", "", display).upper() if c != " "]
    words = [w for w in re.sub(r"[^A-Za-z ]", " ", display).upper().split() if w]
    candidates: list[str] = []
    if len(words) >= 2:
        candidates.append("".join(w[0] for w in words[:4]))
    if words:
        first = words[0]
        candidates += [first[0] + c for c in "".join(words)[1:]]
    candidates += [a + b for a in (letters[:1] or ["X"]) for b in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
    for cand in candidates:
        if is_initials(cand) and cand not in taken:
            return cand
    return "XX"


_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@+'-]*$")
_YAML_WORDS = frozenset({"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"})


def _scalar(value: str) -> str:
    """A YAML scalar that reads back as exactly `value` (plain when that is safe, else double-quoted)."""
    if _PLAIN.match(value) and value.lower() not in _YAML_WORDS and not value.endswith(" ") \
            and not re.match(r"^[0-9][0-9._+-]*$", value):
        return value
    return json.dumps(value, ensure_ascii=False)
