"""The `claude` processes of a chain's sessions: the command line, the child environment, each attempt
run and recorded, retries of transient errors with backoff, waits for a usage limit's reset, the one short
`/handoff` turn, and what the saved streams say afterwards.

lib.chains.runner decides which sessions run and what their outcome means; this module runs them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Protocol

from lib.chains import childenv, launch
from lib.chains.journal import append_decision
from lib.chains.prompt import HANDOFF_PROMPT, HANDOFF_TURNS
from lib.chains.registry import Attempt, ChainRecord, SessionRecord, now_iso
from lib.chains.settings import ChainSettings
from lib.chains.stream import read_saved
from lib.chains.verdicts import Verdict, classify, failure_for
from lib.core import process

# The session runs the command through the Skill tool, which a headless run must be granted.
HANDOFF_SKILL = "Skill(handoff)"


def find_claude() -> str:
    """$CLAUDE_BIN, else `claude` (resolved on PATH when the session starts)."""
    return os.environ.get("CLAUDE_BIN") or "claude"


class Host(Protocol):
    """What the attempts need of the chain runner that owns them."""

    chain: ChainRecord
    settings: ChainSettings
    claude_bin: str
    workdir: Path

    @property
    def chain_dir(self) -> Path: ...

    def save(self) -> None: ...

    def log(self, message: str) -> None: ...

    def stop_requested(self) -> bool: ...

    def sleep(self, seconds: float) -> bool: ...

    def budget_left(self) -> float: ...


class SessionAttempts:
    """Runs and records the attempts of each session of one chain."""

    def __init__(self, host: Host) -> None:
        self.host = host
        # the final `result` text of each session's main attempt, for the completion signal
        self.result_text: dict[str, str] = {}
        # the end of the last attempt's stderr and stray output, for the failure classifier
        self.evidence: dict[str, str] = {}
        # the newest failed tool outputs of each session's main attempt: what its work ran into
        self.tool_errors: dict[str, list[tuple[str, str]]] = {}

    def run(self, session: SessionRecord, prompt: str) -> Verdict:
        """Run the session, retrying transient errors and waiting out usage limits."""
        host = self.host
        settings, chain = host.settings, host.chain
        retries = waits = truncated = 0
        while True:
            if host.budget_left() < settings.min_budget_usd:
                return Verdict("budget_exceeded", None, True, "no budget left for another attempt")
            verdict = self._attempt(session, self._argv(session), prompt, "main")
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
                                    retry=retries, delay_s=delay, failure_class=failure_for(verdict)[0])
                    host.save()
                    host.log(f"session {session.id}: {verdict.reason}, retry {retries}/{settings.max_retries} "
                             f"in {delay:g} s")
                    if not host.sleep(delay):
                        return Verdict("stopped", None, False, "stopped during backoff")
                    continue
                return verdict
            if verdict.error_kind == "wait":
                if waits < settings.usage_limit_max_waits:
                    waits += 1
                    delay = self._wait_delay(verdict)
                    append_decision(chain, "retry", session=session.id, what="usage_limit_wait", wait_s=delay,
                                    wait_until=verdict.wait_until)
                    host.save()
                    host.log(f"session {session.id}: usage limit, waiting {delay:g} s for the reset")
                    if not host.sleep(delay):
                        return Verdict("stopped", None, False, "stopped while waiting for a usage limit")
                    continue
                return Verdict("usage_limit", "wait", True, f"usage limit still hit after {waits} waits")
            return verdict

    def _wait_delay(self, verdict: Verdict) -> float:
        settings = self.host.settings
        if verdict.wait_until is not None:
            delay = verdict.wait_until - time.time()
        else:
            delay = settings.usage_limit_default_wait_s
        return round(min(max(delay, 0.0), settings.usage_limit_max_wait_s), 3)

    def _argv(self, session: SessionRecord, *, resume: str | None = None, max_turns: int | None = None) -> list[str]:
        """The command line; the prompt is not on it (see launch.run_claude)."""
        settings = self.host.settings
        argv = [self.host.claude_bin, "-p", "--output-format", "stream-json", "--verbose"]
        if resume is not None:
            argv += ["--resume", resume]
        turns = max_turns if max_turns is not None else settings.max_turns
        if turns is not None:
            argv += ["--max-turns", str(turns)]
        argv += ["--max-budget-usd", f"{settings.session_budget(self.host.chain.cost_usd):.4f}"]
        model = session.requested_model
        if model:
            argv += ["--model", model]
        if settings.permission_mode:
            argv += ["--permission-mode", settings.permission_mode]
        if settings.allowed_tools:
            argv += ["--allowedTools", ",".join(dict.fromkeys([*settings.allowed_tools, HANDOFF_SKILL]))]
        return argv

    def _env(self, session: SessionRecord) -> dict[str, str]:
        return childenv.child_env(os.environ, env_drop=self.host.settings.env_drop, session_id=session.id,
                                  chain_id=self.host.chain.id, operator=self.host.chain.operator)

    def _attempt(self, session: SessionRecord, argv: list[str], prompt: str, purpose: str) -> Verdict:
        attempt = Attempt(n=len(session.attempts) + 1, started_at=now_iso(), purpose=purpose)
        session.attempts.append(attempt)
        stem = f"{session.id}-{attempt.n}"
        prompt_path = self.host.chain_dir / f"{stem}.prompt"
        fd = os.open(prompt_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(prompt)

        def on_spawn(pid: int) -> None:
            session.pid = session.pgid = pid
            session.proc_start = process.proc_start_time(pid)
            self.host.save()

        outcome = launch.run_claude(
            argv, cwd=self.host.workdir, env=self._env(session),
            limits=launch.Limits(self.host.settings.stall_s, self.host.settings.session_wall_clock_s,
                                 self.host.settings.kill_grace_s),
            stream_path=self.host.chain_dir / f"{stem}.stream.jsonl", stderr_path=self.host.chain_dir / f"{stem}.stderr",
            should_stop=self.host.stop_requested, on_spawn=on_spawn, stdin_path=prompt_path,
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
            self.result_text[session.id] = str(result.get("result") or "")
            for name in summary.failed_mcp_servers:
                session.warnings.append(f"MCP server {name!r} failed to start")
            self.evidence[session.id] = "\n".join([*summary.raw_lines, outcome.stderr_tail[-2000:]])
            self.tool_errors[session.id] = list(summary.tool_errors)
        session.pid = session.pgid = None
        session.proc_start = None
        self.host.save()
        return verdict

    def handoff_turn(self, session: SessionRecord) -> None:
        assert session.claude_session_id is not None
        self.host.log(f"session {session.id}: asking for the handoff ({HANDOFF_PROMPT}, {HANDOFF_TURNS} turns)")
        argv = self._argv(session, resume=session.claude_session_id, max_turns=HANDOFF_TURNS)
        self._attempt(session, argv, HANDOFF_PROMPT, "handoff")

    def streams_of(self, session: SessionRecord) -> list[Path]:
        return [self.host.chain_dir / f"{session.id}-{a.n}.stream.jsonl" for a in session.attempts]

    def partial_output(self, session: SessionRecord) -> str:
        """The assistant text of the session's attempts, read back from their saved streams."""
        texts: list[str] = []
        for path in self.streams_of(session):
            summary = read_saved(path)
            out = summary.partial_output() if summary is not None else ""
            if out:
                texts.append(out)
        return "\n\n".join(texts)[-4000:]
