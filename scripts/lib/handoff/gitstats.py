"""What git says a session did: its commits, lines changed, and the notes it touched.

Commits are those reachable from HEAD committed since the session started, without
merges (a pull brings in other people's work), without the handoff's own `handoff: `
commits (bookkeeping, not work), and without baton's own upkeep: a commit that touches only
`.baton/`, or that commits baton's installer manifest with nothing but files baton installed
(installing or upgrading baton is not the session's work, however many lines it adds).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lib.core.errors import BatonError
from lib.core.paths import SKIPPED_NAMES, STORE_FOLDERS

HANDOFF_SUBJECT = "handoff: "
_ADR = re.compile(r"^(?:ADR-)?(\d{4})(?:-.*)?\.md$")
_RECORD, _UNIT = "\x1e", "\x1f"

BATON_HOME = ".baton/"
BATON_MANIFEST = ".baton/manifest.json"
# Files of the repository's own that the installer edits or writes once (its manifest does not list them).
INSTALLER_SHARED = frozenset({".claude/settings.json", ".gitignore", ".gitattributes", ".claude/operators.yaml",
                              ".claude/baton.yaml",
                              ".mcp.json"})


def installed_files(root: Path) -> frozenset[str]:
    """The files baton's installer put in this repository (from `.baton/manifest.json`; none without one)."""
    try:
        data = json.loads((root / BATON_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return frozenset()
    files = data.get("files") if isinstance(data, dict) else None
    return frozenset(str(k) for k in files) if isinstance(files, dict) else frozenset()


def is_baton_upkeep(paths: set[str], installed: frozenset[str]) -> bool:
    """Whether a commit changing `paths` is baton's install, upgrade or own files rather than work."""
    if not paths:
        return False
    if all(p.startswith(BATON_HOME) for p in paths):
        return True
    return BATON_MANIFEST in paths and all(
        p.startswith(BATON_HOME) or p in installed or p in INSTALLER_SHARED for p in paths)


@dataclass
class CommitInfo:
    sha: str
    short: str
    subject: str
    author_email: str
    committed_at: str


@dataclass
class GitStats:
    since: str | None
    since_source: str
    commits: list[CommitInfo] = field(default_factory=list)
    lines_added: int = 0
    lines_removed: int = 0
    files_changed: int = 0
    workstreams_touched: list[str] = field(default_factory=list)
    plans_touched: list[str] = field(default_factory=list)
    adrs_touched: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def commits_count(self) -> int:
        return len(self.commits)

    @property
    def first_commit_at(self) -> str | None:
        return min((c.committed_at for c in self.commits), default=None)

    @property
    def last_commit_at(self) -> str | None:
        return max((c.committed_at for c in self.commits), default=None)

    def note_fields(self) -> dict[str, Any]:
        """The session note's git keys."""
        return {
            "commits_count": self.commits_count,
            "commits": [c.short for c in self.commits],
            "lines_added": self.lines_added,
            "lines_removed": self.lines_removed,
            "files_changed": self.files_changed,
            "first_commit_at": self.first_commit_at,
            "last_commit_at": self.last_commit_at,
            "workstreams_touched": self.workstreams_touched,
            "plans_touched": self.plans_touched,
            "adrs_touched": self.adrs_touched,
        }

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(commits_count=self.commits_count, first_commit_at=self.first_commit_at,
                   last_commit_at=self.last_commit_at)
        return out


def _utc(value: str) -> str:
    """A git ISO date as `YYYY-MM-DDTHH:MM:SSZ`."""
    parsed = dt.datetime.fromisoformat(value)
    return parsed.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _touched(path: str, stats: GitStats) -> None:
    folder, _, name = path.rpartition("/")
    if not name.endswith(".md") or name in SKIPPED_NAMES:
        return
    if folder == STORE_FOLDERS["workstream"]:
        stats.workstreams_touched.append(name[:-3])
    elif folder == STORE_FOLDERS["plan"]:
        stats.plans_touched.append(name[:-3])
    elif folder == STORE_FOLDERS["adr"]:
        match = _ADR.match(name)
        if match:
            stats.adrs_touched.append(f"ADR-{match.group(1)}")


def git_stats(root: Path, since: dt.datetime | None, since_source: str) -> GitStats:
    import git  # GitPython: imported here, it costs ~100 ms

    try:
        repo = git.Repo(root, search_parent_directories=False)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise BatonError(f"{root}: not a git repository") from None
    stats = GitStats(since=since.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if since else None,
                     since_source=since_source)
    if not repo.head.is_valid():
        return stats  # no commit yet
    args = ["--no-merges", "--no-renames", "--numstat", f"--format={_RECORD}%H{_UNIT}%cI{_UNIT}%ae{_UNIT}%s"]
    if since is not None:
        args.append(f"--since={since.astimezone(dt.UTC).isoformat()}")
    try:
        out = repo.git.log(*args, "HEAD")
    except git.GitCommandError as exc:
        raise BatonError(f"git log failed: {str(exc.stderr).strip() or exc}") from None
    files: set[str] = set()
    installed = installed_files(root)
    for record in out.split(_RECORD):
        if not record.strip():
            continue
        header, _, numstat = record.partition("\n")
        sha, committed, email, subject = ([*header.split(_UNIT), "", "", "", ""])[:4]
        if subject.startswith(HANDOFF_SUBJECT):
            continue
        changes = [parts for parts in (line.split("\t", 2) for line in numstat.splitlines()) if len(parts) == 3]
        if is_baton_upkeep({path for _, _, path in changes}, installed):
            continue
        stats.commits.append(CommitInfo(sha, sha[:12], subject, email, _utc(committed)))
        for added, removed, path in changes:
            stats.lines_added += int(added) if added.isdigit() else 0
            stats.lines_removed += int(removed) if removed.isdigit() else 0
            files.add(path)
    stats.commits.reverse()  # oldest first
    stats.files_changed = len(files)
    for path in sorted(files):
        _touched(path, stats)
    for key in ("workstreams_touched", "plans_touched", "adrs_touched"):
        setattr(stats, key, sorted(set(getattr(stats, key))))
    return stats


def last_handoff_time(root: Path) -> dt.datetime | None:
    """When the latest `handoff: ` commit on HEAD was made (a fallback start of the session)."""
    from lib.core import git as gitcmd

    result = gitcmd.run(root, "log", "-1", "--format=%cI", f"--grep=^{HANDOFF_SUBJECT}", "HEAD")
    if not result.ok or not result.stdout.strip():
        return None
    return dt.datetime.fromisoformat(result.stdout.strip())


FALLBACK_WINDOW = dt.timedelta(hours=24)


def resolve_since(root: Path, explicit: str | None, started_at: str | None, now: dt.datetime,
                  recorded: tuple[str | None, str | None] = (None, None)) -> tuple[dt.datetime, str, list[str]]:
    """The start of the session for git: --since, else the one `start` recorded, else the telemetry's
    started_at, else the last handoff commit, else the last 24 hours."""
    from lib.handoff.state import parse_time

    if explicit:
        parsed = parse_time(explicit)
        if parsed is None:
            raise BatonError(f"--since {explicit!r}: not an ISO 8601 time (e.g. 2026-05-11T09:00:00Z)")
        return parsed, "--since", []
    recorded_at, recorded_source = recorded
    parsed = parse_time(recorded_at)
    if parsed is not None:
        return parsed, recorded_source or "recorded by start", []
    parsed = parse_time(started_at)
    if parsed is not None:
        return parsed, "telemetry started_at", []
    last = last_handoff_time(root)
    if last is not None:
        return last, "last handoff commit", [
            "no telemetry start time: counting commits since the last handoff commit"]
    return now - FALLBACK_WINDOW, "last 24 hours", [
        "no telemetry start time and no earlier handoff: counting commits of the last 24 hours"]
