"""Installing baton's git hooks next to whatever hook a repository already has.

A foreign hook is kept as `<hook>.legacy` and still run first (its failure
stops the commit, as it would have without us); our shim carries a marker so a
re-install recognises it and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lib.core import atomic, git
from lib.core.errors import BatonError

MARKER = "# baton-managed-hook v1"


@dataclass(frozen=True)
class HookInstall:
    hook: Path
    action: str  # installed | unchanged | updated | installed (kept foreign hook as .legacy)
    legacy: Path | None = None


def hooks_dir(repo: Path) -> Path:
    """The hooks folder git uses for this repository (honours core.hooksPath and worktrees)."""
    result = git.run(repo, "rev-parse", "--git-path", "hooks", env=git.ELSEWHERE)
    out = result.stdout.strip()
    if not result.ok or not out:
        raise BatonError(f"{repo}: not a git repository")
    path = Path(out)
    return path if path.is_absolute() else (repo / path)


def shim(name: str, target: str) -> str:
    """The hook file we install: run the kept foreign hook, then ours (`target`, relative to the repo root)."""
    return f"""#!/bin/sh
{MARKER}
# Installed by baton (scripts/install_git_hook.py); re-running the installer is safe.
legacy="$(dirname "$0")/{name}.legacy"
if [ -x "$legacy" ]; then
    "$legacy" "$@" || exit $?
fi
root=$(git rev-parse --show-toplevel) || exit 0
if [ -x "$root/{target}" ]; then
    exec "$root/{target}" "$@"
fi
exit 0
"""


def is_ours(path: Path) -> bool:
    try:
        return MARKER in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def install(repo: Path, name: str = "pre-commit", target: str = "scripts/hooks/pre-commit") -> HookInstall:
    folder = hooks_dir(repo)
    folder.mkdir(parents=True, exist_ok=True)
    hook = folder / name
    legacy = folder / f"{name}.legacy"
    content = shim(name, target)
    if hook.exists() or hook.is_symlink():
        if is_ours(hook):
            if hook.read_text(encoding="utf-8") == content:
                return HookInstall(hook, "unchanged", legacy if legacy.exists() else None)
            atomic.write_text(hook, content, mode=0o755)
            return HookInstall(hook, "updated", legacy if legacy.exists() else None)
        if legacy.exists():
            raise BatonError(f"{hook} is not baton's and {legacy} already exists: merge them by hand, then re-run")
        hook.rename(legacy)
        atomic.write_text(hook, content, mode=0o755)
        return HookInstall(hook, "installed (kept the existing hook as .legacy, still run first)", legacy)
    atomic.write_text(hook, content, mode=0o755)
    return HookInstall(hook, "installed")


def uninstall(repo: Path, name: str = "pre-commit") -> str:
    folder = hooks_dir(repo)
    hook = folder / name
    legacy = folder / f"{name}.legacy"
    if not is_ours(hook):
        return "not installed"
    hook.unlink()
    if legacy.exists():
        legacy.rename(hook)
        return "removed (restored the previous hook)"
    return "removed"
