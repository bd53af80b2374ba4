"""Registering baton's merge driver in a clone: `.gitattributes` lines plus `git config merge.baton.*`.

The attributes are committed (every clone reads them); the driver command is per clone (git never
takes commands from a repository's files), so `setup.sh` registers it in each clone. A clone that
skipped set-up merges those files with git's ordinary line merge: a conflict git explains, which
`vault.py fix` repairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lib.core import atomic, git
from lib.core.errors import BatonError

NAME = "baton"
BEGIN = "# baton: generated files and logs merge without a hand merge (scripts/merge_driver.py)"
END = "# end of baton's merge attributes"
_LEGACY = "CHANGELOG.md merge=union"
# The files lib.vault.merge knows how to merge (docs/conventions/handoff.md, "Merging teammates' handoffs").
ATTRIBUTE_PATTERNS = (
    "/INDEX.md",
    "/CHANGELOG.md",
    "/docs/sessions/INDEX.md",
    "/docs/maps/*.md",
    "/workstreams/*.md",
)


@dataclass(frozen=True)
class Registration:
    attributes: str  # added | updated | unchanged
    config: str      # set | unchanged
    driver: str

    def as_dict(self) -> dict[str, str]:
        return {"attributes": self.attributes, "config": self.config, "driver": self.driver}


def driver_command(scripts: str = "scripts") -> str:
    """What git runs (from the top of the working tree): `scripts` is where baton's scripts live."""
    return f"{scripts}/py {scripts}/merge_driver.py merge %O %A %B %P"


def attributes_block() -> str:
    lines = [BEGIN, *(f"{pattern} merge={NAME}" for pattern in ATTRIBUTE_PATTERNS), END]
    return "\n".join(lines) + "\n"


def with_attributes(text: str) -> str:
    """`.gitattributes` text with baton's block in place (replacing an earlier one and the old union line)."""
    lines = text.splitlines()
    if BEGIN in lines and END in lines[lines.index(BEGIN):]:
        start = lines.index(BEGIN)
        end = lines.index(END, start)
        del lines[start:end + 1]
    lines = [line for line in lines if line.strip() != _LEGACY]
    while lines and not lines[-1].strip():
        lines.pop()
    head = "\n".join(lines)
    return (head + "\n\n" if head else "") + attributes_block()


def _git(repo: Path, *args: str) -> git.GitResult:
    return git.run(repo, *args, env=git.ELSEWHERE)


def register(repo: Path, scripts: str = "scripts", *, dry_run: bool = False) -> Registration:
    """Put the attributes in `repo/.gitattributes` and the driver in this clone's git config (idempotent)."""
    if _git(repo, "rev-parse", "--git-dir").returncode != 0:
        raise BatonError(f"{repo}: not a git repository")
    path = repo / ".gitattributes"
    try:
        current = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        current = None
    wanted = with_attributes(current or "")
    attributes = "unchanged" if current == wanted else ("added" if current is None or BEGIN not in current
                                                         else "updated")
    if attributes != "unchanged" and not dry_run:
        atomic.write_text(path, wanted)
    command = driver_command(scripts)
    keys = {f"merge.{NAME}.name": "baton: union of Session Logs and changelog entries, regenerated indexes",
            f"merge.{NAME}.driver": command}
    config = "unchanged"
    for key, value in keys.items():
        if _git(repo, "config", "--get", key).stdout.strip() != value:
            config = "set"
            if not dry_run:
                result = _git(repo, "config", key, value)
                if result.returncode != 0:
                    raise BatonError(f"git config {key} failed: {result.stderr.strip()}")
    return Registration(attributes, config, command)


def install_step(repo: Path, scripts: str, dry_run: bool) -> tuple[str, str]:
    """(action, note) for the installer's report: the attributes and this clone's driver registered."""
    result = register(repo, scripts, dry_run=dry_run)
    action = "unchanged" if (result.attributes, result.config) == ("unchanged", "unchanged") else "installed"
    return action, f"merge=baton for the Session Logs, CHANGELOG.md and generated indexes ({result.driver})"


def without_attributes(text: str) -> str:
    """`.gitattributes` text with baton's block taken out."""
    lines = text.splitlines()
    if BEGIN not in lines or END not in lines[lines.index(BEGIN):]:
        return text
    start = lines.index(BEGIN)
    end = lines.index(END, start)
    del lines[start:end + 1]
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines) + "\n" if lines else ""


def unregister(repo: Path, *, dry_run: bool = False) -> str:
    """Take baton's block out of `.gitattributes` (the file goes when nothing else is left in it) and the
    driver out of this clone's git config: 'removed' or 'not installed'."""
    path = repo / ".gitattributes"
    try:
        current: str | None = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        current = None
    configured = bool(_git(repo, "config", "--get", f"merge.{NAME}.driver").stdout.strip())
    if (current is None or BEGIN not in current) and not configured:
        return "not installed"
    if not dry_run:
        if current is not None and BEGIN in current:
            remaining = without_attributes(current)
            if remaining.strip():
                atomic.write_text(path, remaining)
            else:
                path.unlink()
        if configured:
            _git(repo, "config", "--remove-section", f"merge.{NAME}")
    return "removed"


def is_registered(repo: Path) -> bool:
    return bool(_git(repo, "config", "--get", f"merge.{NAME}.driver").stdout.strip())
