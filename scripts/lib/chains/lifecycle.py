"""Starting, resuming and stopping a chain; whether its runner is alive.

Each session runs in its own process group with its pid recorded, so after a
crash of the runner `resume_chain` can end a session that is still running, keep
the note it may have written, read what it spent from its saved stream, and
continue from the newest valid note: no session that produced a valid note runs
again.

A chain started with `worktree=True` works in its own git worktree on branch
`baton/<chain id>` (lib.chains.worktree); its lock is the worktree's, so several
such chains and a person in the main checkout work at once.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lib.chains import handoff_check, launch, worktree
from lib.chains.attempts import find_claude
from lib.chains.journal import append_decision
from lib.chains.registry import (
    RESUMABLE,
    ChainRecord,
    ProjectLock,
    Registry,
    SessionRecord,
    new_chain_id,
    now_iso,
    project_key,
    stop_file,
)
from lib.chains.runner import ChainRunner, EventSink
from lib.chains.settings import load as load_settings
from lib.chains.stream import read_saved
from lib.chains.verdicts import Verdict
from lib.core import process
from lib.core.errors import BatonError

# The mission is read from a file or the command line and kept in the registry: a sane cap.
MAX_MISSION_CHARS = 100_000


def _runner_info() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname(), "proc_start": process.proc_start_time(os.getpid()),
            "started_at": now_iso()}


def lock_key(chain: ChainRecord) -> Path:
    """What a runner locks: the chain's worktree, else the project."""
    if chain.worktree:
        return Path(chain.worktree["path"])
    return Path(chain.project_dir)


def _take_lock(registry: Registry, project_dir: Path) -> ProjectLock:
    lock = ProjectLock(registry.home, project_dir)
    if not lock.acquire():
        running = [c for c in registry.chains(project_dir) if c.status == "running" and not c.worktree]
        which = f" (chain {running[-1].id})" if running else ""
        raise BatonError(f"another chain runner is already at work on {project_key(project_dir)}{which}: "
                         "wait for it, or stop it with `chains.py stop CHAIN`")
    return lock


@dataclass
class StartRequest:
    project_dir: Path
    mission: str
    mission_file: str | None = None
    operator: str | None = None
    overrides: dict[str, Any] | None = None
    webhook_url: str | None = None
    # run in a git worktree of its own, on branch baton/<chain id>
    worktree: bool = False


def start_chain(request: StartRequest, *, registry: Registry | None = None,
                on_event: EventSink | None = None) -> ChainRunner:
    """Create a chain and return its runner, holding the project's lock."""
    registry = registry or Registry()
    project_dir = Path(project_key(request.project_dir))
    if not project_dir.is_dir():
        raise BatonError(f"{project_dir}: no such project folder")
    if not request.mission.strip():
        raise BatonError("the mission is empty")
    if len(request.mission) > MAX_MISSION_CHARS:
        raise BatonError(f"the mission is {len(request.mission)} characters (at most {MAX_MISSION_CHARS}): "
                         "keep it short and point to files in the project")
    settings = load_settings(project_dir, overrides=request.overrides)
    operator = handoff_check.resolve_operator(project_dir, request.operator)
    chain_id = new_chain_id()
    tree = worktree.plan(registry, project_dir, chain_id) if request.worktree else None
    lock = _take_lock(registry, Path(tree["path"]) if tree else project_dir)
    try:
        if tree is not None:
            worktree.ensure(project_dir, tree)
        chain = ChainRecord(id=chain_id, project_dir=str(project_dir), mission=request.mission,
                            mission_file=request.mission_file, operator=operator.slug,
                            settings={**settings.chain_level(), "webhook": bool(request.webhook_url)},
                            runner=_runner_info(), worktree=tree)
        stale = [c.id for c in registry.chains(project_dir) if c.status == "running" and not c.worktree]
        stale = [] if tree is not None else stale
        registry.save(chain)
    except BaseException:
        lock.release()
        raise
    runner = ChainRunner(registry, chain, settings, lock=lock, claude_bin=find_claude(),
                         webhook_url=request.webhook_url, on_event=on_event)
    for old in stale:
        runner.log(f"chain {old} was interrupted and is still resumable: chains.py run --resume {old}")
    return runner


def resume_chain(project_dir: Path, chain_id: str | None = None, *, overrides: dict[str, Any] | None = None,
                 webhook_url: str | None = None, registry: Registry | None = None,
                 on_event: EventSink | None = None) -> ChainRunner:
    """Continue a chain (the newest resumable one of the project when no id is given)."""
    registry = registry or Registry()
    project_dir = Path(project_key(project_dir))
    if chain_id is not None:
        found = registry.get(chain_id, archived=False)
        if found is None:
            raise BatonError(f"no chain {chain_id} in {registry.path}")
    else:
        candidates = [c for c in registry.chains(project_dir) if c.status in RESUMABLE]
        if not candidates:
            raise BatonError(f"no chain to resume in {project_dir} (`chains.py list` shows them)")
        found = candidates[-1]
    project_dir = Path(found.project_dir)
    lock = _take_lock(registry, lock_key(found))
    try:
        registry.recover()
        chain = registry.get(found.id, archived=False)
        assert chain is not None
        if chain.status not in RESUMABLE:
            raise BatonError(f"chain {chain.id} is {chain.status}: nothing to resume")
        if chain.worktree:
            worktree.ensure(project_dir, chain.worktree)
        settings = load_settings(project_dir, stored=chain.settings, overrides=overrides)
        runner = ChainRunner(registry, chain, settings, lock=lock, claude_bin=find_claude(),
                             webhook_url=webhook_url, on_event=on_event)
        _reopen(runner)
    except BaseException:
        lock.release()
        raise
    return runner


def _reopen(runner: ChainRunner) -> None:
    chain, settings = runner.chain, runner.settings
    if chain.status == "circuit_open" or chain.breaker.state == "open":
        opened = dt.datetime.fromisoformat(chain.breaker.opened_at) if chain.breaker.opened_at else None
        if opened is not None:
            until = opened + dt.timedelta(seconds=settings.breaker_cooldown_s)
            if dt.datetime.now(dt.UTC) < until:
                raise BatonError(f"chain {chain.id}: circuit breaker open until {until.isoformat(timespec='seconds')} "
                                 f"(cool-down {settings.breaker_cooldown_s:g} s)")
        append_decision(chain, "retry", what="circuit_reset", after_failures=chain.breaker.consecutive_failures)
        chain.breaker.state = "closed"
        chain.breaker.consecutive_failures = 0
        chain.breaker.opened_at = None
    last = runner._newest_valid_note()
    for session in chain.sessions:
        if session.status != "running":
            continue
        _end_orphan(runner, session)
        session.status = "interrupted"
        session.ended_at = now_iso()
        session.reason = "runner_crashed"
        _cost_from_streams(runner, session)
        path = runner.workdir / (session.handoff.path or f"docs/sessions/{session.id}.md")
        check = handoff_check.validate_handoff(path, session.id)
        if check.ok:
            session.handoff.status = "valid"
            session.handoff.outcome = check.outcome
            append_decision(chain, "skip", session=session.id, what="rerun", reason="its note is valid")
        else:
            verdict = Verdict("interrupted", None, False, "the runner stopped during this session")
            check = runner._synthetic(session, verdict, last, path)
            session.handoff.outcome = check.outcome
        runner.log(f"session {session.id}: interrupted by a runner crash; handoff {session.handoff.status}")
    chain.status = "running"
    chain.ended_at = None
    chain.end_reason = None
    chain.runner = _runner_info()
    if runner.webhook_url:
        chain.settings["webhook"] = True
    elif chain.settings.get("webhook"):
        runner.log(f"chain {chain.id}: started with a webhook, but none given now (--notify-webhook or "
                   "BATON_NOTIFY_WEBHOOK): no notification at the end")
    try:
        stop_file(runner.registry, chain.id).unlink()
    except FileNotFoundError:
        pass
    runner.save()
    runner.log(f"chain {chain.id}: resumed")


def _cost_from_streams(runner: ChainRunner, session: SessionRecord) -> None:
    """What an interrupted session spent, from what its saved streams reported: the result's total cost,
    else its assistant messages' token usage priced with baton's table. Attempts the runner had already
    recorded keep their cost; only the unfinished ones are read back."""
    for attempt, path in zip(session.attempts, runner.attempts.streams_of(session), strict=True):
        if attempt.ended_at is not None:
            continue
        summary = read_saved(path)
        if summary is None:
            continue
        cost, source = summary.reported_cost()
        attempt.cost_usd = round(cost, 6)
        attempt.turns = summary.num_turns
        attempt.ended_at = now_iso()
        attempt.reason = "runner_crashed"
        session.cost_usd = round(session.cost_usd + cost, 6)
        session.turns += attempt.turns
        session.cost_from_stream = True
        runner.log(f"session {session.id}: attempt {attempt.n} spent ${cost:.4f} (from its stream: {source})")


def _end_orphan(runner: ChainRunner, session: SessionRecord) -> None:
    """Wait for (then end) a session process that outlived its runner."""
    pgid = session.pgid
    if not pgid:
        return
    same = session.proc_start is None or process.proc_start_time(pgid) in (None, session.proc_start)
    if not same or not launch.group_alive(pgid):
        return
    runner.log(f"session {session.id}: still running (pgid {pgid}); waiting up to {runner.settings.resume_wait_s:g} s")
    deadline = time.monotonic() + runner.settings.resume_wait_s
    while time.monotonic() < deadline and launch.group_alive(pgid):
        time.sleep(0.05)
    if launch.group_alive(pgid):
        launch.kill_group(pgid, runner.settings.kill_grace_s, None)
    session.pid = session.pgid = None


def request_stop(registry: Registry, chain_id: str, *, timeout_s: float = 30.0) -> ChainRecord:
    """Stop a chain: the runner sees the stop file and ends the session; a chain whose runner is gone
    is marked stopped here (its live session, if any, ended)."""
    chain = registry.get(chain_id, archived=False)
    if chain is None:
        raise BatonError(f"no chain {chain_id} in {registry.path}")
    if chain.status != "running":
        return chain
    path = stop_file(registry, chain_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(now_iso() + "\n", encoding="utf-8")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        current = registry.get(chain_id, archived=False)
        if current is None or current.status != "running":
            return current or chain
        if not runner_alive(registry, current):
            break
        time.sleep(0.05)
    current = registry.get(chain_id, archived=False) or chain
    if current.status != "running":
        return current
    if runner_alive(registry, current):
        raise BatonError(f"chain {chain_id}: the runner has not stopped after {timeout_s:g} s "
                         "(the stop request stays in place)")
    # No runner: end what it left behind, here.
    lock = _take_lock(registry, lock_key(current))
    try:
        settings = load_settings(Path(current.project_dir), stored=current.settings)
        runner = ChainRunner(registry, current, settings, lock=lock, claude_bin=find_claude())
        for session in current.sessions:
            if session.status == "running":
                _end_orphan(runner, session)
                session.status = "stopped"
                session.ended_at = now_iso()
                session.reason = "stopped"
        runner._end("stopped", "stop requested (the runner was not running)")
    finally:
        lock.release()
    return current


def runner_alive(registry: Registry, chain: ChainRecord) -> bool:
    """Whether the runner that owns this chain is still at work."""
    info = chain.runner or {}
    pid = info.get("pid")
    if not isinstance(pid, int) or info.get("host") not in (None, socket.gethostname()):
        return False
    if not process.pid_alive(pid):
        return False
    start = info.get("proc_start")
    if start is not None and process.proc_start_time(pid) not in (None, start):
        return False
    return ProjectLock(registry.home, lock_key(chain)).is_held_elsewhere()
