"""The transcript archive: a session's Claude Code transcript, redacted and gzipped, kept past 30 days.

Claude Code deletes transcripts after 30 days. At handoff the session's transcript
(its path is in the telemetry state, `.claude/state/session-<claude id>.json`,
key `transcript_path`) is copied to the archive folder (`archive.transcripts_dir`
in `.claude/baton.yaml`, default `.claude/archive/transcripts/`, gitignored) as
`<ID>.jsonl.gz`:

- secrets of well-known shapes are redacted first (lib.security.redact_json); every other byte
  is kept, so each JSON line stays valid JSON;
- gzip is deterministic (no file name, mtime 0): archiving the same transcript
  again writes nothing, so re-running is idempotent;
- subagent transcripts (`<dir>/<claude id>/subagents/*.jsonl` beside the main one)
  go alongside as `<ID>.subagents/<name>.jsonl.gz`, one gzip file each, so every
  file can be read on its own with `zcat`;
- an archive folder inside the repository gets a `.gitignore` of `*`, so the
  transcripts are never committed, whatever the repository's own .gitignore says;
- a line still being written (no trailing newline, not valid JSON) is left out;
- the note records `transcript_archive` (relative to the archive folder),
  `transcript_bytes` and `transcript_sha256` of the archived transcript as it
  decompresses (after redaction: `gzip -dc FILE | sha256sum`), and its
  `content_hash` is recomputed afterwards so it covers them;
- no transcript is a warning in the note (`transcript_warning`), not a failure;
  once archived, a transcript that Claude Code has since deleted leaves the
  archive and the note as they are.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lib.core import atomic, config
from lib.core.errors import BatonError
from lib.core.paths import STATE_DIR, Store
from lib.security import redact_json
from lib.store import frontmatter, schema

NOTE_KEYS = ("transcript_archive", "transcript_bytes", "transcript_sha256", "transcript_warning")
_CLAUDE_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_SUBAGENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")
GZIP_LEVEL = 6


@dataclass
class ArchivedFile:
    name: str
    archive: str  # relative to the archive folder
    bytes: int
    sha256: str
    redactions: dict[str, int] = field(default_factory=dict)
    written: bool = False
    dropped_tail_bytes: int = 0


@dataclass
class ArchiveResult:
    id: str
    status: str  # archived | unchanged | kept | missing
    archive_dir: str
    source: str | None = None
    transcript: ArchivedFile | None = None
    subagents: list[ArchivedFile] = field(default_factory=list)
    warning: str | None = None
    note_changed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def archive_dir(root: Path, settings: dict[str, Any] | None = None) -> Path:
    """The archive folder: `archive.transcripts_dir`, relative to the repository root unless absolute."""
    settings = settings if settings is not None else config.load(root)
    raw = str(settings.get("archive", {}).get("transcripts_dir") or config.DEFAULTS["archive"]["transcripts_dir"])
    folder = Path(os.path.expanduser(raw))
    return folder if folder.is_absolute() else root / folder


def state_transcript_path(root: Path, claude_session_id: str) -> str | None:
    """`transcript_path` from the telemetry state of a Claude Code session (live or archived)."""
    if not _CLAUDE_ID.match(claude_session_id):
        raise BatonError(f"claude session id {claude_session_id!r}: only letters, digits, '-' and '_' are allowed")
    name = f"session-{claude_session_id}.json"
    for folder in (root / STATE_DIR, root / STATE_DIR / "archive"):
        try:
            data = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        value = data.get("transcript_path") if isinstance(data, dict) else None
        if isinstance(value, str) and value:
            return value
    return None


def _keep_out_of_git(root: Path, folder: Path) -> None:
    """An archive folder inside the repository ignores itself, whatever the repository's .gitignore says."""
    try:
        folder.resolve().relative_to(root.resolve())
    except ValueError:
        return  # a synced folder elsewhere
    marker = folder / ".gitignore"
    if not marker.exists():
        atomic.write_text(marker, "# Archived transcripts stay on this machine (scripts/lib/handoff/transcripts.py).\n*\n")


def gzip_bytes(data: bytes) -> bytes:
    """Deterministic gzip: no file name, mtime 0, fixed level."""
    return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)


def _complete_lines(data: bytes) -> tuple[bytes, int]:
    """Drop a last line that is still being written: no newline and not valid JSON."""
    if not data or data.endswith(b"\n"):
        return data, 0
    cut = data.rfind(b"\n") + 1
    tail = data[cut:]
    try:
        json.loads(tail)
    except ValueError:
        return data[:cut], len(tail)
    return data, 0


def _archive_one(source: Path, target: Path, folder: Path, name: str) -> ArchivedFile:
    raw = source.read_bytes()
    raw, dropped = _complete_lines(raw)
    clean, counts = redact_json.redact_jsonl_bytes(raw)
    packed = gzip_bytes(clean)
    written = False
    try:
        same = target.read_bytes() == packed
    except OSError:
        same = False
    if not same:
        atomic.write_bytes(target, packed, mode=0o600)
        written = True
    return ArchivedFile(
        name=name, archive=target.relative_to(folder).as_posix(), bytes=len(clean),
        sha256=hashlib.sha256(clean).hexdigest(), redactions=dict(sorted(counts.items())),
        written=written, dropped_tail_bytes=dropped,
    )


def _subagent_sources(transcript: Path) -> list[Path]:
    folder = transcript.parent / transcript.stem / "subagents"
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    return [p for p in entries if p.suffix == ".jsonl" and p.is_file() and _SUBAGENT_NAME.match(p.stem)]


def _summary_of_archive(target: Path, folder: Path) -> ArchivedFile | None:
    """The record of an archive already on disk (its source may be gone)."""
    try:
        clean = gzip.decompress(target.read_bytes())
    except (OSError, EOFError, gzip.BadGzipFile):
        return None
    return ArchivedFile(name=target.name.removesuffix(".jsonl.gz"), archive=target.relative_to(folder).as_posix(),
                        bytes=len(clean), sha256=hashlib.sha256(clean).hexdigest())


def archive_transcript(root: Path, session_id: str, *, transcript: str | Path | None = None,
                       claude_session_id: str | None = None, settings: dict[str, Any] | None = None,
                       update_note: bool = True) -> ArchiveResult:
    """Archive the transcript of session `session_id` and record it in its note.

    The transcript is `transcript` when given, else the `transcript_path` of the
    telemetry state of `claude_session_id` (default: the note's `claude_session_id`).
    """
    if not schema.id_is_valid("session", session_id):
        raise BatonError(f"session id {session_id!r} is not <INITIALS>-YYMMDD-NN (or a legacy CONV-/LOCAL- id)")
    note = Store(root).sessions / f"{session_id}.md"
    if update_note and not note.is_file():
        raise BatonError(f"{note}: no such session note")
    folder = archive_dir(root, settings)
    result = ArchiveResult(id=session_id, status="missing", archive_dir=str(folder))

    source = _resolve_source(root, note if note.is_file() else None, transcript, claude_session_id, result)
    target = folder / f"{session_id}.jsonl.gz"
    if source is not None:
        result.source = str(source)
        if source.is_file():
            _keep_out_of_git(root, folder)
        try:
            result.transcript = _archive_one(source, target, folder, session_id)
        except FileNotFoundError:
            result.warning = f"no transcript at {source}"
        except OSError as exc:
            raise BatonError(f"{source}: cannot archive the transcript: {exc.strerror or exc}") from None
        else:
            result.status = "archived" if result.transcript.written else "unchanged"
        for sub in _subagent_sources(source):
            sub_target = folder / f"{session_id}.subagents" / f"{sub.stem}.jsonl.gz"
            try:
                result.subagents.append(_archive_one(sub, sub_target, folder, sub.stem))
            except OSError:
                continue  # a subagent transcript that vanished meanwhile is not worth failing for
        if result.transcript is None and result.warning is None:
            result.warning = f"no transcript at {source}"
    if result.transcript is None:
        existing = _summary_of_archive(target, folder) if target.is_file() else None
        if existing is not None:
            # Claude Code deleted the transcript after it was archived: the archive stands.
            result.status, result.transcript, result.warning = "kept", existing, None
    if update_note:
        result.note_changed = record_in_note(note, result)
    return result


def _resolve_source(root: Path, note: Path | None, transcript: str | Path | None,
                    claude_session_id: str | None, result: ArchiveResult) -> Path | None:
    if transcript is not None:
        return Path(os.path.expanduser(str(transcript)))
    claude_id = claude_session_id
    if claude_id is None and note is not None:
        value = frontmatter.read_metadata(note).get("claude_session_id")
        claude_id = value if isinstance(value, str) and value else None
    if claude_id is None:
        result.warning = "no transcript: the note has no claude_session_id and none was given"
        return None
    path = state_transcript_path(root, claude_id)
    if path is None:
        result.warning = f"no transcript: the telemetry state of {claude_id} has no transcript_path"
        return None
    return Path(os.path.expanduser(path))


def note_values(result: ArchiveResult) -> dict[str, Any]:
    """The note keys a result sets (None: the key is removed)."""
    if result.transcript is not None:
        return {
            "transcript_archive": result.transcript.archive,
            "transcript_bytes": result.transcript.bytes,
            "transcript_sha256": result.transcript.sha256,
            "transcript_warning": None,
        }
    return {"transcript_warning": result.warning or "no transcript"}


def record_in_note(note: Path, result: ArchiveResult) -> bool:
    """Write the archive keys into the note (round trip) and recompute its content_hash; True if it changed."""
    doc = frontmatter.load_document(note, kind="session")
    changed = False
    for key, value in note_values(result).items():
        if value is None:
            if key in doc:
                doc.delete(key)
                changed = True
        elif key not in doc or doc.get(key) != value:
            doc.set(key, value)
            changed = True
    if not changed:
        return False
    if "content_hash" in doc:
        doc.stamp_content_hash()
    doc.save(note)
    return True


def rename_archive(root: Path, old: str, new: str, settings: dict[str, Any] | None = None) -> str | None:
    """Move session `old`'s archive to `new` (the handoff re-claimed its id); the new relative name, or None."""
    for value in (old, new):
        if not schema.id_is_valid("session", value):
            raise BatonError(f"session id {value!r} is not <INITIALS>-YYMMDD-NN (or a legacy CONV-/LOCAL- id)")
    folder = archive_dir(root, settings)
    source, target = folder / f"{old}.jsonl.gz", folder / f"{new}.jsonl.gz"
    subagents = folder / f"{old}.subagents"
    if subagents.is_dir():
        os.replace(subagents, folder / f"{new}.subagents")
    if not source.is_file():
        return None
    os.replace(source, target)
    return target.relative_to(folder).as_posix()


def total_redactions(result: ArchiveResult) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for item in ([result.transcript] if result.transcript else []) + result.subagents:
        counts.update(item.redactions)
    return dict(sorted(counts.items()))
