"""The operators roster (`.claude/operators.yaml`) the tests write into their stores."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Member:
    slug: str
    initials: str
    name: str
    email: str


# The people the tests' stores are made of (the git identity of conftest is author@example.com).
RITA = Member("rita", "RT", "Rita Example", "author@example.com")
SAM = Member("sam", "SK", "Sam Example", "sam@example.com")
RT = Member("rt", "RT", "Rita Tavares", "rt@example.com")
JD = Member("jd", "JD", "Jo Doe", "jd@example.com")
ANN = Member("ann", "AN", "Ann Example", "ann@example.com")
BOB = Member("bob", "BO", "Bob Example", "bob@example.com")
DEE = Member("dee", "DE", "Dee Example", "dee@example.com")


def roster_yaml(*members: Member, version: int | None = None) -> str:
    """The text of an operators.yaml listing `members` in order."""
    lines = [f"version: {version}"] if version is not None else []
    lines.append("operators:")
    for m in members:
        lines += [f"  - slug: {m.slug}", f"    initials: {m.initials}", f"    name: {m.name}",
                  f"    emails: [{m.email}]"]
    return "\n".join(lines) + "\n"


def write_roster(root: Path, *members: Member, version: int | None = None) -> Path:
    """Write `.claude/operators.yaml` under `root`; its path."""
    path = root / ".claude" / "operators.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(roster_yaml(*members, version=version), encoding="utf-8")
    return path
