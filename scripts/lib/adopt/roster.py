"""A draft `.claude/operators.yaml` from a repository's git authors: one entry a person, bots left out,
unique slugs and initials."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lib.core import git

AUTHOR_COMMITS = 2000  # the operators draft looks at the authors of this many recent commits


def git_authors(target: Path) -> list[tuple[str, str, int]]:
    """(name, email, commits) of recent authors, most commits first; the configured user when there are none."""
    counts: dict[tuple[str, str], int] = {}
    out = git.run(target, "log", "-n", str(AUTHOR_COMMITS), "--format=%aN%x1f%aE", env=git.ELSEWHERE)
    if out.returncode == 0:
        for line in out.stdout.splitlines():
            name, _, email = line.partition("\x1f")
            if name and email:
                counts[(name.strip(), email.strip())] = counts.get((name.strip(), email.strip()), 0) + 1
    if not counts:
        def config(key: str) -> str:
            return git.config(target, key, env=git.ELSEWHERE) or ""
        name, email = config("user.name"), config("user.email")
        if email:
            counts[(name or email.partition("@")[0], email)] = 0
    return sorted(((n, e, c) for (n, e), c in counts.items()), key=lambda x: (-x[2], x[0].casefold(), x[1]))


def _is_bot(name: str, email: str) -> bool:
    low = f"{name} {email}".casefold()
    return "[bot]" in low or low.startswith(("dependabot", "renovate", "github-actions"))


def _ascii_words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.findall(r"[A-Za-z0-9]+", folded)


def _initials_candidates(name: str, email: str) -> Iterable[str]:
    words = [w for w in _ascii_words(name) if w[0].isalpha()] or [
        w for w in _ascii_words(email.partition("@")[0]) if w[0].isalpha()] or ["XX"]
    first, last = words[0].upper(), words[-1].upper()
    letters = [c for c in "".join(words).upper() if c.isalpha()]
    if len(words) >= 2:
        yield first[0] + last[0]
        yield first[0] + last[:2] if len(last) >= 2 else first[:2] + last[0]
        yield first[:2] + last[0]
    else:
        yield first[:2].ljust(2, "X")
        yield first[:3].ljust(3, "X")
    stem = (first[0] + last[0]) if len(words) >= 2 else first[:2].ljust(2, "X")
    for extra in [*letters, *"ABCDEFGHIJKLMNOPQRSTUVWXYZ"]:
        yield stem + extra
        for more in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
            yield stem + extra + more


def _slug(name: str, email: str) -> str:
    words = [w.lower() for w in _ascii_words(name)] or [w.lower() for w in _ascii_words(email.partition("@")[0])]
    slug = "-".join(words)[:40].strip("-") or "operator"
    return slug if slug[0].isalnum() else f"op-{slug}"[:40]


def operators_draft(authors: Iterable[tuple[str, str, int]]) -> str | None:
    """The draft operators.yaml (issue-3 format) for these git authors, or None when there are none."""
    people: dict[str, dict[str, Any]] = {}  # by case-folded name: one person, several emails
    for name, email, _count in authors:
        if _is_bot(name, email):
            continue
        person = people.setdefault(name.casefold(), {"name": name, "emails": []})
        if email.casefold() not in (e.casefold() for e in person["emails"]):
            person["emails"].append(email)
    if not people:
        return None
    slugs: set[str] = set()
    initials: set[str] = set()
    entries = []
    for person in people.values():
        slug = base = _slug(person["name"], person["emails"][0])
        n = 2
        while slug in slugs:
            slug = f"{base[:37]}-{n}"
            n += 1
        slugs.add(slug)
        mark = next(c for c in _initials_candidates(person["name"], person["emails"][0])
                    if 2 <= len(c) <= 4 and c not in initials)
        initials.add(mark)
        entries.append((slug, mark, person["name"], person["emails"]))
    lines = [
        "# DRAFT written by baton's installer from this repository's git authors: edit it, then delete these",
        "# DRAFT lines. Keep only the people who work here with Claude Code, fix names and initials, and",
        "# give each person every email they commit or run Claude Code with.",
        "#   slug      lowercase letters, digits, hyphens: the `operator:` of notes, and $OPERATOR",
        "#   initials  2-4 uppercase letters, unique: the prefix of session ids (AL-260511-01)",
        "#   emails    matched case-insensitively",
        "# After editing, regenerate the per-operator commands: ./.baton/scripts/py .baton/scripts/session.py wrappers",
        "version: 1",
        "operators:",
    ]
    for slug, mark, name, emails in entries:
        lines += [f"  - slug: {slug}", f"    initials: {mark}", f"    name: {json.dumps(name, ensure_ascii=False)}",
                  "    emails:", *(f"      - {json.dumps(e, ensure_ascii=False)}" for e in emails)]
    return "\n".join(lines) + "\n"


