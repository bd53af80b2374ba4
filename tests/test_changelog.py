"""CHANGELOG.md: one entry per handoff, newest first, earlier entries never rewritten."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from lib.core.errors import BatonError
from lib.handoff import changelog
from support.git import git


def commit(repo: Path, name: str, subject: str) -> str:
    (repo / name).write_text(subject + "\n")
    git(repo, "add", name)
    git(repo, "commit", "-q", "-m", subject)
    return git(repo, "rev-parse", "HEAD").strip()


def note(repo: Path, sid: str, title: str, commits: list[str] | None, date: str = "2026-01-01",
         started_at: str | None = None) -> None:
    lines = [f"title: {title}", "operator: ab", "summary: s.", "tags: []", "kind: session", f"external_id: {sid}",
             "status: written", "outcome: done", f"date: {date}"]
    if started_at:
        lines.append(f"started_at: {started_at}")
    if commits is not None:  # quoted, as /handoff writes them: `4867450389e8` unquoted is a number to YAML
        lines.append("commits: [" + ", ".join(f"'{c[:12]}'" for c in commits) + "]")
    (repo / "docs/sessions" / f"{sid}.md").write_text("---\n" + "\n".join(lines) + "\n---\n## Summary\n")


def test_two_handoffs_in_a_row_add_two_entries_newest_first(repo: Path) -> None:
    first = [commit(repo, "a.txt", "Add the parser"), commit(repo, "b.txt", "Parse dates too")]
    note(repo, "AB-260101-01", "Parser work", first)
    assert changelog.record_session(repo, "AB-260101-01").status == "added"
    text_after_first = (repo / "CHANGELOG.md").read_text()
    git(repo, "add", "CHANGELOG.md", "docs")
    git(repo, "commit", "-q", "-m", "handoff: AB-260101-01 Parser work")

    second = [commit(repo, "c.txt", "Fix | pipes in `subjects`")]
    note(repo, "AB-260102-01", "Fixes", second, date="2026-01-02")
    assert changelog.record_session(repo, "AB-260102-01").status == "added"
    text = (repo / "CHANGELOG.md").read_text()

    assert text == changelog.HEADER + "\n" + (
        f"## 2026-01-02 · [AB-260102-01](docs/sessions/AB-260102-01.md) · Fixes\n\n"
        f"- `{second[0][:12]}` Fix | pipes in `subjects`\n\n"
        f"## 2026-01-01 · [AB-260101-01](docs/sessions/AB-260101-01.md) · Parser work\n\n"
        f"- `{first[0][:12]}` Add the parser\n"
        f"- `{first[1][:12]}` Parse dates too\n"
    )
    # the earlier entry is byte-for-byte what the first handoff wrote
    assert text.endswith(text_after_first[len(changelog.HEADER) + 1:])


def test_running_the_step_twice_adds_one_entry(repo: Path) -> None:
    commit(repo, "a.txt", "One")
    note(repo, "AB-260101-01", "Once", [git(repo, "rev-parse", "HEAD").strip()])
    changelog.record_session(repo, "AB-260101-01")
    before = (repo / "CHANGELOG.md").read_bytes()
    assert changelog.record_session(repo, "AB-260101-01").status == "exists"
    assert (repo / "CHANGELOG.md").read_bytes() == before


def test_entry_goes_after_a_hand_written_header_and_keeps_crlf(repo: Path) -> None:
    (repo / "CHANGELOG.md").write_bytes(b"# Our changes\r\n\r\nKept by hand.\r\n\r\n## 2025-12-01 \xc2\xb7 Old\r\n\r\n- x\r\n")
    note(repo, "AB-260101-01", "New", [])
    changelog.record_session(repo, "AB-260101-01")
    assert (repo / "CHANGELOG.md").read_bytes() == (
        b"# Our changes\r\n\r\nKept by hand.\r\n\r\n"
        b"## 2026-01-01 \xc2\xb7 [AB-260101-01](docs/sessions/AB-260101-01.md) \xc2\xb7 New\r\n\r\n- no commits\r\n\r\n"
        b"## 2025-12-01 \xc2\xb7 Old\r\n\r\n- x\r\n"
    )


def test_without_recorded_commits_those_since_started_at_are_used(repo: Path) -> None:
    long_ago = {"GIT_COMMITTER_DATE": "2020-01-01T00:00:00Z", "GIT_AUTHOR_DATE": "2020-01-01T00:00:00Z"}
    (repo / "old.txt").write_text("old\n")
    git(repo, "add", "old.txt")
    subprocess.run(["git", "commit", "-q", "-m", "Long ago"], cwd=repo, check=True, env={**os.environ, **long_ago})
    mine = commit(repo, "new.txt", "Today")
    commit(repo, "h.txt", "handoff: AB-251231-01 bookkeeping")
    note(repo, "AB-260101-01", "Since", None, started_at="2025-01-01T00:00:00Z")
    entry = changelog.entry_for_session(repo, "AB-260101-01")
    assert [(c.sha, c.subject) for c in entry.commits] == [(mine, "Today")]
    since = changelog.entry_for_session(repo, "AB-260101-01", since="2019-01-01T00:00:00Z")
    assert [c.subject for c in since.commits] == ["Long ago", "Today"]


def test_a_recorded_commit_git_does_not_know_is_listed_as_such(repo: Path) -> None:
    real = commit(repo, "a.txt", "Real")
    note(repo, "AB-260101-01", "Gone", [real, "0123456789ab"])
    entry = changelog.entry_for_session(repo, "AB-260101-01")
    assert [c.sha for c in entry.commits] == [real]
    assert "- `0123456789ab` (not in this repository)" in entry.render()


def test_missing_note_is_an_error(repo: Path) -> None:
    with pytest.raises(BatonError, match="no such file"):
        changelog.record_session(repo, "AB-260101-01")


def test_a_re_claimed_id_renames_its_entry_only(repo: Path) -> None:
    note(repo, "AB-260101-01", "Earlier", [])
    changelog.record_session(repo, "AB-260101-01")
    note(repo, "AB-260102-01", "Renamed later", [])
    changelog.record_session(repo, "AB-260102-01")
    assert changelog.rename_entry(repo, "AB-260102-01", "AB-260102-02")
    text = (repo / "CHANGELOG.md").read_text()
    assert "## 2026-01-01 · [AB-260102-02](docs/sessions/AB-260102-02.md) · Renamed later" in text
    assert "[AB-260101-01](docs/sessions/AB-260101-01.md)" in text and "AB-260102-01" not in text
    assert not changelog.rename_entry(repo, "AB-260102-01", "AB-260102-03")


def test_without_recorded_commits_installing_baton_is_not_the_sessions_work(repo: Path) -> None:
    (repo / ".baton").mkdir()
    (repo / ".baton" / "manifest.json").write_text('{"files": {".claude/commands/handoff.md": "sha256:x"}}\n')
    (repo / ".claude" / "commands").mkdir(parents=True)
    (repo / ".claude" / "commands" / "handoff.md").write_text("installed\n")
    (repo / ".gitattributes").write_text("CHANGELOG.md merge=baton\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Install baton")
    commit(repo, ".baton/README.md", "Upgrade baton's own folder")
    mine = commit(repo, "src.txt", "The session's work")
    note(repo, "AB-260101-01", "Since", None, started_at="2025-01-01T00:00:00Z")
    entry = changelog.entry_for_session(repo, "AB-260101-01")
    assert [(c.sha, c.subject) for c in entry.commits] == [(mine, "The session's work")]


def test_a_commit_id_yaml_read_as_a_number_is_listed_as_missing_not_dropped(repo: Path) -> None:
    sha = commit(repo, "a.txt", "One")
    lines = ["title: t", "operator: ab", "summary: s.", "tags: []", "kind: session", "external_id: AB-260101-01",
             "status: written", "outcome: done", "date: 2026-01-01", f"commits: [{sha[:12]}, 4867450389e8]"]
    (repo / "docs/sessions/AB-260101-01.md").write_text("---\n" + "\n".join(lines) + "\n---\n## Summary\n")
    entry = changelog.entry_for_session(repo, "AB-260101-01")
    assert [c.sha for c in entry.commits] == [sha]
    assert len(entry.missing_commits) == 1 and "(not in this repository)" in entry.render()
