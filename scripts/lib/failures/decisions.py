"""The decision log: one JSON line per routing, retry, escalation... choice, in `.claude/state/decisions.jsonl`.

Whoever decides something about a run (the chain runner retrying a failed session, a router
picking a model, an operator's helper skipping a step) calls `log_decision`. The log is
machine-local (`.claude/state/` is not committed) and feeds the retry figures of
`insights.py`.

Logging must never break the caller: `log_decision` swallows every error and returns False
instead of raising. Writers in several processes append under an exclusive lock on a
separate lock file, one whole line per write, and the file is rotated by size (to
`decisions.jsonl.1`, `.2`, ...). `read_decisions` skips torn and garbage lines.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lib.core.paths import STATE_DIR, find_root
from lib.security import redact

try:  # POSIX; elsewhere appends go unlocked (one os.write per line still keeps lines whole in practice)
    import fcntl
except ImportError:  # pragma: no cover - not on the platforms baton runs on
    fcntl = None  # type: ignore[assignment]

DECISION_KINDS = ("routing", "refinement_cycle", "escalation", "retry", "skip", "abort")
DECISIONS_FILE = "decisions.jsonl"
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_KEEP = 2
DEFAULT_LOCK_TIMEOUT = 2.0
_LOCK_POLL_FIRST = 0.0002
_LOCK_POLL_MAX = 0.01
# Every record starts with this, which lets the reader recover a record appended after a torn line.
_RECORD_START = '{"ts": '


def decisions_path(root: Path | str | None = None) -> Path:
    """Where the decision log of the repository at `root` (default: the current one) lives."""
    base = Path(root) if root is not None else find_root()
    return base / STATE_DIR / DECISIONS_FILE


def log_decision(
    kind: str,
    *,
    decision: str | None = None,
    reason: str | None = None,
    context: Mapping[str, Any] | None = None,
    root: Path | str | None = None,
    path: Path | str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    keep: int = DEFAULT_KEEP,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    **fields: Any,
) -> bool:
    """Append one decision to the log; True when it was written, False otherwise. Never raises.

    `kind` is one of DECISION_KINDS; `decision` says what was chosen (e.g. "retry with opus"),
    `reason` why, `context` anything else worth keeping. Further keyword fields are stored as
    they are; the usual ones are `session_id`, `chain`, `step`, `attempt`, `failure_class`,
    `model`, `operator` and `outcome`. The log is `path`, else `decisions.jsonl` in the state
    folder of `root` (default: the current repository). Past `max_bytes` the file is rotated,
    keeping `keep` older generations. A writer that cannot get the lock within `lock_timeout`
    seconds gives up (False) rather than hold up its caller.
    """
    try:
        if kind not in DECISION_KINDS:
            return False
        target = Path(path) if path is not None else decisions_path(root)
        record: dict[str, Any] = {"ts": _now(), "kind": kind}
        if decision is not None:
            record["decision"] = decision
        if reason is not None:
            record["reason"] = reason
        for key, value in fields.items():
            if key not in record:
                record[key] = value
        if context:
            record["context"] = dict(context)
        record.setdefault("pid", os.getpid())
        record = redact.redact_data(record)
        line = (json.dumps(record, ensure_ascii=True, default=str, separators=(", ", ": ")) + "\n").encode()
        target.parent.mkdir(parents=True, exist_ok=True)
        with _locked(target.with_name(target.name + ".lock"), lock_timeout):
            _rotate_if_needed(target, len(line), max_bytes, keep)
            _append(target, line)
        return True
    except Exception:  # a failed log line must never break the caller
        return False


def read_decisions(path: Path | str | None = None, *, root: Path | str | None = None,
                   include_rotated: bool = True) -> list[dict[str, Any]]:
    """Every readable decision, oldest first (rotated generations before the live file).

    Torn lines (a writer killed mid-line), garbage and lines that are not decision records are
    skipped; a record appended right after a torn line is recovered. Missing files read as empty.
    """
    target = Path(path) if path is not None else decisions_path(root)
    files: list[Path] = []
    if include_rotated:
        generation = 1
        while target.with_name(f"{target.name}.{generation}").exists():
            files.append(target.with_name(f"{target.name}.{generation}"))
            generation += 1
        files.reverse()
    files.append(target)
    records: list[dict[str, Any]] = []
    for file in files:
        try:
            data = file.read_bytes()
        except OSError:
            continue
        for raw in data.decode("utf-8", "replace").splitlines():
            record = _parse(raw)
            if record is not None:
                records.append(record)
    return records


def _parse(raw: str) -> dict[str, Any] | None:
    for start in _starts(raw):
        try:
            value = json.loads(raw[start:])
        except ValueError:
            continue
        if isinstance(value, dict) and value.get("kind") in DECISION_KINDS and "ts" in value:
            return value
        return None
    return None


def _starts(raw: str) -> Iterator[int]:
    yield 0
    at = raw.find(_RECORD_START, 1)
    while at > 0:
        yield at
        at = raw.find(_RECORD_START, at + 1)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@contextmanager
def _locked(lock_path: Path, timeout: float) -> Iterator[None]:
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            deadline = time.monotonic() + max(timeout, 0.0)
            pause = _LOCK_POLL_FIRST
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise TimeoutError(f"{lock_path} stayed locked for {timeout}s") from None
                    # Appends hold the lock for microseconds: poll fast first, back off to spare the CPU.
                    time.sleep(pause)
                    pause = min(pause * 2, _LOCK_POLL_MAX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _rotate_if_needed(target: Path, incoming: int, max_bytes: int, keep: int) -> None:
    try:
        size = target.stat().st_size
    except FileNotFoundError:
        return
    if size == 0 or size + incoming <= max_bytes:
        return
    if keep < 1:
        target.unlink()
        return
    # Shift .N-1 -> .N ... .1 -> .2, then the live file -> .1; the oldest beyond `keep` is replaced.
    for generation in range(keep - 1, 0, -1):
        older = target.with_name(f"{target.name}.{generation}")
        if older.exists():
            os.replace(older, target.with_name(f"{target.name}.{generation + 1}"))
    os.replace(target, target.with_name(f"{target.name}.1"))


def _append(target: Path, line: bytes) -> None:
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        view = memoryview(line)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    finally:
        os.close(fd)
