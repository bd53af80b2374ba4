"""The client's retry policy and limiter against the fake server (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from lib.notion.client import (
    AmbiguousWrite,
    APIResponseError,
    NotionClient,
    RequestFailed,
    RetryPolicy,
    is_notion_id,
    parse_retry_after,
)
from lib.notion.limiter import TokenBucket
from support.fakenotion import FakeNotion

FAST = RetryPolicy(max_attempts=4, backoff_base_s=0.01, backoff_max_s=0.05, timeout_s=5.0)
# For timeout tests: the fake answers after 1.5 s, well past this client's patience.
SHORT = RetryPolicy(max_attempts=4, backoff_base_s=0.01, backoff_max_s=0.05, timeout_s=0.5)


@pytest.fixture
def fake() -> Iterator[FakeNotion]:
    with FakeNotion(rate=None) as server:
        yield server


def make_client(fake: FakeNotion, policy: RetryPolicy = FAST, limiter: TokenBucket | None = None) -> NotionClient:
    return NotionClient(fake.token, base_url=fake.base_url, policy=policy,
                        limiter=limiter or TokenBucket(1000, 1000))


def page_body(ds: str, title: str = "T") -> dict[str, object]:
    return {"parent": {"type": "data_source_id", "data_source_id": ds},
            "properties": {"Name": {"title": [{"text": {"content": title}}]}}}


def test_a_429_waits_for_retry_after_then_succeeds(fake: FakeNotion) -> None:
    db, _ = fake.add_database("D")
    fake.inject("GET", "/v1/databases/", status=429, retry_after="0.4")
    with make_client(fake) as client:
        assert client.retrieve_database(db)["id"] == db
        assert (client.stats.rate_limited, client.stats.retries) == (1, 1)
    first, second = fake.requests
    assert (first.status, second.status) == (429, 200)
    assert second.t - first.t >= 0.4


def test_a_429_on_a_create_is_sent_again_because_it_was_refused_unprocessed(fake: FakeNotion) -> None:
    _, (ds,) = fake.add_database("D")
    fake.inject("POST", "^/v1/pages$", status=429, retry_after="0.05")
    with make_client(fake) as client:
        client.create_page(page_body(ds))
    assert len(fake.live_pages(ds)) == 1


def test_a_500_on_an_idempotent_request_is_retried_with_backoff(fake: FakeNotion) -> None:
    db, _ = fake.add_database("D")
    fake.inject("GET", "/v1/databases/", status=500, times=2)
    with make_client(fake) as client:
        client.retrieve_database(db)
        assert client.stats.retries == 2
    assert [r.status for r in fake.requests] == [500, 500, 200]


@pytest.mark.parametrize("status", [500, 502, 503, 504, 529])
def test_a_5xx_on_a_create_is_never_blindly_retried(fake: FakeNotion, status: int) -> None:
    _, (ds,) = fake.add_database("D")
    fake.inject("POST", "^/v1/pages$", status=status, apply=True, retry_after="0.05")
    with make_client(fake) as client, pytest.raises(AmbiguousWrite):
        client.create_page(page_body(ds))
    assert fake.count("create_page") == 1
    assert len(fake.live_pages(ds)) == 1  # it did take effect; the caller must look before retrying


def test_a_529_on_a_read_honours_retry_after(fake: FakeNotion) -> None:
    db, _ = fake.add_database("D")
    fake.inject("GET", "/v1/databases/", status=529, retry_after="0.3")
    with make_client(fake) as client:
        client.retrieve_database(db)
    assert fake.requests[1].t - fake.requests[0].t >= 0.3


def test_a_timeout_on_a_read_is_retried(fake: FakeNotion) -> None:
    db, _ = fake.add_database("D")
    fake.inject("GET", "/v1/databases/", delay=1.5)
    with make_client(fake, SHORT) as client:
        assert client.retrieve_database(db)["id"] == db
        assert client.stats.retries == 1


def test_a_timeout_on_an_append_is_ambiguous(fake: FakeNotion) -> None:
    _, (ds,) = fake.add_database("D")
    with make_client(fake, SHORT) as client:
        page = client.create_page(page_body(ds))
        fake.inject("PATCH", "/children$", delay=1.5)
        with pytest.raises(AmbiguousWrite):
            client.append_children(page["id"], [{"paragraph": {"rich_text": []}}])
    assert fake.count("append") == 1


def test_attempts_are_bounded(fake: FakeNotion) -> None:
    db, _ = fake.add_database("D")
    fake.inject("GET", "/v1/databases/", status=500, times=100)
    with make_client(fake) as client, pytest.raises(APIResponseError) as err:
        client.retrieve_database(db)
    assert err.value.status == 500
    assert fake.count("get_database") == FAST.max_attempts


def test_a_validation_error_is_raised_at_once_with_notions_message(fake: FakeNotion) -> None:
    _, (ds,) = fake.add_database("D")
    with make_client(fake) as client:
        page = client.create_page(page_body(ds))
        with pytest.raises(APIResponseError) as err:
            client.append_children(page["id"], [{"paragraph": {"rich_text": [{"text": {"content": "x" * 2001}}]}}])
    assert err.value.code == "validation_error"
    assert "should be ≤ `2000`" in str(err.value)
    assert fake.count("append") == 1


def test_the_token_never_appears_in_an_error(fake: FakeNotion) -> None:
    db, _ = fake.add_database("D")
    fake.inject("GET", "/v1/databases/", status=400, code="validation_error",
                message=f"API token {fake.token} is not allowed here")
    with make_client(fake) as client:
        with pytest.raises(APIResponseError) as err:
            client.retrieve_database(db)
        assert fake.token not in str(err.value) and "[redacted]" in str(err.value)
        assert fake.token not in repr(client)
    bad = NotionClient("ntn_wrong_token_value", base_url=fake.base_url, policy=FAST)
    with bad, pytest.raises(APIResponseError) as unauthorized:
        bad.retrieve_database(db)
    assert unauthorized.value.status == 401 and "ntn_wrong_token_value" not in str(unauthorized.value)


def test_a_refused_connection_fails_after_bounded_attempts() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = NotionClient("t", base_url=f"http://127.0.0.1:{port}", policy=FAST, limiter=TokenBucket(1000, 1000))
    with client, pytest.raises(RequestFailed):
        client.retrieve_database("0" * 32)
    assert client.stats.requests == FAST.max_attempts


def test_listing_children_follows_short_pages_to_the_end(fake: FakeNotion) -> None:
    fake.page_cap = 7
    _, (ds,) = fake.add_database("D")
    with make_client(fake) as client:
        page = client.create_page(page_body(ds))
        client.append_children(page["id"], [{"paragraph": {"rich_text": [{"text": {"content": str(i)}}]}}
                                            for i in range(30)])
        listed = client.list_children(page["id"])
    assert [b["paragraph"]["rich_text"][0]["plain_text"] for b in listed] == [str(i) for i in range(30)]


def test_retry_after_parsing() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("0.25") == 0.25
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_notion_ids_with_and_without_dashes() -> None:
    assert is_notion_id("393abc1eedcd80f3813be205934558c6")
    assert is_notion_id("393abc1e-edcd-80f3-813b-e205934558c6")
    assert not is_notion_id("pending-reconcile")
    assert not is_notion_id(None)
