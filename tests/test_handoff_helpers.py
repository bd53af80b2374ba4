"""The /handoff helpers one step at a time: modes, operator, telemetry, the note, learnings, archiving."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lib.core import git as gitcmd
from lib.store import frontmatter, validate
from support.handoff import (
    CLAUDE_ID,
    content,
    git,
    helper,
    helper_json,
    hook,
    prompt,
    short_content,
    start,
    tool_calls,
    write,
    write_state,
)

NO_OPERATOR = {"OPERATOR": ""}


def note_of(store: Path, session_id: str) -> tuple[dict[str, Any], str]:
    return frontmatter.read(store / "docs" / "sessions" / f"{session_id}.md")


def sections_of(body: str) -> list[str]:
    return [line[3:] for line in body.splitlines() if line.startswith("## ")]


# ----------------------------------------------------------------- step 0: operator and id

def test_an_operator_inferred_from_the_git_email_is_confirmed_before_anything_is_claimed(store: Path) -> None:
    first = start(store, env=NO_OPERATOR)
    assert first["confirm_operator"] and first["id"] is None and first["claim"] == "none"
    assert first["operator"] == {"slug": "rita", "initials": "RT", "source": "git config user.email",
                                 "email": "author@example.com", "inferred": True}
    assert [p.name for p in (store / "docs" / "sessions").iterdir()] == []
    confirmed = start(store, "--operator-confirmed", env=NO_OPERATOR)
    assert not confirmed["confirm_operator"] and confirmed["claim"] == "new"
    meta, _ = note_of(store, confirmed["id"])
    assert meta["status"] == "claimed" and meta["operator"] == "rita"
    assert validate.check_text(confirmed["path"], (store / confirmed["path"]).read_text(), "session").problems == []


def test_operator_named_in_the_environment_needs_no_confirmation(store: Path) -> None:
    started = start(store, env={"OPERATOR": "SK"})
    assert not started["confirm_operator"] and started["operator"]["slug"] == "sam"
    assert started["id"].startswith("SK-")


def test_unknown_operator_is_a_one_line_error(store: Path) -> None:
    result = helper(store, "start", env={"OPERATOR": "nobody"}, ok=False)
    assert "$OPERATOR='nobody' names no operator" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not list((store / "docs" / "sessions").glob("*.md"))


def test_an_unknown_email_halts_with_an_entry_to_paste(store: Path) -> None:
    git(store, "config", "user.email", "new.person@example.com")
    result = helper(store, "start", env=NO_OPERATOR, ok=False)
    assert "no operator in .claude/operators.yaml has the email new.person@example.com" in result.stderr
    assert "- slug:" in result.stderr and not list((store / "docs" / "sessions").glob("*.md"))


def test_first_handoff_hint_until_the_operator_has_a_written_note(store: Path) -> None:
    first = start(store)
    assert first["first_handoff"] and "First handoff as rita" in first["hint"] and "/resume-rt" in first["hint"]
    write(store, first["id"], content())
    second = start(store, env={"CLAUDE_CODE_SESSION_ID": "another-session"})
    assert not second["first_handoff"] and second["hint"] is None
    assert start(store, env={"OPERATOR": "sam", "CLAUDE_CODE_SESSION_ID": "third"})["first_handoff"]


def test_first_handoff_hint_names_per_operator_commands_only_once_they_exist(store: Path) -> None:
    before = start(store)["hint"]
    assert "Next time, start with /resume to pick up" in before
    assert "run `./scripts/py scripts/session.py wrappers` once" in before
    assert "start with /resume (or /resume-rt)" not in before
    commands = store / ".claude" / "commands"
    commands.mkdir(parents=True, exist_ok=True)
    for name in ("resume-rt.md", "handoff-rt.md"):
        (commands / name).write_text("wrapper\n", encoding="utf-8")
    after = start(store)["hint"]
    assert "start with /resume (or /resume-rt)" in after and "/handoff-rt hands off as rita" in after
    assert "session.py wrappers" not in after


def test_a_stub_claimed_earlier_by_the_same_claude_session_is_reused(store: Path) -> None:
    first = start(store)
    again = start(store)
    assert again["id"] == first["id"] and again["claim"] == "reused"
    write(store, first["id"], content())
    after_write = start(store)
    assert after_write["id"] != first["id"] and after_write["claim"] == "new"


def test_the_chain_runner_pre_claimed_id_is_used(store: Path) -> None:
    stub = store / "docs" / "sessions" / "SK-250301-07.md"
    stub.write_text("---\nkind: session\nexternal_id: SK-250301-07\noperator: sam\n"
                    "claimed_at: 2025-03-01T08:00:00Z\nstatus: claimed\nchain_id: nightly\n---\n")
    started = start(store, "--auto", env={"BATON_SESSION_ID": "SK-250301-07", "OPERATOR": ""})
    assert started["id"] == "SK-250301-07" and started["claim"] == "preclaimed" and started["mode"] == "auto"
    assert started["operator"]["slug"] == "sam" and not started["confirm_operator"]
    assert not started["note_written"]
    write(store, "SK-250301-07", content(), env={"BATON_SESSION_ID": "SK-250301-07"})
    meta, _ = note_of(store, "SK-250301-07")
    assert meta["operator"] == "sam" and meta["chain_id"] == "nightly" and meta["mode"] == "auto"
    assert meta["date"].isoformat() == "2025-03-01"
    # A retried handoff of the same chain session is told the note exists (the command then adds --force).
    again = start(store, "--auto", env={"BATON_SESSION_ID": "SK-250301-07", "OPERATOR": ""})
    assert again["id"] == "SK-250301-07" and again["note_written"]


# ----------------------------------------------------------------- modes

def test_auto_mode_claims_without_asking_and_writes_the_full_note(store: Path) -> None:
    started = start(store, "--auto", env=NO_OPERATOR)
    assert started["mode"] == "auto" and not started["confirm_operator"] and started["id"]
    written = helper_json(store, "write-session", "--id", started["id"], input=json.dumps(content()))
    assert written["mode"] == "auto"
    assert written["sections"] == ["Summary", "What was done", "Decisions", "Open questions", "Next steps",
                                   "Resume Prompt", "Telemetry"]


def test_a_session_without_commits_and_few_tool_calls_is_trivial(store: Path) -> None:
    tool_calls(store, "Read", 3)
    started = start(store)
    assert started["trivial"] and started["mode"] == "trivial"
    assert "no commits and 3 tool call(s)" in started["trivial_reason"]
    write(store, started["id"], short_content())
    meta, body = note_of(store, started["id"])
    assert meta["mode"] == "trivial" and sections_of(body) == ["Summary", "Resume Prompt"]
    assert meta["tool_calls_count"] == 3 and meta["tool_calls_breakdown"]["mcp__notion_offplan"] == 0


def test_five_tool_calls_or_a_commit_make_a_session_not_trivial(store: Path) -> None:
    tool_calls(store, "Read", 5)
    assert start(store)["mode"] == "full"
    tool_calls(store, "Read", 1, claude_id="second")
    (store / "x.txt").write_text("x\n")
    git(store, "add", "x.txt")
    git(store, "commit", "-q", "-m", "x")
    started = start(store, env={"CLAUDE_CODE_SESSION_ID": "second"})
    assert not started["trivial"] and started["trivial_reason"] == "1 commit(s), 1 tool call(s)"


def test_without_telemetry_a_session_is_never_called_trivial(store: Path) -> None:
    started = start(store)
    assert not started["trivial"] and started["mode"] == "full" and not started["telemetry_found"]
    assert any("no telemetry state" in w for w in started["warnings"])


def test_quick_mode_writes_only_summary_and_resume_prompt(store: Path) -> None:
    started = start(store, "--quick")
    assert started["mode"] == "quick"
    write(store, started["id"], short_content())
    meta, body = note_of(store, started["id"])
    assert meta["mode"] == "quick" and sections_of(body) == ["Summary", "Resume Prompt"]


def test_quick_mode_refuses_full_sections_rather_than_dropping_them(store: Path) -> None:
    started = start(store, "quick")
    result = write(store, started["id"], content(), ok=False)
    assert "a quick note has only summary and resume_prompt" in result.stderr


# ----------------------------------------------------------------- telemetry and invariants

def test_telemetry_read_without_a_state_file_gives_integer_counters_and_a_warning(store: Path) -> None:
    result = helper(store, "telemetry-read", "--json")
    payload = json.loads(result.stdout)
    assert not payload["found"]
    assert payload["state"]["tool_calls_breakdown"] == {"mcp__notion_offplan": 0}
    assert payload["invariants"] == {"tool_calls_breakdown.mcp__notion_offplan": 0}
    assert payload["state"]["tool_calls_count"] == 0 and payload["state"]["tool_failures_count"] == 0
    assert "warning: no telemetry state" in result.stderr


def test_telemetry_read_normalises_the_hook_state(store: Path) -> None:
    tool_calls(store, "mcp__plugin_asana_asana__list", 2)
    payload = helper_json(store, "telemetry-read")
    assert payload["found"] and payload["state"]["tool_calls_count"] == 2
    assert payload["state"]["tool_calls_breakdown"] == {"mcp__plugin_asana_asana": 2, "mcp__notion_offplan": 0}


def test_telemetry_read_without_the_environment_finds_the_newest_live_state_and_says_so(store: Path) -> None:
    tool_calls(store, "Bash", 3)
    write_state(store, "ended-earlier", tool_calls_count=9, ended_at="2020-01-01T01:00:00Z")
    result = helper(store, "telemetry-read", env={"CLAUDE_CODE_SESSION_ID": ""})
    assert f"session: {CLAUDE_ID} [from the newest live telemetry state in .claude/state]" in result.stdout
    assert "tool_calls_count: 3" in result.stdout
    payload = helper_json(store, "telemetry-read", env={"CLAUDE_CODE_SESSION_ID": ""})
    assert payload["found"] and payload["session_id_source"] == "the newest live telemetry state in .claude/state"


def test_telemetry_read_prefers_what_start_recorded_over_the_newest_state(store: Path) -> None:
    started = start(store)  # records CLAUDE_ID for the note
    tool_calls(store, "Bash", 2)
    write_state(store, "a-later-terminal", tool_calls_count=7)
    payload = helper_json(store, "telemetry-read", "--id", started["id"], env={"CLAUDE_CODE_SESSION_ID": ""})
    assert payload["session_id"] == CLAUDE_ID and payload["state"]["tool_calls_count"] == 2
    assert payload["session_id_source"] == f"recorded by start for {started['id']}"


def test_a_broken_invariant_is_written_into_the_note_with_a_loud_warning(store: Path) -> None:
    tool_calls(store, "mcp__notion_offplan__search", 2)
    tool_calls(store, "mcp__notion_offplan__create_page", 1)
    tool_calls(store, "Bash", 3)
    started = start(store)
    result = write(store, started["id"], content())
    assert "WARNING: this session broke an invariant" in result.stderr
    assert "tool_calls_breakdown.mcp__notion_offplan = 3 (must be 0)" in result.stderr
    meta, body = note_of(store, started["id"])
    assert meta["invariants"] == {"tool_calls_breakdown.mcp__notion_offplan": 3}
    assert meta["invariant_violations"] == ["tool_calls_breakdown.mcp__notion_offplan = 3 (must be 0)"]
    assert meta["tool_calls_breakdown_methods"]["mcp__notion_offplan"] == {"search": 2, "create_page": 1}
    assert "**Invariants broken**" in body
    telemetry = helper(store, "telemetry-read")
    assert "WARNING: this session broke an invariant" in telemetry.stderr


def test_failures_seen_by_the_hook_become_the_notes_failure_summary(store: Path) -> None:
    mypy_error = ("Exit code 1\nsrc/app.py:12: error: Incompatible return value type (got \"int\", "
                  "expected \"str\")  [return-value]\nFound 1 error in 1 file (checked 3 source files)")
    for n in range(2):
        hook(store, {"hook_event_name": "PostToolUseFailure", "tool_name": "Bash", "tool_use_id": f"toolu_f{n}",
                     "tool_input": {"command": "mypy src"}, "error": mypy_error, "is_interrupt": False})
    hook(store, {"hook_event_name": "PostToolUseFailure", "tool_name": "Bash", "tool_use_id": "toolu_f9",
                 "tool_input": {"command": "git push"}, "is_interrupt": False,
                 "error": "Exit code 128\nfatal: not a git repository (or any of the parent directories): .git"})
    tool_calls(store, "Read", 2)
    started = start(store)
    write(store, started["id"], content())
    meta, _ = note_of(store, started["id"])
    summary = meta["failure_summary"]
    assert summary["total"] == 3
    assert summary["by_class"] == {"compile_error": 2, "orchestration_error": 1}
    assert summary["dominant_class"] == "compile_error"
    first = summary["contexts"][0]
    assert (first["failure_class"], first["count"], first["files"]) == ("compile_error", 2, ["src/app.py:12"])
    assert summary["contexts"][1]["failure_class"] == "orchestration_error"


def test_a_session_without_failures_has_no_failure_summary(store: Path) -> None:
    tool_calls(store, "Bash", 6)  # not a trivial session: five tool calls or more
    started = start(store)
    write(store, started["id"], content())
    assert note_of(store, started["id"])[0]["failure_summary"] is None


def test_invariants_come_from_baton_yaml(store: Path) -> None:
    (store / ".claude" / "baton.yaml").write_text("invariants:\n  - tool_calls_breakdown.WebFetch\n"
                                                  "  - tool_failures_count\n")
    write_state(store, tool_calls_count=4, tool_calls_breakdown={"WebFetch": 1}, tool_failures_count=0)
    payload = helper_json(store, "telemetry-read")
    assert payload["invariants"] == {"tool_calls_breakdown.WebFetch": 1, "tool_failures_count": 0}
    assert payload["invariant_violations"] == ["tool_calls_breakdown.WebFetch = 1 (must be 0)"]


# ----------------------------------------------------------------- git stats

def test_git_stats_counts_the_session_commits_and_the_notes_they_touched(store: Path) -> None:
    for path, text in (("workstreams/auth.md", None), ("plans/rollout.md", "---\nkind: plan\n---\n"),
                       ("docs/adr/ADR-0007-cookies.md", "x\n"), ("src/a.py", "a\nb\n")):
        target = store / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text if text is not None else target.read_text() + "more\n")
    git(store, "add", "-A")
    git(store, "commit", "-q", "-m", "work")
    git(store, "commit", "-q", "--allow-empty", "-m", "handoff: RT-250101-02 an earlier handoff")
    stats = helper_json(store, "git-stats", "--since", "2025-01-01T00:00:00Z")
    assert stats["commits_count"] == 1 and [c["subject"] for c in stats["commits"]] == ["work"]
    assert stats["lines_added"] == 1 + 3 + 1 + 2 and stats["lines_removed"] == 0 and stats["files_changed"] == 4
    assert stats["workstreams_touched"] == ["auth"] and stats["plans_touched"] == ["rollout"]
    assert stats["adrs_touched"] == ["ADR-0007"]
    assert stats["since_source"] == "--since" and stats["first_commit_at"] == stats["last_commit_at"]


def test_git_stats_leaves_out_installing_baton_and_commits_only_under_dot_baton(store: Path) -> None:
    from lib.adopt import install
    from lib.adopt.report import Options
    from support.paths import REPO_ROOT

    git(store, "add", "-A")
    git(store, "commit", "-q", "--allow-empty", "-m", "the team's store")
    before = helper_json(store, "git-stats", "--since", "2000-01-01T00:00:00Z")
    install.install(REPO_ROOT, store, Options(no_venv=True))
    git(store, "add", "-A")
    git(store, "commit", "-q", "-m", "Install baton")
    (store / ".baton" / "README.md").write_text("ours, edited\n", encoding="utf-8")
    git(store, "commit", "-q", "-am", "Touch baton's folder only")
    (store / "src").mkdir()
    (store / "src" / "app.py").write_text("print('work')\n", encoding="utf-8")
    git(store, "add", "-A")
    git(store, "commit", "-q", "-m", "the session's work")
    stats = helper_json(store, "git-stats", "--since", "2000-01-01T00:00:00Z")
    subjects = [c["subject"] for c in stats["commits"]]
    assert subjects == [*(c["subject"] for c in before["commits"]), "the session's work"]
    assert stats["lines_added"] == before["lines_added"] + 1
    assert stats["files_changed"] == before["files_changed"] + 1


def test_git_stats_defaults_to_the_telemetry_start(store: Path) -> None:
    write_state(store, started_at="2024-12-31T00:00:00Z")
    stats = helper_json(store, "git-stats")
    assert stats["since"] == "2024-12-31T00:00:00Z" and stats["since_source"] == "telemetry started_at"
    assert stats["commits_count"] == 0


def test_git_stats_rejects_a_bad_since(store: Path) -> None:
    result = helper(store, "git-stats", "--since", "yesterday", ok=False)
    assert "--since 'yesterday': not an ISO 8601 time" in result.stderr


# ----------------------------------------------------------------- write-session

def test_write_session_writes_a_valid_note_in_canonical_order(store: Path) -> None:
    started = start(store)
    write(store, started["id"], content(model="claude-sonnet-4-6"))
    path = store / started["path"]
    text = path.read_text()
    assert validate.check_text(started["path"], text, "session").problems == []
    meta, body = frontmatter.loads(text)
    keys = list(meta)
    assert keys[:8] == ["title", "operator", "summary", "workstream", "plan", "tags", "kind", "external_id"]
    assert keys[-2:] == ["content_hash", "sync_status"] and meta["sync_status"] == "pending"
    assert meta["content_hash"] == frontmatter.content_hash(meta, body)
    assert meta["confidence"] == "medium" and meta["model"] == "claude-sonnet-4-6"
    assert "&" not in text.split("---")[1]  # no YAML anchors for repeated values
    assert sections_of(body) == ["Summary", "What was done", "Decisions", "Open questions", "Next steps",
                                 "Resume Prompt", "Telemetry"]


def test_write_session_refuses_to_overwrite_a_written_note_unless_forced(store: Path) -> None:
    started = start(store)
    write(store, started["id"], content())
    before = (store / started["path"]).read_bytes()
    refused = write(store, started["id"], content(title="Other"), ok=False)
    assert "already a written note" in refused.stderr and "--force" in refused.stderr
    assert (store / started["path"]).read_bytes() == before
    write(store, started["id"], content(title="Other"), "--force")
    meta, _ = note_of(store, started["id"])
    assert meta["title"] == "Other" and meta["status"] == "written"


def test_invalid_content_lists_every_problem_and_leaves_the_stub_untouched(store: Path) -> None:
    started = start(store)
    stub = (store / started["path"]).read_bytes()
    bad = content(title="", outcome="finished", workstream="Not A Slug", tags="auth", colour="red")
    bad["sections"] = {"resume_prompt": prompt(confidence=None), "thoughts": "x"}
    result = write(store, started["id"], bad, "--json", ok=False)
    assert result.returncode == 1
    problems = json.loads(result.stdout)["problems"]
    for expected in ("unknown key(s): colour", "title: must not be empty", "outcome: 'finished' is not one of",
                     "workstream: 'Not A Slug' is not a slug", "tags: must be a list",
                     "sections: unknown section(s): thoughts", "must end with a line 'Confidence"):
        assert any(expected in p for p in problems), (expected, problems)
    assert all(f"  {p}" in result.stderr for p in problems)
    assert (store / started["path"]).read_bytes() == stub


def test_content_that_is_not_valid_yaml_is_refused(store: Path) -> None:
    started = start(store)
    result = helper(store, "write-session", "--id", started["id"], input="{title: nope", ok=False)
    assert "content is not valid YAML: line" in result.stderr


def test_block_style_yaml_content_as_the_command_file_sends_it(store: Path) -> None:
    started = start(store)
    words = " ".join(["word"] * 90)
    text = ("title: From YAML\nsummary: |\n  Sent the way handoff.md shows it.\noutcome: done\n"
            "workstream: null\nplan: null\ntags:\n  - yaml\nsections:\n  resume_prompt: |\n"
            f"    {words}\n\n    Confidence: high\n")
    helper(store, "write-session", "--id", started["id"], "--json", input=text)
    meta, body = note_of(store, started["id"])
    assert meta["title"] == "From YAML" and meta["summary"].strip() == "Sent the way handoff.md shows it."
    assert meta["confidence"] == "high" and "Confidence: high" in body


def test_confidence_field_completes_a_prompt_without_the_tag(store: Path) -> None:
    started = start(store)
    data = content(confidence="low")
    data["sections"]["resume_prompt"] = prompt(confidence=None)
    write(store, started["id"], data)
    meta, body = note_of(store, started["id"])
    assert meta["confidence"] == "low" and "\n\nConfidence: low\n" in body


def test_a_skipped_resume_prompt_is_said_so(store: Path) -> None:
    started = start(store)
    data = content()
    del data["sections"]["resume_prompt"]
    write(store, started["id"], data)
    meta, body = note_of(store, started["id"])
    assert meta["confidence"] is None and "## Resume Prompt\n\nSkipped.\n" in body


def test_write_session_needs_a_claim(store: Path) -> None:
    result = write(store, "RT-250101-05", content(), ok=False)
    assert "no claim stub" in result.stderr


def test_an_unsafe_id_never_reaches_a_path(store: Path) -> None:
    result = write(store, "../../etc/passwd", content(), ok=False)
    assert "is not a session id" in result.stderr


# ----------------------------------------------------------------- Resume Prompt check

def test_check_prompt_wants_80_to_150_words_and_the_confidence_tag(store: Path) -> None:
    good = helper_json(store, "check-prompt", input=prompt(100, "high"))
    assert good["ok"] and good["words"] == 100 and good["confidence"] == "high"
    short = helper(store, "check-prompt", "--json", input=prompt(20, "high"), ok=False)
    assert json.loads(short.stdout)["problems"] == ["20 words: write at least 80"]
    untagged = json.loads(helper(store, "check-prompt", "--json", input=prompt(160, None), ok=False).stdout)
    assert untagged["problems"] == ["does not end with a line 'Confidence: high|medium|low'",
                                    "160 words: keep it to 150"]


# ----------------------------------------------------------------- learnings

def test_a_learning_slug_of_another_session_is_not_overwritten(store: Path) -> None:
    started = start(store)
    learning = {"slug": "retry-git", "title": "Retry git", "summary": "Editors hold index.lock.", "tags": [],
                "lesson": "Retry with backoff."}
    helper(store, "write-learning", "--id", started["id"], input=json.dumps(learning))
    helper(store, "write-learning", "--id", started["id"], input=json.dumps(learning))  # a re-run is fine
    other = start(store, env={"CLAUDE_CODE_SESSION_ID": "other"})
    refused = helper(store, "write-learning", "--id", other["id"], input=json.dumps(learning), ok=False)
    assert "a learning with this slug exists" in refused.stderr


def test_an_invalid_learning_lists_its_problems(store: Path) -> None:
    started = start(store)
    result = helper(store, "write-learning", "--id", started["id"], "--json",
                    input=json.dumps({"slug": "Bad Slug", "summary": ""}), ok=False)
    problems = json.loads(result.stdout)["problems"]
    assert any("slug: 'Bad Slug'" in p for p in problems) and any(p.startswith("title: required") for p in problems)
    assert not list((store / "docs" / "learnings").glob("*.md"))


# ----------------------------------------------------------------- step 8

def test_archive_state_moves_state_and_lock_and_is_idempotent(store: Path) -> None:
    tool_calls(store, "Bash", 1)
    folder = store / ".claude" / "state"
    assert (folder / f"session-{CLAUDE_ID}.json").exists() and (folder / f"session-{CLAUDE_ID}.lock").exists()
    first = helper_json(store, "archive-state")
    assert sorted(first["moved"]) == [f".claude/state/archive/session-{CLAUDE_ID}.json",
                                      f".claude/state/archive/session-{CLAUDE_ID}.lock"]
    assert not (folder / f"session-{CLAUDE_ID}.json").exists()
    second = helper_json(store, "archive-state")
    assert second["moved"] == [] and second["already_archived"]
    archived = json.loads((folder / "archive" / f"session-{CLAUDE_ID}.json").read_text())
    assert archived["tool_calls_count"] == 1


def test_archive_state_keeps_an_earlier_archive(store: Path) -> None:
    tool_calls(store, "Bash", 1)
    helper(store, "archive-state")
    tool_calls(store, "Bash", 2, start=10)  # the session went on after a first handoff
    helper(store, "archive-state")
    archived = sorted(p.name for p in (store / ".claude" / "state" / "archive").glob(f"session-{CLAUDE_ID}.json*"))
    assert len(archived) == 2


def test_archive_state_rejects_an_unsafe_session_id(store: Path) -> None:
    result = helper(store, "archive-state", "--session-id", "../x", ok=False)
    assert "letters, digits" in result.stderr


def test_refresh_resume_cache_is_skipped_while_resume_helpers_are_absent(store: Path) -> None:
    from lib.handoff import resume_cache

    payload = helper_json(store, "refresh-resume-cache")
    if resume_cache.script_path().exists():
        assert payload["ran"]
    else:
        assert payload == {"version": 1, "ran": False, "ok": True,
                           "detail": "skipped: resume_helpers.py is not installed"}


def test_every_subcommand_has_help(store: Path) -> None:
    import handoff_helpers

    parser = handoff_helpers.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert isinstance(sub.choices, dict)
    for name, subparser in sub.choices.items():
        assert subparser.description, name
        for action in subparser._actions:
            assert action.help, (name, action.dest)


@pytest.mark.parametrize(("stderr", "kind"), [
    ("fatal: Authentication failed for 'https://github.com/o/r.git/'", gitcmd.AUTHENTICATION),
    ("git@github.com: Permission denied (publickey).\nfatal: Could not read from remote repository.",
     gitcmd.AUTHENTICATION),
    ("remote: Support for password authentication was removed on August 13, 2021.", gitcmd.AUTHENTICATION),
    (" ! [rejected]        main -> main (fetch first)\nerror: failed to push some refs", gitcmd.NON_FAST_FORWARD),
    (" ! [rejected]        main -> main (non-fast-forward)", gitcmd.NON_FAST_FORWARD),
    ("fatal: unable to access 'https://x/': Could not resolve host: x", gitcmd.UNREACHABLE),
    ("error: RPC failed; curl 56", gitcmd.OTHER),
])
def test_push_failures_are_told_apart(stderr: str, kind: str) -> None:
    assert gitcmd.classify_remote_failure(gitcmd.GitResult(1, "", stderr)) == kind


def test_hook_payload_helper_counts_one_call(store: Path) -> None:
    hook(store, {"tool_name": "Bash", "tool_use_id": "toolu_1"})
    assert helper_json(store, "telemetry-read")["state"]["tool_calls_count"] == 1
