"""Reading `claude -p --output-format stream-json --verbose` one line at a time.

The CLI prints one JSON object per line, but stdout can also carry plain text
(warnings, a wrapper's output): such lines are kept as text, never fatal.
`StreamSummary` keeps only what the runner needs to judge a session: the init
line, assistant errors and text (the partial output for a synthetic handoff),
tool uses, `api_retry` lines, rate-limit events and the final result.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Tools whose denial means the session could not change a file.
EDIT_TOOLS = frozenset({"Edit", "Write", "MultiEdit", "NotebookEdit"})

_TEXT_KEPT = 40  # assistant text blocks kept for the synthetic handoff
_RAW_KEPT = 20  # non-JSON lines kept for error classification
_TOOL_ERRORS_KEPT = 5  # failed tool results kept for the failure classifier
_TOOL_ERROR_CHARS = 8000


@dataclass
class StreamSummary:
    init: dict[str, Any] | None = None
    claude_session_id: str | None = None
    model: str | None = None
    permission_mode: str | None = None
    failed_mcp_servers: list[str] = field(default_factory=list)
    # (error field, text of the message) for each assistant message that carried `error`
    assistant_errors: list[tuple[str, str]] = field(default_factory=list)
    texts: deque[str] = field(default_factory=lambda: deque(maxlen=_TEXT_KEPT))
    tool_uses: dict[str, str] = field(default_factory=dict)  # tool_use id -> tool name
    api_retries: list[dict[str, Any]] = field(default_factory=list)
    rate_limit_rejections: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] | None = None
    raw_lines: deque[str] = field(default_factory=lambda: deque(maxlen=_RAW_KEPT))
    lines: int = 0
    json_lines: int = 0
    # a line that looked like JSON but did not parse: a truncated or corrupt stream
    undecodable: int = 0
    # (tool name, output) of the newest tool results marked is_error, newest last
    tool_errors: deque[tuple[str, str]] = field(default_factory=lambda: deque(maxlen=_TOOL_ERRORS_KEPT))
    # message id -> (model, usage) of each assistant message: what an interrupted session spent
    usage_by_message: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)

    # -- what the result says -------------------------------------------------

    @property
    def cost_usd(self) -> float:
        value = (self.result or {}).get("total_cost_usd")
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0

    @property
    def num_turns(self) -> int:
        value = (self.result or {}).get("num_turns")
        return int(value) if isinstance(value, int) and not isinstance(value, bool) else 0

    @property
    def permission_denials(self) -> list[dict[str, Any]]:
        value = (self.result or {}).get("permission_denials")
        return [d for d in value if isinstance(d, dict)] if isinstance(value, list) else []

    def edits_all_denied(self) -> bool:
        """True when the session tried to edit files and every such attempt was denied.

        A headless session in the wrong permission mode reports success while it
        changed nothing; that is a failed session.
        """
        denied = [d for d in self.permission_denials if d.get("tool_name") in EDIT_TOOLS]
        if not denied:
            return False
        denied_ids = {d.get("tool_use_id") for d in denied}
        attempted = {tid for tid, name in self.tool_uses.items() if name in EDIT_TOOLS}
        return attempted <= denied_ids

    def tokens_by_model(self) -> dict[str, dict[str, int]]:
        """Token totals per model from the assistant messages' usage, in lib.telemetry.usage's fields."""
        from lib.telemetry.usage import TOKEN_FIELDS, usage_fields

        totals: dict[str, dict[str, int]] = {}
        for model, usage in self.usage_by_message.values():
            entry = totals.setdefault(model, dict.fromkeys(TOKEN_FIELDS, 0))
            for name, value in zip(TOKEN_FIELDS, usage_fields(usage), strict=True):
                entry[name] += value
        return totals

    def reported_cost(self, pricing: dict[str, Any] | None = None) -> tuple[float, str]:
        """(cost in USD, how it was known): the result's `total_cost_usd`, else the assistant messages'
        usage priced with baton's table (a session killed before its result line)."""
        if self.result is not None:
            return self.cost_usd, "result"
        if not self.usage_by_message:
            return 0.0, "none"
        from lib.telemetry.usage import load_pricing, price_tokens

        cost, _ = price_tokens(self.tokens_by_model(), pricing if pricing is not None else load_pricing())
        return cost, "usage"

    def partial_output(self, limit: int = 4000) -> str:
        """The last assistant text, newest last, at most `limit` characters."""
        text = "\n\n".join(t.strip() for t in self.texts if t.strip())
        result_text = (self.result or {}).get("result")
        if isinstance(result_text, str) and result_text.strip() and result_text.strip() not in text:
            text = f"{text}\n\n{result_text.strip()}" if text else result_text.strip()
        return text[-limit:]

    def error_texts(self) -> list[str]:
        """Every piece of text that can explain an error, for the last-resort text rules."""
        out = [text for _, text in self.assistant_errors if text]
        result_text = (self.result or {}).get("result")
        if isinstance(result_text, str):
            out.append(result_text)
        errors = (self.result or {}).get("errors")
        if isinstance(errors, list):
            out.extend(str(e) for e in errors)
        out.extend(self.raw_lines)
        return out


class StreamReader:
    """Feed it bytes as they arrive; it splits lines and updates a `StreamSummary`."""

    def __init__(self) -> None:
        self.summary = StreamSummary()
        self._buffer = b""

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """Consume a chunk; return the JSON events of the complete lines it finished."""
        self._buffer += data
        *complete, self._buffer = self._buffer.split(b"\n")
        events: list[dict[str, Any]] = []
        for raw in complete:
            event = self.feed_line(raw.decode("utf-8", errors="replace"))
            if event is not None:
                events.append(event)
        return events

    def close(self) -> list[dict[str, Any]]:
        """End of stream: a last line without a newline still counts."""
        rest, self._buffer = self._buffer, b""
        if rest.strip():
            event = self.feed_line(rest.decode("utf-8", errors="replace"))
            return [event] if event is not None else []
        return []

    def feed_line(self, line: str) -> dict[str, Any] | None:
        line = line.strip()
        if not line:
            return None
        summary = self.summary
        summary.lines += 1
        if not line.startswith("{"):
            summary.raw_lines.append(line)
            return None
        try:
            event = json.loads(line)
        except ValueError:
            summary.undecodable += 1
            summary.raw_lines.append(line[:500])
            return None
        if not isinstance(event, dict):
            summary.raw_lines.append(line[:500])
            return None
        summary.json_lines += 1
        _absorb(summary, event)
        return event


def read_saved(path: Path) -> StreamSummary | None:
    """The summary of a stream saved to a file, or None when the file cannot be read."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    reader = StreamReader()
    reader.feed(data)
    reader.close()
    return reader.summary


def _absorb(summary: StreamSummary, event: dict[str, Any]) -> None:
    kind = event.get("type")
    if kind == "system":
        subtype = event.get("subtype")
        if subtype == "init":
            summary.init = event
            summary.claude_session_id = _str(event.get("session_id")) or summary.claude_session_id
            summary.model = _str(event.get("model"))
            summary.permission_mode = _str(event.get("permissionMode"))
            servers = event.get("mcp_servers")
            if isinstance(servers, list):
                summary.failed_mcp_servers = [
                    str(s.get("name")) for s in servers if isinstance(s, dict) and s.get("status") == "failed"
                ]
        elif subtype == "api_retry":
            summary.api_retries.append(event)
    elif kind == "assistant":
        raw_message = event.get("message")
        message: dict[str, Any] = raw_message if isinstance(raw_message, dict) else {}
        text = _message_text(message)
        if text:
            summary.texts.append(text)
        for block in message.get("content") or []:
            if isinstance(block, dict) and block.get("type") == "tool_use":
                summary.tool_uses[str(block.get("id"))] = str(block.get("name"))
        error = event.get("error")
        if isinstance(error, str) and error:
            summary.assistant_errors.append((error, text))
        usage = message.get("usage")
        model = _str(message.get("model"))
        message_id = _str(message.get("id"))
        if isinstance(usage, dict) and model and message_id and model != "<synthetic>":
            # One event per content block, each repeating the message's usage: keep the largest.
            seen = summary.usage_by_message.get(message_id)
            if seen is not None:
                usage = {k: max(_int(seen[1].get(k)), _int(v)) if isinstance(v, int) else v
                         for k, v in {**seen[1], **usage}.items()}
            summary.usage_by_message[message_id] = (model, usage)
    elif kind == "user":
        raw_message = event.get("message")
        content = raw_message.get("content") if isinstance(raw_message, dict) else None
        for block in content if isinstance(content, list) else []:
            if isinstance(block, dict) and block.get("type") == "tool_result" and block.get("is_error") is True:
                name = summary.tool_uses.get(str(block.get("tool_use_id")), "")
                summary.tool_errors.append((name, _block_text(block.get("content"))[-_TOOL_ERROR_CHARS:]))
        summary.claude_session_id = summary.claude_session_id or _str(event.get("session_id"))
    elif kind == "rate_limit_event":
        info = event.get("rate_limit_info")
        if isinstance(info, dict) and info.get("status") == "rejected":
            summary.rate_limit_rejections.append(info)
    elif kind == "result":
        summary.result = event
        summary.claude_session_id = _str(event.get("session_id")) or summary.claude_session_id


def _message_text(message: dict[str, Any]) -> str:
    parts = []
    for block in message.get("content") or []:
        if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str):
            parts.append(block["text"])
    return "\n".join(parts)


def _block_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(b.get("text")) for b in content if isinstance(b, dict) and isinstance(b.get("text"), str))
    return ""


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
