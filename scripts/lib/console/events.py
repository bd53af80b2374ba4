"""Live events for the console, derived by looking at files: the chain registry, the store, the state.

`Watcher.look()` compares what is on disk with what it saw the time before and returns the
differences as events. It is cheap when nothing changed: a stat of the registry file, of the
store folders and of each project's state folder. Only what changed is read again (the registry
through `lib.chains.registry`, notes through the store view, telemetry through `lib.telemetry.state`).

`EventHub` runs the watcher every `poll_interval_s` in a worker thread, numbers the events,
keeps the last few hundred (a reconnecting client sends `Last-Event-ID` and gets what it
missed), and hands them to every subscriber of `GET /api/events`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lib.console import chainview
from lib.console.data import Console, Project
from lib.console.live import telemetry_row
from lib.core.paths import STORE_FOLDERS
from lib.telemetry import state as hookstate

EVENT_TYPES = (
    "chain_started",
    "chain_updated",
    "chain_finished",
    "chain_stopped",
    "breaker_opened",
    "session_started",
    "session_ended",
    "handoff_written",
    "telemetry_updated",
)
HANDOFF_DONE = ("valid", "valid_after_retry", "synthetic")
HISTORY = 500
_log = logging.getLogger("baton.console")
QUEUE_MAX = 1000
HEARTBEAT_S = 15.0


@dataclass(frozen=True)
class Event:
    id: int
    type: str
    at: str
    data: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "at": self.at, "data": self.data}

    def sse(self) -> bytes:
        payload = json.dumps(self.as_dict(), ensure_ascii=False, default=str)
        return f"id: {self.id}\nevent: {self.type}\ndata: {payload}\n\n".encode()


Change = tuple[str, dict[str, Any]]


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _chain_state(chain: Mapping[str, Any]) -> dict[str, Any]:
    sessions = {}
    for s in chain.get("sessions") or []:
        if isinstance(s, Mapping) and isinstance(s.get("id"), str):
            handoff = s.get("handoff") or {}
            sessions[s["id"]] = (s.get("status"), handoff.get("status") if isinstance(handoff, Mapping) else None,
                                 s.get("cost_usd"))
    return {
        "status": chain.get("status"),
        "breaker": (chain.get("breaker") or {}).get("state"),
        "sessions": sessions,
        "updated_at": chain.get("updated_at"),
    }


class Watcher:
    """Turns file changes into events. Not thread-safe: one caller at a time (the hub's loop)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        for project in console.projects:
            project.view.watched = True
        self.primed = False
        self._registry_stamp: tuple[Any, ...] | None = None
        self._chains: dict[str, dict[str, Any]] = {}
        self._handoffs: set[tuple[str, str]] = set()
        self._note_gen: dict[str, int] = {}
        self._written: dict[str, set[str]] = {}
        self._telemetry: dict[tuple[str, str], tuple[tuple[int, int, int] | None, Any, Any]] = {}
        self._unreadable: dict[str, set[tuple[str, str]]] = {}

    def look(self) -> list[Change]:
        """Events since the last look (none on the first, which only records what is there)."""
        changes: list[Change] = []
        changes += self._look_registry()
        for project in self.console.projects:
            changes += self._look_store(project)
            changes += self._look_telemetry(project)
        first = not self.primed
        self.primed = True
        return [] if first else changes

    # -- the chain registry -----------------------------------------------------

    def _look_registry(self) -> list[Change]:
        paths = chainview.registry_paths(self.console.settings.registry_home)
        if not paths:
            return []
        stamp = _stat(paths[0])
        if stamp == self._registry_stamp and self.primed:
            return []
        self._registry_stamp = stamp
        try:
            chains = chainview.open_registry(self.console.settings.registry_home).load().chains
        except Exception:  # a registry being repaired: look again next time
            self._registry_stamp = None
            return []
        changes: list[Change] = []
        for record in chains:
            project = self.console.project_of_dir(record.project_dir)
            if project is None:
                continue
            data = record.to_dict()
            changes += self._diff_chain(project, data)
        return changes

    def _diff_chain(self, project: Project, chain: dict[str, Any]) -> list[Change]:
        chain_id = chain["id"]
        new = _chain_state(chain)
        old = self._chains.get(chain_id)
        self._chains[chain_id] = new
        if old == new:
            return []
        summary = chainview.chain_summary(project.name, chain)
        base = {"chain": chain_id, "project": project.name}
        out: list[Change] = []
        if old is None:
            old = {"status": None, "breaker": None, "sessions": {}, "updated_at": None}
            out.append(("chain_started", {**base, "chain_summary": summary}))
        for sid, (status, handoff, _cost) in new["sessions"].items():
            before = old["sessions"].get(sid)
            if before is None:
                out.append(("session_started", {**base, "session": sid, "source": "chain"}))
            if status != "running" and (before is None or before[0] == "running"):
                out.append(("session_ended", {**base, "session": sid, "status": status, "source": "chain"}))
            if handoff in HANDOFF_DONE and (before is None or before[1] not in HANDOFF_DONE):
                key = (project.name, sid)
                if key not in self._handoffs:
                    self._handoffs.add(key)
                    out.append(("handoff_written", {**base, "session": sid, "status": handoff, "source": "chain"}))
        if new["breaker"] == "open" and old["breaker"] != "open":
            out.append(("breaker_opened", {**base, "chain_summary": summary}))
        out.append(("chain_updated", {**base, "chain_summary": summary}))
        if old["status"] in (None, "running") and new["status"] not in (None, "running"):
            kind = "chain_stopped" if new["status"] == "stopped" else "chain_finished"
            out.append((kind, {**base, "status": new["status"], "chain_summary": summary}))
        return out

    # -- the store --------------------------------------------------------------

    def _look_store(self, project: Project) -> list[Change]:
        project.view.refresh(background=True)
        generation = project.view.generation
        if self._note_gen.get(project.name) == generation and self.primed:
            return []
        self._note_gen[project.name] = generation
        self._log_unreadable(project)
        written = {n.external_id: n for n in project.view.notes("session") if n.meta.get("status") == "written"}
        before = self._written.get(project.name)
        self._written[project.name] = set(written)
        if before is None:
            self._handoffs.update((project.name, sid) for sid in written)
            return []
        out: list[Change] = []
        for sid in sorted(set(written) - before):
            key = (project.name, sid)
            if key in self._handoffs:
                continue
            self._handoffs.add(key)
            note = written[sid]
            out.append(("handoff_written", {
                "project": project.name, "session": sid, "chain": note.meta.get("chain_id"),
                "status": "written", "source": "store", "path": note.relpath,
            }))
        return out

    def _log_unreadable(self, project: Project) -> None:
        # A note the store cannot read is left out of every event: say so once (per reason), so a
        # note that never shows up is explained in the console's log rather than silently missing.
        unreadable = {(note.relpath, note.error) for kind in STORE_FOLDERS for note in project.view.notes(kind)
                      if note.error is not None}
        logged = self._unreadable.setdefault(project.name, set())
        for relpath, error in sorted(unreadable - logged):
            _log.warning("%s: %s: not read: %s", project.name, relpath, error)
        self._unreadable[project.name] = unreadable

    # -- telemetry of sessions in progress --------------------------------------

    def _look_telemetry(self, project: Project) -> list[Change]:
        # Every state file is statted each time (a handful per machine): a folder's mtime alone
        # misses two writes within one timestamp tick.
        out: list[Change] = []
        seen: set[tuple[str, str]] = set()
        now = time.time()
        try:
            entries = list(os.scandir(project.state_dir))
        except OSError:
            entries = []
        for entry in entries:
            name = entry.name
            if not (name.startswith("session-") and name.endswith(".json")) or name.endswith(".usage.json"):
                continue
            sid = name[len("session-"):-len(".json")]
            key = (project.name, sid)
            seen.add(key)
            file_stamp = _stat(Path(entry.path))
            old = self._telemetry.get(key)
            if old is not None and old[0] == file_stamp:
                continue
            try:
                state = hookstate.read_state(str(project.state_dir), sid)
            except ValueError:  # not a session id baton accepts
                continue
            if state is None:
                continue
            self._telemetry[key] = (file_stamp, state.get("ended_at"), state.get("tool_calls_count"))
            row = telemetry_row(project.name, sid, state, now, self.console.settings.stale_after_s)
            base = {"project": project.name, "session": sid, "source": "telemetry"}
            if old is None:
                if not row["ended_at"]:
                    out.append(("session_started", base))
            elif row["ended_at"] and not old[1]:
                out.append(("session_ended", {**base, "status": row["end_reason"]}))
            out.append(("telemetry_updated", {**base, "telemetry": row}))
        for key in set(self._telemetry) - seen:
            if key[0] == project.name:
                del self._telemetry[key]
        return out


class EventHub:
    """Runs the watcher and fans its events out to subscribers."""

    def __init__(self, watcher: Watcher, *, interval_s: float, history: int = HISTORY) -> None:
        self.watcher = watcher
        self.interval_s = interval_s
        self._history: deque[Event] = deque(maxlen=history)
        self._subscribers: set[asyncio.Queue[Event | None]] = set()
        self._next_id = 1
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self.ready = asyncio.Event()
        self.look_seconds: deque[float] = deque(maxlen=100)

    @property
    def last_id(self) -> int:
        return self._next_id - 1

    def publish(self, kind: str, payload: dict[str, Any]) -> Event:
        stamp = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        event = Event(self._next_id, kind, stamp, payload)
        self._next_id += 1
        self._history.append(event)
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                # A client that does not read: drop it; its browser reconnects and catches up.
                self._subscribers.discard(queue)
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(None)
        return event

    def subscribe(self, last_id: int | None = None) -> tuple[asyncio.Queue[Event | None], list[Event]]:
        queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=QUEUE_MAX)
        if self._closed:
            queue.put_nowait(None)
            return queue, []
        self._subscribers.add(queue)
        backlog = [e for e in self._history if last_id is not None and e.id > last_id]
        return queue, backlog

    def unsubscribe(self, queue: asyncio.Queue[Event | None]) -> None:
        self._subscribers.discard(queue)

    def close(self) -> None:
        """End every event stream (the server is shutting down)."""
        self._closed = True
        for queue in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)
        self._subscribers.clear()

    async def _look(self) -> list[Change]:
        started = time.perf_counter()
        changes = await asyncio.to_thread(self.watcher.look)
        self.look_seconds.append(time.perf_counter() - started)
        return changes

    async def run(self) -> None:
        try:
            await self._look()  # the first look records what is there
        except Exception:
            pass
        self.ready.set()
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                changes = await self._look()
            except Exception:  # a file caught mid-change: look again next time
                continue
            for kind, payload in changes:
                self.publish(kind, payload)

    def close_threadsafe(self) -> None:
        """`close` from another thread (a signal handler, a test), so the server can stop at once."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.close)

    def start(self) -> None:
        if self._task is None:
            self._loop = asyncio.get_running_loop()
            self._closed = False
            self._task = self._loop.create_task(self.run())

    async def stop(self) -> None:
        self.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
