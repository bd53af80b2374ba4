"""Where things live: the repository root, the store's folders, the state folder.

The layout is a contract (docs/conventions/frontmatter.md); every module asks here
rather than joining path strings itself.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import NamedTuple

from lib.core.layout import KINDS, SKIPPED_NAMES, STATE_DIR, STORE_FOLDERS

__all__ = ["INSTALLED_LAUNCHER", "KINDS", "LAUNCHER", "SKIPPED_NAMES", "STATE_DIR", "STORE_FOLDERS", "Store",
           "find_root", "is_safe_slug", "kind_for_relpath", "launcher_in"]

# How a repository's command files and messages call baton's helpers: baton's own checkout, and a
# repository baton was installed into (its scripts under .baton/).
LAUNCHER = "./scripts/py scripts/"
INSTALLED_LAUNCHER = "./.baton/scripts/py .baton/scripts/"

_SAFE_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


class Store(NamedTuple):
    # a NamedTuple, not a frozen dataclass: building the dataclass costs ~10 ms of every command's start-up
    root: Path

    def folder(self, kind: str) -> Path:
        return self.root / STORE_FOLDERS[kind]

    @property
    def sessions(self) -> Path:
        return self.folder("session")

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    def note_paths(self, kinds: tuple[str, ...] = KINDS) -> list[Path]:
        """Every note of the given kinds, sorted; templates and indexes excluded."""
        found: list[Path] = []
        for kind in kinds:
            folder = self.folder(kind)
            if not folder.is_dir():
                continue
            for entry in os.scandir(folder):
                if entry.name.endswith(".md") and entry.name not in SKIPPED_NAMES and entry.is_file():
                    found.append(Path(entry.path))
        found.sort()
        return found

    def kind_of(self, path: Path) -> str | None:
        """The kind a path's folder implies, or None when it is outside the store."""
        try:
            rel = path.resolve().relative_to(self.root.resolve())
        except ValueError:
            return None
        parent = rel.parent.as_posix()
        for kind, folder in STORE_FOLDERS.items():
            if parent == folder:
                return kind
        return None


def kind_for_relpath(relpath: str) -> str | None:
    """The kind implied by a repository-relative POSIX path, or None."""
    parent, _, name = relpath.rpartition("/")
    if not name.endswith(".md") or name in SKIPPED_NAMES:
        return None
    for kind, folder in STORE_FOLDERS.items():
        if parent == folder:
            return kind
    return None


def find_root(start: Path | None = None) -> Path:
    """The repository root: $CLAUDE_PROJECT_DIR, else git's top level, else the current folder."""
    env = os.environ.get("CLAUDE_PROJECT_DIR")
    if env:
        return Path(env).resolve()
    here = (start or Path.cwd()).resolve()
    from lib.core import git  # paths is imported by hooks that never need git

    return git.toplevel(here) or here


def is_safe_slug(value: str) -> bool:
    """A slug that can be a file name: lowercase, no separators, no leading dot."""
    return bool(_SAFE_SLUG.match(value)) and ".." not in value


def launcher_in(root: Path) -> str:
    """How a person runs a baton helper in the repository at `root`: what the launcher that started us
    says ($BATON_HELPER_PREFIX, e.g. `baton ` from the plugin), else the launcher that exists there."""
    told = os.environ.get("BATON_HELPER_PREFIX")
    if told:
        return told
    return INSTALLED_LAUNCHER if (root / ".baton" / "scripts" / "py").is_file() else LAUNCHER
