"""Replaying handoff commits on a remote branch that moved on, with git plumbing (the working tree is not used).

Each file of each commit merges three ways (`lib.vault.merge`: Session Log and changelog as ordered
unions); every re-claimed session id is carried through all the files of the commits (note, log line,
learnings, changelog entry, links) and their messages, with the note's content_hash stamped again;
the generated indexes and maps are then regenerated from the merged notes. Blobs are read through one
`git cat-file --batch` and trees built in a private index file. lib/handoff/integrate.py decides what
to replay and pushes the result.
"""

from __future__ import annotations

import io
import re
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lib.core import git as gitcmd
from lib.core.errors import BatonError
from lib.core.paths import STORE_FOLDERS
from lib.store import frontmatter, sessionid
from lib.vault import merge

SESSIONS = STORE_FOLDERS["session"]
_NOTE_FILE = re.compile(rf"^(?P<id>{sessionid.PATTERN})\.md$")
_ZERO = "0" * 40
# What regenerating the indexes and maps reads: the notes and the files INDEX.md links to.
_GENERATOR_INPUTS = (*STORE_FOLDERS.values(), "docs/maps", "INDEX.md", "CHANGELOG.md",
                     "docs/conventions/frontmatter.md", ".claude/operators.yaml")


class ReplayConflict(Exception):
    """The handoff and the remote changed a file in the same place, where no rule merges them."""


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
    match = _NOTE_FILE.match(name)
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
                raise ReplayConflict(f"{target}: your handoff and the remote both changed it in the same "
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
    parent = tree.git("rev-parse", f"{tip}^").strip()
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

    present = set(gitcmd.check(tree.root, "ls-tree", "-r", "--name-only", tip, "--", *_GENERATOR_INPUTS).splitlines())
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
