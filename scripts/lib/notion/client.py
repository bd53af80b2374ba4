"""A thin httpx client for the few Notion endpoints the sync uses, with its retry policy.

Why not notion-client: its retries must be switched off anyway (it does not know
529 and never retries a POST/PATCH), so the limiter, the retry policy and the
"look before you send again" rules all live here; what remains of the SDK is a
URL builder. A thin client also keeps the wire format explicit (which requests
are idempotent, which headers are sent) and the request count exact.

Retry policy (docs/notion-sync.md):
- 429 `rate_limited`: the request was refused before it was processed, so any
  request is sent again after `Retry-After` (every other request waits too).
- 529 and other 5xx, timeouts, dropped connections: an idempotent request (GET,
  DELETE, a query, a property update) is retried with exponential backoff and
  jitter (529/503 honour `Retry-After` when present). A non-idempotent request
  (page create, block append) may have taken effect: after the same wait it
  raises `AmbiguousWrite` and the caller must look (query by external_id, list
  the children) before sending anything again.
- Attempts are bounded; the last error is raised.

The token lives only in the Authorization header of the underlying httpx client;
every message this module builds passes through `redact`.
"""

from __future__ import annotations

import email.utils
import json
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from lib.core.errors import ConfigError
from lib.notion.limiter import TokenBucket
from lib.security import redact

NOTION_VERSION = "2025-09-03"
DEFAULT_BASE_URL = "https://api.notion.com"

_ID_RE = re.compile(r"^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$")

RETRY_STATUSES = frozenset({409, 500, 502, 503, 504, 529})
# Statuses that carry Retry-After and mean "not processed, too much load".
_RETRY_AFTER_STATUSES = frozenset({429, 503, 529})


def check_token(token: str) -> None:
    """Refuse a token that cannot go into an HTTP header (printable ASCII, no spaces).

    A character pasted along with the token (an ellipsis, curly quotes, a letter typed on
    another keyboard) would otherwise fail deep in httpx, with a traceback. The message names
    the character's position and kind, never the token.
    """
    for index, ch in enumerate(token):
        if "!" <= ch <= "~":
            continue
        if ch == " ":
            what = "a space"
        elif ch < " " or ch == "\x7f":
            what = "a control character"
        else:
            what = f"a non-ASCII character (U+{ord(ch):04X})"
        raise ConfigError(f"$NOTION_TOKEN holds {what} at position {index + 1} of {len(token)}, which cannot be "
                          "sent; copy the token again from the integration's page in Notion")


def is_notion_id(value: object) -> bool:
    """A Notion object id: 32 hex digits, with or without the 8-4-4-4-12 dashes."""
    return isinstance(value, str) and bool(_ID_RE.match(value))


def normalize_id(value: str) -> str:
    """The dashed lowercase form, so ids compare equal whichever way they were written."""
    hexid = value.replace("-", "").lower()
    return f"{hexid[:8]}-{hexid[8:12]}-{hexid[12:16]}-{hexid[16:20]}-{hexid[20:]}"


class NotionError(Exception):
    """A Notion request that failed; the message is one line and never contains the token."""


class APIResponseError(NotionError):
    def __init__(self, message: str, *, status: int, code: str, method: str, path: str,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.method = method
        self.path = path
        self.retry_after = retry_after


class AmbiguousWrite(NotionError):
    """A non-idempotent request whose outcome is unknown: it may or may not have taken effect."""

    def __init__(self, message: str, *, method: str, path: str) -> None:
        super().__init__(message)
        self.method = method
        self.path = path


class RequestFailed(NotionError):
    """A request that could not be completed after the allowed attempts (timeouts, connection errors)."""


@dataclass
class RetryPolicy:
    max_attempts: int = 5
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    timeout_s: float = 30.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Exponential backoff with equal jitter: half fixed, half random (attempt counts from 1)."""
        ceiling = min(self.backoff_max_s, self.backoff_base_s * (2 ** (attempt - 1)))
        return float(ceiling / 2 + rng.uniform(0, ceiling / 2))


@dataclass
class ClientStats:
    requests: int = 0
    writes: int = 0
    retries: int = 0
    rate_limited: int = 0
    ambiguous: int = 0
    waited_s: float = 0.0
    events: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if len(self.events) < 200:
            self.events.append(text)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None if absent/bad."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


class NotionClient:
    def __init__(self, token: str, *, base_url: str = DEFAULT_BASE_URL,
                 limiter: TokenBucket | None = None, policy: RetryPolicy | None = None,
                 rng: random.Random | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        if not token:
            raise ValueError("a Notion token is required")
        check_token(token)
        self._secret = token
        self.policy = policy or RetryPolicy()
        self.limiter = limiter or TokenBucket()
        self.stats = ClientStats()
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={
                "Authorization": f"Bearer {token}",
                "Notion-Version": NOTION_VERSION,
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
            timeout=httpx.Timeout(self.policy.timeout_s),
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"NotionClient(base_url={str(self._http.base_url)!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> NotionClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def redact(self, text: str) -> str:
        text = text.replace(self._secret, "[redacted]") if self._secret else text
        return redact.redact(text)  # and any other secret a response quoted

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self.stats.waited_s += seconds
            self._sleep(seconds)

    # ------------------------------------------------------------------ core

    def request(self, method: str, path: str, *, body: Any = None,
                params: dict[str, Any] | None = None, idempotent: bool) -> dict[str, Any]:
        """Send one logical request under the limiter and the retry policy; returns the JSON body."""
        content = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        is_write = not idempotent or method in ("PATCH", "DELETE")
        attempt = 0
        while True:
            attempt += 1
            last = attempt >= self.policy.max_attempts
            self.limiter.acquire()
            self.stats.requests += 1
            if is_write:
                self.stats.writes += 1
            if attempt > 1:
                self.stats.retries += 1
            try:
                resp = self._http.request(method, path, content=content, params=params)
            except httpx.ConnectError as exc:
                # The request never reached the server, so even a create may be sent again.
                if last:
                    raise RequestFailed(self.redact(f"{method} {path}: cannot connect: {exc}")) from None
                self.stats.note(f"{method} {path}: connection failed, retrying")
                self._wait(self.policy.backoff(attempt, self._rng))
                continue
            except httpx.TransportError as exc:
                kind = "timed out" if isinstance(exc, httpx.TimeoutException) else f"transport error ({type(exc).__name__})"
                self.stats.note(f"{method} {path}: {kind}")
                delay = self.policy.backoff(attempt, self._rng)
                if not idempotent:
                    self.stats.ambiguous += 1
                    self._wait(delay)
                    raise AmbiguousWrite(self.redact(f"{method} {path}: {kind}; outcome unknown"),
                                         method=method, path=path) from None
                if last:
                    raise RequestFailed(self.redact(
                        f"{method} {path}: {kind} after {attempt} attempts")) from None
                self._wait(delay)
                continue

            if resp.status_code < 300:
                try:
                    data = resp.json()
                except ValueError:
                    raise RequestFailed(f"{method} {path}: answer is not JSON") from None
                if not isinstance(data, dict):
                    raise RequestFailed(f"{method} {path}: answer is not a JSON object")
                return data

            error = self._error(resp, method, path)
            if resp.status_code == 429:
                self.stats.rate_limited += 1
                wait = error.retry_after if error.retry_after is not None else self.policy.backoff(attempt, self._rng)
                self.stats.note(f"{method} {path}: 429 rate_limited, waiting {wait:g}s")
                if last:
                    raise error
                # 429 means "refused, not processed": safe to send any request again.
                self.limiter.pause(wait)
                self.stats.waited_s += wait
                continue
            if resp.status_code in RETRY_STATUSES:
                if error.retry_after is not None and resp.status_code in _RETRY_AFTER_STATUSES:
                    wait = error.retry_after
                else:
                    wait = self.policy.backoff(attempt, self._rng)
                self.stats.note(f"{method} {path}: {resp.status_code} {error.code}, waiting {wait:.2f}s")
                if not idempotent:
                    self.stats.ambiguous += 1
                    self.limiter.pause(wait)
                    self.stats.waited_s += wait
                    raise AmbiguousWrite(self.redact(
                        f"{method} {path}: {resp.status_code} {error.code}; outcome unknown"),
                        method=method, path=path)
                if last:
                    raise error
                self.limiter.pause(wait)
                self.stats.waited_s += wait
                continue
            raise error

    def _error(self, resp: httpx.Response, method: str, path: str) -> APIResponseError:
        code = "http_error"
        message = resp.reason_phrase or ""
        try:
            data = resp.json()
        except ValueError:
            data = None
        if isinstance(data, dict):
            code = str(data.get("code") or code)
            message = str(data.get("message") or message)
        message = " ".join(message.split())
        if len(message) > 300:
            message = message[:297] + "..."
        text = self.redact(f"{method} {path}: {resp.status_code} {code}: {message}")
        return APIResponseError(text, status=resp.status_code, code=code, method=method, path=path,
                                retry_after=parse_retry_after(resp.headers.get("Retry-After")))

    # ------------------------------------------------------------- endpoints

    def retrieve_database(self, database_id: str) -> dict[str, Any]:
        return self.request("GET", f"/v1/databases/{database_id}", idempotent=True)

    def retrieve_data_source(self, data_source_id: str) -> dict[str, Any]:
        return self.request("GET", f"/v1/data_sources/{data_source_id}", idempotent=True)

    def query_data_source(self, data_source_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", f"/v1/data_sources/{data_source_id}/query", body=body, idempotent=True)

    def create_page(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", "/v1/pages", body=body, idempotent=False)

    def update_page(self, page_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("PATCH", f"/v1/pages/{page_id}", body=body, idempotent=True)

    def append_children(self, block_id: str, children: list[dict[str, Any]]) -> list[dict[str, Any]]:
        data = self.request("PATCH", f"/v1/blocks/{block_id}/children", body={"children": children},
                            idempotent=False)
        results = data.get("results")
        return results if isinstance(results, list) else []

    def update_block(self, block_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Replace a block's content (same type); setting the same content twice is harmless."""
        return self.request("PATCH", f"/v1/blocks/{block_id}", body=body, idempotent=True)

    def delete_block(self, block_id: str) -> dict[str, Any]:
        return self.request("DELETE", f"/v1/blocks/{block_id}", idempotent=True)

    def iter_children(self, block_id: str, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Every child of a block; keeps asking until `has_more` is false (a page may come back short)."""
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"page_size": page_size}
            if cursor:
                params["start_cursor"] = cursor
            data = self.request("GET", f"/v1/blocks/{block_id}/children", params=params, idempotent=True)
            results = data.get("results") or []
            yield from results
            cursor = data.get("next_cursor")
            if not data.get("has_more") or not cursor:
                return

    def list_children(self, block_id: str) -> list[dict[str, Any]]:
        return list(self.iter_children(block_id))
