"""A chain in its own git worktree: branch `baton/<chain id>`, beside the person working in the main checkout.

Lifecycle: `plan` names the folder (in the state home, outside the project) and the
branch; `ensure` creates the worktree from the main checkout's HEAD when the chain
starts, and on resume reuses it (or re-adds it for the branch if the folder was
removed); `finish` removes the folder when the chain ended `done` and its branch is
pushed, and never while it holds uncommitted or unpushed work (the branch always
stays). Everything goes through `git worktree`, so `git worktree list` shows it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lib.chains.registry import ChainRecord, Registry, project_key
from lib.core import git
from lib.core.errors import BatonError

BRANCH_PREFIX = "baton/"


def _git(cwd: Path, *args: str, check: bool = True) -> git.GitResult:
    proc = git.run(cwd, *args, timeout=120, env=git.ELSEWHERE)
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise BatonError(f"git {' '.join(args[:2])} in {cwd}: {detail[-1] if detail else proc.returncode}")
    return proc


def plan(registry: Registry, project_dir: Path, chain_id: str) -> dict[str, Any]:
    """Where the chain's worktree goes and its branch; nothing is created yet."""
    top = _git(project_dir, "rev-parse", "--show-toplevel", check=False)
    if top.returncode != 0:
        raise BatonError(f"{project_dir}: --worktree needs a git repository")
    if project_key(top.stdout.strip()) != project_key(project_dir):
        raise BatonError(f"{project_dir}: --worktree runs from the top of the repository ({top.stdout.strip()})")
    base = _git(project_dir, "rev-parse", "--verify", "HEAD", check=False)
    if base.returncode != 0:
        raise BatonError(f"{project_dir}: --worktree needs a first commit to branch from")
    path = registry.home / "worktrees" / chain_id
    return {"path": str(path), "branch": BRANCH_PREFIX + chain_id, "base": base.stdout.strip()}


def ensure(project_dir: Path, tree: dict[str, Any]) -> Path:
    """The worktree, created (or re-added for its branch) when missing."""
    path = Path(tree["path"])
    branch = str(tree["branch"])
    if (path / ".git").exists():
        head = _git(path, "symbolic-ref", "--quiet", "--short", "HEAD", check=False).stdout.strip()
        if head != branch:
            raise BatonError(f"{path}: the chain's worktree is on {head or 'a detached HEAD'}, not {branch}")
        return path
    _git(project_dir, "worktree", "prune")
    path.parent.mkdir(parents=True, exist_ok=True)
    exists = _git(project_dir, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False)
    if exists.returncode == 0:
        _git(project_dir, "worktree", "add", "--quiet", str(path), branch)
    else:
        _git(project_dir, "worktree", "add", "--quiet", "-b", branch, str(path), str(tree.get("base") or "HEAD"))
    return path


def uncommitted(path: Path) -> list[str]:
    out = _git(path, "status", "--porcelain", "--untracked-files=normal", check=False)
    return [line for line in out.stdout.splitlines() if line.strip()]


def pushed(path: Path) -> bool:
    """Whether the branch's upstream has everything the branch has."""
    upstream = _git(path, "rev-parse", "--verify", "--quiet", "@{upstream}", check=False)
    if upstream.returncode != 0:
        return False
    ahead = _git(path, "rev-list", "--count", "@{upstream}..HEAD", check=False)
    return ahead.returncode == 0 and ahead.stdout.strip() == "0"


def finish(chain: ChainRecord) -> str:
    """At the end of a chain: remove its worktree when that loses nothing; what was done, in words."""
    tree = chain.worktree or {}
    path = Path(str(tree.get("path") or ""))
    if not tree or not (path / ".git").exists():
        return "already gone"
    if chain.status != "done":
        tree["kept"] = f"chain ended {chain.status}"
        return f"kept at {path} (chain ended {chain.status}; `run --resume` continues in it)"
    dirty = uncommitted(path)
    if dirty:
        tree["kept"] = f"{len(dirty)} uncommitted changes"
        return f"kept at {path}: {len(dirty)} uncommitted changes"
    if not pushed(path):
        tree["kept"] = "branch not pushed"
        return f"kept at {path}: branch {tree.get('branch')} is not pushed (--auto-push pushes it)"
    _git(Path(chain.project_dir), "worktree", "remove", str(path))
    tree["removed"] = True
    tree.pop("kept", None)
    return f"removed {path}; branch {tree.get('branch')} is pushed"
