"""Steps 6 and 7: stage exactly the handoff's files, commit them alone, push.

- `git commit --only -- <paths>`: whatever the user had staged stays staged and out of the
  handoff's commit.
- Two handoffs in one repository take turns on a lock in the git directory instead of
  failing on `index.lock`; a git command that still meets a busy index (an editor's
  `git status`) is retried with backoff.
- Before pushing, the remote is fetched; if it already holds a note with this id that did
  not come from this clone's history (another clone of the same operator claimed it
  offline), a free id is claimed, the note and its references are renamed, and the
  handoff's commit is amended (or, when it is no longer HEAD, a rename commit is added).
- A push that fails says which way it failed, in one line; the local commit is kept.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import Timeout

from lib.core import atomic
from lib.core import git as gitcmd
from lib.core.errors import BatonError
from lib.core.git import GitResult
from lib.core.paths import STATE_DIR, STORE_FOLDERS
from lib.handoff import identity, indexes, worklog
from lib.handoff import manifest as manifests
from lib.store import frontmatter

LOCK_NAME = "baton-handoff.lock"
MAX_RENAMES = 5


@dataclass
class Settings:
    lock_timeout_s: float = 300.0
    git_retry_attempts: int = 10
    git_retry_base_s: float = 0.1
    network_timeout_s: float = 120.0

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
    if (indexes.SESSIONS_INDEX in paths or indexes.WORKSTREAMS_INDEX in paths) and indexes.is_stale(root):
        indexes.regen_indexes(root)


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

def _current_branch(root: Path) -> str | None:
    result = gitcmd.run(root, "symbolic-ref", "-q", "--short", "HEAD")
    return result.stdout.strip() if result.ok else None


push_target = gitcmd.push_target


def _failure(kind: str, remote: str, branch: str, sha: str | None, detail: str) -> PushError:
    kept = f"the commit {sha[:12]} is kept locally" if sha else "nothing was committed"
    where = f"{remote}/{branch}"
    messages = {
        gitcmd.NON_FAST_FORWARD: f"push rejected: {where} has commits this clone does not have; "
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
    timeout = settings.network_timeout_s
    fetched = gitcmd.run(root, "fetch", "-q", remote, timeout=timeout)
    if not fetched.ok:
        kind = gitcmd.classify_remote_failure(fetched)
        result.push_error = _failure(kind, remote, remote_branch, result.commit, fetched.last_line())
        return
    for _ in range(MAX_RENAMES):
        if not remote_collision(root, remote, result.id):
            break
        _rename_after_collision(root, result, settings)
    else:
        raise BatonError(f"{result.id}: still colliding with {remote} after {MAX_RENAMES} new ids")
    pushed = gitcmd.run(root, "push", remote, f"HEAD:refs/heads/{remote_branch}", timeout=timeout)
    if not pushed.ok:
        kind = gitcmd.classify_remote_failure(pushed)
        result.push_error = _failure(kind, remote, remote_branch, result.commit, pushed.last_line())
        return
    result.pushed = True


# ----------------------------------------------------------------- remote id collision

def remote_collision(root: Path, remote: str, session_id: str) -> bool:
    """Whether a branch of `remote` holds this note in a version that did not come from our history."""
    rel = f"{STORE_FOLDERS['session']}/{session_id}.md"
    refs = gitcmd.run(root, "for-each-ref", "--format=%(refname)", f"refs/remotes/{remote}/").stdout.split()
    for ref in refs:
        if ref.endswith("/HEAD") or not gitcmd.run(root, "cat-file", "-e", f"{ref}:{rel}").ok:
            continue
        last = gitcmd.run(root, "log", "-1", "--format=%H", ref, "--", rel).stdout.strip()
        if not last or not gitcmd.run(root, "merge-base", "--is-ancestor", last, "HEAD").ok:
            return True
    return False


def _restamp(doc: frontmatter.Document) -> None:
    if "content_hash" in doc:
        doc.stamp_content_hash()


def rename_session(root: Path, old: str, new_claim: identity.Claim) -> manifests.Manifest:
    """Move the note to the new id, and point the workstream log, learnings, indexes, changelog entry,
    transcript archive and vault links at it."""
    from lib import vault
    from lib.handoff import changelog, transcripts

    new = new_claim.id
    old_path = identity.note_path(root, old)
    doc = frontmatter.load_document(old_path, kind="session")
    doc.set("external_id", new)
    archived = transcripts.rename_archive(root, old, new)
    if archived is not None and doc.get("transcript_archive") == f"{old}.jsonl.gz":
        doc.set("transcript_archive", archived)
    doc.stamp_content_hash()
    doc.save(new_claim.path)
    old_path.unlink()
    record = manifests.load(root, old)
    for rel in record.paths:
        folder = rel.rpartition("/")[0]
        if folder == STORE_FOLDERS["workstream"] and not rel.endswith("/INDEX.md"):
            worklog.rename_entry(root, rel, old, new)
        elif folder == STORE_FOLDERS["learning"]:
            learning = frontmatter.load_document(root / rel, kind="learning")
            if learning.get("session") == old:
                learning.set("session", new)
                _restamp(learning)
                learning.save(root / rel)
    if changelog.FILENAME in record.paths:
        changelog.rename_entry(root, old, new)
    vault.rename_session_references(
        root, old, new, [rel for rel in record.paths if rel.startswith(STORE_FOLDERS["adr"] + "/")])
    renamed = manifests.rename(root, old, new)
    if any(rel == vault.INDEX_FILE or rel.startswith(vault.MAPS_DIR + "/") for rel in renamed.paths):
        # The link step ran: the maps, INDEX.md and links lines name the old id until fixed again.
        report = vault.fix_session(root, new)
        for rel in (*report.created, *report.changed):
            renamed.add(rel)
        manifests.save(root, renamed)
    _refresh_indexes(root, renamed.paths)
    return renamed


def _rename_after_collision(root: Path, result: CommitResult, settings: Settings) -> None:
    old = result.id
    meta = _note_meta(root, old)
    operator = identity.Operator(str(meta.get("operator")), old.split("-", 1)[0], "claim")
    day = meta.get("date") if isinstance(meta.get("date"), dt.date) else None
    new_claim = identity.claim(root, operator, day=day)
    record_before = manifests.load(root, old)
    renamed = rename_session(root, old, new_claim)
    old_rel = identity.note_path(root, old).relative_to(root).as_posix()
    paths = [*renamed.paths, old_rel]
    title = str(meta.get("title") or "")
    head = _head(root)
    if record_before.commit and head == record_before.commit:
        # Not pushed yet (the remote does not have it) and still HEAD: rewrite it, so the old id never
        # reaches the remote's history and a later rebase has nothing to conflict on.
        _commit_paths(root, settings, paths, commit_message(new_claim.id, title), amend=True)
    else:
        _commit_paths(root, settings, paths, f"handoff: {new_claim.id} renamed from {old} (id taken on the remote)")
        result.warnings.append(f"{old} was renamed in a separate commit: the handoff commit is no longer HEAD")
    renamed.commit = _head(root)
    manifests.save(root, renamed)
    result.renamed_from.append(old)
    result.id, result.commit, result.committed = new_claim.id, renamed.commit, True
    result.files = renamed.paths
    result.warnings.append(f"{old} already exists on the remote (claimed by another clone): renamed to {new_claim.id}")
