"""Pushing handoffs to a remote many clones push to: integrate, re-check every unpushed note, push, repeat.

One attempt:

1. fetch the remote (every branch);
2. list the notes this clone has not pushed yet (added by commits no remote branch has) and check each
   against every remote branch: a note of the same id that did not come from this clone's history is a
   collision, and the note gets a freshly claimed id;
3. when the upstream moved on, or a note was re-claimed, replay the unpushed handoff commits on the
   upstream with git plumbing (the working tree is not used): each file merges three ways
   (`lib.vault.merge`: Session Log and changelog as ordered unions), every re-claimed id is carried
   through all the files of those commits (note, log line, learnings, changelog entry, links), and the
   generated indexes and maps are regenerated from the merged notes;
4. push that commit; when another clone won the race (non-fast-forward) start again after a jittered,
   bounded backoff; on success move the local branch to it with `git reset --keep`, which refuses
   rather than overwrite a file the user changed.

It never rewrites a commit that is not a handoff commit and never touches uncommitted work: when those
stand in the way it stops with one line saying what to do, and the local commits stay as they were.
"""

from __future__ import annotations

import datetime as dt
import io
import random
import re
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from lib.core import git as gitcmd
from lib.core.errors import BatonError
from lib.core.paths import STATE_DIR, STORE_FOLDERS
from lib.handoff import identity
from lib.handoff import manifest as manifests
from lib.store import frontmatter
from lib.vault import merge

HANDOFF_PREFIX = "handoff: "
NEEDS_PULL = "needs_pull"
LOCAL_CHANGES = "local_changes"
MERGE_CONFLICT = "merge_conflict"
SESSIONS = STORE_FOLDERS["session"]
_NOTE = re.compile(r"^(?P<id>[A-Z]{2,4}-\d{6}-\d{2})\.md$")
_ZERO = "0" * 40
# What regenerating the indexes and maps reads: the notes and the files INDEX.md links to.
_GENERATOR_INPUTS = (*STORE_FOLDERS.values(), "docs/maps", "INDEX.md", "CHANGELOG.md",
                     "docs/conventions/frontmatter.md", ".claude/operators.yaml")


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
            match = _NOTE.match(line.rsplit("/", 1)[1])
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
            match = _NOTE.match(name.rsplit("/", 1)[-1])
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
    replay = _lines(root, "rev-list", "--reverse", "--topo-order", span, *exclude)
    info = _commit_info(root, replay)
    foreign = [sha for sha in replay if not is_handoff_commit(*info[sha])]
    where = f"{remote}/{branch}"
    if moved and foreign:
        raise _Stop(NEEDS_PULL, _foreign_message(where, foreign, info))
    if foreign:
        replay = replay[replay.index(foreign[-1]) + 1:]
        late = [sid for sid in taken if notes[sid] not in replay]
        if late:
            raise _Stop(NEEDS_PULL, f"{', '.join(late)} is already on {remote} (another clone claimed it) and was "
                                    f"committed before your own commit {foreign[-1][:12]}: rename it "
                                    f"by hand or run `git pull --rebase` after renaming; nothing was pushed")
    base = upstream if moved else _rev(root, f"{replay[0]}^") if replay else head
    if base is None:
        raise _Stop(NEEDS_PULL, f"cannot re-claim {', '.join(taken)}: it is in this branch's first commit")
    stubs: list[Path] = []
    try:
        renamed = _reclaim(root, head, taken, stubs)
        new_head, mapping = replay_commits(root, base, replay, renamed)
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


# ----------------------------------------------------------------- replay

def rename_pattern(renamed: dict[str, str]) -> re.Pattern[str] | None:
    if not renamed:
        return None
    alternatives = "|".join(re.escape(old) for old in sorted(renamed, key=len, reverse=True))
    return re.compile(rf"(?<![A-Za-z0-9])(?:{alternatives})(?![0-9])")


def carry_renames(path: str, text: str, renamed: dict[str, str]) -> str:
    """The file's text with every re-claimed id replaced, and its content_hash stamped again."""
    pattern = rename_pattern(renamed)
    if pattern is None or not pattern.search(text):
        return text
    text = pattern.sub(lambda m: renamed[m.group(0)], text)
    if path.endswith(".md") and _HASH_LINE.search(text):
        try:
            metadata, body = frontmatter.loads(text, path)
        except frontmatter.FrontmatterError:
            return text
        digest = frontmatter.content_hash(metadata, body)
        # Only the value changes: the rest of the frontmatter stays byte for byte.
        text = _HASH_LINE.sub(lambda m: f"{m.group(1)}{digest}{m.group(2)}", text, count=1)
    return text


_HASH_LINE = re.compile(r"^(content_hash:[ \t]*['\"]?)sha256:[0-9a-f]*(['\"]?[ \t]*\r?)$", re.M)


def _renamed_path(path: str, renamed: dict[str, str]) -> str:
    folder, _, name = path.rpartition("/")
    match = _NOTE.match(name)
    if folder == SESSIONS and match and match["id"] in renamed:
        return f"{folder}/{renamed[match['id']]}.md"
    return path


class _Tree:
    """Reads blobs through one `git cat-file --batch`, writes blobs, builds trees in a private index file."""

    def __init__(self, root: Path, folder: Path) -> None:
        self.root = root
        self.env_index = str(folder / "index")
        self._reader: subprocess.Popen[bytes] | None = None

    def close(self) -> None:
        if self._reader is not None:
            assert self._reader.stdin is not None
            self._reader.stdin.close()
            self._reader.wait()
            self._reader = None

    def git(self, *args: str, input: str | None = None) -> str:
        data = input.encode("utf-8", "surrogateescape") if input is not None else None
        proc = gitcmd.run_bytes(self.root, *args, input=data, extra_env={"GIT_INDEX_FILE": self.env_index})
        if proc.returncode != 0:
            detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise BatonError(f"git {args[0]} failed: {detail[-1] if detail else proc.returncode}")
        return proc.stdout.decode("utf-8", "surrogateescape")

    def read(self, spec: str) -> str | None:
        """A blob's text (bytes that are not UTF-8 kept as surrogates) by sha or `rev:path`; None when absent."""
        if self._reader is None:
            # One long-lived `cat-file --batch` answers every read of the integration (the one git process
            # that is not a lib.core.git.run call: it stays open across calls).
            self._reader = subprocess.Popen(["git", "cat-file", "--batch"], cwd=self.root, env=gitcmd.git_env(),
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self._reader.stdin is not None and self._reader.stdout is not None
        self._reader.stdin.write(spec.encode("utf-8", "surrogateescape") + b"\n")
        self._reader.stdin.flush()
        header = self._reader.stdout.readline().split()
        if len(header) != 3:
            return None  # "<spec> missing"
        data = self._reader.stdout.read(int(header[2]) + 1)[:-1]
        return data.decode("utf-8", "surrogateescape") if header[1] == b"blob" else None

    def write_blobs(self, texts: list[str]) -> list[str]:
        """Blob ids of `texts`, written to the object database in one git call."""
        if not texts:
            return []
        folder = Path(self.env_index).parent
        paths = []
        for n, text in enumerate(texts):
            path = folder / f"blob-{n}"
            path.write_bytes(text.encode("utf-8", "surrogateescape"))
            paths.append(str(path))
        out = self.git("hash-object", "-w", "--no-filters", "--stdin-paths", input="\n".join(paths) + "\n")
        return out.split()


def replay_commits(root: Path, base: str, commits: list[str], renamed: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The handoff commits made again on `base`, ids re-claimed; (the last new commit, old -> new commit)."""
    mapping: dict[str, str] = {}
    tip = base
    with tempfile.TemporaryDirectory(prefix="baton-replay-") as folder:
        tree = _Tree(root, Path(folder))
        try:
            for sha in commits:
                tip = _replay_one(tree, tip, sha, renamed)
                mapping[sha] = tip
            if commits:
                regenerated = _regenerate(tree, tip)
                if regenerated is not None:
                    tip = _recommit(tree, tip, regenerated)
                    mapping[commits[-1]] = tip
        finally:
            tree.close()
    return tip, mapping


@dataclass
class _Change:
    path: str
    mode: str
    base: str | None  # blob ids; None when absent on that side
    theirs: str | None


def _changes(root: Path, sha: str) -> list[_Change]:
    out = gitcmd.run(root, "diff-tree", "-r", "--no-commit-id", "--no-renames", "--raw", "-z", f"{sha}^", sha)
    parts = out.stdout.split("\0")
    changes = []
    for i in range(0, len(parts) - 1, 2):
        fields = parts[i].lstrip(":").split()
        if len(fields) < 5:
            continue
        old_mode, new_mode, old_sha, new_sha = fields[:4]
        changes.append(_Change(parts[i + 1], new_mode if new_sha != _ZERO else old_mode,
                               None if old_sha == _ZERO else old_sha, None if new_sha == _ZERO else new_sha))
    return changes


def _replay_one(tree: _Tree, tip: str, sha: str, renamed: dict[str, str]) -> str:
    updates: list[str] = []
    written: list[tuple[str, str, str]] = []  # mode, path, text
    for change in _changes(tree.root, sha):
        path = change.path
        target = _renamed_path(path, renamed)
        base = tree.read(change.base) if change.base else None
        ours = tree.read(f"{tip}:{target}")
        base_text = carry_renames(path, base, renamed) if base is not None else None
        if change.theirs is None:  # the handoff removed the file
            if ours is not None and ours == base_text:
                updates.append(f"0 {_ZERO}\t{target}")
            continue
        their_text = carry_renames(path, tree.read(change.theirs) or "", renamed)
        if ours is None or ours == base_text:
            text = their_text
        else:
            result = merge.merge(target, base_text, ours, their_text)
            if not result.clean:
                raise _Stop(MERGE_CONFLICT, f"{target}: your handoff and the remote both changed it in the same "
                                            f"place (outside the Session Log); run `git pull --rebase`, resolve it, "
                                            f"and push again; your commits are kept as they are")
            text = result.text
        written.append((change.mode, target, text))
    blobs = tree.write_blobs([text for _, _, text in written])
    updates += [f"{mode} {blob}\t{target}" for (mode, target, _), blob in zip(written, blobs, strict=True)]
    return _commit_on(tree, tip, sha, updates, renamed)


def _commit_on(tree: _Tree, tip: str, sha: str, updates: list[str], renamed: dict[str, str]) -> str:
    tree.git("read-tree", tip)
    if updates:
        tree.git("update-index", "--index-info", input="\n".join(updates) + "\n")
    new_tree = tree.git("write-tree").strip()
    fields = tree.git("log", "-1", "--format=%an%x1f%ae%x1f%aI%x1f%B", sha)
    name, email, date, message = fields.split("\x1f", 3)
    pattern = rename_pattern(renamed)
    if pattern is not None:
        message = pattern.sub(lambda m: renamed[m.group(0)], message)
    return _commit_tree(tree, new_tree, tip, message.rstrip("\n") + "\n", (name, email, date))


def _commit_tree(tree: _Tree, new_tree: str, parent: str, message: str, author: tuple[str, str, str]) -> str:
    proc = gitcmd.run(tree.root, "commit-tree", new_tree, "-p", parent, "-F", "-", input=message,
                      extra_env={"GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1],
                                 "GIT_AUTHOR_DATE": author[2]})
    if proc.returncode != 0:
        raise BatonError(f"git commit-tree failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def _recommit(tree: _Tree, tip: str, files: dict[str, str]) -> str:
    """`tip` again (same parent, message and author) with `files` replaced."""
    ordered = sorted(files.items())
    blobs = tree.write_blobs([text for _, text in ordered])
    updates = [f"100644 {blob}\t{rel}" for (rel, _), blob in zip(ordered, blobs, strict=True)]
    parent = _rev(tree.root, f"{tip}^")
    assert parent is not None
    tree.git("read-tree", tip)
    tree.git("update-index", "--index-info", input="\n".join(updates) + "\n")
    new_tree = tree.git("write-tree").strip()
    fields = tree.git("log", "-1", "--format=%an%x1f%ae%x1f%aI%x1f%B", tip)
    name, email, date, message = fields.split("\x1f", 3)
    return _commit_tree(tree, new_tree, parent, message.rstrip("\n") + "\n", (name, email, date))


def _regenerate(tree: _Tree, tip: str) -> dict[str, str] | None:
    """The generated files of `tip` (those it has) as regenerated from its notes; None when all are right."""
    from lib import vault
    from lib.handoff import listings

    present = set(_lines(tree.root, "ls-tree", "-r", "--name-only", tip, "--", *_GENERATOR_INPUTS))
    generated = {rel for rel in present if merge.kind_of(rel) == merge.GENERATED}
    if not generated:
        return None
    archive = gitcmd_bytes(tree.root, "archive", "--format=tar", tip, "--", *sorted(present))
    with tempfile.TemporaryDirectory(prefix="baton-regen-") as folder:
        work = Path(folder)
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(work, filter="data")
        if {listings.SESSIONS_INDEX, listings.WORKSTREAMS_INDEX} & generated:
            listings.regen_indexes(work)
        wanted = {rel for rel in generated if rel == vault.INDEX_FILE or rel.startswith(vault.MAPS_DIR + "/")}
        if wanted:
            for rel, content in vault.generated_files(vault.load(work), only=wanted).items():
                if content is not None:
                    (work / rel).write_text(content, encoding="utf-8")
        changed = {}
        for rel in sorted(generated):
            path = work / rel
            if not path.is_file():
                continue
            text = path.read_text(encoding="utf-8")
            if tree.read(f"{tip}:{rel}") != text:
                changed[rel] = text
    return changed or None


def gitcmd_bytes(root: Path, *args: str) -> bytes:
    proc = gitcmd.run_bytes(root, *args)
    if proc.returncode != 0:
        raise BatonError(f"git {args[0]} failed: {proc.stderr.decode('utf-8', 'replace').strip()}")
    return proc.stdout
