"""The operators roster (`.claude/operators.yaml`) the tests and benchmarks write into their stores."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# The git identity every test runs under (see support.git.GIT_IDENTITY): the operator a store resolves to.
AUTHOR_EMAIL = "author@example.com"


@dataclass(frozen=True)
class Member:
    slug: str
    initials: str
    name: str
    emails: tuple[str, ...]


def member(slug: str, initials: str, name: str | None = None, *emails: str,
           domain: str = "example.com") -> Member:
    """An operator; the name defaults to "<Slug> Example" and the email to <slug>@<domain>."""
    return Member(slug, initials, name if name is not None else f"{slug.title()} Example",
                  emails or (f"{slug}@{domain}",))


# The people of the handoff tests' store (Rita is the git identity).
RITA = member("rita", "RT", "Rita Example", AUTHOR_EMAIL)
SAM = member("sam", "SK", "Sam Example")
# The chain runner's operators.
RT = member("rt", "RT", "Rita Tavares")
JD = member("jd", "JD", "Jo Doe")


def roster_yaml(members: Iterable[Member], *, version: int | None = None) -> str:
    """The text of an operators.yaml listing `members` in order."""
    lines = [f"version: {version}"] if version is not None else []
    lines.append("operators:")
    for m in members:
        lines += [f"  - slug: {m.slug}", f"    initials: {m.initials}", f"    name: {m.name}",
                  f"    emails: [{', '.join(m.emails)}]"]
    return "\n".join(lines) + "\n"


def write_roster(root: Path, members: Iterable[Member], *, version: int | None = None) -> Path:
    """Write `.claude/operators.yaml` under `root`; its path."""
    path = root / ".claude" / "operators.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(roster_yaml(members, version=version), encoding="utf-8")
    return path
