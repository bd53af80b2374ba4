"""`finish`: the whole handoff after `start` in one call, everything checked before the first write."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from handoff_support import (
    CLAUDE_ID,
    add_remote,
    commit_files,
    content,
    git,
    helper,
    hook,
    make_store,
    prompt,
    short_content,
    start,
    tool_calls,
)
from lib.handoff import finish as finishing
from lib.store import frontmatter, validate

LEARNING = {"slug": "cookies-over-storage", "title": "Cookies over local storage",
            "summary": "Keep tokens in an HttpOnly cookie.", "tags": ["auth"], "lesson": "Scripts cannot read it."}


@pytest.fixture
def store(repo: Path) -> Path:
    return make_store(repo)


@pytest.fixture
def remote(store: Path, tmp_path: Path) -> Path:
    return add_remote(store, tmp_path / "remote.git")


def block_yaml(data: dict[str, Any]) -> str:
    """The shape the command file sends: block-style YAML, no braces."""
    text = yaml.safe_dump(data, default_flow_style=False, sort_keys=False, allow_unicode=True)
    assert "{" not in text
    return text


def finish(store: Path, data: dict[str, Any], *extra: str, ok: bool | None = True,
           env: dict[str, str] | None = None) -> tuple[int, dict[str, Any], str]:
    result = helper(store, "finish", "--json", *extra, input=block_yaml(data), ok=ok, env=env)
    return result.returncode, json.loads(result.stdout), result.stderr


def full_input(**over: Any) -> dict[str, Any]:
    return {**content(), "learnings": [LEARNING], "log_line": "Sign-in form with the work account", **over}


def test_finish_runs_every_step_in_order_and_pushes_exactly_the_handoff_files(store: Path, remote: Path) -> None:
    transcript = store.parent / "transcript.jsonl"
    transcript.write_text(json.dumps({"type": "user", "message": {"content": "hi"}}) + "\n")
    hook(store, {"hook_event_name": "SessionStart", "source": "startup", "transcript_path": str(transcript)})
    tool_calls(store, "Bash", 6)
    session_id = start(store)["id"]

    code, report, _ = finish(store, full_input(), "--id", session_id)

    assert code == 0 and report["ok"] and report["problems"] == []
    assert [s["step"] for s in report["steps"]] == list(finishing.STEP_NAMES)
    assert {s["step"]: s["status"] for s in report["steps"]}["push"] == "ok"
    assert not [s for s in report["steps"] if s["status"] in ("failed", "not_run")]
    assert report["learnings"] == ["cookies-over-storage"] and report["pushed"]
    note = f"docs/sessions/{session_id}.md"
    assert report["path"] == note and report["commit"] == git(remote, "rev-parse", "main").strip()
    files = commit_files(remote, "main")
    assert {note, "docs/learnings/cookies-over-storage.md", "workstreams/auth.md", "CHANGELOG.md",
            "docs/sessions/INDEX.md", "workstreams/INDEX.md", "INDEX.md"} <= set(files)
    metadata, body = frontmatter.loads(git(remote, "show", f"main:{note}"))
    assert validate.check_text(note, git(remote, "show", f"main:{note}"), "session").problems == []
    headings = [line[3:] for line in body.splitlines() if line.startswith("## ")]
    assert headings == ["Summary", "What was done", "Decisions", "Open questions", "Next steps", "Resume Prompt",
                        "Telemetry"]
    assert metadata["tool_calls_count"] == 6 and metadata["transcript_archive"] == f"{session_id}.jsonl.gz"
    assert "Sign-in form with the work account" in git(remote, "show", "main:workstreams/auth.md")
    assert not (store / ".claude" / "state" / f"session-{CLAUDE_ID}.json").exists()  # telemetry archived


def test_invalid_content_lists_every_problem_at_once_and_writes_nothing(store: Path) -> None:
    session_id = start(store)["id"]
    before = git(store, "status", "--porcelain", "--untracked-files=all")
    stub = (store / "docs" / "sessions" / f"{session_id}.md").read_text()
    bad = full_input(outcome="finished", learnings=[{"title": "No slug", "summary": "x", "lesson": "y"}],
                     log_line="two\nlines")
    bad["sections"] = {**bad["sections"], "resume_prompt": prompt(words=20)}

    code, report, stderr = finish(store, bad, "--id", session_id, ok=False)

    assert code == 1 and not report["ok"] and report["failed_step"] == "validate"
    problems = "\n".join(report["problems"])
    for fragment in ("outcome:", "learnings[0]: slug", "log_line:", "sections.resume_prompt: 20 words"):
        assert fragment in problems
    assert len(report["problems"]) == len(stderr.strip().splitlines()) - 1  # one line each, after the headline
    assert git(store, "status", "--porcelain", "--untracked-files=all") == before
    assert (store / "docs" / "sessions" / f"{session_id}.md").read_text() == stub


def test_a_note_that_fails_its_schema_is_refused_before_any_learning_is_written(store: Path) -> None:
    session_id = start(store)["id"]
    code, report, _ = finish(store, full_input(plan="Not A Slug"), "--id", session_id, ok=False)
    assert code == 1 and any(p.startswith("plan:") for p in report["problems"])
    assert not (store / "docs" / "learnings" / "cookies-over-storage.md").exists()


def test_a_refused_push_is_one_line_and_the_commit_stays(store: Path, remote: Path) -> None:
    # A remote that refuses for a reason integrating cannot fix (a server-side policy hook); a push that merely
    # lost a race is integrated and lands (tests/test_integrate.py).
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'refused by the server policy' >&2\nexit 1\n")
    hook.chmod(0o755)
    session_id = start(store)["id"]

    code, report, stderr = finish(store, full_input(), "--id", session_id, ok=False)

    assert code == 1 and report["committed"] and not report["pushed"]
    assert report["push_error"]["kind"] == "other" and report["failed_step"] == "push"
    errors = [line for line in stderr.splitlines() if line.startswith("handoff_helpers.py: error:")]
    assert len(errors) == 1 and "kept" in errors[0]
    assert git(store, "log", "-1", "--format=%s").startswith(f"handoff: {session_id} ")
    statuses = {s["step"]: s["status"] for s in report["steps"]}
    assert statuses["commit"] == "ok" and statuses["archive-state"] in ("ok", "skipped")


def test_without_an_id_finish_claims_only_for_a_confirmed_operator(store: Path) -> None:
    no_operator = {"OPERATOR": ""}
    assert start(store, env=no_operator)["confirm_operator"]
    data = {**short_content(), "mode": "quick"}

    code, report, _ = finish(store, data, "--no-push", ok=False, env=no_operator)
    assert code == 1 and "--operator-confirmed" in report["problems"][0]
    assert list((store / "docs" / "sessions").glob("*.md")) == []

    code, report, _ = finish(store, data, "--no-push", "--operator-confirmed", env=no_operator)
    assert code == 0 and report["id"].startswith("RT-") and report["mode"] == "quick"
    assert git(store, "log", "-1", "--format=%s").startswith(f"handoff: {report['id']} ")


def test_a_second_finish_needs_force_and_then_writes_the_note_again(store: Path) -> None:
    session_id = start(store)["id"]
    finish(store, full_input(), "--id", session_id, "--no-push")
    code, report, _ = finish(store, full_input(title="Second try"), "--id", session_id, "--no-push", ok=False)
    assert "already a written note" in report["problems"][0]
    code, report, _ = finish(store, full_input(title="Second try"), "--id", session_id, "--no-push", "--force")
    assert code == 0 and git(store, "log", "-1", "--format=%s").strip() == f"handoff: {session_id} Second try"


def test_the_users_own_prompt_may_be_short_with_keep_prompt(store: Path) -> None:
    session_id = start(store)["id"]
    data = full_input()
    data["sections"] = {**data["sections"], "resume_prompt": prompt(words=30)}
    code, report, _ = finish(store, data, "--id", session_id, "--no-push", "--keep-prompt")
    assert code == 0 and report["steps"][0] == {**report["steps"][0], "step": "check-prompt", "status": "warning"}


def test_start_gives_telemetry_and_git_stats_and_reads_flags_inside_one_argument(store: Path) -> None:
    tool_calls(store, "Bash", 2)
    started = start(store, "--quick fixed the parser")
    assert started["mode"] == "quick" and started["request"] == "fixed the parser"
    assert started["telemetry"]["tool_calls_count"] == 2 and started["telemetry"]["invariant_violations"] == []
    assert set(started["git"]) == {"commits_count", "lines_added", "lines_removed", "files_changed"}


def test_content_that_is_not_yaml_is_one_answer_and_nothing_is_written(store: Path) -> None:
    session_id = start(store)["id"]
    stub = (store / "docs" / "sessions" / f"{session_id}.md").read_text()
    result = helper(store, "finish", "--id", session_id, "--json", input="title: [unclosed\n", ok=False)
    payload = json.loads(result.stdout)
    assert payload["ok"] is False and "not valid YAML" in payload["problems"][0]
    assert "nothing was written" in result.stderr
    assert (store / "docs" / "sessions" / f"{session_id}.md").read_text() == stub
