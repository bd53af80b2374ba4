"""CHANGELOG.md: one dated entry per handoff, newest first; earlier entries are never rewritten.

An entry is

    ## 2026-05-11 · [RT-260511-02](docs/sessions/RT-260511-02.md) · The session's title

    - `0123456789ab` Subject of the first commit of the session
    - `89abcdef0123` Subject of the next one

It goes after the file's header (everything before the first `## ` heading), above the
entries older than it (by date, then id). A session that already has an entry is left alone, so
running the step twice adds one entry. The commits are the note's `commits` (what
`git-stats` recorded at handoff, oldest first) with their subjects from git; a note
without that key falls back to `git log --since <started_at>` (merges and
`handoff: ` commits left out, like git-stats).

Entries stand newest first by date, then id. Two clones that both add an entry would
conflict on every merge; `.gitattributes` gives CHANGELOG.md baton's merge driver
(`scripts/merge_driver.py`), which keeps each side's entries once, in that order.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lib.core import atomic, git
from lib.core.errors import BatonError
from lib.core.paths import STATE_DIR, Store
from lib.store import frontmatter, schema
from lib.vault import merge

FILENAME = "CHANGELOG.md"
HEADER = (
    "# Changelog\n"
    "\n"
    "One entry per handoff, newest first: the session, its title and the commits it made.\n"
    "Written by `/handoff`; earlier entries are never rewritten.\n"
)
HANDOFF_SUBJECT = "handoff: "
_UNIT = "\x1f"


@dataclass
class Commit:
    sha: str
    subject: str

    @property
    def short(self) -> str:
        return self.sha[:12]


@dataclass
class Entry:
    session_id: str
    date: str
    title: str
    commits: list[Commit] = field(default_factory=list)
    missing_commits: list[str] = field(default_factory=list)

    def render(self) -> str:
        link = f"[{self.session_id}](docs/sessions/{self.session_id}.md)"
        lines = [f"## {self.date} · {link} · {_one_line(self.title)}", ""]
        for commit in self.commits:
            lines.append(f"- `{commit.short}` {_one_line(commit.subject)}")
        for sha in self.missing_commits:
            lines.append(f"- `{sha[:12]}` (not in this repository)")
        if not self.commits and not self.missing_commits:
            lines.append("- no commits")
        return "\n".join(lines) + "\n"


@dataclass
class Result:
    status: str  # added | exists
    path: str
    entry: Entry

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["entry"]["commits"] = [{"sha": c.sha, "short": c.short, "subject": c.subject} for c in self.entry.commits]
        return out


def _one_line(text: str) -> str:
    return " ".join(str(text).split()) or "(untitled)"


def _git(root: Path, *args: str, stdin: str | None = None) -> str:
    result = git.run(root, *args, input=stdin)
    if not result.ok:
        raise BatonError(f"git {args[0]} failed: {result.stderr.strip()}")
    return result.stdout


def _has_head(root: Path) -> bool:
    return git.run(root, "rev-parse", "--verify", "-q", "HEAD").ok


def commits_by_sha(root: Path, shas: list[str]) -> tuple[list[Commit], list[str]]:
    """Subjects of the given commits, in the given order; the shas git does not know come back apart."""
    wanted = [s for s in shas if re.fullmatch(r"[0-9a-f]{7,40}", s)]
    # Anything else comes back as missing, never dropped: e.g. `4867450389e8` written without quotes,
    # which YAML reads as a number (the validator reports that note too).
    unreadable = [s for s in shas if s not in wanted]
    if not wanted:
        return [], unreadable
    check = _git(root, "cat-file", "--batch-check=%(objectname) %(objecttype)",
                 stdin="".join(f"{s}^{{commit}}\n" for s in wanted))
    known: list[str] = []
    missing: list[str] = []
    lines = check.splitlines()
    for i, sha in enumerate(wanted):
        line = lines[i] if i < len(lines) else ""
        if line.endswith(" commit"):
            known.append(line.split()[0])
        else:
            missing.append(sha)
    missing += unreadable
    commits: list[Commit] = []
    if known:
        out = _git(root, "log", "--no-walk=unsorted", f"--format=%H{_UNIT}%s", *known)
        for line in out.splitlines():
            sha, _, subject = line.partition(_UNIT)
            commits.append(Commit(sha, subject))
    return commits, missing


def commits_since(root: Path, since: str) -> list[Commit]:
    """Commits on HEAD since a time, oldest first, without merges, handoff commits or baton's own upkeep
    (installing or upgrading baton is not the session's work: the same rule as git-stats)."""
    from lib.handoff.gitstats import installed_files, is_baton_upkeep

    if not _has_head(root):
        return []
    out = _git(root, "log", "--no-merges", f"--since={since}", f"--format=%x1e%H{_UNIT}%s", "--name-only", "HEAD")
    installed = installed_files(root)
    commits = []
    for record in out.split("\x1e"):
        header, _, names = record.strip("\n").partition("\n")
        sha, _, subject = header.partition(_UNIT)
        if not sha or subject.startswith(HANDOFF_SUBJECT):
            continue
        if is_baton_upkeep({n for n in names.splitlines() if n.strip()}, installed):
            continue
        commits.append(Commit(sha, subject))
    commits.reverse()
    return commits


def _time_text(value: Any) -> str | None:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value if isinstance(value, str) and value else None


def entry_for_session(root: Path, session_id: str, since: str | None = None,
                      today: dt.date | None = None) -> Entry:
    """The changelog entry of a session, from its note (and git)."""
    if not schema.id_is_valid("session", session_id):
        raise BatonError(f"session id {session_id!r} is not <INITIALS>-YYMMDD-NN (or a legacy CONV-/LOCAL- id)")
    note = Store(root).sessions / f"{session_id}.md"
    metadata = frontmatter.read_metadata(note)
    title = metadata.get("title") or metadata.get("summary") or "(untitled)"
    date = frontmatter.day_text(metadata.get("date")) or (today or dt.datetime.now(dt.UTC).date()).isoformat()
    entry = Entry(session_id=session_id, date=date, title=str(title))
    recorded = metadata.get("commits")
    if since is None and isinstance(recorded, list):
        entry.commits, entry.missing_commits = commits_by_sha(root, [str(s) for s in recorded])
        return entry
    start = since or _time_text(metadata.get("started_at")) or _time_text(metadata.get("claimed_at"))
    if start is None:
        raise BatonError(f"{note}: no commits, started_at or claimed_at to tell which commits are the session's")
    entry.commits = commits_since(root, start)
    return entry


def _newline_of(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def has_entry(text: str, session_id: str) -> bool:
    return re.search(rf"^## .*\[{re.escape(session_id)}\]\(", text, flags=re.M) is not None


def insert_entry(text: str, entry: Entry) -> str:
    """The changelog text with `entry` added above the previous entries (after the header)."""
    if not text.strip():
        text = HEADER
    nl = _newline_of(text)
    block = entry.render().replace("\n", nl)
    match = re.search(r"^## ", text, flags=re.M)
    if match is None:
        head = text if text.endswith(nl) else text + nl
        return head + nl + block
    # Newest first by date, then id: the order the merge driver keeps when teammates' entries meet.
    key = (entry.date, entry.session_id)
    headings = [(m.start(), merge.changelog_key(m.group(0).rstrip("\r")))
                for m in re.finditer(r"^## .*$", text, flags=re.M)]
    older = next((at for at, found in headings if found is not None and found < key), None)
    if older is None and any(found is not None for _, found in headings):
        return text.rstrip("\r\n") + nl + nl + block  # the oldest entry: last
    at = older if older is not None else match.start()
    head, rest = text[:at], text[at:]
    if not head.endswith(nl + nl):
        head = head + nl if head.endswith(nl) else head + nl + nl
    return head + block + nl + rest


def append(root: Path, entry: Entry, path: Path | None = None) -> Result:
    """Add the entry to CHANGELOG.md unless the session already has one (atomic, under a lock)."""
    path = path or root / FILENAME
    with atomic.locked(root / STATE_DIR / "changelog.lock"):
        try:
            text = path.read_bytes().decode("utf-8")
        except FileNotFoundError:
            text = ""
        except UnicodeDecodeError:
            raise BatonError(f"{path}: not valid UTF-8 text") from None
        if has_entry(text, entry.session_id):
            return Result("exists", str(path), entry)
        atomic.write_text(path, insert_entry(text, entry))
    return Result("added", str(path), entry)


def record_session(root: Path, session_id: str, since: str | None = None) -> Result:
    """The handoff step: the session's entry, added once."""
    return append(root, entry_for_session(root, session_id, since))


def rename_entry(root: Path, old: str, new: str, path: Path | None = None) -> bool:
    """Point the entry of session `old` at `new` (the handoff re-claimed its id before pushing)."""
    path = path or root / FILENAME
    with atomic.locked(root / STATE_DIR / "changelog.lock"):
        try:
            text = path.read_bytes().decode("utf-8")
        except (FileNotFoundError, UnicodeDecodeError):
            return False
        old_link = f"[{old}](docs/sessions/{old}.md)"
        lines = text.splitlines(keepends=True)
        for index, line in enumerate(lines):
            if line.startswith("## ") and old_link in line:
                lines[index] = line.replace(old_link, f"[{new}](docs/sessions/{new}.md)", 1)
                atomic.write_text(path, "".join(lines))
                return True
    return False
