"""Who is handing off, and under which session id.

These are the handoff's two touch points with operator resolution and id claims
(`lib.operators`, `lib.ids`). Until those modules exist this file carries the
smallest version of both that the handoff needs: the documented resolution chain
(`$OPERATOR` -> `$CLAUDE_USER_EMAIL` -> `git config user.email`) over
`.claude/operators.yaml`, and an O_EXCL claim of `<INITIALS>-YYMMDD-NN` that skips
numbers present in the working tree, in HEAD and on remote-tracking branches.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import frontmatter, yamlio
from ..errors import BatonError, ConfigError
from ..paths import STORE_FOLDERS
from ..schema import SESSION_ID
from . import gitcmd

OPERATORS_PATH = ".claude/operators.yaml"
MAX_PER_DAY = 99

# Sources whose answer the user did not state for this session: the handoff asks to confirm them.
INFERRED_SOURCES = frozenset({"CLAUDE_USER_EMAIL", "git user.email"})

_INITIALS = re.compile(r"^[A-Z]{2,4}$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclass(frozen=True)
class Operator:
    slug: str
    initials: str
    source: str
    email: str | None = None

    @property
    def inferred(self) -> bool:
        return self.source in INFERRED_SOURCES

    def as_dict(self) -> dict[str, Any]:
        return {"slug": self.slug, "initials": self.initials, "source": self.source,
                "email": self.email, "inferred": self.inferred}


@dataclass(frozen=True)
class Claim:
    id: str
    path: Path
    operator: str
    new: bool


def _operators(root: Path) -> list[dict[str, Any]]:
    path = root / OPERATORS_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: missing; list the team's operators there (slug, initials, name, emails)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = yamlio.load(text)
    except yamlio.YAMLLoadError as exc:
        raise ConfigError(f"{path}:{exc.line or 1}: invalid YAML: {exc}") from None
    if isinstance(data, dict):
        data = data.get("operators")
    if not isinstance(data, list):
        raise ConfigError(f"{path}:1: must be a list of operators")
    found = []
    for entry in data:
        if not isinstance(entry, dict):
            continue
        slug, initials = str(entry.get("slug") or ""), str(entry.get("initials") or "")
        if _SLUG.match(slug) and _INITIALS.match(initials):
            emails = entry.get("emails") or []
            if isinstance(emails, str):
                emails = [emails]
            found.append({"slug": slug, "initials": initials,
                          "emails": [str(e).strip().lower() for e in emails if e]})
    return found


def _git_email(root: Path) -> str | None:
    result = gitcmd.run(root, "config", "user.email")
    email = result.stdout.strip()
    return email or None


def resolve_operator(root: Path) -> Operator:
    """`$OPERATOR` (slug or initials) -> `$CLAUDE_USER_EMAIL` -> `git config user.email`."""
    operators = _operators(root)
    wanted = os.environ.get("OPERATOR", "").strip()
    if wanted:
        for op in operators:
            if wanted in (op["slug"], op["initials"]) or wanted.upper() == op["initials"]:
                return Operator(op["slug"], op["initials"], "OPERATOR")
        raise BatonError(f"OPERATOR={wanted!r} is not an operator in {OPERATORS_PATH} (slug or initials)")
    for source, email in (("CLAUDE_USER_EMAIL", os.environ.get("CLAUDE_USER_EMAIL")),
                          ("git user.email", _git_email(root))):
        if not email:
            continue
        needle = email.strip().lower()
        for op in operators:
            if needle in op["emails"]:
                return Operator(op["slug"], op["initials"], source, email=email.strip())
        raise BatonError(
            f"{email} ({source}) is not in {OPERATORS_PATH}: add it to your entry's emails, "
            "or set OPERATOR=<slug>"
        )
    raise BatonError(f"cannot tell who you are: set OPERATOR=<slug> or git config user.email (see {OPERATORS_PATH})")


def initials_of(root: Path, slug: str) -> str | None:
    for op in _operators(root):
        if op["slug"] == slug:
            return str(op["initials"])
    return None


# ----------------------------------------------------------------- claims

def sessions_folder(root: Path) -> Path:
    return root / STORE_FOLDERS["session"]


def note_path(root: Path, session_id: str) -> Path:
    if not SESSION_ID.match(session_id):
        raise BatonError(f"{session_id!r} is not a session id (<INITIALS>-YYMMDD-NN)")
    return sessions_folder(root) / f"{session_id}.md"


def _taken_in_git(root: Path, prefix: str) -> set[str]:
    """Session file names starting with `prefix` in HEAD and every remote-tracking branch."""
    folder = STORE_FOLDERS["session"]
    refs = ["HEAD"]
    listed = gitcmd.run(root, "for-each-ref", "--format=%(refname)", "refs/remotes")
    if listed.ok:
        refs += [r for r in listed.stdout.split() if not r.endswith("/HEAD")]
    names: set[str] = set()
    for ref in refs:
        out = gitcmd.run(root, "ls-tree", "--name-only", f"{ref}:{folder}")
        if out.ok:
            names.update(n for n in out.stdout.splitlines() if n.startswith(prefix))
    return names


def stub_metadata(session_id: str, operator: str, now: dt.datetime) -> dict[str, Any]:
    return {
        "operator": operator,
        "kind": "session",
        "external_id": session_id,
        "status": "claimed",
        "claimed_at": now.astimezone(dt.UTC).replace(microsecond=0),
    }


def claim(root: Path, operator: Operator, day: dt.date | None = None, now: dt.datetime | None = None) -> Claim:
    """Create the claim stub of the next free `<INITIALS>-YYMMDD-NN` (O_CREAT|O_EXCL)."""
    now = now or dt.datetime.now(dt.UTC)
    day = day or now.astimezone().date()
    folder = sessions_folder(root)
    folder.mkdir(parents=True, exist_ok=True)
    prefix = f"{operator.initials}-{day:%y%m%d}-"
    taken = _taken_in_git(root, prefix)
    for number in range(1, MAX_PER_DAY + 1):
        session_id = f"{prefix}{number:02d}"
        if f"{session_id}.md" in taken:
            continue
        path = folder / f"{session_id}.md"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        text = frontmatter.new_document(stub_metadata(session_id, operator.slug, now), "", kind="session").render()
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        return Claim(session_id, path, operator.slug, new=True)
    raise BatonError(f"{folder}: all {MAX_PER_DAY} session ids of {day:%Y-%m-%d} for {operator.initials} are taken")


def read_stub(path: Path) -> dict[str, Any] | None:
    """The note's metadata, or None when there is no such file."""
    try:
        return frontmatter.read_metadata(path)
    except frontmatter.FrontmatterError:
        if not path.exists():
            return None
        raise


def preclaimed(root: Path) -> Claim | None:
    """The id the chain runner claimed for this session (`$BATON_SESSION_ID`), when its note exists."""
    session_id = os.environ.get("BATON_SESSION_ID", "").strip()
    if not session_id:
        return None
    path = note_path(root, session_id)
    meta = read_stub(path)
    if meta is None:
        raise BatonError(f"BATON_SESSION_ID={session_id}: {path.relative_to(root)} does not exist (claim it first)")
    operator = meta.get("operator")
    if not isinstance(operator, str) or not operator:
        raise BatonError(f"{path.relative_to(root)}: the claim has no operator")
    return Claim(session_id, path, operator, new=False)
