"""Live events: the watcher turns file changes into events; /api/events streams them over a real HTTP server."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from lib.console.data import Console, Settings
from lib.console.events import Watcher
from lib.store import frontmatter
from support.console_server import serve
from support.console_store import write_session, write_telemetry


def kinds(changes: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [k for k, _ in changes]


def test_the_first_look_only_records_what_is_there(repo: Path) -> None:
    write_session(repo, "AN-260301-01", date="2026-03-01")
    write_telemetry(repo, "live-1")
    watcher = Watcher(Console([repo]))
    assert watcher.look() == []
    assert watcher.look() == []


def test_telemetry_start_update_and_end(repo: Path) -> None:
    watcher = Watcher(Console([repo]))
    watcher.look()
    write_telemetry(repo, "live-1", tool_calls=1)
    first = watcher.look()
    assert kinds(first) == ["session_started", "telemetry_updated"]
    assert first[0][1] == {"project": repo.name, "session": "live-1", "source": "telemetry"}
    write_telemetry(repo, "live-1", tool_calls=2, age_s=1)
    update = watcher.look()
    assert kinds(update) == ["telemetry_updated"] and update[0][1]["telemetry"]["tool_calls_count"] == 2
    write_telemetry(repo, "live-1", tool_calls=3, ended=True, age_s=0)
    assert kinds(watcher.look()) == ["session_ended", "telemetry_updated"]
    assert watcher.look() == []


def test_a_handoff_note_written_to_the_store(repo: Path) -> None:
    watcher = Watcher(Console([repo]))
    watcher.look()
    stub = repo / "docs" / "sessions" / "AN-260301-02.md"
    frontmatter.write(stub, {"kind": "session", "external_id": "AN-260301-02", "operator": "ann",
                             "claimed_at": "2026-03-01T10:00:00Z", "status": "claimed"}, "")
    assert watcher.look() == []  # a claim is not a handoff
    write_session(repo, "AN-260301-02", date="2026-03-01")
    changes = watcher.look()
    assert kinds(changes) == ["handoff_written"]
    assert changes[0][1]["session"] == "AN-260301-02" and changes[0][1]["source"] == "store"
    write_session(repo, "AN-260301-02", date="2026-03-01", summary="Rewritten.")
    assert watcher.look() == []  # one handoff event per session


# ------------------------------------------------------------------ over HTTP


class SSE:
    """Reads an event stream in a thread; events land in a queue."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(url, headers or {}), daemon=True)
        self.connected = threading.Event()
        self._thread.start()

    def _run(self, url: str, headers: dict[str, str]) -> None:
        try:
            self._read(url, headers)
        except httpx.HTTPError:
            if not self._stop.is_set():
                self.events.put({"event": "error", "data": {}, "id": None, "t": time.monotonic()})

    def _read(self, url: str, headers: dict[str, str]) -> None:
        with httpx.Client(timeout=httpx.Timeout(5.0, read=30.0)) as client, \
                client.stream("GET", url, headers=headers) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            fields: dict[str, str] = {}
            for line in response.iter_lines():
                if self._stop.is_set():
                    return
                if line == "":
                    if fields.get("event") == "hello":
                        self.connected.set()
                    elif "data" in fields:
                        self.events.put({"id": fields.get("id"), "event": fields.get("event"),
                                         "data": json.loads(fields["data"]), "t": time.monotonic()})
                    fields = {}
                elif not line.startswith(":"):
                    key, _, value = line.partition(": ")
                    fields[key] = value

    def next(self, kind: str, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind} event within {timeout} s")
            event = self.events.get(timeout=left)
            if event["event"] == kind:
                return event

    def close(self) -> None:
        self._stop.set()


@pytest.fixture
def running(repo: Path) -> Iterator[Any]:
    with serve([repo], settings=Settings(poll_interval_s=0.05)) as server:
        yield server


def test_events_stream_over_http(running: Any, repo: Path) -> None:
    stream = SSE(f"{running.url}/api/events")
    assert stream.connected.wait(10)
    hub = running.app.hub
    deadline = time.monotonic() + 10
    while not hub.ready.is_set() and time.monotonic() < deadline:
        time.sleep(0.01)
    write_telemetry(repo, "live-http")
    started = stream.next("session_started")
    assert started["data"]["type"] == "session_started"
    assert started["data"]["data"]["session"] == "live-http"
    write_session(repo, "AN-260301-05", date="2026-03-01")
    handoff = stream.next("handoff_written")
    assert handoff["data"]["data"]["session"] == "AN-260301-05"
    assert int(handoff["id"]) > int(started["id"])
    stream.close()


def test_a_reconnecting_client_gets_what_it_missed(running: Any, repo: Path) -> None:
    first = SSE(f"{running.url}/api/events")
    assert first.connected.wait(10)
    write_telemetry(repo, "live-a")
    seen = first.next("session_started")
    first.close()
    write_telemetry(repo, "live-b")
    # Wait until the hub has published live-b (its history is what a reconnect replays).
    deadline = time.monotonic() + 10
    while not any(e.data.get("session") == "live-b" for e in running.app.hub._history):
        assert time.monotonic() < deadline, "live-b never published"
        time.sleep(0.02)
    again = SSE(f"{running.url}/api/events", headers={"Last-Event-ID": seen["id"]})
    replay = again.next("session_started")
    assert replay["data"]["data"]["session"] == "live-b"
    again.close()


def test_event_stream_refuses_bad_parameters(running: Any) -> None:
    with httpx.Client(timeout=5) as client:
        assert client.get(f"{running.url}/api/events?last_event_id=x").status_code == 400
        assert client.get(f"{running.url}/api/events?project=nope").status_code == 404
        assert client.get(f"{running.url}/api/events", headers={"host": "evil.example"}).status_code == 400


def test_a_real_server_serves_the_dashboard(running: Any) -> None:
    with httpx.Client(timeout=5) as client:
        response = client.get(f"{running.url}/")
        assert response.status_code == 200 and "Dashboard" in response.text
        assert response.headers["x-frame-options"] == "DENY"
