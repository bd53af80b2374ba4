"""The chain loop: one headless session after another until the mission is done or a limit says stop.

Each session: claim its id -> build the prompt from the mission and the last
note -> run `claude` (retrying transient errors with backoff, waiting out usage
limits) -> check the note it left (one short `/handoff --auto` turn if it is
missing, then a synthetic note) -> record everything in the registry. Before
every session the runner checks the stop request, the session count, the
budget and the circuit breaker.

The registry is written after every change, and each session runs in its own
process group with its pid recorded, so after a crash of the runner
`resume_chain` can end a session that is still running, keep the note it may
have written, and continue from the newest valid note: no session that produced
a valid note runs again.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lib.chains import handoff_check, launch
from lib.chains.handoff_check import HandoffCheck
from lib.chains.notify import PUSH_STATUSES, git_push, post_webhook
from lib.chains.registry import (
    RESUMABLE,
    Attempt,
    ChainRecord,
    Handoff,
    ProjectLock,
    Registry,
    SessionRecord,
    new_chain_id,
    now_iso,
    project_key,
)
from lib.chains.settings import ChainSettings
from lib.chains.settings import load as load_settings
from lib.chains.stream import StreamReader
from lib.chains.verdicts import Verdict, classify, failure_class_for
from lib.core.errors import BatonError
from lib.failures import decisions
from lib.store.operators import Operator

HANDOFF_PROMPT = "/handoff --auto"
# The command pre-runs its `start` step; the model then makes one `finish` call and closes: two turns.
HANDOFF_TURNS = 2
# The session runs the command through the Skill tool, which a headless run must be granted.
HANDOFF_SKILL = "Skill(handoff)"
# The prompt is one command-line argument, and Linux caps one argument at 128 KiB.
MAX_MISSION_CHARS = 100_000

EventSink = Callable[[str], None]


def append_decision(chain: ChainRecord, kind: str, *, session: str | None = None, **detail: Any) -> None:
    """Record a decision of the runner: in the chain's record, and in the project's decision log."""
    if kind not in decisions.DECISION_KINDS:
        raise ValueError(f"unknown decision type {kind!r}")
    entry: dict[str, Any] = {"at": now_iso(), "type": kind, "session": session}
    entry.update(detail)
    chain.decisions.append(entry)
    what = detail.get("what") or detail.get("model") or kind
    reason = detail.get("reason")
    context = {k: v for k, v in detail.items() if k not in ("what", "reason", "failure_class")}
    decisions.log_decision(
        kind, decision=str(what), reason=None if reason is None else str(reason), context=context or None,
        root=chain.project_dir, chain=chain.id, session_id=session, failure_class=detail.get("failure_class"),
        operator=chain.operator,
    )


def find_claude() -> str:
    """$CLAUDE_BIN, else `claude` (resolved on PATH when the session starts)."""
    return os.environ.get("CLAUDE_BIN") or "claude"


class ChainRunner:
    def __init__(self, registry: Registry, chain: ChainRecord, settings: ChainSettings, *, lock: ProjectLock,
                 claude_bin: str, webhook_url: str | None = None, on_event: EventSink | None = None) -> None:
        self.registry = registry
        self.chain = chain
        self.settings = settings
        self.lock = lock
        self.claude_bin = claude_bin
        self.webhook_url = webhook_url
        self.project_dir = Path(chain.project_dir)
        self._on_event = on_event
        self._stop_flag = False
        self._operator: Operator | None = None
        # the final `result` text of each session's main attempt, for the completion signal
        self._result_text: dict[str, str] = {}
        # the end of the last attempt's stderr and stray output, for the failure classifier
        self._evidence: dict[str, str] = {}

    # -- paths and signals ------------------------------------------------------

    @property
    def chain_dir(self) -> Path:
        path = chain_dir(self.registry, self.chain.id)
        if not path.is_dir():
            # Raw streams can quote whatever the session read: readable by the user only.
            path.mkdir(parents=True, mode=0o700, exist_ok=True)
        return path

    def request_stop(self) -> None:
        """Ask the runner to stop the current session and end the chain as `stopped` (signal-safe)."""
        self._stop_flag = True

    def stop_requested(self) -> bool:
        return self._stop_flag or stop_file(self.registry, self.chain.id).exists()

    def log(self, message: str) -> None:
        line = f"{now_iso()} {message}"
        try:
            self.chain_dir.mkdir(parents=True, exist_ok=True)
            with open(self.chain_dir / "runner.log", "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        except OSError:
            pass
        if self._on_event is not None:
            self._on_event(message)

    def save(self) -> None:
        self.registry.save(self.chain)

    def _sleep(self, seconds: float) -> bool:
        """Sleep, waking early on a stop request; False when stopped."""
        deadline = time.monotonic() + max(seconds, 0.0)
        while time.monotonic() < deadline:
            if self.stop_requested():
                return False
            time.sleep(min(0.05, max(deadline - time.monotonic(), 0.0)))
        return not self.stop_requested()

    # -- the loop ---------------------------------------------------------------

    def run(self) -> ChainRecord:
        """Run the chain to its end; the project lock is released on the way out."""
        try:
            self._loop()
        finally:
            self.lock.release()
        return self.chain

    def _loop(self) -> None:
        chain, settings = self.chain, self.settings
        last = self._newest_valid_note()
        if last is not None and last.outcome == "done" and not last.synthetic:
            self._end("done", "the last note's outcome is done")
            return
        while True:
            if self.stop_requested():
                self._end("stopped", "stop requested")
                return
            if len(chain.sessions) >= settings.max_sessions:
                self._end("max_sessions", f"{settings.max_sessions} sessions run")
                return
            left = settings.budget_usd - chain.cost_usd
            if left < settings.min_budget_usd:
                append_decision(chain, "abort", reason="budget", left_usd=round(left, 4))
                self._end("budget_exhausted", f"${left:.4f} left, below the ${settings.min_budget_usd:g} floor")
                return
            if shutil.which(self.claude_bin) is None:
                append_decision(chain, "abort", reason="missing_binary")
                self._end("failed", f"claude not found ({self.claude_bin}): install Claude Code or set CLAUDE_BIN")
                return

            session, verdict, check = self._run_session(last)

            if verdict.reason == "stopped":
                self._end("stopped", "stop requested")
                return
            if verdict.error_kind == "fatal":
                append_decision(chain, "abort", session=session.id, reason=verdict.reason)
                self._end("failed", f"{verdict.reason}: {verdict.message}")
                return
            if verdict.reason == "budget_exceeded":
                append_decision(chain, "abort", session=session.id, reason="budget")
                self._end("budget_exhausted", "a session reached its --max-budget-usd")
                return
            if check.ok:
                last = check
            if self._completed(session, check):
                self._end("done", "completion signal seen" if check.outcome != "done" else "outcome done")
                return
            if session.status == "failed":
                chain.breaker.consecutive_failures += 1
            elif session.status == "ok":
                chain.breaker.consecutive_failures = 0
            if chain.breaker.consecutive_failures >= settings.breaker_threshold:
                chain.breaker.state = "open"
                chain.breaker.opened_at = now_iso()
                append_decision(chain, "escalation", session=session.id, reason="circuit_open",
                                consecutive_failures=chain.breaker.consecutive_failures)
                self._end("circuit_open", f"{chain.breaker.consecutive_failures} failed sessions in a row")
                return
            self.save()

    def _completed(self, session: SessionRecord, check: HandoffCheck) -> bool:
        if check.ok and check.outcome == "done" and not check.synthetic:
            return True
        signal = self.settings.completion_signal
        if not signal:
            return False
        texts = [self._result_text.get(session.id, "")]
        if check.ok and not check.synthetic:
            texts.append(check.summary)
        seen = any(signal in text for text in texts)
        self.chain.completion_streak = self.chain.completion_streak + 1 if seen else 0
        return self.chain.completion_streak >= self.settings.completion_repeats

    # -- one session ------------------------------------------------------------

    def _run_session(self, last: HandoffCheck | None) -> tuple[SessionRecord, Verdict, HandoffCheck]:
        chain, settings = self.chain, self.settings
        if self._operator is None:
            self._operator = handoff_check.resolve_operator(self.project_dir, chain.operator)
        claimed = handoff_check.claim_session_id(self.project_dir, self._operator)
        session = SessionRecord(id=claimed.id, index=len(chain.sessions) + 1, model=settings.model,
                                handoff=Handoff(path=os.path.relpath(claimed.path, self.project_dir)))
        chain.sessions.append(session)
        append_decision(chain, "routing", session=session.id, model=settings.model or "default",
                        why="--model" if settings.model else "Claude Code's default model")
        self.save()
        self.log(f"session {session.index}/{settings.max_sessions} {session.id}: started")

        prompt = build_prompt(chain, session, last, settings)
        verdict = self._attempts(session, prompt)
        check = handoff_check.validate_handoff(claimed.path, session.id)
        session.handoff.problems = check.problems

        if verdict.reason == "stopped":
            session.status = "stopped"
        elif verdict.failed:
            session.status = "failed"
        else:
            session.status = "ok"
        session.error_kind = verdict.error_kind
        session.reason = verdict.reason
        session.error = verdict.message or None
        session.failure_class = failure_class_for(verdict, self._evidence.get(session.id, ""),
                                                  session.attempts[-1].exit_code if session.attempts else None)

        if check.ok:
            session.handoff.status = "valid"
        else:
            self.log(f"session {session.id}: handoff not valid ({'; '.join(check.problems)[:300]})")
            retry_ok = verdict.ok and session.claude_session_id is not None
            if retry_ok and not self.stop_requested() and self._budget_left() >= settings.min_budget_usd:
                append_decision(chain, "retry", session=session.id, what="handoff",
                                problems=check.problems[:5])
                self._handoff_turn(session)
                check = handoff_check.validate_handoff(claimed.path, session.id)
                if check.ok:
                    session.handoff.status = "valid_after_retry"
            if not check.ok:
                check = self._synthetic(session, verdict, last, claimed.path)
        session.handoff.outcome = check.outcome
        session.ended_at = now_iso()
        # Saved by the caller, together with the breaker and completion state this changes.
        self.log(f"session {session.id}: {session.status} ({verdict.reason}), ${session.cost_usd:.4f}, "
                 f"handoff {session.handoff.status}")
        return session, verdict, check

    def _budget_left(self) -> float:
        return self.settings.budget_usd - self.chain.cost_usd

    def _attempts(self, session: SessionRecord, prompt: str) -> Verdict:
        """Run the session, retrying transient errors and waiting out usage limits."""
        settings, chain = self.settings, self.chain
        retries = waits = truncated = 0
        while True:
            if self._budget_left() < settings.min_budget_usd:
                return Verdict("budget_exceeded", None, True, "no budget left for another attempt")
            argv = self._argv(prompt, session)
            verdict = self._attempt(session, argv, "main")
            if verdict.reason == "truncated_stream":
                truncated += 1
                if truncated > 1:
                    verdict = Verdict("truncated_stream", "fatal", True,
                                      "the stream ended without a result twice in a row")
            if verdict.error_kind == "transient":
                if verdict.reason == "wall_clock":
                    # The session was working, only too long: the same prompt would likely
                    # run out of time again. Its partial work continues through a handoff.
                    append_decision(chain, "skip", session=session.id, what="retry", reason="wall_clock")
                    return verdict
                if retries < settings.max_retries:
                    retries += 1
                    delay = settings.backoff_delay(retries)
                    append_decision(chain, "retry", session=session.id, what="session", reason=verdict.reason,
                                    retry=retries, delay_s=delay, failure_class=failure_class_for(verdict))
                    self.save()
                    self.log(f"session {session.id}: {verdict.reason}, retry {retries}/{settings.max_retries} "
                             f"in {delay:g} s")
                    if not self._sleep(delay):
                        return Verdict("stopped", None, False, "stopped during backoff")
                    continue
                return verdict
            if verdict.error_kind == "wait":
                if waits < settings.usage_limit_max_waits:
                    waits += 1
                    delay = self._wait_delay(verdict)
                    append_decision(chain, "retry", session=session.id, what="usage_limit_wait", wait_s=delay,
                                    wait_until=verdict.wait_until)
                    self.save()
                    self.log(f"session {session.id}: usage limit, waiting {delay:g} s for the reset")
                    if not self._sleep(delay):
                        return Verdict("stopped", None, False, "stopped while waiting for a usage limit")
                    continue
                return Verdict("usage_limit", "wait", True, f"usage limit still hit after {waits} waits")
            return verdict

    def _wait_delay(self, verdict: Verdict) -> float:
        settings = self.settings
        if verdict.wait_until is not None:
            delay = verdict.wait_until - time.time()
        else:
            delay = settings.usage_limit_default_wait_s
        return round(min(max(delay, 0.0), settings.usage_limit_max_wait_s), 3)

    def _argv(self, prompt: str, session: SessionRecord, *, resume: str | None = None,
              max_turns: int | None = None) -> list[str]:
        settings = self.settings
        argv = [self.claude_bin, "-p", prompt, "--output-format", "stream-json", "--verbose"]
        if resume is not None:
            argv += ["--resume", resume]
        turns = max_turns if max_turns is not None else settings.max_turns
        if turns is not None:
            argv += ["--max-turns", str(turns)]
        argv += ["--max-budget-usd", f"{settings.session_budget(self.chain.cost_usd):.4f}"]
        if settings.model:
            argv += ["--model", settings.model]
        if settings.permission_mode:
            argv += ["--permission-mode", settings.permission_mode]
        if settings.allowed_tools:
            argv += ["--allowedTools", ",".join(dict.fromkeys([*settings.allowed_tools, HANDOFF_SKILL]))]
        return argv

    def _env(self, session: SessionRecord) -> dict[str, str]:
        env = dict(os.environ)
        # A runner started from inside a Claude Code session must not make the
        # child believe it is nested.
        env.pop("CLAUDECODE", None)
        # The webhook URL may carry a token: the session (and its transcript) never sees it.
        env.pop("BATON_NOTIFY_WEBHOOK", None)
        env["BATON_SESSION_ID"] = session.id
        env["BATON_CHAIN_ID"] = self.chain.id
        if self.chain.operator:
            env["OPERATOR"] = self.chain.operator
        return env

    def _attempt(self, session: SessionRecord, argv: list[str], purpose: str) -> Verdict:
        attempt = Attempt(n=len(session.attempts) + 1, started_at=now_iso(), purpose=purpose)
        session.attempts.append(attempt)
        stem = f"{session.id}-{attempt.n}"

        def on_spawn(pid: int) -> None:
            session.pid = session.pgid = pid
            session.proc_start = launch.proc_start_time(pid)
            self.save()

        outcome = launch.run_claude(
            argv, cwd=self.project_dir, env=self._env(session),
            limits=launch.Limits(self.settings.stall_s, self.settings.session_wall_clock_s,
                                 self.settings.kill_grace_s),
            stream_path=self.chain_dir / f"{stem}.stream.jsonl", stderr_path=self.chain_dir / f"{stem}.stderr",
            should_stop=self.stop_requested, on_spawn=on_spawn,
        )
        summary = outcome.summary
        verdict = classify(summary, returncode=outcome.returncode, killed_by=outcome.killed_by,
                           spawn_error=outcome.spawn_error, spawn_missing=outcome.spawn_missing,
                           stderr_text=outcome.stderr_tail,
                           fatal_retry=outcome.fatal_retry)
        result = summary.result or {}
        attempt.ended_at = now_iso()
        attempt.claude_session_id = summary.claude_session_id
        attempt.exit_code = outcome.returncode
        attempt.result_subtype = result.get("subtype") if isinstance(result.get("subtype"), str) else None
        attempt.is_error = result.get("is_error") if isinstance(result.get("is_error"), bool) else None
        attempt.terminal_reason = result.get("terminal_reason") if isinstance(result.get("terminal_reason"), str) else None
        attempt.cost_usd = summary.cost_usd
        attempt.turns = summary.num_turns
        attempt.reason = verdict.reason
        attempt.error_kind = verdict.error_kind
        attempt.error = verdict.message or None
        session.cost_usd = round(session.cost_usd + summary.cost_usd, 6)
        session.turns += summary.num_turns
        if purpose == "main":
            session.claude_session_id = summary.claude_session_id or session.claude_session_id
            session.result_subtype = attempt.result_subtype
            session.model = summary.model or session.model
            self._result_text[session.id] = str(result.get("result") or "")
            for name in summary.failed_mcp_servers:
                session.warnings.append(f"MCP server {name!r} failed to start")
        if purpose == "main":
            self._evidence[session.id] = "\n".join([*summary.raw_lines, outcome.stderr_tail[-2000:]])
        session.pid = session.pgid = None
        session.proc_start = None
        self.save()
        return verdict

    def _handoff_turn(self, session: SessionRecord) -> None:
        assert session.claude_session_id is not None
        self.log(f"session {session.id}: asking for the handoff ({HANDOFF_PROMPT}, {HANDOFF_TURNS} turns)")
        argv = self._argv(HANDOFF_PROMPT, session, resume=session.claude_session_id, max_turns=HANDOFF_TURNS)
        self._attempt(session, argv, "handoff")

    def _synthetic(self, session: SessionRecord, verdict: Verdict, last: HandoffCheck | None,
                   note_path: Path, partial: str | None = None) -> HandoffCheck:
        reason = verdict.reason if verdict.reason != "ok" else "no handoff"
        if partial is None:
            partial = self._partial_output(session)
        check = handoff_check.write_synthetic_handoff(
            self.project_dir, note_path, session_id=session.id, operator=self.chain.operator or "unknown", chain_id=self.chain.id,
            claude_session_id=session.claude_session_id, reason=reason, error=verdict.message or None,
            partial_output=partial, previous=last, model=session.model,
        )
        session.handoff.status = "synthetic"
        # The problems of the session's own note stay on record; the synthetic one's are added.
        session.handoff.problems = [*session.handoff.problems, *(f"synthetic: {p}" for p in check.problems)]
        error = handoff_check.commit_note(self.project_dir, session.id)
        if error:
            session.warnings.append(f"synthetic note not committed: {error}")
        self.log(f"session {session.id}: synthetic handoff written")
        return check

    def _partial_output(self, session: SessionRecord) -> str:
        """The assistant text of the session's attempts, read back from their saved streams."""
        texts: list[str] = []
        for attempt in session.attempts:
            path = self.chain_dir / f"{session.id}-{attempt.n}.stream.jsonl"
            try:
                data = path.read_bytes()
            except OSError:
                continue
            reader = StreamReader()
            reader.feed(data)
            reader.close()
            out = reader.summary.partial_output()
            if out:
                texts.append(out)
        return "\n\n".join(texts)[-4000:]

    def _newest_valid_note(self) -> HandoffCheck | None:
        for session in reversed(self.chain.sessions):
            path = self.project_dir / (session.handoff.path or "")
            if not session.handoff.path:
                continue
            check = handoff_check.validate_handoff(path, session.id)
            if check.ok:
                return check
        return None

    # -- the end ----------------------------------------------------------------

    def _end(self, status: str, reason: str) -> None:
        chain = self.chain
        chain.status = status
        chain.end_reason = reason
        chain.ended_at = now_iso()
        chain.refresh_totals()
        self.save()
        self.log(f"chain {chain.id}: {status} ({reason}); {len(chain.sessions)} sessions, ${chain.cost_usd:.4f}")
        if self.settings.auto_push:
            if status in PUSH_STATUSES:
                push = git_push(self.project_dir)
                chain.push = {**push.as_dict(), "at": now_iso()}
                self.log(f"chain {chain.id}: push {'ok' if push.ok else 'failed: ' + push.detail}")
            else:
                chain.push = {"ok": False, "detail": f"not pushed: chain ended {status}", "at": now_iso()}
        if self.webhook_url:
            result = post_webhook(self.webhook_url, summary_payload(chain),
                                  retry_delay_s=self.settings.webhook_retry_delay_s)
            chain.notification = {**result.as_dict(), "at": now_iso()}
            if not result.ok:
                self.log(f"chain {chain.id}: webhook failed after {result.attempts} attempts ({result.error})")
        try:
            stop_file(self.registry, chain.id).unlink()
        except FileNotFoundError:
            pass
        self.save()


# ------------------------------------------------------------------ prompt and summary


def build_prompt(chain: ChainRecord, session: SessionRecord, last: HandoffCheck | None,
                 settings: ChainSettings) -> str:
    parts = [chain.mission.strip(), "", "---", ""]
    parts.append(
        f"You are session {session.index} of an unattended chain of Claude Code sessions (chain {chain.id}) "
        "working toward the mission above. Nobody is watching: do not ask questions; make reasonable "
        "decisions and record them in your handoff."
    )
    parts.append("")
    if last is not None:
        label = f"{last.path.stem}, synthetic" if last.synthetic else last.path.stem
        parts.append(f"## Where the last session left off ({label})")
        if last.resume_prompt.strip():
            parts += ["", "### Resume Prompt", "", last.resume_prompt.strip()]
        if last.next_steps.strip():
            parts += ["", "### Next steps", "", last.next_steps.strip()]
        if not last.resume_prompt.strip() and not last.next_steps.strip():
            parts += ["", last.summary.strip()]
    else:
        parts.append("This is the first session of the chain.")
    parts += [
        "",
        f"Before you stop — when the work is done, or when most of your turns or budget are used — run "
        f"`{HANDOFF_PROMPT}` to write your session note ({session.id}, already claimed: BATON_SESSION_ID is set). "
        f"Keep {HANDOFF_TURNS + 1} turns for it: invoking it, its one `finish` call with the whole note, your closing "
        "message. Set its outcome to `done` only when the whole mission is complete; otherwise `incomplete`, with "
        "clear Next steps and a Resume Prompt for the next session.",
    ]
    if settings.completion_signal:
        parts.append(f"When the whole mission is complete, end your final message with: {settings.completion_signal}")
    return "\n".join(parts) + "\n"


def last_summary(chain: ChainRecord) -> str | None:
    """The Summary of the newest valid note of the chain."""
    for session in reversed(chain.sessions):
        if session.handoff.status in ("valid", "valid_after_retry", "synthetic") and session.handoff.path:
            check = handoff_check.validate_handoff(Path(chain.project_dir) / session.handoff.path, session.id)
            if check.ok:
                return check.summary[:1000]
    return None


def summary_payload(chain: ChainRecord) -> dict[str, Any]:
    """What the webhook receives: small, no secrets, no mission text beyond a headline."""
    chain.refresh_totals()
    headline = chain.mission.strip().splitlines()[0][:200] if chain.mission.strip() else ""
    return {
        "id": chain.id,
        "status": chain.status,
        "end_reason": chain.end_reason,
        "project_dir": chain.project_dir,
        "mission": headline,
        "sessions": len(chain.sessions),
        "session_ids": [s.id for s in chain.sessions],
        "cost_usd": chain.cost_usd,
        "duration_s": chain.totals.get("duration_s"),
        "last_summary": last_summary(chain),
    }


# ------------------------------------------------------------------ starting and resuming


def chain_dir(registry: Registry, chain_id: str) -> Path:
    return registry.home / "chains" / chain_id


def stop_file(registry: Registry, chain_id: str) -> Path:
    return chain_dir(registry, chain_id) / "stop"


def _runner_info() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname(), "proc_start": launch.proc_start_time(os.getpid()),
            "started_at": now_iso()}


def _take_lock(registry: Registry, project_dir: Path) -> ProjectLock:
    lock = ProjectLock(registry.home, project_dir)
    if not lock.acquire():
        running = [c for c in registry.chains(project_dir) if c.status == "running"]
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
    lock = _take_lock(registry, project_dir)
    try:
        chain = ChainRecord(id=new_chain_id(), project_dir=str(project_dir), mission=request.mission,
                            mission_file=request.mission_file, operator=operator.slug,
                            settings={**settings.chain_level(), "webhook": bool(request.webhook_url)},
                            runner=_runner_info())
        stale = [c.id for c in registry.chains(project_dir) if c.status == "running"]
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
        project_dir = Path(found.project_dir)
    lock = _take_lock(registry, project_dir)
    try:
        registry.recover()
        if chain_id is not None:
            chain = registry.get(chain_id, archived=False)
            assert chain is not None
        else:
            candidates = [c for c in registry.chains(project_dir) if c.status in RESUMABLE]
            if not candidates:
                raise BatonError(f"no chain to resume in {project_dir} (`chains.py list` shows them)")
            chain = candidates[-1]
        if chain.status not in RESUMABLE:
            raise BatonError(f"chain {chain.id} is {chain.status}: nothing to resume")
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
        path = runner.project_dir / (session.handoff.path or f"docs/sessions/{session.id}.md")
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


def _end_orphan(runner: ChainRunner, session: SessionRecord) -> None:
    """Wait for (then end) a session process that outlived its runner."""
    pgid = session.pgid
    if not pgid:
        return
    same = session.proc_start is None or launch.proc_start_time(pgid) in (None, session.proc_start)
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
    lock = _take_lock(registry, Path(current.project_dir))
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
    if not launch.pid_alive(pid):
        return False
    start = info.get("proc_start")
    if start is not None and launch.proc_start_time(pid) not in (None, start):
        return False
    return ProjectLock(registry.home, chain.project_dir).is_held_elsewhere()
