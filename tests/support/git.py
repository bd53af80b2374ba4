"""Real git repositories for tests: the `git` runner, a store repository, a bare remote."""

from __future__ import annotations

import subprocess
from pathlib import Path

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
}

STORE_FOLDERS = ("docs/sessions", "workstreams", "plans", "docs/adr", "docs/learnings", ".claude/state")


def git(cwd: Path, *args: str, check: bool = True) -> str:
    """Run git in `cwd` (unsigned commits, `main` as the first branch); its stdout, or AssertionError on failure."""
    result = subprocess.run(
        ["git", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", *args],
        cwd=cwd, capture_output=True, text=True,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {result.stderr}")
    return result.stdout


def init_repo(root: Path, *, folders: tuple[str, ...] = STORE_FOLDERS) -> Path:
    """An empty git repository at `root` with a pinned identity and the store folders."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q")
    git(root, "config", "user.email", "author@example.com")
    git(root, "config", "user.name", "Test Author")
    git(root, "config", "commit.gpgsign", "false")
    for folder in folders:
        (root / folder).mkdir(parents=True, exist_ok=True)
    return root


def add_bare_remote(root: Path, bare: Path, *, name: str = "origin", push: bool = True) -> Path:
    """A bare repository at `bare`, added to `root` as remote `name` (and `main` pushed to it)."""
    git(bare.parent, "init", "-q", "--bare", bare.name)
    git(root, "remote", "add", name, str(bare))
    if push:
        git(root, "push", "-q", "-u", name, "main")
    return bare
