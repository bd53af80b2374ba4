"""The five schemas: valid and invalid examples of every kind; canonical order; id rules."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from lib import schema

WRITTEN_SESSION: dict[str, Any] = {
    "title": "T", "operator": "rt", "summary": "S", "workstream": None, "tags": ["a"], "kind": "session",
    "external_id": "RT-260511-01", "status": "written", "outcome": "incomplete", "date": dt.date(2026, 5, 11),
    "claimed_at": dt.datetime(2026, 5, 11, 9, tzinfo=dt.UTC), "first_commit_at": None,
    "last_commit_at": None, "active_min_estimate": None, "tool_calls_breakdown": {"mcp__notion_offplan": 0},
    "tokens": {"input": 1, "output": 2, "cache_creation": 3, "cache_read": 4}, "cost_usd": 0.12,
    "sync_status": "pending", "content_hash": None, "custom_human_key": {"anything": [1, 2]},
}

VALID: dict[str, list[dict[str, Any]]] = {
    "session": [
        WRITTEN_SESSION,
        {"kind": "session", "external_id": "RT-260511-02", "operator": "rt",
         "claimed_at": "2026-05-11T09:00:00Z", "status": "claimed"},
        {"kind": "session", "external_id": "CONV-30-buyer-journey", "summary": "", "tags": [],
         "notion_page_id": "pending-reconcile", "legacy_notes": ["external_id derived from file name"]},
        {"kind": "session", "external_id": "LOCAL-2026-05-11-1", "summary": "legacy", "tags": []},
    ],
    "workstream": [{"title": "W", "owner": "rt", "summary": "", "tags": [], "kind": "workstream",
                    "external_id": "repo-store", "status": "active", "priority": "P1"}],
    "plan": [{"kind": "plan", "external_id": "repo-as-canonical-store", "summary": "s", "tags": [],
              "status": "ratified", "workstreams": ["repo-store"]}],
    "adr": [{"kind": "adr", "external_id": "ADR-0007", "summary": "s", "tags": [], "status": "accepted",
             "sessions": ["RT-260511-01", "CONV-12"], "supersedes": "ADR-0003"}],
    "learning": [{"kind": "learning", "external_id": "flock-not-rename", "summary": "s", "tags": ["hooks"],
                  "session": "RT-260511-01", "operator": "rt"}],
}

INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("session", {**WRITTEN_SESSION, "external_id": "rt-260511-01"}, "external_id"),
    ("session", {**WRITTEN_SESSION, "external_id": "RTXYZ-260511-01"}, "external_id"),
    ("session", {**WRITTEN_SESSION, "status": "done"}, "status"),
    ("session", {**WRITTEN_SESSION, "outcome": None}, "outcome"),
    ("session", {k: v for k, v in WRITTEN_SESSION.items() if k != "outcome"}, "outcome"),
    ("session", {**WRITTEN_SESSION, "kind": "workstream"}, "kind"),
    ("session", {**WRITTEN_SESSION, "tool_calls_count": -1}, "tool_calls_count"),
    ("session", {**WRITTEN_SESSION, "tool_calls_breakdown": {"Bash": "3"}}, "Bash"),
    ("session", {**WRITTEN_SESSION, "tokens": {"input": 1, "surprise": 2}}, "surprise"),
    ("session", {**WRITTEN_SESSION, "sync_status": "maybe"}, "sync_status"),
    ("session", {**WRITTEN_SESSION, "content_hash": "md5:abc"}, "content_hash"),
    ("session", {**WRITTEN_SESSION, "operator": "Roman T"}, "operator"),
    ("session", {"kind": "session", "external_id": "RT-260511-02", "status": "claimed"}, "operator"),
    ("workstream", {**VALID["workstream"][0], "owner": None}, "owner"),
    ("workstream", {**VALID["workstream"][0], "status": "someday"}, "status"),
    ("workstream", {**VALID["workstream"][0], "external_id": "Repo Store"}, "external_id"),
    ("plan", {**VALID["plan"][0], "tags": "a, b"}, "tags"),
    ("adr", {**VALID["adr"][0], "external_id": "ADR-7"}, "external_id"),
    ("adr", {**VALID["adr"][0], "sessions": ["not an id"]}, "sessions"),
    ("learning", {**VALID["learning"][0], "session": "yesterday"}, "session"),
    ("learning", {k: v for k, v in VALID["learning"][0].items() if k != "summary"}, "summary"),
]


@pytest.mark.parametrize(("kind", "example"), [(k, e) for k, es in VALID.items() for e in es])
def test_valid_examples_pass(kind: str, example: dict[str, Any]) -> None:
    errors = list(schema.validator(kind).iter_errors(schema.jsonable(example)))
    assert errors == []


@pytest.mark.parametrize(("kind", "example", "where"), INVALID)
def test_invalid_examples_fail_at_the_right_place(kind: str, example: dict[str, Any], where: str) -> None:
    errors = list(schema.validator(kind).iter_errors(schema.jsonable(example)))
    assert errors, f"{kind} example should fail on {where}"
    assert any(where in "/".join(map(str, e.absolute_path)) or where in e.message for e in errors)


@pytest.mark.parametrize("kind", schema.KINDS)
def test_every_kind_has_kind_const_external_id_and_sync_keys_last(kind: str) -> None:
    data = schema.load(kind)
    assert data["properties"]["kind"] == {"const": kind}
    assert "external_id" in data["properties"] and "kind" in data["required"]
    order = schema.key_order(kind)
    assert order[-6:] == ["content_hash", "notion_page_id", "sync_status", "synced_at", "synced_hash", "sync_error"]
    assert data.get("additionalProperties", True) is True  # human keys must survive


def test_session_order_puts_identity_first_then_telemetry_then_sync() -> None:
    order = schema.key_order("session")
    assert order[:8] == ["title", "operator", "summary", "workstream", "plan", "tags", "kind", "external_id"]
    assert order.index("status") < order.index("tool_calls_count") < order.index("commits_count")
    assert order.index("commits_count") < order.index("transcript_archive") < order.index("content_hash")


@pytest.mark.parametrize(
    ("kind", "stem", "external_id", "ok"),
    [
        ("session", "RT-260511-01", "RT-260511-01", True),
        ("session", "RT-260511-02", "RT-260511-01", False),
        ("adr", "ADR-0007-use-flock", "ADR-0007", True),
        ("adr", "0007-use-flock", "ADR-0007", True),
        ("adr", "ADR-0008-use-flock", "ADR-0007", False),
        ("workstream", "repo-store", "repo-store", True),
    ],
)
def test_file_name_agreement(kind: str, stem: str, external_id: str, ok: bool) -> None:
    assert schema.expected_stem_matches(kind, stem, external_id) is ok
