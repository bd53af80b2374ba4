"""What `git status` says about this checkout, caches left out: tests must leave it as they found it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

# Written by running Python and the tools themselves, not by what a test does.
CACHES = ("__pycache__/", ".venv/", ".mypy_cache/", ".ruff_cache/", ".pytest_cache/", ".hypothesis/", ".cache/",
          ".egg-info/")
EXCLUDED = [f":(exclude,glob)**/{c.rstrip('/')}/**" for c in CACHES if not c.startswith(".egg")] + [
    ":(exclude,glob)**/*.egg-info/**"]

Entry = tuple[str, int, int]


def checkout_state(root: Path) -> dict[str, Entry]:
    """Every changed, untracked or ignored file of the checkout with its git status, size and mtime."""
    out = subprocess.run(["git", "status", "--porcelain=v1", "-z", "--ignored=traditional", "--untracked-files=all",
                          "--", ".", *EXCLUDED], cwd=root, capture_output=True, text=True, check=True).stdout
    state: dict[str, Entry] = {}
    for item in out.split("\0"):
        if len(item) < 4:
            continue
        code, name = item[:2], item[3:]
        if any(c in f"/{name}" or name.startswith(c) for c in CACHES):
            continue
        try:
            st = os.lstat(root / name)
            state[name] = (code, st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            state[name] = (code, -1, -1)
    return state


def changes(before: dict[str, Entry], after: dict[str, Entry]) -> list[str]:
    """What differs, one line a file."""
    lines = []
    for name in sorted(set(before) | set(after)):
        if before.get(name) != after.get(name):
            lines.append(f"{name}: {before.get(name, 'absent')} -> {after.get(name, 'absent')}")
    return lines
