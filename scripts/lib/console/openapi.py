"""The OpenAPI 3.1 document of the console's JSON API, served at /openapi.json.

Written by hand, next to the routes it describes; tests check that every API route is in it and
that responses validate against it, and schemathesis explores it.
"""

from __future__ import annotations

import copy
from typing import Any

VERSION = "1.0.0"


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **extra}


STR = {"type": "string"}
INT = {"type": "integer"}
NUM = {"type": "number"}
BOOL = {"type": "boolean"}
N_STR = _nullable("string")
N_NUM = _nullable("number")
N_INT = _nullable("integer")
COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}


def _obj(required: list[str] | None = None, **props: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    schema["required"] = required if required is not None else list(props)
    return schema


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERROR = _json(_ref("Error"), "an error, with a one-line message")


def _errors(*codes: int) -> dict[str, Any]:
    words = {
        400: "bad parameter, or a Host header that is not this console's address",
        401: "no token (required for this request)",
        403: "wrong token",
        404: "no such id",
        409: "the chain is not running",
        503: "the chain runner did not stop in time, or is not installed",
    }
    return {str(code): {**ERROR, "description": words[code]} for code in codes}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


SLUG = {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]*$"}
P_PROJECT = _query("project", {"type": "string"}, "a served project's name (see /api/health); default: all "
                   "projects for lists, the first that has it for one item")
P_OPERATOR = _query("operator", {"type": "string"},
                    "only this operator: a slug, initials or a name from the roster, any case")
P_WORKSTREAM = _query("workstream", SLUG, "only this workstream (slug)")
DAY = "2026-12-05, 2026/12/05, 05.12.2026, 5 Dec 2026, today, yesterday or 7d (seven days ago)"
P_SINCE = _query("since", {"type": "string"}, f"from this day on (inclusive): {DAY}")
P_UNTIL = _query("until", {"type": "string"}, f"up to this day (inclusive): {DAY}")
CHAIN_ID = {"type": "string", "pattern": "^[0-9]{8}-[0-9]{6}-[0-9a-f]{4}$"}
P_CHAIN_ID = {"name": "chain_id", "in": "path", "required": True, "schema": CHAIN_ID,
              "description": "a chain id, YYYYMMDD-HHMMSS-xxxx"}
TOKEN_HEADER = {"name": "X-Baton-Token", "in": "header", "required": False, "schema": {"type": "string"},
                "description": "the console's token (printed at start, in .claude/state/serve.token); "
                               "`Authorization: Bearer TOKEN` works too"}

SCHEMAS: dict[str, Any] = {
    "Error": _obj(error=STR, status=INT),
    "Health": _obj(
        status={"type": "string", "enum": ["ok"]},
        time=STR,
        projects={"type": "array", "items": _obj(name=STR, root=STR)},
        chains_available=BOOL,
        poll_interval_s=NUM,
    ),
    "Operator": _obj(
        slug=STR, name=N_STR, initials=N_STR, in_roster=BOOL,
        projects={"type": "array", "items": STR}, sessions=INT, cost_usd=NUM,
        last_session=N_STR, last_session_date=N_STR,
    ),
    "OperatorList": _obj(operators={"type": "array", "items": _ref("Operator")}),
    "SessionRow": _obj(
        project=STR, id=STR, path=STR, title=N_STR, operator=N_STR, date=N_STR, status=N_STR, outcome=N_STR,
        workstream=N_STR, summary=N_STR, model=N_STR, cost_usd=N_NUM, chain_id=N_STR, chain_status=N_STR,
        failed=BOOL, tool_calls=INT, failures=INT, synthetic=BOOL, error=N_STR,
    ),
    "SessionPage": _obj(
        total=INT, offset=INT, limit=INT, next_offset=N_INT,
        sessions={"type": "array", "items": _ref("SessionRow")},
    ),
    "SessionDetail": {
        "allOf": [
            _ref("SessionRow"),
            _obj(frontmatter={"type": "object"}, body_markdown=STR, body_html=STR, body_truncated=BOOL,
                 body_bytes=INT, raw_url=STR),
        ],
    },
    "Workstream": _obj(
        project=STR, id=STR, path=STR, title=N_STR, owner=N_STR, status=N_STR, priority=N_STR, summary=N_STR,
        updated=N_STR, sessions=INT, last_session=N_STR, last_activity=N_STR, error=N_STR,
    ),
    "WorkstreamList": _obj(
        workstreams={"type": "array", "items": _ref("Workstream")},
        owners={"type": "object", "additionalProperties": {"type": "array", "items": STR},
                "description": "owner slug (or `(unowned)`) -> workstream ids"},
    ),
    "Breaker": _obj(state={"type": "string", "enum": ["closed", "open"]}, consecutive_failures=INT,
                    opened_at=N_STR),
    "ChainSummary": _obj(
        id=STR, project=STR, project_dir=STR, status=STR, mission=STR, operator=N_STR, created_at=N_STR,
        updated_at=N_STR, ended_at=N_STR, end_reason=N_STR, sessions_count=INT, sessions_ok=INT,
        sessions_failed=INT, max_sessions=N_INT, cost_usd=NUM, budget_usd=N_NUM, current_session=N_STR,
        breaker=_ref("Breaker"), runner_alive=_nullable("boolean"), breaker_cooldown_s=N_NUM, duration_s=N_NUM,
        model=N_STR,
        stopped_by=N_STR, stopped_at=N_STR, resume_command=STR, branch=N_STR,
    ),
    "ChainList": _obj(chains={"type": "array", "items": _ref("ChainSummary")}, available=BOOL),
    "ChainSession": _obj(
        id=STR, index=N_INT, status=N_STR, started_at=N_STR, ended_at=N_STR, duration_s=N_NUM, cost_usd=NUM,
        turns=INT,
        model=N_STR, result_subtype=N_STR, reason=N_STR, error_kind=N_STR, failure_class=N_STR, error=N_STR,
        attempts=INT,
        handoff=_obj(status=N_STR, path=N_STR, outcome=N_STR, problems={"type": "array", "items": STR}),
        note={"oneOf": [{"type": "null"}, _obj(id=STR, path=STR, title=N_STR, summary=N_STR, outcome=N_STR,
                                                status=N_STR, synthetic=BOOL)]},
    ),
    "Decision": _obj(at=N_STR, type=STR, session=N_STR, source={"type": "string", "enum": ["registry", "log"]},
                     detail={"type": "object"}),
    "ChainFailure": _obj(session=STR, failure_class=N_STR, reason=N_STR, error_kind=N_STR, error=N_STR),
    "ChainDetail": {
        "allOf": [
            _ref("ChainSummary"),
            _obj(
                mission_full=STR, settings={"type": "object"}, totals={"type": "object"},
                sessions={"type": "array", "items": _ref("ChainSession")},
                costs=_obj(total_usd=NUM, budget_usd=N_NUM, remaining_usd=N_NUM,
                           per_session={"type": "array", "items": _obj(id=STR, cost_usd=NUM)}),
                decisions={"type": "array", "items": _ref("Decision")},
                failures={"type": "array", "items": _ref("ChainFailure")},
            ),
        ],
    },
    "GroupFigures": _obj(
        key=STR, sessions=INT, sessions_with_failures=INT, failed_sessions=INT, failure_rate=NUM, tool_calls=INT,
        tool_failures=INT, cost_usd=NUM, cost_lost_usd=NUM,
    ),
    "Insights": _obj(
        filters=_obj(since=N_STR, until=N_STR, operator=N_STR, workstream=N_STR),
        totals=_ref("GroupFigures"),
        by_class={"type": "array", "items": _obj(failure_class=STR, failures=INT, sessions=INT, share=NUM,
                                                 chain_sessions_failed=INT)},
        by_operator={"type": "array", "items": _ref("GroupFigures")},
        by_workstream={"type": "array", "items": _ref("GroupFigures")},
        by_model={"type": "array", "items": _ref("GroupFigures")},
        cost_per_day={"type": "array", "items": _obj(date=STR, cost_usd=NUM, sessions=INT)},
        failures_per_day={"type": "array", "items": _obj(date=STR, by_class=COUNTS)},
        top_contexts={"type": "array", "items": _obj(context=STR, count=INT)},
        retries=_obj(
            source=STR, total=INT, succeeded=INT, failed=INT, pending=INT, success_rate=N_NUM,
            by_reason={"type": "array", "items": _obj(reason=STR, total=INT, succeeded=INT, failed=INT,
                                                      pending=INT)},
            per_day={"type": "array", "items": _obj(date=STR, succeeded=INT, failed=INT, pending=INT)},
        ),
        routing=_obj(
            source=STR,
            rows={"type": "array", "items": _obj(type=STR, failure_class=STR, decisions=INT, resolved=INT,
                                                 resolution_rate=N_NUM, cost_usd=NUM,
                                                 cost_per_resolved_usd=N_NUM)},
        ),
        projects={"type": "array", "items": STR},
    ),
    "LiveSession": _obj(
        project=STR, session_id=STR, operator=N_STR, started_at=N_STR, last_event_at=N_STR, ended_at=N_STR,
        end_reason=N_STR, in_progress=BOOL, idle_s=N_NUM, elapsed_s=N_NUM, tool_calls_count=INT, tool_failures_count=INT, failures_breakdown=COUNTS,
        tool_calls_breakdown=COUNTS, subagents_dispatched=INT, tokens=COUNTS, cost_usd=NUM,
        unpriced_models={"type": "array", "items": STR},
    ),
    "Attention": _obj(
        running={"type": "array", "items": _ref("ChainSummary")},
        blocked={"type": "array", "items": {"allOf": [_ref("ChainSummary"),
                                                      _obj(cause=STR, cooldown_until=N_STR)]}},
        failures_since=STR,
        failures_by_class={"type": "array", "items": _obj(failure_class=STR, failures=INT, sessions=INT, href=STR)},
        failed_sessions=INT, failed_href=STR, running_href=STR, count=INT,
    ),
    "TeamWeek": _obj(project=STR, week=STR, sessions=INT, cost_usd=NUM, failed_sessions=INT, failures=INT),
    "Team": _obj(
        since=STR, weeks=INT, rows={"type": "array", "items": _ref("TeamWeek")},
        projects={"type": "array", "items": _obj(project=STR, sessions=INT, cost_usd=NUM, failed_sessions=INT,
                                                 failures=INT)},
    ),
    "LaunchRequest": {
        "type": "object", "required": ["mission"], "additionalProperties": False,
        "properties": {
            "project": {"type": "string", "description": "a served project (default: the first)"},
            "mission": {"type": "string", "minLength": 1, "maxLength": 100000},
            "operator": {"type": "string", "description": "slug, initials or name from the roster"},
            "max_sessions": {"type": "integer", "minimum": 1, "maximum": 1000},
            "budget_usd": {"type": "number", "exclusiveMinimum": 0, "maximum": 100000},
            "model": {"type": "string"},
            "worktree": {"type": "boolean", "default": False},
        },
    },
    "Telemetry": _obj(sessions={"type": "array", "items": _ref("LiveSession")}, stale_after_s=NUM),
    "Event": _obj(
        id=INT, type={"type": "string", "enum": [
            "chain_started", "chain_updated", "chain_finished", "chain_stopped", "breaker_opened",
            "session_started", "session_ended", "handoff_written", "telemetry_updated"]},
        at=STR, data={"type": "object"},
    ),
}


def _get(summary: str, op_id: str, response: dict[str, Any], params: list[dict[str, Any]] | None = None,
         errors: tuple[int, ...] = (400,), description: str | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "operationId": op_id, "parameters": params or [],
                          "responses": {"200": response, **_errors(*errors)}}
    if description:
        op["description"] = description
    return {"get": op}


_LAUNCH = {
    "summary": "Start a chain: `chains.py run --detach` in a served project",
    "description": "Needs the token in a header (X-Baton-Token or Authorization: Bearer), checked before the body "
                   "is read; a cookie or HTTP Basic credentials are not accepted. The mission is written to the "
                   "project's .claude/state/missions/ and passed to the runner by path. Answers once the chain "
                   "is in the registry.",
    "operationId": "launch_chain",
    "parameters": [TOKEN_HEADER],
    "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("LaunchRequest")}}},
    "responses": {"201": _json(_ref("ChainDetail"), "the new chain"), **_errors(400, 401, 403, 404, 503)},
}


def document() -> dict[str, Any]:
    """The OpenAPI document (a fresh copy each call)."""
    paths: dict[str, Any] = {
        "/api/health": _get("Whether the console is up; the projects it serves", "health",
                            _json(_ref("Health"), "the console's state")),
        "/api/operators": _get("Operators: the roster (operators.yaml) and everyone who wrote a session",
                               "operators", _json(_ref("OperatorList"), "operators, most sessions first"),
                               [P_PROJECT], (400, 404)),
        "/api/sessions": _get(
            "Session notes, newest first (date, then sequence); claim stubs only with status=claimed",
            "sessions", _json(_ref("SessionPage"), "one page of sessions"),
            [P_PROJECT, P_OPERATOR, P_WORKSTREAM, P_SINCE, P_UNTIL,
             _query("status", {"type": "string", "enum": ["claimed", "written"]}, "the note's status"),
             _query("outcome", {"type": "string", "enum": ["done", "incomplete", "blocked"]}, "the work's result"),
             _query("chain", {"type": "string"}, "only sessions of this chain"),
             _query("failed", {"type": "boolean"}, "only failed sessions (outcome blocked, or failed in a chain)"),
             _query("failure_class", SLUG, "only sessions with tool failures of this class"),
             _query("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}, "page size"),
             _query("offset", {"type": "integer", "minimum": 0, "default": 0}, "sessions to skip")],
            (400, 404)),
        "/api/sessions/{session_id}": _get(
            "One session: its frontmatter and its body, as markdown and as HTML (raw HTML disabled); a body "
            "over the console's max_body_bytes is cut (body_truncated) and whole at raw_url, as plain text",
            "session", _json(_ref("SessionDetail"), "the session"),
            [{"name": "session_id", "in": "path", "required": True, "schema": {"type": "string"},
              "description": "the session's external_id"}, P_PROJECT],
            (400, 404)),
        "/api/workstreams": _get(
            "Workstreams with their last activity, grouped by owner", "workstreams",
            _json(_ref("WorkstreamList"), "workstreams"),
            [P_PROJECT, _query("owner", {"type": "string"}, "only this owner (slug, initials or name)"),
             _query("status", {"type": "string", "enum": ["active", "paused", "blocked", "done", "superseded",
                                                          "archived"]}, "only this status")],
            (400, 404)),
        "/api/chains": _get(
            "Chains of the served projects, newest first", "chains", _json(_ref("ChainList"), "chains"),
            [P_PROJECT, _query("status", {"type": "string", "enum": [
                "running", "done", "max_sessions", "failed", "budget_exhausted", "circuit_open", "stopped"]},
                "only this status")],
            (400, 404)),
        "/api/chains/{chain_id}": _get(
            "One chain: its sessions, costs, decisions and failures", "chain",
            _json(_ref("ChainDetail"), "the chain"), [P_CHAIN_ID], (400, 404)),
        "/api/chains/{chain_id}/stop": {"post": {
            "summary": "The kill switch: stop a running chain as `chains.py stop` does",
            "description": "Needs the token in a header (X-Baton-Token or Authorization: Bearer), checked before "
                           "anything else; a cookie or HTTP Basic credentials are not accepted here. The chain's "
                           "running session is ended and the chain marked `stopped` (resumable with `chains.py "
                           "run --resume`). Who stopped it (the body's operator) and when are recorded.",
            "operationId": "stop_chain",
            "parameters": [P_CHAIN_ID, TOKEN_HEADER],
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": False,
                "properties": {"operator": {"type": "string", "description": "who stops it"}}}}}},
            "responses": {"200": _json(_ref("ChainSummary"), "the chain, now stopped"),
                          **_errors(400, 401, 403, 404, 409, 503)},
        }},
        "/api/auth": {"post": {
            "summary": "Whether a token is this console's (before a page asks to confirm a stop)",
            "operationId": "check_token",
            "parameters": [TOKEN_HEADER],
            "responses": {"200": _json(_obj(ok=BOOL), "the token is right"), **_errors(400, 401, 403)},
        }},
        "/api/attention": _get(
            "What needs someone now: running chains, open breakers and blocked chains with the command that "
            "resumes them, failures since yesterday by class", "attention",
            _json(_ref("Attention"), "the attention band's items"), [P_PROJECT], (400, 404)),
        "/api/team": _get(
            "Cost, sessions and failures per project per week (weeks start on Monday)", "team",
            _json(_ref("Team"), "per project, newest week first"),
            [P_PROJECT, _query("weeks", {"type": "integer", "minimum": 1, "maximum": 104, "default": 8},
                               "how many weeks back")], (400, 404)),
        "/api/insights": _get(
            "Failure rates by class, operator, workstream and model; cost lost to failed sessions; retries",
            "insights", _json(_ref("Insights"), "the figures"),
            [P_PROJECT, P_SINCE, P_UNTIL, P_OPERATOR, P_WORKSTREAM], (400, 404)),
        "/api/telemetry": _get(
            "Live telemetry of sessions in progress on this machine (.claude/state/session-*.json)", "telemetry",
            _json(_ref("Telemetry"), "sessions in progress"),
            [P_PROJECT, _query("include_ended", {"type": "boolean", "default": False},
                               "also sessions that ended or went quiet")],
            (400, 404)),
        "/api/events": {"get": {
            "summary": "Server-Sent Events: chain started/updated/finished/stopped, session started/ended, "
                       "handoff written, breaker opened, telemetry updated",
            "description": "Each message has `id`, `event` (the type) and `data` (an Event as JSON). A client that "
                           "reconnects with Last-Event-ID (or ?last_event_id=) first gets the events it missed.",
            "operationId": "events",
            "parameters": [P_PROJECT, _query("last_event_id", {"type": "integer", "minimum": 0},
                                             "replay events after this id")],
            "responses": {"200": {"description": "an endless event stream; each data line is an Event",
                                  "content": {"text/event-stream": {"schema": _ref("Event")}}},
                          **_errors(400, 404)},
        }},
    }
    paths["/api/chains"]["post"] = copy.deepcopy(_LAUNCH)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "baton console",
            "version": VERSION,
            "description": "API over a team's session notes, chains and live telemetry, with two mutations, "
                           "starting and stopping a chain, which need the token whatever the bind. On loopback, reads need no token; with --allow-remote "
                           "every request needs it. Requests whose Host header is not the console's address "
                           "are refused.",
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "token": {"type": "apiKey", "in": "header", "name": "X-Baton-Token"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    }
