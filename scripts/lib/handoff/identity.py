"""Who is handing off, and under which session id: the handoff's view of `lib.store.operators` and `lib.store.ids`.

- `resolve_operator`: `lib.store.operators.resolve` (the documented chain), plus whether the
  answer was inferred from an email, which the handoff asks the user to confirm.
- `claim`: `lib.store.ids.claim`, never reusing `$BATON_SESSION_ID` (the handoff looks at that
  itself, in `preclaimed`, taking the operator from the claimed stub).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lib.core.errors import BatonError
from lib.core.paths import STORE_FOLDERS
from lib.store import frontmatter, ids, operators
from lib.store.schema import SESSION_ID

# Sources whose answer the user did not state for this session: the handoff asks to confirm them.
INFERRED_SOURCES = frozenset({operators.SOURCE_USER_EMAIL_ENV, operators.SOURCE_GIT})


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


def resolve_operator(root: Path) -> Operator:
    found = operators.resolve(root)
    return Operator(found.operator.slug, found.operator.initials, found.source, email=found.email)


def sessions_folder(root: Path) -> Path:
    return root / STORE_FOLDERS["session"]


def note_path(root: Path, session_id: str) -> Path:
    if not SESSION_ID.match(session_id):
        raise BatonError(f"{session_id!r} is not a session id (<INITIALS>-YYMMDD-NN)")
    return sessions_folder(root) / f"{session_id}.md"


def claim(root: Path, operator: Operator, day: dt.date | None = None, now: dt.datetime | None = None) -> Claim:
    """Claim the next free `<INITIALS>-YYMMDD-NN` (its claim stub, created with O_EXCL)."""
    record = operators.Operator(operator.slug, operator.initials, operator.slug, ())
    claimed = ids.claim(root, record, day=day, now=now, env={})
    return Claim(claimed.id, claimed.path, claimed.operator, new=True)


def read_stub(path: Path) -> dict[str, Any] | None:
    """The note's metadata, or None when there is no such file."""
    try:
        return frontmatter.read_metadata(path)
    except frontmatter.FrontmatterError:
        if not path.exists():
            return None
        raise


def preclaimed(root: Path) -> Claim | None:
    """The id the chain runner claimed for this session (`$BATON_SESSION_ID`); its stub names the operator."""
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
