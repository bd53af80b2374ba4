"""A local stand-in for the Anthropic Messages API, scripted per test.

The real Claude Code CLI is pointed at it with ``ANTHROPIC_BASE_URL``. Each scripted turn answers one
model request (a streaming ``POST /v1/messages``) in order: a streamed assistant message (text, tool
calls, several blocks, a subagent call) or an API error. Subagents' requests take their turns from a
script of their own (``add_subagent``).

Every request is recorded so a test can assert what the client sent. Requests that are not model
turns (the client's ``HEAD /`` connectivity probe, token counting, a non-streaming side call) get a
harmless answer and are recorded too; an unknown path or an exhausted script is answered but noted in
``problems``, which the pytest fixture turns into a test error, so nothing goes unseen.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from support.httpserver import LocalServer

DEFAULT_MODEL = "claude-sonnet-4-6"

# Claude Sonnet 4.x list prices in dollars per million tokens (cache writes at the 5-minute rate):
# what the CLI uses for total_cost_usd with --model claude-sonnet-4-6.
SONNET_PRICES = {
    "input_tokens": 3.0,
    "output_tokens": 15.0,
    "cache_creation_input_tokens": 3.75,
    "cache_read_input_tokens": 0.30,
}


@dataclass(frozen=True)
class Usage:
    """Token counts reported for one assistant message (``message_start`` and ``message_delta``)."""

    input_tokens: int = 1200
    output_tokens: int = 42
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def start_usage(self) -> dict[str, int]:
        # Like the API: output_tokens is 1 at message_start; message_delta carries the final count.
        return {**self.final_usage(), "output_tokens": 1}

    def final_usage(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
        }

    def cost_usd(self, prices: dict[str, float] | None = None) -> float:
        """These tokens priced with a table keyed like the usage fields (dollars per million)."""
        table = SONNET_PRICES if prices is None else prices
        counts = self.final_usage()
        return sum(counts[key] * rate for key, rate in table.items()) / 1_000_000


@dataclass(frozen=True)
class Text:
    """A text content block."""

    text: str


@dataclass(frozen=True)
class ToolUse:
    """A tool_use content block; ``id`` is generated when omitted."""

    name: str
    input: dict[str, Any]
    id: str | None = None


Block = Text | ToolUse


@dataclass(frozen=True)
class Reply:
    """One streamed assistant message. ``stop_reason`` defaults to tool_use when a block calls a tool."""

    blocks: tuple[Block, ...]
    usage: Usage = Usage()
    stop_reason: str | None = None
    message_id: str | None = None
    request_id: str | None = None
    model: str | None = None

    def resolved_stop_reason(self) -> str:
        if self.stop_reason is not None:
            return self.stop_reason
        return "tool_use" if any(isinstance(b, ToolUse) for b in self.blocks) else "end_turn"


@dataclass(frozen=True)
class ApiError:
    """An error answer: JSON ``{"type":"error","error":{...}}`` with the HTTP status."""

    status: int
    error_type: str
    message: str
    retry_after: int | None = None


Turn = Reply | ApiError


@dataclass(frozen=True)
class Persistent:
    """A turn that answers this and every later model request: a persistent outage.

    With ``CLAUDE_CODE_MAX_RETRIES=N`` the client asks N+1 times before it gives up.
    """

    turn: Turn


@dataclass
class Request:
    """One HTTP request the client made, as received."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any
    kind: str = "other"  # turn | side | probe | count_tokens | unknown
    status: int = 0

    @property
    def json(self) -> dict[str, Any]:
        return self.body if isinstance(self.body, dict) else {}

    @property
    def is_stream(self) -> bool:
        return bool(self.json.get("stream"))

    @property
    def is_subagent(self) -> bool:
        """Claude Code marks a subagent's requests in the billing line of its system prompt."""
        return "cc_is_subagent=true" in self.system_text()

    def messages(self) -> list[dict[str, Any]]:
        return list(self.json.get("messages") or [])

    def system_text(self) -> str:
        """The system prompt flattened to one string."""
        return flatten_text(self.json.get("system"))

    def all_text(self) -> str:
        """System prompt and every message flattened: for 'did the model see X' assertions."""
        return "\n".join([self.system_text(), *(flatten_text(m.get("content")) for m in self.messages())])

    def tool_results(self) -> list[dict[str, Any]]:
        """The tool_result blocks of the last user message."""
        msgs = self.messages()
        if not msgs or msgs[-1].get("role") != "user" or not isinstance(msgs[-1].get("content"), list):
            return []
        return [b for b in msgs[-1]["content"] if isinstance(b, dict) and b.get("type") == "tool_result"]

    def tool_names(self) -> list[str]:
        return [t.get("name", "") for t in self.json.get("tools") or [] if isinstance(t, dict)]


# A turn may be computed from the request it answers (e.g. to echo something the client sent).
ScriptItem = Turn | Persistent | Callable[[Request], Turn]


def flatten_text(value: Any) -> str:
    """The text inside a content value (a string, or blocks with text/content), joined by newlines."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(flatten_text(v) for v in value)
    if isinstance(value, dict):
        if isinstance(value.get("text"), str):
            return str(value["text"])
        if "content" in value:
            return flatten_text(value["content"])
        return ""
    return str(value)


# ---- script helpers -------------------------------------------------------------------------------

def text(*parts: str, usage: Usage | None = None, **kwargs: Any) -> Reply:
    """A reply made of one text block per part."""
    return Reply(tuple(Text(p) for p in parts), usage=usage or Usage(), **kwargs)


def tool_call(name: str, tool_input: dict[str, Any], *, preamble: str | None = None,
              usage: Usage | None = None, tool_id: str | None = None, **kwargs: Any) -> Reply:
    """A reply calling one tool, optionally preceded by a text block (a two-block message)."""
    blocks: list[Block] = [Text(preamble)] if preamble is not None else []
    blocks.append(ToolUse(name, tool_input, tool_id))
    return Reply(tuple(blocks), usage=usage or Usage(), **kwargs)


def bash(command: str, description: str = "run a command", **kwargs: Any) -> Reply:
    """A reply calling the Bash tool."""
    return tool_call("Bash", {"command": command, "description": description}, **kwargs)


def agent(prompt: str, description: str = "delegate", subagent_type: str = "general-purpose",
          **kwargs: Any) -> Reply:
    """A reply starting a subagent; its requests take their turns from the subagent script."""
    return tool_call("Agent", {"description": description, "prompt": prompt,
                               "subagent_type": subagent_type}, **kwargs)


def authentication_error(message: str = "invalid x-api-key") -> ApiError:
    return ApiError(401, "authentication_error", message)


def billing_error(message: str = "Your credit balance is too low to access the Anthropic API. "
                  "Please go to Plans & Billing to upgrade or purchase credits.") -> ApiError:
    return ApiError(400, "invalid_request_error", message)


def rate_limit_error(retry_after: int = 0, message: str = "Number of request tokens has exceeded "
                     "your per-minute rate limit") -> ApiError:
    return ApiError(429, "rate_limit_error", message, retry_after=retry_after)


def overloaded_error(retry_after: int | None = None, message: str = "Overloaded") -> ApiError:
    return ApiError(529, "overloaded_error", message, retry_after=retry_after)


def server_error(message: str = "Internal server error") -> ApiError:
    return ApiError(500, "api_error", message)


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            429: "Too Many Requests", 500: "Internal Server Error", 529: "Overloaded"}


def _non_streaming(request: Request) -> bool:
    return not request.is_stream


@dataclass
class Script:
    """Turns answered in order; a Persistent turn, once reached, answers every later request."""

    items: list[ScriptItem] = field(default_factory=list)
    position: int = 0
    persistent_served: bool = False

    @property
    def left(self) -> int:
        left = len(self.items) - self.position
        if left and self.persistent_served and isinstance(self.items[self.position], Persistent):
            left -= 1
        return left

    def next_item(self) -> Turn | Callable[[Request], Turn] | None:
        if self.position >= len(self.items):
            return None
        item = self.items[self.position]
        if isinstance(item, Persistent):
            self.persistent_served = True
            return item.turn
        self.position += 1
        return item


@dataclass
class StandIn:
    """The scripted API server on 127.0.0.1 (ephemeral port). A context manager, or start()/stop().

    Two scripts: ``main`` answers the session's own model requests and ``subagent`` answers
    requests from subagents (Claude Code marks them in the system prompt), so a subagent's turns
    stay in order whether the client runs it inline or in the background.

    ``is_side`` decides which ``POST /v1/messages`` are not turns of either script. By default that
    is any non-streaming request: Claude Code streams every model turn and uses plain calls only for
    small chores of its own, which a script should not have to know about.
    """

    main: Script = field(default_factory=Script)
    subagent: Script = field(default_factory=Script)
    model: str = DEFAULT_MODEL
    is_side: Callable[[Request], bool] = _non_streaming
    requests: list[Request] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    _server: LocalServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # ---- script -------------------------------------------------------------------------------
    def add(self, *turns: ScriptItem) -> StandIn:
        """Append turns to the main script."""
        with self._lock:
            self.main.items.extend(turns)
        return self

    def add_subagent(self, *turns: ScriptItem) -> StandIn:
        """Append turns to the script subagents' requests take, across all subagents, in order."""
        with self._lock:
            self.subagent.items.extend(turns)
        return self

    def replace_script(self, turns: Sequence[ScriptItem], subagent: Sequence[ScriptItem] = ()) -> None:
        """Start new scripts (e.g. for the next CLI run of a test); recorded requests are kept."""
        with self._lock:
            self.main = Script(list(turns))
            self.subagent = Script(list(subagent))

    @property
    def turns_left(self) -> int:
        return self.main.left + self.subagent.left

    def model_requests(self) -> list[Request]:
        """The requests that took a scripted turn (or found their script exhausted), in order."""
        return [r for r in self.requests if r.kind == "turn"]

    def side_requests(self) -> list[Request]:
        return [r for r in self.requests if r.kind != "turn"]

    def assert_script_consumed(self) -> None:
        if self.problems or self.turns_left:
            raise AssertionError(
                f"stand-in: {self.main.left} main and {self.subagent.left} subagent turn(s) unused; "
                f"problems: {self.problems}; "
                f"requests: {[(r.method, r.path, r.kind, r.status) for r in self.requests]}")

    # ---- server -------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("stand-in not started")
        return self._server.url

    def start(self) -> StandIn:
        self._server = LocalServer(_make_handler(self), name="standin")
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- answering ----------------------------------------------------------------------------
    def _next_id(self, prefix: str) -> str:
        return f"{prefix}_standin_{next(self._ids):04d}"

    def _take_turn(self, request: Request) -> Turn:
        lane = "subagent" if request.is_subagent else "main"
        with self._lock:
            item = (self.subagent if lane == "subagent" else self.main).next_item()
            if item is None:
                self.problems.append(f"{lane} script exhausted at model request {len(self.model_requests())}")
                return Reply((Text("[stand-in: script exhausted]"),))
        return item(request) if callable(item) else item

    def _answer_messages(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        if self.is_side(request):
            request.kind = "side"
            reply = Reply((Text("ok"),), usage=Usage(input_tokens=1, output_tokens=1))
            return 200, {"content-type": "application/json",
                         "request-id": self._next_id("req")}, json.dumps(self._message(reply, request)).encode()
        request.kind = "turn"
        turn = self._take_turn(request)
        if isinstance(turn, ApiError):
            request_id = self._next_id("req")
            headers = {"content-type": "application/json", "request-id": request_id}
            if turn.retry_after is not None:
                headers["retry-after"] = str(turn.retry_after)
            body = {"type": "error", "error": {"type": turn.error_type, "message": turn.message},
                    "request_id": request_id}
            return turn.status, headers, json.dumps(body).encode()
        headers = {"content-type": "text/event-stream", "cache-control": "no-cache",
                   "request-id": turn.request_id or self._next_id("req")}
        return 200, headers, self._stream(turn, request)

    def _content(self, reply: Reply) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for block in reply.blocks:
            if isinstance(block, Text):
                out.append({"type": "text", "text": block.text})
            else:
                out.append({"type": "tool_use", "id": block.id or self._next_id("toolu"),
                            "name": block.name, "input": block.input})
        return out

    def _message(self, reply: Reply, request: Request, *, streaming: bool = False) -> dict[str, Any]:
        return {"id": reply.message_id or self._next_id("msg"), "type": "message", "role": "assistant",
                "model": reply.model or str(request.json.get("model") or self.model),
                "content": [] if streaming else self._content(reply),
                "stop_reason": None if streaming else reply.resolved_stop_reason(),
                "stop_sequence": None,
                "usage": reply.usage.start_usage() if streaming else reply.usage.final_usage()}

    def _stream(self, reply: Reply, request: Request) -> bytes:
        message = self._message(reply, request, streaming=True)
        parts = [_sse("message_start", {"type": "message_start", "message": message}),
                 _sse("ping", {"type": "ping"})]
        for index, block in enumerate(self._content(reply)):
            if block["type"] == "text":
                start: dict[str, Any] = {"type": "text", "text": ""}
                delta = {"type": "text_delta", "text": block["text"]}
            else:
                start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
                delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
            parts.append(_sse("content_block_start",
                              {"type": "content_block_start", "index": index, "content_block": start}))
            parts.append(_sse("content_block_delta",
                              {"type": "content_block_delta", "index": index, "delta": delta}))
            parts.append(_sse("content_block_stop", {"type": "content_block_stop", "index": index}))
        parts.append(_sse("message_delta", {
            "type": "message_delta",
            "delta": {"stop_reason": reply.resolved_stop_reason(), "stop_sequence": None},
            "usage": {"output_tokens": reply.usage.output_tokens}}))
        parts.append(_sse("message_stop", {"type": "message_stop"}))
        return b"".join(parts)

    def _answer_other(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        path = request.path.rstrip("/")
        json_headers = {"content-type": "application/json"}
        if request.method == "POST" and path == "/v1/messages/count_tokens":
            request.kind = "count_tokens"
            estimate = max(len(json.dumps(request.body)) // 4, 1)
            return 200, json_headers, json.dumps({"input_tokens": estimate}).encode()
        if request.method in ("HEAD", "GET") and path in ("", "/v1"):
            request.kind = "probe"  # Claude Code sends HEAD / before its first request
            return 200, json_headers, b"{}"
        request.kind = "unknown"
        self.problems.append(f"unexpected {request.method} {request.path}")
        body = {"type": "error", "error": {"type": "not_found_error",
                                           "message": f"the stand-in does not serve {request.path}"}}
        return 404, json_headers, json.dumps(body).encode()

    def handle(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.requests.append(request)
        try:
            if request.method == "POST" and request.path.rstrip("/") == "/v1/messages":
                status, headers, payload = self._answer_messages(request)
            else:
                status, headers, payload = self._answer_other(request)
        except Exception as exc:  # a broken callable turn must fail the test, not hang the client
            self.problems.append(f"stand-in failed answering {request.method} {request.path}: {exc!r}")
            status, headers = 400, {"content-type": "application/json"}
            payload = json.dumps({"type": "error", "error": {"type": "invalid_request_error",
                                                             "message": f"stand-in: {exc!r}"}}).encode()
        request.status = status
        return status, headers, payload


def _make_handler(standin: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.1 with a Content-Length on every answer keeps the client's connection alive.
        protocol_version = "HTTP/1.1"
        server_version = "baton-standin/1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            body: Any = None
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode("utf-8", "replace")
            headers = {k.lower(): v for k, v in self.headers.items()}
            request = Request(self.command, parts.path, parts.query, headers, body)
            status, out_headers, payload = standin.handle(request)
            self.send_response(status, _REASONS.get(status, "Error"))
            for key, value in out_headers.items():
                self.send_header(key, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
            self.wfile.flush()

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _handle

    return Handler
