"""Steps 6 and 7: stage exactly the handoff's files, commit them alone, push.

- `git commit --only -- <paths>`: whatever the user had staged stays staged and out of the
  handoff's commit.
- Two handoffs in one repository take turns on a lock in the git directory instead of
  failing on `index.lock`; a git command that still meets a busy index (an editor's
  `git status`) is retried with backoff.
- Pushing goes through `lib.handoff.integrate`: fetch, re-check every note this clone has
  not pushed yet against every remote branch (re-claiming colliding ids), replay the handoff
  commits on the upstream when it moved, push, and start again with a jittered backoff when
  another clone pushed first.
- A push that fails says which way it failed, in one line; the local commit is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import Timeout

from lib.core import atomic
from lib.core import git as gitcmd
from lib.core.errors import BatonError
from lib.core.git import GitResult
from lib.core.paths import STATE_DIR
from lib.handoff import identity, integrate, listings
from lib.handoff import manifest as manifests

LOCK_NAME = "baton-handoff.lock"


@dataclass
class Settings:
    lock_timeout_s: float = 300.0
    git_retry_attempts: int = 10
    git_retry_base_s: float = 0.1
    network_timeout_s: float = 120.0
    push_attempts: int = 8
    push_retry_base_s: float = 0.5
    push_retry_cap_s: float = 8.0

    def push_policy(self) -> integrate.Policy:
        return integrate.Policy(self.push_attempts, self.push_retry_base_s, self.push_retry_cap_s,
                                self.network_timeout_s)

    @classmethod
    def from_config(cls, settings: dict[str, Any]) -> Settings:
        section = settings.get("handoff") or {}
        return cls(**{k: section[k] for k in cls.__dataclass_fields__ if k in section})


@dataclass
class PushError:
    kind: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message}


@dataclass
class CommitResult:
    id: str
    commit: str | None = None
    committed: bool = False
    files: list[str] = field(default_factory=list)
    pushed: bool = False
    remote: str | None = None
    branch: str | None = None
    renamed_from: list[str] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)
    push_attempts: int = 0
    push_error: PushError | None = None
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["push_error"] = self.push_error.as_dict() if self.push_error else None
        return out


@dataclass
class StageResult:
    id: str
    paths: list[str]
    staged_by_user: list[str]
    unrelated_changes: list[str]
    preexisting_changes: list[str]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# ----------------------------------------------------------------- helpers

def git_dir(root: Path) -> Path:
    out = gitcmd.check(root, "rev-parse", "--git-common-dir").strip()
    path = Path(out)
    return path if path.is_absolute() else (root / path).resolve()


def _retrying(root: Path, settings: Settings, *args: str) -> GitResult:
    return gitcmd.run_retrying(root, *args, attempts=settings.git_retry_attempts, base_s=settings.git_retry_base_s)


def _must(result: GitResult, what: str) -> None:
    if not result.ok:
        raise BatonError(f"{what} failed: {result.last_line()}")


def _paths_of(root: Path, session_id: str) -> tuple[manifests.Manifest, list[str]]:
    record = manifests.load(root, session_id)
    if not record.paths:
        raise BatonError(f"{session_id}: the handoff wrote no files yet (run write-session first)")
    for rel in record.paths:
        if rel.startswith("/") or ".." in Path(rel).parts:
            raise BatonError(f"{manifests.path_for(root, session_id)}: unsafe path {rel!r}")
    return record, list(record.paths)


def _note_meta(root: Path, session_id: str) -> dict[str, Any]:
    path = identity.note_path(root, session_id)
    meta = identity.read_stub(path)
    if meta is None:
        raise BatonError(f"{path.relative_to(root)}: no such note")
    if meta.get("status") != "written":
        raise BatonError(f"{path.relative_to(root)}: still a claim stub (run write-session first)")
    return meta


def commit_message(session_id: str, title: str) -> str:
    return f"handoff: {session_id} {' '.join(title.split())}".rstrip()


def _porcelain(root: Path, *pathspec: str) -> list[tuple[str, str]]:
    """(XY status, path) of `git status --porcelain`, untracked files included."""
    result = gitcmd.run(root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *pathspec)
    if not result.ok:
        raise BatonError(f"git status failed: {result.last_line()}")
    entries, parts = [], result.stdout.split("\0")
    i = 0
    while i < len(parts):
        item = parts[i]
        i += 1
        if len(item) < 4:
            continue
        status, path = item[:2], item[3:]
        if status[0] in "RC":
            i += 1  # the rename's source follows
        entries.append((status, path))
    return entries


# ----------------------------------------------------------------- stage

def stage(root: Path, session_id: str, settings: Settings) -> StageResult:
    """`git add` the handoff's files, and list everything else that is dirty (left alone)."""
    record, recorded = _paths_of(root, session_id)
    paths = _present(root, recorded)
    if paths:
        _must(_retrying(root, settings, "add", "-A", "--", *paths), "git add")
    mine = set(recorded)
    staged_by_user, unrelated = [], []
    for status, path in _porcelain(root):
        if path in mine or path.startswith(f"{STATE_DIR}/"):
            continue  # machine-local state is never part of a commit
        if status[0] not in " ?":
            staged_by_user.append(path)
        else:
            unrelated.append(path)
    return StageResult(session_id, paths, sorted(staged_by_user), sorted(unrelated),
                       list(record.preexisting_changes))


# ----------------------------------------------------------------- commit

def _head(root: Path) -> str | None:
    result = gitcmd.run(root, "rev-parse", "--verify", "-q", "HEAD")
    return result.stdout.strip() if result.ok else None


def _present(root: Path, paths: list[str]) -> list[str]:
    """The paths git can take: files that exist, or tracked files that were removed (a rename)."""
    missing = [p for p in paths if not (root / p).exists()]
    if not missing:
        return paths
    tracked = set(gitcmd.run(root, "ls-files", "--", *missing).stdout.splitlines())
    return [p for p in paths if p not in missing or p in tracked]


def _commit_paths(root: Path, settings: Settings, paths: list[str], message: str, *, amend: bool = False) -> bool:
    """Commit exactly `paths`; False when none of them has a change to commit."""
    paths = _present(root, paths)
    if not paths:
        return False
    _must(_retrying(root, settings, "add", "-A", "--", *paths), "git add")
    if not _porcelain(root, *paths) and not amend:
        return False
    args = ["commit", "-q", "--only", "-m", message]
    if amend:
        args.insert(2, "--amend")
    result = _retrying(root, settings, *args, "--", *paths)
    if not result.ok:
        detail = result.last_line()
        raise BatonError(f"git commit failed: {detail} (the handoff's files are written and staged)")
    return True


def _refresh_indexes(root: Path, paths: list[str]) -> None:
    """Bring the handoff's indexes up to date with notes written since (another handoff's, a rename)."""
    if (listings.SESSIONS_INDEX in paths or listings.WORKSTREAMS_INDEX in paths) and listings.is_stale(root):
        listings.regen_indexes(root)


def commit(root: Path, session_id: str, *, push: bool, settings: Settings) -> CommitResult:
    identity.note_path(root, session_id)  # validates the id before it touches a path
    lock = git_dir(root) / LOCK_NAME
    try:
        with atomic.locked(lock, timeout=settings.lock_timeout_s):
            return _commit_locked(root, session_id, push=push, settings=settings)
    except Timeout:
        raise BatonError(
            f"another handoff has held {lock} for over {settings.lock_timeout_s:g} s; try again when it is done"
        ) from None


def _commit_locked(root: Path, session_id: str, *, push: bool, settings: Settings) -> CommitResult:
    meta = _note_meta(root, session_id)
    record, paths = _paths_of(root, session_id)
    result = CommitResult(id=session_id, files=paths)
    if record.preexisting_changes:
        result.warnings.append(
            "committed with the user's own uncommitted changes in: " + ", ".join(record.preexisting_changes))
    _refresh_indexes(root, paths)
    message = commit_message(session_id, str(meta.get("title") or ""))
    result.committed = _commit_paths(root, settings, paths, message)
    if result.committed:
        record.commit = _head(root)
        manifests.save(root, record)
    result.commit = record.commit or _head(root)
    if push:
        _push(root, result, settings)
    return result


# ----------------------------------------------------------------- push

def push_branch(root: Path, settings: Settings) -> CommitResult:
    """Push this clone's branch as `commit --push` does (integrate, re-check every unpushed note, replay,
    retry), under the handoff lock: the chain runner's auto-push."""
    lock = git_dir(root) / LOCK_NAME
    result = CommitResult(id="", commit=_head(root))
    try:
        with atomic.locked(lock, timeout=settings.lock_timeout_s):
            _push(root, result, settings)
    except Timeout:
        raise BatonError(
            f"another handoff has held {lock} for over {settings.lock_timeout_s:g} s; try again when it is done"
        ) from None
    return result


def _current_branch(root: Path) -> str | None:
    result = gitcmd.run(root, "symbolic-ref", "-q", "--short", "HEAD")
    return result.stdout.strip() if result.ok else None


push_target = gitcmd.push_target


def _failure(kind: str, remote: str, branch: str, sha: str | None, detail: str) -> PushError:
    kept = f"the commit {sha[:12]} is kept locally" if sha else "nothing was committed"
    where = f"{remote}/{branch}"
    messages = {
        gitcmd.NON_FAST_FORWARD: f"push rejected: {where} has commits this clone does not have ({detail}); "
                                 f"run `git pull --rebase` and push again; {kept}",
        gitcmd.AUTHENTICATION: f"authentication to {remote} failed ({detail}); fix your git credentials "
                               f"and run `git push`; {kept}",
        gitcmd.UNREACHABLE: f"cannot reach {remote} ({detail}); run `git push` when it is reachable; {kept}",
        gitcmd.TIMEOUT: f"{detail} talking to {remote}; run `git push` later; {kept}",
    }
    return PushError(kind, messages.get(kind, f"push to {where} failed ({detail}); {kept}"))


def _push(root: Path, result: CommitResult, settings: Settings) -> None:
    branch = _current_branch(root)
    if branch is None:
        result.push_error = PushError(
            gitcmd.DETACHED_HEAD,
            f"HEAD is detached (not on a branch), so nothing was pushed; the commit {str(result.commit)[:12]} is "
            "kept: `git switch -c NAME` (or check out your branch and cherry-pick it), then push",
        )
        return
    target = push_target(root, branch)
    if target is None:
        result.push_error = PushError(
            gitcmd.NO_REMOTE,
            f"no remote to push {branch} to: add one with `git remote add origin URL` and run `git push -u origin "
            f"{branch}`; the commit {str(result.commit)[:12]} is kept locally",
        )
        return
    remote, remote_branch = target
    result.remote, result.branch = remote, remote_branch
    outcome = integrate.integrate(root, remote, remote_branch, settings.push_policy())
    apply_outcome(result, outcome)


def apply_outcome(result: CommitResult, outcome: integrate.Outcome) -> None:
    """What the integration did, told in the handoff's result."""
    result.push_attempts = outcome.attempts
    result.warnings += outcome.warnings
    for old, new in outcome.renamed.items():
        result.renamed[old] = new
        if old == result.id:
            result.renamed_from.append(old)
            result.id = new
            result.files = [rel.replace(f"/{old}.md", f"/{new}.md") for rel in result.files]
        result.warnings.append(f"{old} already exists on the remote (claimed by another clone): renamed to {new}")
    if result.commit in outcome.commits:
        result.commit = outcome.commits[result.commit]
    if outcome.pushed:
        result.pushed = True
        return
    remote, branch = str(result.remote), str(result.branch)
    kind, detail = str(outcome.error_kind or gitcmd.OTHER), str(outcome.error_detail or "")
    if kind in (integrate.NEEDS_PULL, integrate.LOCAL_CHANGES, integrate.MERGE_CONFLICT):
        result.push_error = PushError(kind, f"not pushed: {detail}")
    else:
        result.push_error = _failure(kind, remote, branch, result.commit, detail)
