"""Secrets in tool output never reach the failure records, the note, the decision log, webhooks,
the console or Notion: the one redactor at every boundary, driven through the real hook and helpers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from handoff_support import CLAUDE_ID, content, hook, make_store, start, tool_calls, write
from lib.chains import notify
from lib.console import render
from lib.failures import decisions
from lib.telemetry import state as hookstate

ALNUM = "Q7xZ2pL9mN4vB8cK1rT6yW3eH5jD0fGa"
# Assembled at run time so that no token-shaped string sits in the repository.
GITHUB = "gh" + "p_" + ALNUM + "Abcd"
ANTHROPIC = "sk-" + "ant-api03-" + ALNUM + "_" + ALNUM + "-AA"
PG_PASSWORD = "S3cr3t-" + "Pa55word"
SECRETS = (GITHUB, ANTHROPIC, PG_PASSWORD)
LEAKY_OUTPUT = (
    "Exit code 1\n"
    f"error: authentication failed for https://x-access-token:{GITHUB}@github.com/org/repo.git\n"
    f"  ANTHROPIC_API_KEY={ANTHROPIC}\n"
    f"  DATABASE_URL=postgres://app:{PG_PASSWORD}@db.internal:5432/app\n"
    "psycopg.OperationalError: connection refused\n"
)


@pytest.fixture
def store(repo: Path) -> Path:
    return make_store(repo)


def failed_bash(store: Path, n: int = 0) -> None:
    hook(store, {"hook_event_name": "PostToolUseFailure", "tool_name": "Bash", "tool_use_id": f"toolu_leak{n}",
                 "tool_input": {"command": "./deploy.sh"}, "error": LEAKY_OUTPUT, "is_interrupt": False})


def test_a_failed_command_leaks_no_secret_into_failure_records_or_the_committed_note(store: Path) -> None:
    failed_bash(store)
    failures = store / ".claude" / "state" / f"session-{CLAUDE_ID}.failures.jsonl"
    recorded = failures.read_text(encoding="utf-8")
    for secret in SECRETS:
        assert secret not in recorded
    record = json.loads(recorded.splitlines()[0])
    assert "[REDACTED:github-token]" in record["text"] and "[REDACTED:anthropic-key]" in record["text"]
    assert "postgres://app:[REDACTED:url-credentials]@db.internal" in record["text"]
    assert "psycopg.OperationalError: connection refused" in record["text"]  # the rest is kept

    tool_calls(store, "Read", 5)
    started = start(store)
    write(store, started["id"], content())
    note = (store / "docs" / "sessions" / f"{started['id']}.md").read_text(encoding="utf-8")
    assert "failure_summary:" in note and "total: 1" in note
    for secret in SECRETS:
        assert secret not in note


def test_failure_records_written_before_redaction_are_redacted_in_the_note(store: Path) -> None:
    failed_bash(store)
    failures = store / ".claude" / "state" / f"session-{CLAUDE_ID}.failures.jsonl"
    # as an older hook wrote it: the raw text
    failures.write_text(json.dumps({"tool": "Bash", "exit_code": 1,
                                    "text": f"fatal: {GITHUB} rejected\n{LEAKY_OUTPUT}"}) + "\n")
    tool_calls(store, "Read", 5)
    started = start(store)
    write(store, started["id"], content(sections={"what_was_done": f"- Rotated the key {ANTHROPIC}"}))
    note = (store / "docs" / "sessions" / f"{started['id']}.md").read_text(encoding="utf-8")
    for secret in SECRETS:
        assert secret not in note
    assert "[REDACTED:github-token]" in note


def test_the_hook_failure_record_is_redacted_without_leaving_the_standard_library() -> None:
    line = hookstate.failure_record(LEAKY_OUTPUT, "Bash", 1)
    for secret in SECRETS:
        assert secret not in line
    assert json.loads(line)["exit_code"] == 1


def test_the_decision_log_stores_no_secret(tmp_path: Path) -> None:
    log = tmp_path / "decisions.jsonl"
    assert decisions.log_decision("retry", decision="retry", reason=f"push failed: {LEAKY_OUTPUT}",
                                  path=log, context={"stderr": LEAKY_OUTPUT})
    text = log.read_text(encoding="utf-8")
    for secret in SECRETS:
        assert secret not in text
    assert decisions.read_decisions(log)[0]["kind"] == "retry"


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[bytes]]]:
    bodies: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", bodies
    finally:
        server.shutdown()
        server.server_close()


def test_webhook_bodies_carry_no_secret(webhook: tuple[str, list[bytes]]) -> None:
    url, bodies = webhook
    result = notify.post_webhook(url, {"chain": "c1", "status": "failed", "error": LEAKY_OUTPUT},
                                 retry_delay_s=0, sleep=lambda _s: None)
    assert result.ok
    body = bodies[0].decode()
    for secret in SECRETS:
        assert secret not in body
    assert json.loads(body)["status"] == "failed"


def test_console_pages_render_note_bodies_redacted() -> None:
    html = render.markdown_html(f"## Notes\n\n```\n{LEAKY_OUTPUT}```\n")
    for secret in SECRETS:
        assert secret not in html
    assert "[REDACTED:anthropic-key]" in html


def test_the_console_api_serves_a_note_redacted(repo: Path) -> None:
    from console_store import write_session
    from lib.console.data import Console

    write_session(repo, "AN-260101-01", body=f"## Summary\n\n```\n{LEAKY_OUTPUT}```\n",
                  summary=f"Deploy failed with {ANTHROPIC}")
    out = Console([repo]).session("AN-260101-01", render=render.markdown_html)
    dumped = json.dumps(out, default=str)
    for secret in SECRETS:
        assert secret not in dumped
    assert "[REDACTED:anthropic-key]" in out["frontmatter"]["summary"]
