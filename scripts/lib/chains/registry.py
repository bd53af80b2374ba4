"""The registry of chains: one JSON file for every project, in $BATON_STATE_HOME.

Layout of the state folder (default ~/.local/state/baton/):
    registry.json          schema_version 1, the newest MAX_CHAINS chains
    registry-archive.json  the older ones, same shape
    registry.lock          serialises read-modify-write of both files
    locks/<project>.lock   held by the runner of a project for its whole run
    chains/<chain id>/     the runner's log, each attempt's raw stream and stderr, the stop request

Every change is a locked read-modify-write ending in an atomic replace, so a
crash leaves the old or the new file. A crash between writing the temp file
and the rename leaves a complete `.registry.json.*.tmp`: the next locked load
takes it when its `generation` is newer (or the main file is unreadable), then
removes leftovers.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from lib.core import atomic
from lib.core.errors import BatonError

SCHEMA_VERSION = 1
MAX_CHAINS = 50

STATUSES = ("running", "done", "max_sessions", "failed", "budget_exhausted", "circuit_open", "stopped", "blocked")
# A chain in one of these can be continued with `run --resume`.
RESUMABLE = ("running", "stopped", "circuit_open", "failed", "budget_exhausted", "blocked")
SESSION_STATUSES = ("running", "ok", "failed", "interrupted", "stopped")

_CHAIN_ID = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{4}$")


def state_home() -> Path:
    env = os.environ.get("BATON_STATE_HOME")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "baton"


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def new_chain_id(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def is_chain_id(value: str) -> bool:
    return bool(_CHAIN_ID.match(value))


# ------------------------------------------------------------------ records


@dataclass
class Attempt:
    n: int
    started_at: str
    ended_at: str | None = None
    claude_session_id: str | None = None
    exit_code: int | None = None
    result_subtype: str | None = None
    is_error: bool | None = None
    terminal_reason: str | None = None
    cost_usd: float = 0.0
    turns: int = 0
    reason: str | None = None
    error_kind: str | None = None
    error: str | None = None
    # "main" for the session's work, "handoff" for the short retry turn
    purpose: str = "main"


@dataclass
class Handoff:
    # pending | valid | valid_after_retry | synthetic | missing
    status: str = "pending"
    path: str | None = None
    outcome: str | None = None
    problems: list[str] = field(default_factory=list)


@dataclass
class SessionRecord:
    id: str
    index: int
    status: str = "running"
    started_at: str = field(default_factory=now_iso)
    ended_at: str | None = None
    claude_session_id: str | None = None
    model: str | None = None
    pid: int | None = None
    pgid: int | None = None
    proc_start: str | None = None
    cost_usd: float = 0.0
    turns: int = 0
    result_subtype: str | None = None
    error_kind: str | None = None
    error: str | None = None
    reason: str | None = None
    failure_class: str | None = None
    # what the classifier named in the failure: tests, files with lines, first error line, missing module
    failure_context: dict[str, Any] | None = None
    # the model the runner asked for (`model` is the one the CLI reported)
    requested_model: str | None = None
    # the cost was read back from the stream of an interrupted session
    cost_from_stream: bool = False
    attempts: list[Attempt] = field(default_factory=list)
    handoff: Handoff = field(default_factory=Handoff)
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionRecord:
        known = _known(cls, data)
        known["attempts"] = [Attempt(**_known(Attempt, a)) for a in data.get("attempts") or []]
        known["handoff"] = Handoff(**_known(Handoff, data.get("handoff") or {}))
        return cls(**known)


@dataclass
class Breaker:
    state: str = "closed"  # closed | open
    consecutive_failures: int = 0
    opened_at: str | None = None


@dataclass
class ChainRecord:
    id: str
    project_dir: str
    mission: str
    status: str = "running"
    operator: str | None = None
    mission_file: str | None = None
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    ended_at: str | None = None
    end_reason: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    runner: dict[str, Any] = field(default_factory=dict)
    breaker: Breaker = field(default_factory=Breaker)
    sessions: list[SessionRecord] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    completion_streak: int = 0
    push: dict[str, Any] | None = None
    notification: dict[str, Any] | None = None
    # the routing policy's state: {"rung": index in the model ladder}
    routing: dict[str, Any] = field(default_factory=dict)
    # {"path", "branch", "base"} when the chain runs in its own git worktree
    worktree: dict[str, Any] | None = None
    # {"pid", "host", "restarts", "max_restarts"} when `run --detach` supervises the runner
    supervisor: dict[str, Any] | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChainRecord:
        known = _known(cls, data)
        known["breaker"] = Breaker(**_known(Breaker, data.get("breaker") or {}))
        known["sessions"] = [SessionRecord.from_dict(s) for s in data.get("sessions") or []]
        return cls(**known)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def cost_usd(self) -> float:
        return round(sum(s.cost_usd for s in self.sessions), 6)

    def refresh_totals(self) -> None:
        started = _parse_time(self.created_at)
        ended = _parse_time(self.ended_at) if self.ended_at else dt.datetime.now(dt.UTC)
        self.totals = {
            "sessions": len(self.sessions),
            "ok": sum(1 for s in self.sessions if s.status == "ok"),
            "failed": sum(1 for s in self.sessions if s.status == "failed"),
            "cost_usd": self.cost_usd,
            "turns": sum(s.turns for s in self.sessions),
            "duration_s": round((ended - started).total_seconds(), 3) if started and ended else None,
        }
        self.updated_at = now_iso()


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    # Unknown keys are dropped: a newer runner may add fields this one ignores.
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


# ------------------------------------------------------------------ the file


@dataclass
class RegistryData:
    generation: int = 0
    chains: list[ChainRecord] = field(default_factory=list)

    def find(self, chain_id: str) -> ChainRecord | None:
        for chain in self.chains:
            if chain.id == chain_id:
                return chain
        return None

    def put(self, chain: ChainRecord) -> None:
        for i, existing in enumerate(self.chains):
            if existing.id == chain.id:
                self.chains[i] = chain
                return
        self.chains.append(chain)


class RegistryError(BatonError):
    pass


class Registry:
    def __init__(self, home: Path | None = None) -> None:
        self.home = Path(home) if home is not None else state_home()
        self.path = self.home / "registry.json"
        self.archive_path = self.home / "registry-archive.json"
        self.lock_path = self.home / "registry.lock"

    # -- reading --------------------------------------------------------------

    def load(self) -> RegistryData:
        """A read-only view (no lock): the newest complete state on disk."""
        data, _ = self._read_best(self.path)
        return data

    def load_archive(self) -> RegistryData:
        data, _ = self._read_best(self.archive_path)
        return data

    def get(self, chain_id: str, *, archived: bool = True) -> ChainRecord | None:
        found = self.load().find(chain_id)
        if found is None and archived:
            found = self.load_archive().find(chain_id)
        return found

    def chains(self, project_dir: Path | str | None = None, *, archived: bool = False) -> list[ChainRecord]:
        """Chains, oldest first, optionally only those of one project."""
        chains = list(self.load().chains)
        if archived:
            seen = {c.id for c in chains}
            chains = [c for c in self.load_archive().chains if c.id not in seen] + chains
        if project_dir is not None:
            key = project_key(project_dir)
            chains = [c for c in chains if project_key(c.project_dir) == key]
        return sorted(chains, key=lambda c: (c.created_at, c.id))

    # -- writing --------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[RegistryData]:
        """Locked read-modify-write: changes to the yielded data are saved on exit."""
        self.home.mkdir(parents=True, exist_ok=True)
        with atomic.locked(self.lock_path):
            data, leftovers = self._read_best(self.path)
            yield data
            data.generation += 1
            overflow = self._overflow(data)
            if overflow:
                self._archive(overflow)
            self._write(self.path, data)
            for tmp in leftovers:
                with contextlib.suppress(OSError):
                    tmp.unlink()

    def save(self, chain: ChainRecord) -> None:
        chain.refresh_totals()
        with self.transaction() as data:
            existing = data.find(chain.id)
            if existing is not None and existing.supervisor is not None:
                # The supervisor's field is written by the supervisor only (lib.chains.supervisor).
                chain.supervisor = existing.supervisor
            data.put(chain)

    def recover(self) -> None:
        """Promote or clear a leftover temp file now (a locked no-op write)."""
        with self.transaction():
            pass

    def _overflow(self, data: RegistryData) -> list[ChainRecord]:
        excess = len(data.chains) - MAX_CHAINS
        if excess <= 0:
            return []
        finished = sorted((c for c in data.chains if c.status != "running"), key=lambda c: (c.created_at, c.id))
        moved = finished[:excess]
        ids = {c.id for c in moved}
        data.chains = [c for c in data.chains if c.id not in ids]
        return moved

    def _archive(self, moved: list[ChainRecord]) -> None:
        # The archive is written before the registry drops the chains: a crash in
        # between leaves a chain in both files (readers prefer the registry), never in neither.
        archive, leftovers = self._read_best(self.archive_path)
        for chain in moved:
            archive.put(chain)
        archive.generation += 1
        self._write(self.archive_path, archive)
        for tmp in leftovers:
            with contextlib.suppress(OSError):
                tmp.unlink()

    def _write(self, path: Path, data: RegistryData) -> None:
        payload = {
            "schema_version": SCHEMA_VERSION,
            "generation": data.generation,
            "chains": [c.to_dict() for c in data.chains],
        }
        atomic.write_text(path, json.dumps(payload, indent=1, ensure_ascii=False) + "\n")

    def _read_best(self, path: Path) -> tuple[RegistryData, list[Path]]:
        """The main file, or a newer complete temp file left by a crash; plus the temp files seen."""
        leftovers = sorted(path.parent.glob(f".{path.name}.*.tmp")) + sorted(path.parent.glob(f"{path.name}.tmp"))
        main: RegistryData | None = None
        main_error: str | None = None
        try:
            main = _parse(path.read_text(encoding="utf-8"), path)
        except FileNotFoundError:
            main = None
        except RegistryError as exc:
            main_error = str(exc)
        best = main
        for tmp in leftovers:
            try:
                candidate = _parse(tmp.read_text(encoding="utf-8"), tmp)
            except (OSError, RegistryError):
                continue
            if best is None or candidate.generation > best.generation:
                best = candidate
        if best is None:
            if main_error is not None:
                raise RegistryError(f"{main_error}; no complete temp file to recover from (move it aside to start over)")
            best = RegistryData()
        return best, leftovers


def _parse(text: str, path: Path) -> RegistryData:
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise RegistryError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise RegistryError(f"{path}: must be a JSON object")
    version = raw.get("schema_version")
    if version != SCHEMA_VERSION:
        raise RegistryError(f"{path}: schema_version {version!r} is not {SCHEMA_VERSION}: "
                            "written by another version of baton")
    chains = raw.get("chains")
    if not isinstance(chains, list):
        raise RegistryError(f"{path}: chains: must be a list")
    try:
        records = [ChainRecord.from_dict(c) for c in chains]
    except (TypeError, AttributeError) as exc:
        raise RegistryError(f"{path}: chains: malformed record: {exc}") from None
    generation = raw.get("generation")
    return RegistryData(generation=generation if isinstance(generation, int) else 0, chains=records)


# ------------------------------------------------------------------ per-chain files


def chain_dir(registry: Registry, chain_id: str) -> Path:
    """The runner's log, the raw streams and the stop request of one chain."""
    return registry.home / "chains" / chain_id


def stop_file(registry: Registry, chain_id: str) -> Path:
    return chain_dir(registry, chain_id) / "stop"


# ------------------------------------------------------------------ project lock


def project_key(project_dir: Path | str) -> str:
    return os.path.realpath(str(project_dir))


class ProjectLock:
    """Held by the runner of a project for its whole run; the kernel drops it if the runner dies."""

    def __init__(self, home: Path, project_dir: Path | str) -> None:
        digest = hashlib.sha256(project_key(project_dir).encode()).hexdigest()[:16]
        self.path = home / "locks" / f"{digest}.lock"
        self._lock = FileLock(str(self.path), timeout=0)

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            return False
        return True

    def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release()

    def is_held_elsewhere(self) -> bool:
        """True when another process holds the lock (a runner is at work on the project)."""
        if self._lock.is_locked:
            return False
        if not self.acquire():
            return True
        self.release()
        return False
