"""Facts from git through the git command line.

The pre-commit path uses the `git` CLI rather than GitPython on purpose: while a
hook runs, git sets GIT_INDEX_FILE (e.g. to a temporary index during
`git commit --only`), and only the CLI honours it. Never strip it here.
"""

from __future__ import annotations

from pathlib import Path

from lib.core import git
from lib.core.errors import BatonError
from lib.core.paths import kind_for_relpath


def _git(root: Path, *args: str, input: bytes | None = None) -> bytes:
    result = git.run_bytes(root, *args, input=input, env=git.HOOK)
    if not result.ok:
        err = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise BatonError(f"git {args[0]} failed: {err[0] if err else 'exit ' + str(result.returncode)}")
    return result.stdout


def staged_store_files(root: Path) -> list[tuple[str, bytes]]:
    """(path, staged content) of every added/copied/modified/renamed store note in the index."""
    names = _git(root, "diff", "--cached", "--name-only", "-z", "--diff-filter=ACMR")
    paths = [p for p in names.decode("utf-8", "surrogateescape").split("\0") if p and kind_for_relpath(p)]
    if not paths:
        return []
    request = "".join(f":{p}\n" for p in paths).encode("utf-8", "surrogateescape")
    out = _git(root, "cat-file", "--batch", input=request)
    files: list[tuple[str, bytes]] = []
    pos = 0
    for path in paths:
        header_end = out.index(b"\n", pos)
        header = out[pos:header_end].split()
        if len(header) < 3 or header[1] != b"blob":
            raise BatonError(f"git cat-file could not read staged {path}")
        size = int(header[2])
        start = header_end + 1
        files.append((path, out[start : start + size]))
        pos = start + size + 1  # the blob is followed by a newline
    return files


def is_work_tree(root: Path) -> bool:
    try:
        return _git(root, "rev-parse", "--is-inside-work-tree").strip() == b"true"
    except BatonError:
        return False
