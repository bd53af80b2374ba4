"""Conflict markers a clone without baton's merge driver left in the files the driver merges.

`vault.py check` names each such file; `vault.py fix` merges it as the driver would have (the Session
Log and changelog as ordered unions, the generated files regenerated afterwards) and says what is left
for git: `git add` the files, then finish the merge or rebase.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lib.core import atomic
from lib.vault.merge import conflict_lines, resolve_conflicts


@dataclass
class Repair:
    fixed: list[str] = field(default_factory=list)
    left: list[tuple[str, int]] = field(default_factory=list)  # (path, first marker line) not repaired


def candidates(root: Path) -> list[str]:
    """The files the merge driver is registered for (repository-relative)."""
    found = [rel for rel in ("CHANGELOG.md", "INDEX.md", "docs/sessions/INDEX.md", "workstreams/INDEX.md")
             if (root / rel).is_file()]
    for folder in ("workstreams", "docs/maps"):
        path = root / folder
        if path.is_dir():
            found += sorted(f"{folder}/{p.name}" for p in path.glob("*.md") if p.is_file() and not p.is_symlink())
    return sorted(set(found))


def find(root: Path) -> list[tuple[str, int]]:
    """(path, first marker line) of every such file with conflict markers."""
    out = []
    for rel in candidates(root):
        text = _read(root / rel)
        lines = conflict_lines(text) if text is not None else []
        if lines:
            out.append((rel, lines[0]))
    return out


def repair(root: Path) -> Repair:
    """Merge away the markers git left, where baton knows how; the rest stays for the user."""
    report = Repair()
    for rel, line in find(root):
        text = _read(root / rel)
        resolved = resolve_conflicts(rel, text) if text is not None else None
        if resolved is None:
            report.left.append((rel, line))
            continue
        atomic.write_text(root / rel, resolved)
        report.fixed.append(rel)
    return report


def _read(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None



def repair_store(root: Path) -> Repair:
    """`repair` over the store: the indexes' rows merge in the order the generator writes them, so a merged
    index is the one `regen-index` would write from the merged notes."""
    return repair(root)
