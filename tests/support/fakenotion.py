"""A stateful fake of the Notion API (Notion-Version 2025-09-03) on 127.0.0.1, for tests and the benchmark.

It answers in the shapes of the recorded real responses (shared reference
notion-recorded/*.yaml) and enforces what the documentation states, so a client
that works here respects the real limits:

- headers: `Authorization: Bearer <token>` (401 `unauthorized`), `Notion-Version`
  (400 `missing_version`; only 2025-09-03 is accepted);
- rate: a token bucket (default 3 per second average, small burst) answering 429
  `rate_limited` with an integer `Retry-After`;
- request limits: <= 100 children per array, text.content <= 2,000 UTF-16 units,
  rich_text arrays <= 100, link URLs <= 2,000 and absolute, <= 2 levels of nesting
  per request, <= 1,000 block elements and 500 KB per request, known code
  languages, tables created with rows of the right width; the body keys
  `archived`, `after`, `position` are refused (the sync pins 2025-09-03 and
  never sends them);
- databases contain data sources; pages are created under a data source and
  queried there with a property filter; blocks are listed with cursor
  pagination, appended, and deleted.

Fault injection (`inject`) makes chosen requests fail with a status (429 with
Retry-After, 500, 503, 529, ...), before or after taking effect, or answer
slowly (a timeout for a client with a short timeout). Every request is recorded
with its arrival time so tests can check the rate over any 1-second window.
"""

from __future__ import annotations

import json
import math
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from support.httpserver import LocalServer

VERSION = "2025-09-03"
BOT_USER = "7775f3a3-893f-43fa-b625-460c61094c78"
MAX_BODY = 500 * 1024

LANGUAGES = frozenset({
    "abap", "abc", "agda", "arduino", "ascii art", "assembly", "bash", "basic", "bnf", "c", "c#", "c++",
    "clojure", "coffeescript", "coq", "css", "dart", "dhall", "diff", "docker", "ebnf", "elixir", "elm",
    "erlang", "f#", "flow", "fortran", "gherkin", "glsl", "go", "graphql", "groovy", "haskell", "hcl",
    "html", "idris", "java", "javascript", "json", "julia", "kotlin", "latex", "less", "lisp",
    "livescript", "llvm ir", "lua", "makefile", "markdown", "markup", "matlab", "mathematica",
    "mermaid", "nix", "notion formula", "objective-c", "ocaml", "pascal", "perl", "php", "plain text",
    "powershell", "prolog", "protobuf", "purescript", "python", "r", "racket", "reason", "ruby", "rust",
    "sass", "scala", "scheme", "scss", "shell", "smalltalk", "solidity", "sql", "swift", "toml",
    "typescript", "vb.net", "verilog", "vhdl", "visual basic", "webassembly", "xml", "yaml",
    "java/c/c++/c#",
})
TEXT_BLOCKS = ("paragraph", "heading_1", "heading_2", "heading_3", "bulleted_list_item",
               "numbered_list_item", "to_do", "quote", "toggle", "callout")
BLOCK_TYPES = (*TEXT_BLOCKS, "code", "divider", "table", "table_row")
PARENT_TYPES = frozenset({"paragraph", "bulleted_list_item", "numbered_list_item", "to_do", "quote",
                          "toggle", "callout", "table"})
WRITE_ROUTES = ("create_page", "update_page", "append", "update_block", "delete")

_ID = r"[0-9a-fA-F-]{32,36}"


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, retry_after: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


def _validation(message: str) -> ApiError:
    return ApiError(400, "validation_error", message)


def _now_iso() -> str:
    # Notion reports block and page times rounded to the minute.
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:00.000Z")


def _norm_id(value: str) -> str | None:
    hexid = value.replace("-", "").lower()
    if not re.fullmatch(r"[0-9a-f]{32}", hexid):
        return None
    return f"{hexid[:8]}-{hexid[8:12]}-{hexid[12:16]}-{hexid[16:20]}-{hexid[20:]}"


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Fault:
    method: str
    path: str
    status: int | None = None
    retry_after: str | None = None
    apply: bool = False
    delay: float = 0.0
    times: int = 1
    skip: int = 0
    code: str | None = None
    message: str | None = None
    seen: int = 0
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and re.search(self.path, path) is not None


@dataclass
class RequestRecord:
    t: float
    method: str
    path: str
    route: str = ""
    status: int = 0
    fault: str = ""

    @property
    def is_write(self) -> bool:
        return self.route in WRITE_ROUTES


@dataclass
class _Block:
    id: str
    type: str
    data: dict[str, Any]
    parent: tuple[str, str]  # ("page_id" | "block_id", id)
    created: str
    children: list[str] = field(default_factory=list)
    in_trash: bool = False


@dataclass
class _Page:
    id: str
    parent: dict[str, Any]
    properties: dict[str, Any]
    created: str
    seq: int
    children: list[str] = field(default_factory=list)
    in_trash: bool = False
    edited: str = ""


@dataclass
class _DataSource:
    id: str
    name: str
    database_id: str
    properties: dict[str, dict[str, Any]]


@dataclass
class _Database:
    id: str
    title: str
    data_sources: list[str]


class FakeNotion:
    """The fake server. Use as a context manager, or call start()/stop()."""

    def __init__(self, token: str = "ntn_fake_token_for_tests", *, rate: float | None = 3.0,
                 burst: float = 4.0, page_cap: int | None = None) -> None:
        self.token = token
        self.rate = rate
        self.burst = burst
        # Answer list requests with at most this many results even when more were asked for
        # (the real API may return a short page; a client must follow has_more).
        self.page_cap = page_cap
        self._lock = threading.RLock()
        self._bucket = burst
        self._bucket_t = time.monotonic()
        self.databases: dict[str, _Database] = {}
        self.data_sources: dict[str, _DataSource] = {}
        self.pages: dict[str, _Page] = {}
        self.blocks: dict[str, _Block] = {}
        self.faults: list[Fault] = []
        self.requests: list[RequestRecord] = []
        self._seq = 0
        self._server: LocalServer | None = None

    # ------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        return self._server.url

    def start(self) -> FakeNotion:
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._server = LocalServer(Handler, name="fakenotion", poll_interval=0.02)
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> FakeNotion:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ set-up helpers

    def add_database(self, title: str, properties: dict[str, str] | None = None,
                     data_sources: list[str] | None = None, *,
                     status_options: list[str] | None = None) -> tuple[str, list[str]]:
        """A database with one data source per name (default: one named like the database)."""
        props = properties or {"Name": "title", "external_id": "rich_text"}
        with self._lock:
            db_id = str(uuid.uuid4())
            ds_ids: list[str] = []
            for name in data_sources or [title]:
                ds_id = str(uuid.uuid4())
                schema: dict[str, dict[str, Any]] = {}
                for pname, ptype in props.items():
                    config: dict[str, Any] = {}
                    if ptype in ("select", "multi_select"):
                        config = {"options": []}
                    if ptype == "status":
                        config = {"options": [{"name": o, "id": str(uuid.uuid4())}
                                              for o in (status_options or ["Not started", "In progress", "Done"])],
                                  "groups": []}
                    schema[pname] = {"id": "title" if ptype == "title" else uuid.uuid4().hex[:4],
                                     "name": pname, "description": None, "type": ptype, ptype: config}
                self.data_sources[ds_id] = _DataSource(ds_id, name, db_id, schema)
                ds_ids.append(ds_id)
            self.databases[db_id] = _Database(db_id, title, ds_ids)
        return db_id, ds_ids

    def add_page(self, data_source_id: str, properties: dict[str, Any],
                 children: list[dict[str, Any]] | None = None) -> str:
        """A page created by someone else; `properties` are simple values ({name: str | list | ...})."""
        with self._lock:
            ds = self.data_sources[data_source_id]
            body_props: dict[str, Any] = {}
            for name, value in properties.items():
                ptype = ds.properties[name]["type"]
                if ptype in ("title", "rich_text"):
                    body_props[name] = {ptype: [{"type": "text", "text": {"content": str(value)}}]}
                elif ptype == "select":
                    body_props[name] = {"select": {"name": str(value)}}
                elif ptype == "multi_select":
                    body_props[name] = {"multi_select": [{"name": str(v)} for v in value]}
                else:
                    body_props[name] = {ptype: value}
            page = self._create_page({"parent": {"type": "data_source_id", "data_source_id": data_source_id},
                                      "properties": body_props, "children": children or []})
            return str(page["id"])

    def inject(self, method: str, path: str, *, status: int | None = None, retry_after: str | None = None,
               apply: bool = False, delay: float = 0.0, times: int = 1, skip: int = 0,
               code: str | None = None, message: str | None = None) -> Fault:
        """Make matching requests (method + path regex) fail or answer late.

        status: answer this status instead of the real answer; apply: let the request take
        effect first (e.g. "the create succeeded but the answer was a 500"); delay: seconds to
        wait before answering (after taking effect when apply or no status); skip: let the first
        N matching requests through; times: how many to affect.
        """
        fault = Fault(method.upper(), path, status, retry_after, apply or status is None, delay, times, skip,
                      code, message)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    # ------------------------------------------------------------ inspection helpers

    def reset_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    def write_requests(self) -> list[RequestRecord]:
        return [r for r in self.requests if r.is_write]

    def count(self, route: str | None = None, status: int | None = None) -> int:
        return sum(1 for r in self.requests if (route is None or r.route == route)
                   and (status is None or r.status == status))

    def max_in_window(self, seconds: float = 1.0) -> int:
        """The most requests that arrived within any window of `seconds`."""
        times = sorted(r.t for r in self.requests)
        best = 0
        start = 0
        for end, t in enumerate(times):
            while t - times[start] > seconds:
                start += 1
            best = max(best, end - start + 1)
        return best

    def live_pages(self, data_source_id: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [self._page_json(p) for p in sorted(self.pages.values(), key=lambda p: p.seq)
                    if not p.in_trash and (data_source_id is None
                                           or p.parent.get("data_source_id") == data_source_id)]

    def pages_with(self, data_source_id: str, prop: str, value: str) -> list[str]:
        """Ids of live pages whose text property `prop` equals `value`."""
        out = []
        for page in self.live_pages(data_source_id):
            if _prop_plain(page["properties"].get(prop)) == value:
                out.append(page["id"])
        return out

    def prop_value(self, page_id: str, prop: str) -> Any:
        with self._lock:
            page = self.pages[_norm_id(page_id) or page_id]
            return _prop_simple(page.properties.get(prop))

    def tree(self, parent_id: str) -> list[dict[str, Any]]:
        """The live blocks under a page or block, nested: {type, text, children, **type fields}."""
        with self._lock:
            pid = _norm_id(parent_id) or parent_id
            ids = self.pages[pid].children if pid in self.pages else self.blocks[pid].children
            out = []
            for bid in ids:
                blk = self.blocks[bid]
                if blk.in_trash:
                    continue
                node: dict[str, Any] = {"type": blk.type, "id": blk.id}
                if "rich_text" in blk.data:
                    node["text"] = "".join(o["plain_text"] for o in blk.data["rich_text"])
                for key in ("language", "checked", "table_width"):
                    if key in blk.data:
                        node[key] = blk.data[key]
                if blk.type == "table_row":
                    node["cells"] = ["".join(o["plain_text"] for o in cell) for cell in blk.data["cells"]]
                node["children"] = self.tree(blk.id)
                out.append(node)
            return out

    def block_count(self, parent_id: str) -> int:
        def count(nodes: list[dict[str, Any]]) -> int:
            return sum(1 + count(n["children"]) for n in nodes)
        return count(self.tree(parent_id))

    # ------------------------------------------------------------ request handling

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any], dict[str, str], float]:
        """Process one request; returns (status, json body, extra headers, delay before answering)."""
        arrived = time.monotonic()
        parts = urlsplit(raw_path)
        path = parts.path
        record = RequestRecord(arrived, method, path)
        with self._lock:
            self.requests.append(record)
        delay = 0.0
        extra: dict[str, str] = {}
        try:
            self._check_headers(headers)
            self._rate_limit(arrived)
            route, handler, args = self._route(method, path)
            record.route = route
            fault = self._fault_for(method, path)
            if fault is not None:
                record.fault = f"{fault.status or 'slow'}"
                delay = fault.delay
                if fault.status is not None and not fault.apply:
                    raise self._fault_error(fault)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            payload = self._parse_body(body) if method in ("POST", "PATCH") else {}
            with self._lock:
                result = handler(*args, payload, query)
            if fault is not None and fault.status is not None:
                raise self._fault_error(fault)
            record.status = 200
            result["request_id"] = str(uuid.uuid4())
            return 200, result, extra, delay
        except ApiError as err:
            record.status = err.status
            if err.retry_after is not None:
                extra["Retry-After"] = err.retry_after
            error: dict[str, Any] = {"object": "error", "status": err.status, "code": err.code,
                                     "message": err.message}
            if err.code == "object_not_found":
                error["additional_data"] = {"integration_id": BOT_USER}
            error["request_id"] = str(uuid.uuid4())
            return err.status, error, extra, delay

    def _fault_error(self, fault: Fault) -> ApiError:
        status = fault.status or 500
        code = fault.code or {429: "rate_limited", 500: "internal_server_error", 502: "bad_gateway",
                              503: "service_unavailable", 504: "gateway_timeout",
                              529: "service_overload", 409: "conflict_error"}.get(status, "internal_server_error")
        message = fault.message or {429: "You have been rate limited. Please try again in a few minutes.",
                                    529: "Notion is unavailable due to too much load.",
                                    503: "Notion is unavailable, please try again later."}.get(
            status, "Unexpected error occurred.")
        return ApiError(status, code, message, fault.retry_after)

    def _fault_for(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.fired >= fault.times or not fault.matches(method, path):
                    continue
                fault.seen += 1
                if fault.seen <= fault.skip:
                    continue
                fault.fired += 1
                return fault
        return None

    def _check_headers(self, headers: dict[str, str]) -> None:
        auth = headers.get("authorization", "")
        if auth != f"Bearer {self.token}":
            raise ApiError(401, "unauthorized", "API token is invalid.")
        version = headers.get("notion-version")
        if not version:
            raise ApiError(400, "missing_version", "Notion-Version header failed validation: "
                                                   "Notion-Version header should be defined, instead was `undefined`.")
        if version != VERSION:
            raise ApiError(400, "invalid_request", f"Notion-Version {version} is not supported by this fake.")

    def _rate_limit(self, now: float) -> None:
        if self.rate is None:
            return
        with self._lock:
            self._bucket = min(self.burst, self._bucket + (now - self._bucket_t) * self.rate)
            self._bucket_t = now
            if self._bucket >= 1.0:
                self._bucket -= 1.0
                return
            wait = (1.0 - self._bucket) / self.rate
        raise ApiError(429, "rate_limited", "You have been rate limited. Please try again in a few minutes.",
                       str(max(1, math.ceil(wait))))

    def _parse_body(self, body: bytes) -> dict[str, Any]:
        if len(body) > MAX_BODY:
            raise _validation(f"Request body too large: {len(body)} bytes, the limit is {MAX_BODY}.")
        if not body:
            return {}
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ApiError(400, "invalid_json", "Error parsing JSON body.") from None
        if not isinstance(data, dict):
            raise ApiError(400, "invalid_json", "Error parsing JSON body.")
        for key in ("archived", "after", "position"):
            if key in data:
                raise _validation(f"body failed validation: body.{key} should be not present "
                                  f"(this fake pins Notion-Version {VERSION} and the sync never sends it).")
        return data

    def _route(self, method: str, path: str) -> tuple[str, Any, tuple[str, ...]]:
        routes: list[tuple[str, str, str, Any]] = [
            ("GET", rf"^/v1/databases/({_ID})$", "get_database", self._get_database),
            ("GET", rf"^/v1/data_sources/({_ID})$", "get_data_source", self._get_data_source),
            ("POST", rf"^/v1/data_sources/({_ID})/query$", "query", self._query),
            ("POST", r"^/v1/pages$", "create_page", self._create_page_route),
            ("GET", rf"^/v1/pages/({_ID})$", "get_page", self._get_page),
            ("PATCH", rf"^/v1/pages/({_ID})$", "update_page", self._update_page),
            ("GET", rf"^/v1/blocks/({_ID})/children$", "list", self._list_children),
            ("PATCH", rf"^/v1/blocks/({_ID})/children$", "append", self._append),
            ("PATCH", rf"^/v1/blocks/({_ID})$", "update_block", self._update_block),
            ("DELETE", rf"^/v1/blocks/({_ID})$", "delete", self._delete),
        ]
        known_path = False
        for m, pattern, name, handler in routes:
            match = re.match(pattern, path)
            if match and m == method:
                if not match.groups():
                    return name, handler, ()
                ident = _norm_id(match.group(1))
                if ident is None:
                    raise _validation(f"path failed validation: {match.group(1)} should be a valid uuid.")
                return name, handler, (ident,)
            if match:
                known_path = True
        if known_path:
            raise ApiError(400, "invalid_request", f"Unsupported request: {method} {path}.")
        raise ApiError(400, "invalid_request_url", "Invalid request URL.")

    # ------------------------------------------------------------ databases and data sources

    def _get_database(self, db_id: str, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        db = self.databases.get(db_id)
        if db is None:
            raise _not_found("database", db_id)
        return {
            "object": "database", "id": db.id,
            "title": _rich_response([{"text": {"content": db.title}}]), "description": [],
            "parent": {"type": "workspace", "workspace": True}, "is_inline": False, "in_trash": False,
            "is_locked": False, "created_time": _now_iso(), "last_edited_time": _now_iso(),
            "data_sources": [{"id": d, "name": self.data_sources[d].name} for d in db.data_sources],
            "icon": None, "cover": None, "url": f"https://app.notion.com/p/{db.id.replace('-', '')}",
            "public_url": None, "archived": False,
        }

    def _get_data_source(self, ds_id: str, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        ds = self.data_sources.get(ds_id)
        if ds is None:
            raise _not_found("data source", ds_id)
        return {
            "object": "data_source", "id": ds.id, "cover": None, "icon": None,
            "created_time": _now_iso(), "created_by": {"object": "user", "id": BOT_USER},
            "last_edited_by": {"object": "user", "id": BOT_USER}, "last_edited_time": _now_iso(),
            "title": _rich_response([{"text": {"content": ds.name}}]), "description": [], "is_inline": False,
            "properties": ds.properties,
            "parent": {"type": "database_id", "database_id": ds.database_id},
            "database_parent": {"type": "workspace", "workspace": True},
            "url": f"https://app.notion.com/p/{ds.database_id.replace('-', '')}", "public_url": None,
            "in_trash": False, "archived": False,
        }

    def _query(self, ds_id: str, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        ds = self.data_sources.get(ds_id)
        if ds is None:
            raise _not_found("data source", ds_id)
        page_size = _page_size(body.get("page_size"), "body.page_size")
        pages = [p for p in sorted(self.pages.values(), key=lambda p: p.seq)
                 if not p.in_trash and p.parent.get("data_source_id") == ds_id]
        flt = body.get("filter")
        if flt is not None:
            pages = [p for p in pages if self._match_filter(ds, p, flt)]
        for sort in reversed(body.get("sorts") or []):
            if sort.get("timestamp") in ("created_time", "last_edited_time"):
                pages.sort(key=lambda p: p.seq, reverse=sort.get("direction") == "descending")
            else:
                raise _validation("body failed validation: only timestamp sorts are supported by this fake.")
        start = 0
        cursor = body.get("start_cursor")
        if cursor:
            ids = [p.id for p in pages]
            if _norm_id(str(cursor)) not in ids:
                raise _validation("start_cursor provided is invalid.")
            start = ids.index(str(_norm_id(str(cursor))))
        chunk = pages[start:start + self._cap(page_size)]
        rest = pages[start + len(chunk):]
        return {"object": "list", "results": [self._page_json(p) for p in chunk],
                "next_cursor": rest[0].id if rest else None, "has_more": bool(rest),
                "type": "page_or_data_source", "page_or_data_source": {}}

    def _match_filter(self, ds: _DataSource, page: _Page, flt: dict[str, Any]) -> bool:
        if "and" in flt:
            return all(self._match_filter(ds, page, f) for f in flt["and"])
        if "or" in flt:
            return any(self._match_filter(ds, page, f) for f in flt["or"])
        name = flt.get("property")
        if name not in ds.properties:
            raise _validation(f"Could not find property with name or id: {name}")
        ptype = ds.properties[name]["type"]
        kinds = [k for k in flt if k != "property"]
        if len(kinds) != 1:
            raise _validation("body failed validation: filter should have exactly one condition type.")
        kind = kinds[0]
        allowed = {"title": ("title", "rich_text"), "rich_text": ("rich_text",), "select": ("select",),
                   "status": ("status",)}.get(ptype, (ptype,))
        if kind not in allowed:
            raise _validation(f"body failed validation: filter type {kind} does not match property type {ptype}.")
        cond = flt[kind]
        value = _prop_plain(page.properties.get(name))
        if "equals" in cond:
            return bool(value == cond["equals"])
        if "does_not_equal" in cond:
            return bool(value != cond["does_not_equal"])
        if "contains" in cond:
            return str(cond["contains"]) in str(value or "")
        if "is_empty" in cond:
            return not value
        if "is_not_empty" in cond:
            return bool(value)
        raise _validation("body failed validation: unsupported filter condition in this fake.")

    # ------------------------------------------------------------ pages

    def _create_page_route(self, *args: Any) -> dict[str, Any]:
        body = args[-2]
        return self._create_page(body)

    def _create_page(self, body: dict[str, Any]) -> dict[str, Any]:
        parent = body.get("parent")
        if not isinstance(parent, dict):
            raise _validation("body failed validation: body.parent should be defined, instead was `undefined`.")
        ds: _DataSource | None = None
        if "data_source_id" in parent:
            ds_id = _norm_id(str(parent["data_source_id"]))
            ds = self.data_sources.get(ds_id or "")
            if ds is None:
                raise _not_found("data source", str(parent["data_source_id"]))
            stored_parent = {"type": "data_source_id", "data_source_id": ds.id, "database_id": ds.database_id}
        elif "page_id" in parent:
            pid = _norm_id(str(parent["page_id"]))
            if pid not in self.pages:
                raise _not_found("page", str(parent["page_id"]))
            stored_parent = {"type": "page_id", "page_id": pid}
        elif "database_id" in parent:
            raise _validation("body failed validation: a page is created under a data source "
                              "(parent.data_source_id) since Notion-Version 2025-09-03.")
        else:
            raise _validation("body failed validation: body.parent should be a data_source_id or page_id parent.")
        children = body.get("children") or []
        _validate_children(children, "body.children", 1)
        _check_elements(children)
        props = self._write_properties(ds, body.get("properties") or {}, creating=True)
        self._seq += 1
        page = _Page(str(uuid.uuid4()), stored_parent, props, _now_iso(), self._seq, edited=_now_iso())
        self.pages[page.id] = page
        self._insert_children(page.id, "page_id", children)
        return self._page_json(page)

    def _get_page(self, page_id: str, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        page = self.pages.get(page_id)
        if page is None:
            raise _not_found("page", page_id)
        return self._page_json(page)

    def _update_page(self, page_id: str, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        page = self.pages.get(page_id)
        if page is None:
            raise _not_found("page", page_id)
        if page.in_trash and body.get("in_trash") is not False:
            raise _validation("Can't edit page that is archived. You must unarchive the page before editing.")
        ds = self.data_sources.get(page.parent.get("data_source_id", ""))
        if "properties" in body:
            page.properties.update(self._write_properties(ds, body["properties"] or {}, creating=False))
        if "in_trash" in body:
            page.in_trash = bool(body["in_trash"])
        page.edited = _now_iso()
        return self._page_json(page)

    def _write_properties(self, ds: _DataSource | None, props: dict[str, Any], creating: bool) -> dict[str, Any]:
        if not isinstance(props, dict):
            raise _validation("body failed validation: body.properties should be an object.")
        schema = ds.properties if ds is not None else {"title": {"id": "title", "type": "title", "title": {}}}
        out: dict[str, Any] = {}
        for name, value in props.items():
            if name not in schema:
                raise _validation(f"{name} is not a property that exists.")
            prop = schema[name]
            ptype = prop["type"]
            if not isinstance(value, dict):
                value = {ptype: value}  # the short form used for page parents ({"title": [...]})
            if ptype not in value:
                raise _validation(f"{name} is expected to be {ptype}.")
            out[name] = {"id": prop["id"], "type": ptype, ptype: self._property_value(name, prop, value[ptype])}
        if creating:
            for name, prop in schema.items():
                if name not in out:
                    empty: Any = [] if prop["type"] in ("title", "rich_text", "multi_select") else None
                    if prop["type"] == "checkbox":
                        empty = False
                    out[name] = {"id": prop["id"], "type": prop["type"], prop["type"]: empty}
        return out

    def _property_value(self, name: str, prop: dict[str, Any], value: Any) -> Any:
        ptype = prop["type"]
        where = f"body.properties.{name}.{ptype}"
        if ptype in ("title", "rich_text"):
            _validate_rich_text(value, where)
            return _rich_response(value)
        if ptype in ("select", "status"):
            if value is None:
                return None
            option = value.get("name") if isinstance(value, dict) else None
            if not isinstance(option, str) or not option:
                raise _validation(f"body failed validation: {where}.name should be a non-empty string.")
            if "," in option and ptype == "select":
                raise _validation(f"Select option names cannot contain commas: {option!r}.")
            options = prop[ptype].setdefault("options", [])
            if option not in [o["name"] for o in options]:
                if ptype == "status":
                    raise _validation(f"Invalid status option. Status option \"{option}\" does not exist.")
                options.append({"id": str(uuid.uuid4()), "name": option, "color": "default"})
            return {"id": next(o["id"] for o in options if o["name"] == option), "name": option, "color": "default"}
        if ptype == "multi_select":
            if not isinstance(value, list):
                raise _validation(f"body failed validation: {where} should be an array.")
            if len(value) > 100:
                raise _validation(f"body failed validation: {where}.length should be ≤ `100`, instead was `{len(value)}`.")
            out = []
            for item in value:
                option = item.get("name") if isinstance(item, dict) else None
                if not isinstance(option, str) or not option or "," in option:
                    raise _validation(f"body failed validation: {where} option name {option!r} is invalid.")
                out.append({"id": uuid.uuid4().hex[:8], "name": option, "color": "default"})
            return out
        if ptype == "date":
            if value is None:
                return None
            if not isinstance(value, dict) or not isinstance(value.get("start"), str) or not value["start"]:
                raise _validation(f"body failed validation: {where}.start should be a non-empty string.")
            if not re.match(r"^\d{4}-\d{2}-\d{2}", value["start"]):
                raise _validation(f"body failed validation: {where}.start should be an ISO 8601 date.")
            return {"start": value["start"], "end": value.get("end"), "time_zone": None}
        if ptype == "url":
            if value == "":
                raise _validation(f"body failed validation: {where} should be a non-empty string or null.")
            return value
        if ptype == "number":
            if value is not None and not isinstance(value, (int, float)):
                raise _validation(f"body failed validation: {where} should be a number or null.")
            return value
        if ptype == "checkbox":
            if not isinstance(value, bool):
                raise _validation(f"body failed validation: {where} should be a boolean.")
            return value
        raise _validation(f"This fake cannot write {ptype} properties.")

    def _page_json(self, page: _Page) -> dict[str, Any]:
        title = ""
        for prop in page.properties.values():
            if prop.get("type") == "title":
                title = "".join(o["plain_text"] for o in prop["title"] or [])
        slug = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-")
        hexid = page.id.replace("-", "")
        return {
            "object": "page", "id": page.id, "created_time": page.created, "last_edited_time": page.edited,
            "created_by": {"object": "user", "id": BOT_USER}, "last_edited_by": {"object": "user", "id": BOT_USER},
            "cover": None, "icon": None, "parent": dict(page.parent), "in_trash": page.in_trash,
            "is_archived": page.in_trash, "is_locked": False, "properties": json.loads(json.dumps(page.properties)),
            "url": f"https://app.notion.com/p/{slug + '-' if slug else ''}{hexid}", "public_url": None,
            "archived": page.in_trash,
        }

    # ------------------------------------------------------------ blocks

    def _container(self, ident: str) -> tuple[str, list[str], str | None]:
        """(parent kind, its child list, its block type) for a page or block id, or 404."""
        if ident in self.pages:
            page = self.pages[ident]
            if page.in_trash:
                raise _validation("Can't edit block that is archived. You must unarchive the block before editing.")
            return "page_id", page.children, None
        blk = self.blocks.get(ident)
        if blk is None:
            raise _not_found("block", ident)
        if blk.in_trash:
            raise _validation("Can't edit block that is archived. You must unarchive the block before editing.")
        return "block_id", blk.children, blk.type

    def _list_children(self, ident: str, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        if ident in self.pages:
            ids = self.pages[ident].children
        elif ident in self.blocks:
            ids = self.blocks[ident].children
        else:
            raise _not_found("block", ident)
        page_size = _page_size(query.get("page_size"), "query.page_size")
        live = [b for b in ids if not self.blocks[b].in_trash]
        start = 0
        cursor = query.get("start_cursor")
        if cursor:
            cid = _norm_id(cursor)
            if cid not in live:
                raise _validation("start_cursor provided is invalid.")
            start = live.index(str(cid))
        chunk = live[start:start + self._cap(page_size)]
        rest = live[start + len(chunk):]
        return {"object": "list", "results": [self._block_json(self.blocks[b]) for b in chunk],
                "next_cursor": rest[0] if rest else None, "has_more": bool(rest), "type": "block", "block": {}}

    def _append(self, ident: str, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        kind, _, parent_type = self._container(ident)
        children = body.get("children")
        if not isinstance(children, list):
            raise _validation("body failed validation: body.children should be an array, instead was `undefined`.")
        if parent_type is not None and parent_type not in PARENT_TYPES:
            raise _validation(f"Block type {parent_type} does not support children.")
        for i, child in enumerate(children):
            ctype = _block_type(child, f"body.children[{i}]")
            if (parent_type == "table") != (ctype == "table_row"):
                raise _validation(f"body failed validation: body.children[{i}] of type {ctype} cannot be a "
                                  f"child of {parent_type or 'a page'}.")
        _validate_children(children, "body.children", 1, parent_type=parent_type)
        _check_elements(children)
        new_ids = self._insert_children(ident, kind, children)
        return {"object": "list", "results": [self._block_json(self.blocks[b]) for b in new_ids],
                "next_cursor": None, "has_more": False, "type": "block", "block": {}}

    def _insert_children(self, parent_id: str, kind: str, children: list[dict[str, Any]]) -> list[str]:
        target = self.pages[parent_id].children if kind == "page_id" else self.blocks[parent_id].children
        ids = []
        for child in children:
            ctype = _block_type(child, "body.children[]")
            data = _normalize_block_data(ctype, child[ctype])
            blk = _Block(str(uuid.uuid4()), ctype, data, (kind, parent_id), _now_iso())
            self.blocks[blk.id] = blk
            target.append(blk.id)
            ids.append(blk.id)
            nested = child[ctype].get("children") or []
            if nested:
                self._insert_children(blk.id, "block_id", nested)
        return ids

    def _update_block(self, ident: str, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        blk = self.blocks.get(ident)
        if blk is None:
            raise _not_found("block", ident)
        if blk.in_trash:
            raise _validation("Can't edit block that is archived. You must unarchive the block before editing.")
        keys = [k for k in body if k in BLOCK_TYPES]
        if keys != [blk.type]:
            raise _validation(f"body failed validation: the update must carry `{blk.type}` (the block's type), "
                              f"instead had {keys or 'none'}.")
        data = body[blk.type]
        if not isinstance(data, dict) or "children" in data:
            raise _validation(f"body failed validation: body.{blk.type}.children should be not present.")
        if blk.type == "table":
            if "table_width" in data and data["table_width"] != blk.data["table_width"]:
                raise _validation("A table's width cannot be changed.")
            merged = {**blk.data, **data}
        else:
            probe = {blk.type: data}
            parent_type = self.blocks[blk.parent[1]].type if blk.parent[0] == "block_id" else None
            _validate_children([probe], "body", 2, parent_type=parent_type)
            if blk.type == "table_row" and len(data.get("cells") or []) != len(blk.data["cells"]):
                raise _validation(f"Number of cells in table row must match the table width of {len(blk.data['cells'])}.")
            merged = {**blk.data, **_normalize_block_data(blk.type, {**blk.data, **data})}
            if blk.type in TEXT_BLOCKS and "rich_text" not in data:
                merged["rich_text"] = blk.data["rich_text"]
        blk.data = merged
        return self._block_json(blk)

    def _delete(self, ident: str, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        if ident in self.pages:
            page = self.pages[ident]
            if page.in_trash:
                raise _validation("Can't edit block that is archived. You must unarchive the block before editing.")
            page.in_trash = True
            title = _prop_plain(next((p for p in page.properties.values() if p.get("type") == "title"), None))
            return {"object": "block", "id": page.id, "parent": {"type": "workspace", "workspace": True},
                    "created_time": page.created, "last_edited_time": _now_iso(),
                    "created_by": {"object": "user", "id": BOT_USER},
                    "last_edited_by": {"object": "user", "id": BOT_USER}, "has_children": bool(page.children),
                    "in_trash": True, "type": "child_page", "child_page": {"title": title}, "archived": True}
        blk = self.blocks.get(ident)
        if blk is None:
            raise _not_found("block", ident)
        if blk.in_trash:
            raise _validation("Can't edit block that is archived. You must unarchive the block before editing.")
        blk.in_trash = True
        return self._block_json(blk)

    def _block_json(self, blk: _Block) -> dict[str, Any]:
        kind, pid = blk.parent
        return {
            "object": "block", "id": blk.id, "parent": {"type": kind, kind: pid},
            "created_time": blk.created, "last_edited_time": blk.created,
            "created_by": {"object": "user", "id": BOT_USER}, "last_edited_by": {"object": "user", "id": BOT_USER},
            "has_children": any(not self.blocks[c].in_trash for c in blk.children), "in_trash": blk.in_trash,
            "type": blk.type, blk.type: json.loads(json.dumps(blk.data)), "archived": blk.in_trash,
        }

    def _cap(self, page_size: int) -> int:
        return min(page_size, self.page_cap) if self.page_cap else page_size


# ---------------------------------------------------------------- validation helpers

def _not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, "object_not_found", f"Could not find {what} with ID: {ident}. Make sure the relevant "
                                             "pages and databases are shared with your integration \"baton-fake\".")


def _page_size(value: Any, where: str) -> int:
    if value is None:
        return 100
    try:
        size = int(value)
    except (TypeError, ValueError):
        raise _validation(f"body failed validation: {where} should be a number.") from None
    if not 1 <= size <= 100:
        raise _validation(f"body failed validation: {where} should be ≤ `100`, instead was `{size}`.")
    return size


def _block_type(block: Any, where: str) -> str:
    if not isinstance(block, dict):
        raise _validation(f"body failed validation: {where} should be an object.")
    btype = block.get("type")
    if btype is None:
        keys = [k for k in block if k in BLOCK_TYPES]
        btype = keys[0] if len(keys) == 1 else None
    if btype not in BLOCK_TYPES or not isinstance(block.get(btype), dict):
        raise _validation(f"body failed validation: {where} should be a block object of a known type.")
    return str(btype)


def _validate_rich_text(items: Any, where: str) -> None:
    if not isinstance(items, list):
        raise _validation(f"body failed validation: {where} should be an array.")
    if len(items) > 100:
        raise _validation(f"body failed validation: {where}.length should be ≤ `100`, instead was `{len(items)}`.")
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("text"), dict):
            raise _validation(f"body failed validation: {where}[{i}].text should be defined.")
        content = item["text"].get("content")
        if not isinstance(content, str):
            raise _validation(f"body failed validation: {where}[{i}].text.content should be a string.")
        if _utf16(content) > 2000:
            raise _validation(f"body failed validation: {where}[{i}].text.content.length should be ≤ `2000`, "
                              f"instead was `{_utf16(content)}`.")
        link = item["text"].get("link")
        if link is not None:
            url = link.get("url") if isinstance(link, dict) else None
            if not isinstance(url, str) or not re.match(r"^(https?://|mailto:)\S+$", url):
                raise _validation(f"Invalid URL for link: {where}[{i}].text.link.url.")
            if _utf16(url) > 2000:
                raise _validation(f"body failed validation: {where}[{i}].text.link.url.length should be ≤ "
                                  f"`2000`, instead was `{_utf16(url)}`.")


def _validate_children(children: Any, where: str, level: int, parent_type: str | None = None) -> None:
    if not isinstance(children, list):
        raise _validation(f"body failed validation: {where} should be an array.")
    if len(children) > 100:
        raise _validation(f"body failed validation: {where}.length should be ≤ `100`, instead was `{len(children)}`.")
    for i, child in enumerate(children):
        here = f"{where}[{i}]"
        btype = _block_type(child, here)
        data = child[btype]
        if btype in TEXT_BLOCKS:
            _validate_rich_text(data.get("rich_text", []), f"{here}.{btype}.rich_text")
        if btype == "to_do" and "checked" in data and not isinstance(data["checked"], bool):
            raise _validation(f"body failed validation: {here}.to_do.checked should be a boolean.")
        if btype == "code":
            _validate_rich_text(data.get("rich_text", []), f"{here}.code.rich_text")
            if data.get("language") not in LANGUAGES:
                raise _validation(f"body failed validation: {here}.code.language should be one of the supported "
                                  f"languages, instead was `{data.get('language')}`.")
        if btype == "table_row":
            if parent_type != "table":
                raise _validation(f"body failed validation: {here} table_row must be a child of a table.")
            for j, cell in enumerate(data.get("cells") or []):
                _validate_rich_text(cell, f"{here}.table_row.cells[{j}]")
        nested = data.get("children")
        if btype == "table":
            width = data.get("table_width")
            if not isinstance(width, int) or width < 1:
                raise _validation(f"body failed validation: {here}.table.table_width should be a positive integer.")
            if not nested:
                raise _validation(f"body failed validation: {here}.table.children should be defined.")
            for j, row in enumerate(nested):
                if _block_type(row, f"{here}.table.children[{j}]") != "table_row":
                    raise _validation(f"body failed validation: {here}.table.children[{j}] should be a table_row.")
                if len(row["table_row"].get("cells") or []) != width:
                    raise _validation(f"Number of cells in table row must match the table width of {width}.")
        if nested:
            if level >= 2:
                raise _validation(f"body failed validation: {here}.{btype}.children should be not present, "
                                  f"instead was `[...]`.")
            if btype not in PARENT_TYPES:
                raise _validation(f"body failed validation: {here}.{btype}.children should be not present.")
            _validate_children(nested, f"{here}.{btype}.children", level + 1, parent_type=btype)


def _check_elements(children: list[dict[str, Any]]) -> None:
    def count(items: list[dict[str, Any]]) -> int:
        total = 0
        for item in items:
            btype = _block_type(item, "body.children[]")
            total += 1 + count(item[btype].get("children") or [])
        return total

    total = count(children)
    if total > 1000:
        raise _validation(f"body failed validation: the request has {total} block elements, the limit is 1000.")


def _rich_response(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for item in items or []:
        text = item.get("text") or {}
        content = text.get("content", "")
        link = text.get("link")
        ann = {"bold": False, "italic": False, "strikethrough": False, "underline": False, "code": False,
               "color": "default"}
        ann.update(item.get("annotations") or {})
        out.append({"type": "text", "text": {"content": content, "link": link},
                    "annotations": ann, "plain_text": content,
                    "href": link.get("url") if isinstance(link, dict) else None})
    return out


def _normalize_block_data(btype: str, data: dict[str, Any]) -> dict[str, Any]:
    if btype in ("heading_1", "heading_2", "heading_3"):
        return {"rich_text": _rich_response(data.get("rich_text", [])),
                "is_toggleable": bool(data.get("is_toggleable", False)), "color": data.get("color", "default")}
    if btype == "to_do":
        return {"rich_text": _rich_response(data.get("rich_text", [])), "checked": bool(data.get("checked")),
                "color": data.get("color", "default")}
    if btype == "paragraph":
        return {"rich_text": _rich_response(data.get("rich_text", [])), "icon": None,
                "color": data.get("color", "default")}
    if btype in TEXT_BLOCKS:
        return {"rich_text": _rich_response(data.get("rich_text", [])), "color": data.get("color", "default")}
    if btype == "code":
        return {"caption": _rich_response(data.get("caption", [])),
                "rich_text": _rich_response(data.get("rich_text", [])), "language": data["language"]}
    if btype == "table":
        return {"table_width": data["table_width"], "has_column_header": bool(data.get("has_column_header")),
                "has_row_header": bool(data.get("has_row_header"))}
    if btype == "table_row":
        return {"cells": [_rich_response(cell) for cell in data.get("cells") or []]}
    return {}


def _prop_plain(prop: Any) -> Any:
    """A property value as a comparable plain value (text for title/rich_text)."""
    if not isinstance(prop, dict):
        return None
    ptype = prop.get("type")
    value = prop.get(ptype) if ptype else None
    if ptype in ("title", "rich_text"):
        return "".join(o.get("plain_text", "") for o in value or [])
    if ptype in ("select", "status"):
        return value.get("name") if value else None
    return value


def _prop_simple(prop: Any) -> Any:
    if isinstance(prop, dict) and prop.get("type") == "multi_select":
        return [o["name"] for o in prop["multi_select"] or []]
    if isinstance(prop, dict) and prop.get("type") == "date":
        return (prop.get("date") or {}).get("start")
    return _prop_plain(prop)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_fake: FakeNotion

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without TCP_NODELAY, Nagle's algorithm and
        # delayed ACKs add ~40 ms to every answer on loopback.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, payload, extra, delay = self.server_fake.handle(self.command, self.path, headers, body)
        if delay:
            time.sleep(delay)
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PATCH = do_DELETE = _serve


def iter_tree(nodes: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every node of a `FakeNotion.tree`, depth first."""
    for node in nodes:
        yield node
        yield from iter_tree(node["children"])
