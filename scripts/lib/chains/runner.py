"""The chain loop: one headless session after another until the mission is done or a limit says stop.

Before every session the runner checks the stop request, the session count, the
budget and the circuit breaker, then asks the routing policy (lib.chains.routing)
which model the session runs on, what it is told about the last failure, or
whether the chain is blocked. Each session: claim its id -> build the prompt
(lib.chains.prompt) -> run `claude` with the prompt on its standard input
(lib.chains.attempts: retrying transient errors with backoff, waiting out usage limits) -> check the
note it left (one short `/handoff --auto` turn if it is missing, then a synthetic
note, and the session counts as failed) -> record everything in the registry.

Starting, resuming after a crash and stopping a chain are lib.chains.lifecycle's.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from lib.chains import handoff_check, journal, routing
from lib.chains.attempts import SessionAttempts
from lib.chains.handoff_check import HandoffCheck
from lib.chains.journal import append_decision
from lib.chains.notify import PUSH_STATUSES, git_push, post_webhook
from lib.chains.prompt import build_prompt
from lib.chains.registry import (
    ChainRecord,
    Handoff,
    ProjectLock,
    Registry,
    SessionRecord,
    chain_dir,
    now_iso,
    stop_file,
)
from lib.chains.settings import ChainSettings
from lib.chains.summary import summary_payload
from lib.chains.verdicts import Verdict, failure_for
from lib.core.errors import BatonError
from lib.failures import classify as failures
from lib.failures import decisions
from lib.store.operators import Operator

EventSink = Callable[[str], None]


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
        # Where the sessions work: the chain's own worktree, or the project itself.
        self.workdir = Path(chain.worktree["path"]) if chain.worktree else self.project_dir
        self.policy = routing.RoutingPolicy.from_mapping(settings.routing)
        self._on_event = on_event
        self._stop_flag = False
        self._operator: Operator | None = None
        self.attempts = SessionAttempts(self)

    # -- paths and signals ------------------------------------------------------

    @property
    def chain_dir(self) -> Path:
        path = chain_dir(self.registry, self.chain.id)
        if not path.is_dir():
            # Raw streams and prompts can quote whatever the session read: readable by the user only.
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
            with open(self.chain_dir / "runner.log", "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        except OSError:
            pass
        if self._on_event is not None:
            self._on_event(message)

    def save(self) -> None:
        self.registry.save(self.chain)

    def sleep(self, seconds: float) -> bool:
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
            route = self._route()
            if route.block is not None:
                self._end("blocked", route.block)
                return

            session, verdict, check = self._run_session(last, route)

            if verdict.reason == "stopped":
                self._end("stopped", "stop requested")
                return
            if verdict.error_kind == "fatal":
                append_decision(chain, "abort", session=session.id, reason=verdict.reason)
                self._end("failed", f"{verdict.reason}: {verdict.message}")
                return
            if verdict.reason == "budget_exceeded" and not self._routes_budget():
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

    def _routes_budget(self) -> bool:
        """A session spent its own cap while the chain has money left: routing ends the chain blocked."""
        return (self.policy.enabled and self.policy.stop_early and self.settings.session_cost_usd is not None
                and self.budget_left() >= self.settings.min_budget_usd)

    def _route(self) -> routing.Route:
        team = None
        if self.policy.enabled and self.policy.team_history:
            try:
                team = routing.team_history(self.project_dir, decisions.read_decisions(root=self.project_dir),
                                            routing.recent_notes(self.workdir))
            except (OSError, BatonError) as exc:  # the team's record is advice: never a reason to stop
                self.log(f"chain {self.chain.id}: team history not read ({exc})")
        route = routing.plan(self.chain, self.policy, self.settings.model, team)
        self.chain.routing["rung"] = route.rung
        if route.block is not None:
            for decision in route.decisions:
                append_decision(self.chain, decision.kind, **decision.detail)
            self.log(f"chain {self.chain.id}: blocked: {route.block}")
        return route

    def _completed(self, session: SessionRecord, check: HandoffCheck) -> bool:
        if check.ok and check.outcome == "done" and not check.synthetic:
            return True
        signal = self.settings.completion_signal
        if not signal:
            return False
        texts = [self.attempts.result_text.get(session.id, "")]
        if check.ok and not check.synthetic:
            texts.append(check.summary)
        seen = any(signal in text for text in texts)
        self.chain.completion_streak = self.chain.completion_streak + 1 if seen else 0
        return self.chain.completion_streak >= self.settings.completion_repeats

    # -- one session ------------------------------------------------------------

    def _run_session(self, last: HandoffCheck | None, route: routing.Route
                     ) -> tuple[SessionRecord, Verdict, HandoffCheck]:
        chain, settings = self.chain, self.settings
        if self._operator is None:
            self._operator = handoff_check.resolve_operator(self.project_dir, chain.operator)
        claimed = handoff_check.claim_session_id(self.workdir, self._operator, chain_id=chain.id)
        session = SessionRecord(id=claimed.id, index=len(chain.sessions) + 1, model=route.model,
                                requested_model=route.model,
                                handoff=Handoff(path=os.path.relpath(claimed.path, self.workdir)))
        chain.sessions.append(session)
        for decision in route.decisions:
            append_decision(chain, decision.kind, session=session.id, **decision.detail)
        self.save()
        self.log(f"session {session.index}/{settings.max_sessions} {session.id}: started"
                 + (f" on {route.model}" if route.model else ""))

        prompt = build_prompt(chain, session, last, settings, route.refinement)
        verdict = self.attempts.run(session, prompt)
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
        session.failure_class, session.failure_context = failure_for(
            verdict, self.attempts.evidence.get(session.id, ""),
            session.attempts[-1].exit_code if session.attempts else None)

        if check.ok:
            session.handoff.status = "valid"
        else:
            self.log(f"session {session.id}: handoff not valid ({'; '.join(check.problems)[:300]})")
            retry_ok = verdict.ok and session.claude_session_id is not None
            if retry_ok and not self.stop_requested() and self.budget_left() >= settings.min_budget_usd:
                append_decision(chain, "retry", session=session.id, what="handoff",
                                problems=check.problems[:5])
                self.attempts.handoff_turn(session)
                check = handoff_check.validate_handoff(claimed.path, session.id)
                if check.ok:
                    session.handoff.status = "valid_after_retry"
            if not check.ok:
                check = self._synthetic(session, verdict, last, claimed.path)
                if session.status == "ok":
                    # No note of its own: the next session starts blind, so this one failed.
                    session.status = "failed"
                    session.reason = "no_handoff"
        if session.failure_class is None and session.status != "stopped" and check.outcome != "done":
            self._observe_work_failure(session)
        session.handoff.outcome = check.outcome
        session.ended_at = now_iso()
        ok = session.status == "ok" and session.handoff.status in ("valid", "valid_after_retry")
        for resolved in journal.follow_up(chain, session=session.id, failure_class=session.failure_class, ok=ok,
                                          cost_usd=session.cost_usd):
            self.log(f"session {session.id}: resolved decision {resolved}")
        # Saved by the caller, together with the breaker and completion state this changes.
        self.log(f"session {session.id}: {session.status} ({session.reason}), ${session.cost_usd:.4f}, "
                 f"handoff {session.handoff.status}"
                 + (f", failure {session.failure_class}" if session.failure_class else ""))
        return session, verdict, check

    def budget_left(self) -> float:
        return self.settings.budget_usd - self.chain.cost_usd

    def _observe_work_failure(self, session: SessionRecord) -> None:
        """A session that ended without failing but left the work failing (its last failed tool output)."""
        errors = self.attempts.tool_errors.get(session.id) or []
        if not errors:
            return
        tool, text = errors[-1]
        failure = failures.classify(text, tool=tool.lower() if tool else None)
        if failure.failure_class == "unknown" and not failure.error_context.get("first_error_line"):
            return
        session.failure_class = failure.failure_class
        session.failure_context = failure.error_context

    def _budget_left(self) -> float:
        return self.settings.budget_usd - self.chain.cost_usd

    def _synthetic(self, session: SessionRecord, verdict: Verdict, last: HandoffCheck | None,
                   note_path: Path, partial: str | None = None) -> HandoffCheck:
        reason = verdict.reason if verdict.reason != "ok" else "no handoff"
        if partial is None:
            partial = self.attempts.partial_output(session)
        check = handoff_check.write_synthetic_handoff(
            self.workdir, note_path, session_id=session.id, operator=self.chain.operator or "unknown",
            chain_id=self.chain.id, claude_session_id=session.claude_session_id, reason=reason,
            error=verdict.message or None, partial_output=partial, previous=last, model=session.model,
        )
        session.handoff.status = "synthetic"
        # The problems of the session's own note stay on record; the synthetic one's are added.
        session.handoff.problems = [*session.handoff.problems, *(f"synthetic: {p}" for p in check.problems)]
        error = handoff_check.commit_note(self.workdir, session.id)
        if error:
            session.warnings.append(f"synthetic note not committed: {error}")
        self.log(f"session {session.id}: synthetic handoff written")
        return check

    def _newest_valid_note(self) -> HandoffCheck | None:
        for session in reversed(self.chain.sessions):
            if not session.handoff.path:
                continue
            check = handoff_check.validate_handoff(self.workdir / session.handoff.path, session.id)
            if check.ok:
                return check
        return None

    # -- the end ----------------------------------------------------------------

    def _end(self, status: str, reason: str) -> None:
        chain = self.chain
        chain.status = status
        chain.end_reason = reason
        chain.ended_at = now_iso()
        journal.close_open(chain)
        chain.refresh_totals()
        self.save()
        self.log(f"chain {chain.id}: {status} ({reason}); {len(chain.sessions)} sessions, ${chain.cost_usd:.4f}")
        if self.settings.auto_push:
            if status in PUSH_STATUSES:
                push = git_push(self.workdir)
                chain.push = {**push.as_dict(), "at": now_iso()}
                self.log(f"chain {chain.id}: push {'ok' if push.ok else 'failed: ' + push.detail}")
            else:
                chain.push = {"ok": False, "detail": f"not pushed: chain ended {status}", "at": now_iso()}
        if chain.worktree:
            from lib.chains import worktree

            self.log(f"chain {chain.id}: worktree {worktree.finish(chain)}")
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

