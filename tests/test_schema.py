"""The five schemas: valid and invalid examples of every kind; canonical order; id rules."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from lib.store import schema

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


# ---------------------------------------------------------------- fast pre-filter

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(-2, 2, allow_nan=False)
    | st.sampled_from(["", "rt", "RT-260511-01", "2026-05-11", "2026-05-11T09:00:00Z", "written", "claimed",
                       "done", "active", "sha256:" + "0" * 64, "ADR-0007", "Not A Slug", "x" * 3]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["a", "input", "Bash"]), inner,
                                                                 max_size=3),
    max_leaves=6,
)


@pytest.mark.parametrize(("kind", "example"), [(k, e) for k, es in VALID.items() for e in es])
def test_fast_check_accepts_the_valid_examples(kind: str, example: dict[str, Any]) -> None:
    check = schema.fast_check(kind)
    assert check is not None
    assert check(schema.jsonable(example)) is True


@pytest.mark.parametrize(("kind", "example", "where"), INVALID)
def test_fast_check_rejects_the_invalid_examples(kind: str, example: dict[str, Any], where: str) -> None:
    check = schema.fast_check(kind)
    assert check is not None
    assert check(schema.jsonable(example)) is False


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(schema.KINDS),
    base=st.integers(0, 10),
    edits=st.lists(st.tuples(st.integers(0, 60), _JSON_VALUES), max_size=4),
    drops=st.lists(st.integers(0, 60), max_size=2),
)
def test_fast_check_never_accepts_what_the_full_validator_rejects(
    kind: str, base: int, edits: list[tuple[int, Any]], drops: list[int]
) -> None:
    examples = VALID[kind]
    instance = dict(schema.jsonable(examples[base % len(examples)]))
    keys = schema.key_order(kind)
    for index, value in edits:
        instance[keys[index % len(keys)]] = value
    for index in drops:
        instance.pop(keys[index % len(keys)], None)
    check = schema.fast_check(kind)
    assert check is not None
    full = schema.validator(kind).is_valid(instance)
    assert check(instance) == full, instance
