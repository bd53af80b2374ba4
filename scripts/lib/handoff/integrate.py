"""Pushing handoffs to a remote many clones push to: integrate, re-check every unpushed note, push, repeat.

One attempt:

1. fetch the remote (every branch);
2. list the notes this clone has not pushed yet (added by commits no remote branch has) and check each
   against every remote branch: a note of the same id that did not come from this clone's history is a
   collision, and the note gets a freshly claimed id;
3. when the upstream moved on, or a note was re-claimed, replay the unpushed handoff commits on the
   upstream with git plumbing (lib/handoff/replay.py: each file merges three ways, every re-claimed id
   is carried through all the files of those commits, the generated indexes and maps are regenerated);
4. push that commit; when another clone won the race (non-fast-forward) start again after a jittered,
   bounded backoff; on success move the local branch to it with `git reset --keep`, which refuses
   rather than overwrite a file the user changed.

It never rewrites a commit that is not a handoff commit and never touches uncommitted work: when those
stand in the way it stops with one line saying what to do, and the local commits stay as they were.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from lib.core import git as gitcmd
from lib.core.errors import BatonError
from lib.core.paths import STATE_DIR, STORE_FOLDERS
from lib.handoff import identity, replay
from lib.handoff import manifest as manifests
from lib.store import frontmatter, sessionid

HANDOFF_PREFIX = "handoff: "
NEEDS_PULL = "needs_pull"
LOCAL_CHANGES = "local_changes"
MERGE_CONFLICT = "merge_conflict"
SESSIONS = STORE_FOLDERS["session"]
_NOTE_FILE = re.compile(rf"^(?P<id>{sessionid.PATTERN})\.md$")


@dataclass
class Policy:
    attempts: int = 8
    base_s: float = 0.5
    cap_s: float = 8.0
    network_timeout_s: float = 120.0

    def delay(self, attempt: int, rng: random.Random, took_s: float = 0.0) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2^(attempt-1))], the base at least as long as the
        attempt that lost took (the window other clones need to land theirs)."""
        return rng.uniform(0, min(self.cap_s, max(self.base_s, took_s) * 2 ** (attempt - 1)))


@dataclass
class Outcome:
    pushed: bool = False
    attempts: int = 0
    head: str | None = None
    renamed: dict[str, str] = field(default_factory=dict)
    commits: dict[str, str] = field(default_factory=dict)  # local commit -> the commit that landed
    replayed: int = 0
    error_kind: str | None = None
    error_detail: str | None = None
    warnings: list[str] = field(default_factory=list)


class _Stop(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class _Plan:
    commit: str
    renamed: dict[str, str] = field(default_factory=dict)
    commits: dict[str, str] = field(default_factory=dict)
    stubs: list[Path] = field(default_factory=list)


def _rev(root: Path, name: str) -> str | None:
    result = gitcmd.run(root, "rev-parse", "--verify", "-q", f"{name}^{{commit}}")
    return result.stdout.strip() if result.ok else None


def _lines(root: Path, *args: str) -> list[str]:
    result = gitcmd.run(root, *args)
    if not result.ok:
        raise BatonError(f"git {args[0]} failed: {result.last_line()}")
    return [line for line in result.stdout.splitlines() if line]


def _is_ancestor(root: Path, older: str, newer: str) -> bool:
    return gitcmd.run(root, "merge-base", "--is-ancestor", older, newer).ok


# ----------------------------------------------------------------- the loop

def integrate(root: Path, remote: str, branch: str, policy: Policy, *,
              sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None) -> Outcome:
    """Fetch, re-check, replay and push HEAD to `remote`/`branch` until it lands or cannot."""
    rng = rng or random.Random()
    out = Outcome()
    for attempt in range(1, max(1, policy.attempts) + 1):
        out.attempts = attempt
        began = time.monotonic()
        fetched = gitcmd.run(root, "fetch", "-q", remote, timeout=policy.network_timeout_s)
        if not fetched.ok:
            out.error_kind, out.error_detail = gitcmd.classify_remote_failure(fetched), fetched.last_line()
            return out
        head = _rev(root, "HEAD")
        if head is None:
            raise BatonError("nothing to push: this branch has no commit yet")
        try:
            plan = _plan(root, remote, branch, head)
        except _Stop as stop:
            out.error_kind, out.error_detail = stop.kind, str(stop)
            return out
        except replay.ReplayConflict as conflict:
            out.error_kind, out.error_detail = MERGE_CONFLICT, str(conflict)
            return out
        pushed = gitcmd.run(root, "push", "-q", remote, f"{plan.commit}:refs/heads/{branch}",
                            timeout=policy.network_timeout_s)
        _remove(plan.stubs)
        if pushed.ok:
            out.pushed, out.head = True, plan.commit
            out.renamed, out.commits, out.replayed = plan.renamed, plan.commits, len(plan.commits)
            if plan.commit != head:
                _move_branch(root, head, plan, out)
            return out
        kind = gitcmd.classify_remote_failure(pushed)
        if kind != gitcmd.NON_FAST_FORWARD:
            out.error_kind, out.error_detail = kind, pushed.last_line()
            return out
        if attempt < policy.attempts:
            sleep(policy.delay(attempt, rng, time.monotonic() - began))
    out.error_kind = gitcmd.NON_FAST_FORWARD
    out.error_detail = f"other clones pushed first {out.attempts} times in a row"
    return out


def _remove(paths: Iterable[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _move_branch(root: Path, head: str, plan: _Plan, out: Outcome) -> None:
    """Point the local branch at what landed, keeping the user's uncommitted work (checked beforehand)."""
    if _rev(root, "HEAD") != head:
        out.warnings.append(f"your branch moved while the handoff was pushed: run `git pull --rebase` to pick up "
                            f"{plan.commit[:12]}")
        return
    moved = gitcmd.run(root, "reset", "-q", "--keep", plan.commit)
    if not moved.ok:
        out.warnings.append(f"pushed, but this clone still has the commits before integration ({moved.last_line()}): "
                            f"run `git reset --keep {plan.commit[:12]}`")
        return
    for old, new in plan.renamed.items():
        _rename_local_state(root, old, new)
    for record in manifests.all_manifests(root):
        if record.commit in plan.commits:
            record.commit = plan.commits[record.commit]
            manifests.save(root, record)


def _rename_local_state(root: Path, old: str, new: str) -> None:
    from lib.handoff import transcripts

    if manifests.path_for(root, old).exists():
        manifests.rename(root, old, new)
    try:
        transcripts.rename_archive(root, old, new)
    except (BatonError, OSError):
        pass  # an archive is local convenience; the pushed note names the new id either way


# ----------------------------------------------------------------- what to push

def _commit_info(root: Path, commits: list[str]) -> dict[str, tuple[int, str]]:
    """(number of parents, subject) of each commit."""
    if not commits:
        return {}
    out = gitcmd.run(root, "log", "--no-walk=unsorted", "--format=%H %P%x1f%s", *commits)
    info = {}
    for line in out.stdout.splitlines():
        shas, _, subject = line.partition("\x1f")
        parts = shas.split()
        info[parts[0]] = (len(parts) - 1, subject)
    return info


def is_handoff_commit(parents: int, subject: str) -> bool:
    return parents == 1 and subject.startswith(HANDOFF_PREFIX)


def unpushed_notes(root: Path, remote: str, head: str) -> dict[str, str]:
    """Session notes added by commits no branch of `remote` has: id -> the commit that added it."""
    out = gitcmd.run(root, "log", "--reverse", "--diff-filter=A", "--name-only", "--format=@%H", head,
                     "--not", f"--remotes={remote}", "--", f"{SESSIONS}/")
    found: dict[str, str] = {}
    sha = ""
    for line in out.stdout.split("\n"):
        if line.startswith("@"):
            sha = line[1:]
        elif line.startswith(f"{SESSIONS}/") and line.count("/") == SESSIONS.count("/") + 1:
            match = _NOTE_FILE.match(line.rsplit("/", 1)[1])
            if match:
                found.setdefault(match["id"], sha)
    present = set(_lines(root, "ls-tree", "--name-only", head, f"{SESSIONS}/"))
    return {sid: sha for sid, sha in found.items() if f"{SESSIONS}/{sid}.md" in present}


def collisions(root: Path, remote: str, head: str, ids: Iterable[str]) -> list[str]:
    """The ids among `ids` that a branch of `remote` holds in a version that did not come from `head`."""
    wanted = set(ids)
    if not wanted:
        return []
    refs = [ref for ref in _lines(root, "for-each-ref", "--format=%(refname)", f"refs/remotes/{remote}/")
            if not ref.endswith("/HEAD")]
    taken: set[str] = set()
    for ref in refs:
        names = gitcmd.run(root, "ls-tree", "--name-only", ref, f"{SESSIONS}/").stdout.splitlines()
        for name in names:
            match = _NOTE_FILE.match(name.rsplit("/", 1)[-1])
            if not match or match["id"] not in wanted or match["id"] in taken:
                continue
            last = gitcmd.run(root, "log", "-1", "--format=%H", ref, "--", name).stdout.strip()
            if not last or not _is_ancestor(root, last, head):
                taken.add(match["id"])
    return sorted(taken)


def _plan(root: Path, remote: str, branch: str, head: str) -> _Plan:
    upstream = _rev(root, f"refs/remotes/{remote}/{branch}")
    moved = upstream is not None and not _is_ancestor(root, upstream, head)
    notes = unpushed_notes(root, remote, head)
    taken = collisions(root, remote, head, notes)
    if not moved and not taken:
        return _Plan(head)
    span = f"{upstream}..{head}" if upstream else head
    exclude = [] if upstream else ["--not", f"--remotes={remote}"]
    to_replay = _lines(root, "rev-list", "--reverse", "--topo-order", span, *exclude)
    info = _commit_info(root, to_replay)
    foreign = [sha for sha in to_replay if not is_handoff_commit(*info[sha])]
    where = f"{remote}/{branch}"
    if moved and foreign:
        raise _Stop(NEEDS_PULL, _foreign_message(where, foreign, info))
    if foreign:
        to_replay = to_replay[to_replay.index(foreign[-1]) + 1:]
        late = [sid for sid in taken if notes[sid] not in to_replay]
        if late:
            raise _Stop(NEEDS_PULL, f"{', '.join(late)} is already on {remote} (another clone claimed it) and was "
                                    f"committed before your own commit {foreign[-1][:12]}: rename it "
                                    f"by hand or run `git pull --rebase` after renaming; nothing was pushed")
    base = upstream if moved else _rev(root, f"{to_replay[0]}^") if to_replay else head
    if base is None:
        raise _Stop(NEEDS_PULL, f"cannot re-claim {', '.join(taken)}: it is in this branch's first commit")
    stubs: list[Path] = []
    try:
        renamed = _reclaim(root, head, taken, stubs)
        new_head, mapping = replay.replay_commits(root, base, to_replay, renamed)
        _check_worktree(root, head, new_head, {p.relative_to(root).as_posix() for p in stubs}, where)
    except BaseException:
        _remove(stubs)
        raise
    return _Plan(new_head, renamed, mapping, stubs)


def _foreign_message(where: str, foreign: list[str], info: dict[str, tuple[int, str]]) -> str:
    first = foreign[0]
    what = f"{first[:12]} {info[first][1]}" + (f" and {len(foreign) - 1} more" if len(foreign) > 1 else "")
    return (f"{where} has new commits and this branch has commits that are not handoffs ({what}); baton only "
            f"replays handoff commits: run `git pull --rebase` (baton's merge driver merges the Session Log and "
            f"generated files) and push again; your commits are kept as they are")


def _reclaim(root: Path, head: str, taken: list[str], stubs: list[Path]) -> dict[str, str]:
    """A fresh id for each colliding note (claimed in the working tree, so no terminal here takes it too)."""
    renamed: dict[str, str] = {}
    for old in taken:
        text = gitcmd.run(root, "show", f"{head}:{SESSIONS}/{old}.md").stdout
        try:
            meta, _ = frontmatter.loads(text)
        except frontmatter.FrontmatterError as exc:
            raise BatonError(f"{SESSIONS}/{old}.md: {exc}") from None
        slug = str(meta.get("operator") or "")
        day = meta.get("date")
        claim = identity.claim(root, identity.Operator(slug, old.split("-", 1)[0], "claim"),
                               day=day if isinstance(day, dt.date) else None)
        stubs.append(claim.path)
        renamed[old] = claim.id
    return renamed


def _check_worktree(root: Path, head: str, new_head: str, ours: set[str], where: str) -> None:
    """Stop unless `git reset --keep` to `new_head` can run without touching the user's uncommitted work."""
    changed = set(_lines(root, "diff", "--name-only", "--no-renames", head, new_head))
    status = gitcmd.run(root, "status", "--porcelain=v1", "-z", "--untracked-files=all")
    dirty = set()
    parts = status.stdout.split("\0")
    i = 0
    while i < len(parts):
        item = parts[i]
        i += 1
        if len(item) < 4:
            continue
        if item[0] in "RC":
            i += 1
        path = item[3:]
        if path not in ours and not path.startswith(f"{STATE_DIR}/"):
            dirty.add(path)
    blocking = sorted(changed & dirty)
    if blocking:
        shown = ", ".join(blocking[:3]) + (f" and {len(blocking) - 3} more" if len(blocking) > 3 else "")
        raise _Stop(LOCAL_CHANGES, f"your uncommitted changes to {shown} are in the way of bringing in {where}: "
                                   f"commit or stash them and push again; your commits are kept as they are")
