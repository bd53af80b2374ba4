"""Console benchmark: server time of the dashboard and of /api/sessions?limit=50 on a 10,000-session store,
and the latency of live events (a registry or telemetry write -> the SSE message in a client).

Prints, from one run on one store built by tests/support/store.py (sessions with the telemetry hook's
and /handoff's frontmatter), served by the real app on a real HTTP server on 127.0.0.1:
- server time (the Server-Timing header the console sets) and client-observed time, median and p90
  over warm requests, for `/`, `/api/sessions?limit=50` and, as the baseline, `/api/health`;
- the cold first request (the store read for the first time);
- event latency: from the write of a chain registry (through lib.chains, when installed) and of a
  telemetry state file to the SSE message arriving in a client, at the default poll interval.
Target: dashboard and sessions page under 200 ms each, warm.

    .venv/bin/python bench/bench_console.py [--sessions N] [--requests N] [--events N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT / "tests")]

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from lib.console.app import Security, allowed_hosts_for, create_app  # noqa: E402
from lib.console.data import Console, SessionQuery, Settings, chains_available  # noqa: E402
from lib.core import atomic  # noqa: E402
from support import store as store_factory  # noqa: E402

WORKSTREAMS = 300


def build_store(root: Path, sessions: int) -> None:
    """The store factory's benchmark store, with the keys the hook and /handoff write (model, cost,
    failure summary: what the dashboard and insights read); tests/support/store.py."""
    (root / ".claude" / "state").mkdir(parents=True)
    store_factory.bench_store(root, sessions, WORKSTREAMS, seed=11, telemetry=True, handoff=True)


@contextlib.contextmanager
def serve(root: Path, poll_s: float) -> Iterator[tuple[str, Any]]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # as serve.py
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    console = Console([root], Settings(poll_interval_s=poll_s))
    started = time.perf_counter()
    notes = console.warm()  # as serve.py does before it serves
    print(f"index warm-up before serving: {notes} notes in {(time.perf_counter() - started) * 1000:.0f} ms")
    app = create_app(console, Security(token="bench", allowed_hosts=allowed_hosts_for("127.0.0.1", port)))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        if app.hub is not None:
            app.hub.close_threadsafe()
        server.should_exit = True
        thread.join(10)
        sock.close()


def server_ms(header: str | None) -> float:
    return float((header or "app;dur=nan").split("dur=")[1])


class Client:
    """A plain keep-alive HTTP/1.1 client: the least client overhead on top of the server's time."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=60)
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def get(self, path: str) -> tuple[int, float, bytes]:
        self.conn.request("GET", path)
        response = self.conn.getresponse()
        body = response.read()
        return response.status, server_ms(response.getheader("server-timing")), body


def timings(client: Client, path: str, n: int) -> tuple[list[float], list[float]]:
    server, seen = [], []
    for _ in range(n):
        started = time.perf_counter()
        status, spent, body = client.get(path)
        seen.append((time.perf_counter() - started) * 1000)
        assert status == 200, body[:200]
        server.append(spent)
    return server, seen


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Listener:
    def __init__(self, url: str) -> None:
        self.arrivals: list[tuple[float, dict[str, Any]]] = []
        self.ready = threading.Event()
        self.lock = threading.Lock()
        threading.Thread(target=self._run, args=(url,), daemon=True).start()

    def _run(self, url: str) -> None:
        with contextlib.suppress(httpx.HTTPError), httpx.Client(timeout=httpx.Timeout(5, read=None)) as client, \
                client.stream("GET", url) as response:
            event = None
            for line in response.iter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                    if event == "hello":
                        self.ready.set()
                elif line.startswith("data: ") and event != "hello":
                    with self.lock:
                        self.arrivals.append((time.perf_counter(), json.loads(line[6:])))

    def wait_for(self, predicate: Any, since: int, timeout: float = 10) -> float:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            with self.lock:
                for at, event in self.arrivals[since:]:
                    if predicate(event):
                        return at
            time.sleep(0.002)
        raise TimeoutError("no event")


def event_latency(url: str, root: Path, n: int, state_home: Path, poll: float) -> dict[str, list[float]]:
    listener = Listener(f"{url}/api/events")
    listener.ready.wait(10)
    time.sleep(0.3)  # the watcher's first look has recorded what is there
    out: dict[str, list[float]] = {"telemetry": [], "registry": []}
    for i in range(n):
        sid = f"bench-{i}"
        mark = len(listener.arrivals)
        started = time.perf_counter()
        atomic.write_text(root / ".claude" / "state" / f"session-{sid}.json",
                          json.dumps({"state_version": 1, "session_id": sid, "last_event_at": "2099-01-01T00:00:00Z"}))
        at = listener.wait_for(lambda e, s=sid: e["type"] == "session_started" and e["data"].get("session") == s, mark)
        out["telemetry"].append((at - started) * 1000)
        time.sleep(random.random() * poll)  # writes fall anywhere between two looks
    if chains_available():
        from lib.chains.registry import ChainRecord, Registry, new_chain_id

        registry = Registry(state_home)
        for _ in range(n):
            chain = ChainRecord(id=new_chain_id(), project_dir=str(root), mission="bench", status="running",
                                settings={"budget_usd": 5.0, "max_sessions": 10})
            mark = len(listener.arrivals)
            started = time.perf_counter()
            registry.save(chain)
            at = listener.wait_for(lambda e, c=chain.id: e["type"] == "chain_started" and e["data"].get("chain") == c,
                                   mark)
            out["registry"].append((at - started) * 1000)
            time.sleep(random.random() * poll)  # writes fall anywhere between two looks
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=10_000, help="sessions in the generated store")
    parser.add_argument("--requests", type=int, default=30, help="warm requests per URL")
    parser.add_argument("--events", type=int, default=10, help="events timed per source")
    parser.add_argument("--poll", type=float, default=0.25, help="the watcher's poll interval (default 0.25 s)")
    parser.add_argument("--keep", type=Path, help="build the store here and keep it")
    args = parser.parse_args()

    base = args.keep or Path(tempfile.mkdtemp(prefix="baton-bench-console-"))
    root = base / "repo"
    state_home = base / "state"
    os.environ["BATON_STATE_HOME"] = str(state_home)
    started = time.perf_counter()
    build_store(root, args.sessions)
    print(f"store: {args.sessions} sessions, {WORKSTREAMS} workstreams, 5 operators (built in {time.perf_counter() - started:.1f} s)")

    with serve(root, args.poll) as (url, app):
        client = Client(url)
        started = time.perf_counter()
        _status, first_ms, _body = client.get("/")
        print(f"first dashboard after the warm-up: {(time.perf_counter() - started) * 1000:.0f} ms "
              f"(server {first_ms:.0f} ms: every indexed note loaded once)")
        rows = []
        results: dict[str, tuple[list[float], list[float]]] = {}
        for name, path in (("health (baseline)", "/api/health"), ("dashboard /", "/"),
                           ("/api/sessions?limit=50", "/api/sessions?limit=50"),
                           ("/sessions page", "/sessions"), ("/insights page", "/insights")):
            timings(client, path, 3)  # warm
            results[name] = timings(client, path, args.requests)
        base_ms = statistics.median(results["health (baseline)"][0])
        print(f"\nwarm, {args.requests} requests each (server = Server-Timing; client = seen over HTTP):")
        print(f"  {'':<24} {'server median':>14} {'p90':>8} {'client median':>14} {'x baseline':>11}")
        for name, (server, seen) in results.items():
            med = statistics.median(server)
            rows.append((name, med))
            print(f"  {name:<24} {med:>11.1f} ms {p(server, 0.9):>5.1f} ms {statistics.median(seen):>11.1f} ms "
                  f"{med / base_ms:>10.1f}x")
        # While the store changes: a note is written (atomically, as baton writes) before each request.
        # Requests answer from the view; the watcher refreshes the index off the request path. Then how
        # long a new note takes to show in /api/sessions.
        rng = random.Random(5)
        draws = (random.Random(6), random.Random(7))  # the new notes' telemetry and /handoff keys
        changing: dict[str, list[float]] = {}
        serial = args.sessions  # the factory's next new note, past the store's last
        for name, path in (("dashboard /", "/"), ("/api/sessions?limit=50", "/api/sessions?limit=50")):
            changing[name] = []
            for _ in range(args.requests):
                rel, text = store_factory.bench_session(serial, WORKSTREAMS, rng, telemetry_rng=draws[0],
                                                         handoff_rng=draws[1])
                serial += 1
                atomic.write_text(root / rel, text)
                status, spent, body = client.get(path)
                assert status == 200, body[:200]
                changing[name].append(spent)
                time.sleep(rng.random() * args.poll)
        print(f"\n  while the store changes (a note written before each request, {args.requests} each):")
        for name, values in changing.items():
            print(f"  {name:<24} {statistics.median(values):>11.1f} ms {p(values, 0.9):>5.1f} ms")
        visible: list[float] = []
        for i in range(args.events):
            time.sleep(rng.random() * args.poll)
            ext = f"ZY-991231-{i + 1:02d}"  # dated last: the newest note, first in the list
            started = time.perf_counter()
            atomic.write_text(root / "docs" / "sessions" / f"{ext}.md",
                              store_factory.session_text(ext, "ana", "2099-12-31", title="Probe", summary="A probe."))
            while ext.encode() not in client.get("/api/sessions?limit=1")[2]:
                time.sleep(0.005)
            visible.append((time.perf_counter() - started) * 1000)
        print(f"  a new note visible in /api/sessions: median {statistics.median(visible):.0f} ms, "
              f"max {max(visible):.0f} ms (n={len(visible)})")
        for name in ("dashboard /", "/api/sessions?limit=50"):
            med = statistics.median(results[name][0])
            during = statistics.median(changing[name])
            print(f"  target < 200 ms warm: {name}: {'met' if max(med, during) < 200 else 'MISSED'} "
                  f"({med:.1f} ms, {during:.1f} ms while the store changes)")
        looks = list(app.hub.look_seconds) if app.hub is not None else []
        if looks:
            print(f"  watcher look (stat of registry, store folders, state): median "
                  f"{statistics.median(looks) * 1000:.1f} ms, max {max(looks) * 1000:.1f} ms")

        latency = event_latency(url, root, args.events, state_home, args.poll)
        print(f"\nevent latency, write -> SSE message in a client (poll interval {args.poll:g} s):")
        for source, values in latency.items():
            if not values:
                print(f"  {source:<10} (chain runner not installed: skipped)")
                continue
            print(f"  {source:<10} median {statistics.median(values):6.0f} ms   max {max(values):6.0f} ms   "
                  f"(n={len(values)})")
    # A restarted console finds the index warm: only the stat of every note, then the rows are loaded.
    started = time.perf_counter()
    again = Console([root], Settings(poll_interval_s=args.poll))
    again.warm()
    warmed = time.perf_counter()
    again.sessions(SessionQuery(limit=50))
    done = time.perf_counter()
    again.close()
    print(f"\nrestart with a warm index: warm-up {(warmed - started) * 1000:.0f} ms, first sessions page "
          f"{(done - warmed) * 1000:.0f} ms (every row loaded from the index)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
