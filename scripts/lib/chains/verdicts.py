"""What went wrong in a session, and what the runner does about it.

Two surfaces: the process (binary missing, exit code, our own stall and
wall-clock kills) and the stream (assistant messages with an `error` field, the
result's `is_error`, `subtype`, `terminal_reason`, `api_error_status`).

`error_kind` decides the runner's action and nothing else:
- fatal: stop the chain at once (auth, billing, invalid model, user abort, missing binary);
- transient: retry the session with exponential backoff (rate limit, network, 5xx, stall);
- wait: a subscription usage limit; sleep until the reset, not counted by the breaker.
What went wrong in the work itself (`failure_class`) is a separate question.

Classification reads structure first and text last: a result can say
`success` with `is_error: true` and exit 0, and grepping for "error" matches
`"is_error": false`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lib.chains.stream import StreamSummary

ErrorKind = Literal["fatal", "transient", "wait"]
ERROR_KINDS: tuple[str, ...] = ("fatal", "transient", "wait")

# How the runner ended a process itself.
KilledBy = Literal["stall", "wall_clock", "stop", "fatal_retry"]


@dataclass(frozen=True)
class Verdict:
    """The runner's reading of one attempt."""

    reason: str
    error_kind: ErrorKind | None = None
    # a failed session counts against the circuit breaker
    failed: bool = False
    message: str = ""
    # epoch seconds of a usage-limit reset, when known
    wait_until: float | None = None

    @property
    def ok(self) -> bool:
        return self.error_kind is None and not self.failed


OK = Verdict(reason="ok")

_FATAL_ASSISTANT = {"authentication_failed": "auth", "billing_error": "billing"}
_TRANSIENT_ASSISTANT = {"rate_limit": "rate_limit", "server_error": "server_error"}

# Last-resort text rules, in order: the first match wins.
_TEXT_RULES: tuple[tuple[re.Pattern[str], str, ErrorKind], ...] = (
    (re.compile(r"hit your (?:usage )?limit|usage limit reached|limit will reset|resets \d", re.I), "usage_limit", "wait"),
    (re.compile(r"credit balance (?:is )?too low|billing", re.I), "billing", "fatal"),
    (re.compile(r"oauth token has expired|invalid api key|not logged in|authentication_error|"
                r"failed to authenticate|\b401\b|please run /login", re.I), "auth", "fatal"),
    (re.compile(r"model[^\n]{0,80}(?:not found|does not exist|not available|invalid)|not_found_error|"
                r"invalid model", re.I), "invalid_model", "fatal"),
    (re.compile(r"requires --verbose|unknown option|error: option", re.I), "cli_usage", "fatal"),
    (re.compile(r"\b429\b|rate.?limit", re.I), "rate_limit", "transient"),
    (re.compile(r"overloaded|\b5(?:00|02|03|04|29)\b|server_error|internal server error|"
                r"stream idle timeout|api_error", re.I), "server_error", "transient"),
    (re.compile(r"econnreset|econnrefused|etimedout|enotfound|eai_again|socket hang up|fetch failed|"
                r"network|connection (?:error|reset|refused)|timed? ?out", re.I), "network", "transient"),
)

# A Python traceback at the end of the session's output: the classifier reads it before the text rules,
# so `ModuleNotFoundError` in a module path that says "network" is a missing dependency, not a network error.
_TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\w+(?:Error|Exception): ", re.M)
# Classes of the work itself: the session's own failure, not the API's; retrying the same prompt does not help.
WORK_CLASSES = frozenset({"dependency_missing", "compile_error", "test_fail", "lint_error", "contract_violation"})

# Reasons whose class the runner knows from structure alone; the rest go to lib.failures.classify.
_FAILURE_CLASS = {
    "stall": "timeout",
    "wall_clock": "timeout",
    "budget_exceeded": "budget_exceeded",
}
_ORCHESTRATION = frozenset({
    "auth", "billing", "invalid_model", "user_abort", "missing_binary", "spawn_failed", "cli_usage",
    "rate_limit", "server_error", "network", "usage_limit", "truncated_stream", "edits_denied",
})


def failure_class_for(verdict: Verdict, evidence: str = "", exit_code: int | None = None) -> str | None:
    """The failure class (lib.failures.classify' nine) of a failed session; None when it did not fail.

    What the runner knows from structure decides first: Claude Code's own failures
    (API, CLI, permissions) are `orchestration_error`, our stall and wall-clock kills
    `timeout`, a spent budget `budget_exceeded`. Anything else is classified from its
    text (the error message and the end of stderr) by lib.failures.classify.
    """
    if verdict.ok or verdict.reason in ("max_turns", "stopped", "interrupted"):
        return None
    if verdict.reason in _FAILURE_CLASS:
        return _FAILURE_CLASS[verdict.reason]
    if verdict.reason in _ORCHESTRATION:
        return "orchestration_error"
    from lib.failures import classify as failures

    text = "\n".join(part for part in (verdict.message, evidence) if part)
    return failures.classify(text, tool="claude", exit_code=exit_code).failure_class


def failure_for(verdict: Verdict, evidence: str = "", exit_code: int | None = None
                ) -> tuple[str | None, dict[str, Any] | None]:
    """`failure_class_for`, with what the classifier named (tests, files, missing module...) when it read text."""
    failure_class = failure_class_for(verdict, evidence, exit_code)
    if failure_class is None or verdict.reason in _FAILURE_CLASS or verdict.reason in _ORCHESTRATION:
        return failure_class, None
    from lib.failures import classify as failures

    text = "\n".join(part for part in (verdict.message, evidence) if part)
    return failure_class, failures.classify(text, tool="claude", exit_code=exit_code).error_context


def work_failure(texts: list[str]) -> Verdict | None:
    """A failure of the work (a traceback the classifier files under a work class), or None."""
    joined = "\n".join(t for t in texts if t)
    if not _TRACEBACK.search(joined):
        return None
    from lib.failures import classify as failures

    failure = failures.classify(joined, tool="claude")
    if failure.failure_class not in WORK_CLASSES:
        return None
    first = failure.error_context.get("first_error_line") or _last_line(texts)
    return Verdict("work_error", None, True, str(first)[:300])


def fatal_retry_reason(event: dict[str, Any]) -> str | None:
    """An `api_retry` line the CLI will keep retrying in vain (auth, billing): end the session early."""
    error = event.get("error")
    if isinstance(error, str) and error in _FATAL_ASSISTANT:
        return _FATAL_ASSISTANT[error]
    status = event.get("error_status")
    if status in (401, 403):
        return "auth"
    return None


def classify(
    summary: StreamSummary,
    *,
    returncode: int | None,
    killed_by: KilledBy | None = None,
    spawn_error: str | None = None,
    spawn_missing: bool = True,
    stderr_text: str = "",
    fatal_retry: str | None = None,
    now: dt.datetime | None = None,
) -> Verdict:
    """Classify one attempt: process facts, then the stream's structure, then text."""
    now = now or dt.datetime.now(dt.UTC)
    if spawn_error is not None:
        return Verdict("missing_binary" if spawn_missing else "spawn_failed", "fatal", True, spawn_error)
    if killed_by == "stop":
        return Verdict("stopped", None, False, "stopped on request")
    if killed_by == "fatal_retry":
        reason = fatal_retry or "auth"
        return Verdict(reason, "fatal", True, f"the CLI kept retrying a {reason} error; ended early")
    if killed_by == "stall":
        return Verdict("stall", "transient", True, "no output for too long (stall)")
    if killed_by == "wall_clock":
        return Verdict("wall_clock", "transient", True, "per-session wall-clock limit reached")

    result = summary.result
    if result is not None:
        verdict = _classify_result(summary, result, now)
        if verdict is not None:
            return verdict
        if summary.edits_all_denied():
            denied = len(summary.permission_denials)
            return Verdict("edits_denied", None, True,
                           f"every edit was denied ({denied} permission denials): check --allowedTools")
        return OK

    # No result line: the process died, or the stream was cut.
    texts = [*summary.error_texts(), *stderr_text.splitlines()[-20:]]
    if summary.assistant_errors:
        verdict = _from_assistant_error(summary, now)
        if verdict is not None:
            return verdict
    if returncode == 127:
        return Verdict("missing_binary", "fatal", True, _last_line(texts) or "command not found (exit 127)")
    if returncode is not None and returncode < 0 and -returncode == 2:
        return Verdict("user_abort", "fatal", True, "claude was interrupted (SIGINT)")
    work = work_failure(texts)
    if work is not None:
        return work
    limit = _usage_limit(summary, texts, now)
    if limit is not None:
        return limit
    by_text = _from_text(texts, now)
    if by_text is not None:
        return by_text
    if returncode == 0:
        return Verdict("truncated_stream", "transient", True, "the stream ended without a result")
    detail = _last_line(texts)
    message = f"claude exited with {_describe_exit(returncode)}" + (f": {detail}" if detail else "")
    return Verdict("process_error", "transient", True, message)


def _classify_result(summary: StreamSummary, result: dict[str, Any], now: dt.datetime) -> Verdict | None:
    subtype = result.get("subtype")
    is_error = result.get("is_error") is True
    terminal = result.get("terminal_reason")
    status = result.get("api_error_status")
    texts = summary.error_texts()

    if subtype == "error_max_budget_usd":
        return Verdict("budget_exceeded", None, True, _first(texts) or "session budget exceeded")
    if subtype == "error_max_turns":
        # Not an error: the session is incomplete and continues from its handoff.
        return Verdict("max_turns", None, False, "turn limit reached")
    if terminal in ("aborted_streaming", "aborted_tools"):
        return Verdict("user_abort", "fatal", True, f"session aborted ({terminal})")
    if not is_error and subtype in (None, "success"):
        return None

    limit = _usage_limit(summary, texts, now)
    if limit is not None:
        return limit
    if isinstance(status, int) and not isinstance(status, bool):
        verdict = _from_status(status, summary, texts, now)
        if verdict is not None:
            return verdict
    verdict = _from_assistant_error(summary, now)
    if verdict is not None:
        return verdict
    verdict = work_failure(texts) or _from_text(texts, now)
    if verdict is not None:
        return verdict
    if subtype == "error_during_execution":
        return Verdict("execution_error", "transient", True, _first(texts) or "error during execution")
    return Verdict("unknown", "transient", True, _first(texts) or f"error result ({subtype})")


def _from_status(status: int, summary: StreamSummary, texts: list[str], now: dt.datetime) -> Verdict | None:
    message = _first(texts) or f"API error {status}"
    if status in (401, 403):
        return Verdict("auth", "fatal", True, message)
    if status == 404:
        return Verdict("invalid_model", "fatal", True, message)
    if status == 429:
        return Verdict("rate_limit", "transient", True, message)
    if status >= 500:
        return Verdict("server_error", "transient", True, message)
    if status == 400:
        # Billing arrives as a 400 invalid_request_error: read the error field and text.
        verdict = _from_assistant_error(summary, now) or _from_text(texts, now)
        if verdict is not None:
            return verdict
        return Verdict("invalid_request", None, True, message)
    return None


def _from_assistant_error(summary: StreamSummary, now: dt.datetime) -> Verdict | None:
    for error, text in reversed(summary.assistant_errors):
        if error in _FATAL_ASSISTANT:
            return Verdict(_FATAL_ASSISTANT[error], "fatal", True, text or error)
        if error == "rate_limit":
            limit = _usage_limit(summary, [text], now)
            if limit is not None:
                return limit
        if error in _TRANSIENT_ASSISTANT:
            return Verdict(_TRANSIENT_ASSISTANT[error], "transient", True, text or error)
        if error == "invalid_request":
            by_text = _from_text([text], now)
            if by_text is not None and by_text.error_kind == "fatal":
                return by_text
            return Verdict("invalid_request", None, True, text or error)
    return None


def _from_text(texts: list[str], now: dt.datetime) -> Verdict | None:
    for text in texts:
        for pattern, reason, kind in _TEXT_RULES:
            if pattern.search(text):
                if kind == "wait":
                    return Verdict(reason, "wait", False, text.strip()[:300], parse_reset(text, now))
                return Verdict(reason, kind, True, text.strip()[:300])
    return None


def _usage_limit(summary: StreamSummary, texts: list[str], now: dt.datetime) -> Verdict | None:
    for info in reversed(summary.rate_limit_rejections):
        resets = _epoch(info.get("resetsAt"))
        kind = info.get("rateLimitType")
        return Verdict("usage_limit", "wait", False, f"usage limit reached ({kind or 'unknown window'})", resets)
    for text in texts:
        if _TEXT_RULES[0][0].search(text):
            return Verdict("usage_limit", "wait", False, text.strip()[:300], parse_reset(text, now))
    return None


_RESET = re.compile(
    r"resets?\s+(?:at\s+)?(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<ampm>[ap]\.?m\.?)?"
    r"(?:\s*\((?P<tz>[^)]+)\))?",
    re.I,
)


def parse_reset(text: str, now: dt.datetime) -> float | None:
    """The epoch time of "resets 1pm (Europe/Lisbon)": the next such time after `now`."""
    match = _RESET.search(text)
    if not match:
        return None
    hour = int(match["hour"])
    minute = int(match["minute"] or 0)
    ampm = (match["ampm"] or "").lower().replace(".", "")
    if ampm == "pm" and hour < 12:
        hour += 12
    elif ampm == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59:
        return None
    tz: dt.tzinfo = dt.UTC
    if match["tz"]:
        try:
            tz = ZoneInfo(match["tz"].strip())
        except (ZoneInfoNotFoundError, ValueError):
            tz = dt.UTC
    local_now = now.astimezone(tz)
    reset = local_now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if reset <= local_now:
        reset += dt.timedelta(days=1)
    return reset.timestamp()


def _epoch(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(value, str):
            try:
                return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                return None
        return None
    seconds = float(value)
    return seconds / 1000 if seconds > 1e12 else seconds


def _first(texts: list[str]) -> str:
    for text in texts:
        if text and text.strip():
            return text.strip()[:300]
    return ""


def _last_line(texts: list[str]) -> str:
    for text in reversed(texts):
        if text and text.strip():
            return text.strip().splitlines()[-1][:300]
    return ""


def _describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "no exit status"
    if returncode < 0:
        return f"signal {-returncode}"
    return f"exit code {returncode}"
