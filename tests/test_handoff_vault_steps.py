"""The /handoff steps for the transcript archive (4.2), the changelog (5.5) and the vault links (5.7)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from handoff_support import (
    CLAUDE_ID,
    add_remote,
    commit_files,
    content,
    git,
    handoff,
    helper,
    helper_json,
    hook,
    make_store,
    short_content,
    start,
    write,
)
from lib import vault
from lib.store import frontmatter

SECRET = "gh" + "p_" + "Q7xZ2pL9mN4vB8cK1rT6yW3eH5jD0fGaAbcd"


@pytest.fixture
def store(repo: Path) -> Path:
    return make_store(repo)


def transcript(store: Path) -> Path:
    path = store.parent / "transcript.jsonl"
    path.write_text(json.dumps({"type": "user", "message": {"content": f"token {SECRET}"}}) + "\n"
                    + json.dumps({"type": "assistant", "message": {"content": "ok"}}) + "\n")
    hook(store, {"hook_event_name": "SessionStart", "source": "startup", "transcript_path": str(path)})
    return path


def handoff_with_vault_steps(store: Path, push: bool = True) -> tuple[str, dict[str, Any]]:
    (store / "app.py").write_text("print('hi')\n")
    git(store, "add", "app.py")
    git(store, "commit", "-q", "-m", "feat: greet")
    session_id = start(store)["id"]
    write(store, session_id, content())
    archived = helper_json(store, "archive-transcript", "--id", session_id)
    assert archived["status"] == "archived" and archived["redactions"] == {"github-token": 1}
    helper(store, "regen-index", "--id", session_id)
    helper(store, "append-log", "--id", session_id, "--line", "Sign-in form")
    helper(store, "changelog", "--id", session_id)
    helper(store, "link", "--id", session_id)
    helper(store, "stage", "--id", session_id)
    result = helper_json(store, "commit", "--id", session_id, *(["--push"] if push else []))
    return result["id"], result


def test_the_handoff_commits_the_archive_record_links_map_index_and_changelog(store: Path, tmp_path: Path) -> None:
    remote = add_remote(store, tmp_path / "remote.git")
    transcript(store)
    session_id, result = handoff_with_vault_steps(store)
    assert result["pushed"]
    note = f"docs/sessions/{session_id}.md"
    assert commit_files(remote, "main") == sorted([
        note, "workstreams/auth.md", "docs/sessions/INDEX.md", "workstreams/INDEX.md",
        "docs/maps/auth.md", "INDEX.md", "CHANGELOG.md"])

    metadata, body = frontmatter.loads(git(remote, "show", f"main:{note}"))
    assert metadata["transcript_archive"] == f"{session_id}.jsonl.gz"
    assert metadata["content_hash"] == frontmatter.content_hash(metadata, body)
    assert body.startswith("Workstream: [auth](../../workstreams/auth.md)\n\n## Summary\n")
    archive = store / ".claude/archive/transcripts" / f"{session_id}.jsonl.gz"
    text = gzip.decompress(archive.read_bytes())
    assert SECRET.encode() not in text and metadata["transcript_bytes"] == len(text)
    # the archive ignores itself: `git add -A` never takes a transcript, whatever .gitignore says
    assert git(store, "status", "--porcelain", "--untracked-files=all", ".claude/archive") == ""

    log = git(remote, "show", "main:workstreams/auth.md")
    assert f"- [{session_id}](../docs/sessions/{session_id}.md) (" in log
    changelog = git(remote, "show", "main:CHANGELOG.md")
    assert f"[{session_id}](docs/sessions/{session_id}.md) · Sign-in with the work account" in changelog
    assert "` feat: greet\n" in changelog
    assert f"[{session_id}](../sessions/{session_id}.md)" in git(remote, "show", "main:docs/maps/auth.md")
    # the store the handoff leaves behind is consistent: nothing for vault fix to do in its files
    assert not [p for p in vault.check(store).problems if p.fixable]


def test_running_the_steps_again_changes_nothing(store: Path) -> None:
    transcript(store)
    session_id, _ = handoff_with_vault_steps(store, push=False)
    head = git(store, "rev-parse", "HEAD")
    again = helper_json(store, "archive-transcript", "--id", session_id)
    assert again["status"] == "unchanged" and not again["note_changed"]
    assert helper_json(store, "link", "--id", session_id)["written"] == []
    assert helper_json(store, "changelog", "--id", session_id)["status"] == "exists"
    assert git(store, "status", "--porcelain") == "" and git(store, "rev-parse", "HEAD") == head


def test_no_transcript_is_a_warning_in_the_note(store: Path) -> None:
    session_id = start(store)["id"]
    write(store, session_id, content())
    result = helper(store, "archive-transcript", "--id", session_id, "--json")
    assert "warning: no transcript" in result.stderr
    payload = json.loads(result.stdout)
    assert payload["status"] == "missing" and payload["transcript"] is None
    meta = frontmatter.read_metadata(store / f"docs/sessions/{session_id}.md")
    assert meta["transcript_warning"].startswith("no transcript")


def test_a_changelog_with_the_users_own_edits_is_reported(store: Path) -> None:
    (store / "CHANGELOG.md").write_text("# Changelog\n\nOur notes.\n")
    session_id = start(store)["id"]
    write(store, session_id, content())
    result = helper(store, "changelog", "--id", session_id)
    assert "CHANGELOG.md already had uncommitted changes" in result.stderr
    assert helper_json(store, "stage", "--id", session_id)["preexisting_changes"] == ["CHANGELOG.md"]


def test_an_id_taken_on_the_remote_renames_the_archive_changelog_and_map(store: Path, tmp_path: Path) -> None:
    remote = add_remote(store, tmp_path / "remote.git")
    other = tmp_path / "laptop"
    git(tmp_path, "clone", "-q", str(remote), str(other))
    git(other, "checkout", "-q", "-b", "laptop-work")
    (other / ".claude" / "state").mkdir(parents=True, exist_ok=True)
    taken, pushed = handoff(other, env={"CLAUDE_CODE_SESSION_ID": "other-clone"})
    assert pushed.returncode == 0, pushed.stderr
    git(other, "push", "-q", "origin", "laptop-work")

    transcript(store)
    new_id, result = handoff_with_vault_steps(store)
    assert result["renamed_from"] == [taken] and new_id != taken and result["pushed"]
    folder = store / ".claude/archive/transcripts"
    assert (folder / f"{new_id}.jsonl.gz").is_file() and not (folder / f"{taken}.jsonl.gz").exists()
    metadata, body = frontmatter.loads(git(remote, "show", f"main:docs/sessions/{new_id}.md"))
    assert metadata["transcript_archive"] == f"{new_id}.jsonl.gz"
    assert metadata["content_hash"] == frontmatter.content_hash(metadata, body)
    for rel in ("CHANGELOG.md", "docs/maps/auth.md", "workstreams/auth.md"):
        text = git(remote, "show", f"main:{rel}")
        assert new_id in text and taken not in text, rel


def test_finish_runs_the_vault_steps_in_the_contracts_order() -> None:
    from lib.handoff import finish

    names = ("write-session", "archive-transcript", "regen-index", "append-log", "changelog", "link", "stage")
    order = [finish.STEP_NAMES.index(name) for name in names]
    assert order == sorted(order)


def test_the_claude_session_id_comes_from_start(store: Path) -> None:
    path = transcript(store)
    session_id = start(store)["id"]
    write(store, session_id, short_content())
    # no $CLAUDE_CODE_SESSION_ID now: the id start recorded finds the telemetry state
    payload = helper_json(store, "archive-transcript", "--id", session_id, env={"CLAUDE_CODE_SESSION_ID": ""})
    assert payload["source"] == str(path) and payload["status"] == "archived"
    assert CLAUDE_ID in (store / ".claude/state" / f"handoff-{session_id}.json").read_text()
