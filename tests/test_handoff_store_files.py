"""What a handoff writes besides the note: the workstream's Session Log and the two INDEX.md tables."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from lib.handoff import listings, worklog
from support.handoff import WORKSTREAM, content, git, helper, helper_json, start, write


def _frontmatter_block(text: str) -> str:
    return text.split("\n---\n", 1)[0]


# ----------------------------------------------------------------- Session Log

def _day(session_id: str) -> str:
    day = session_id.split("-")[1]
    return f"20{day[:2]}-{day[2:4]}-{day[4:]}"


def test_append_log_puts_the_line_first_and_leaves_the_frontmatter_byte_for_byte(store: Path) -> None:
    started = start(store)
    write(store, started["id"], content())
    result = helper_json(store, "append-log", "--id", started["id"], "--line", "Sign-in  form\nbuilt")
    assert result["written"] and not result["replaced"]
    text = (store / "workstreams" / "auth.md").read_text()
    assert _frontmatter_block(text) == _frontmatter_block(WORKSTREAM)  # comment included
    log = text.split("## Session Log\n", 1)[1]
    day = started["id"].split("-")[1]
    expected = (f"- [{started['id']}](../docs/sessions/{started['id']}.md) (20{day[:2]}-{day[2:4]}-{day[4:]}): "
                "Sign-in form built")
    assert log == f"\n{expected}\n- RT-250101-01 (2025-01-01): Started the work.\n"


def test_append_log_again_replaces_the_session_line(store: Path) -> None:
    started = start(store)
    write(store, started["id"], content())
    helper(store, "append-log", "--id", started["id"], "--line", "first")
    again = helper_json(store, "append-log", "--id", started["id"], "--line", "second")
    assert again["replaced"]
    text = (store / "workstreams" / "auth.md").read_text()
    assert [line for line in text.splitlines() if started["id"] in line] == [
        f"- [{started['id']}](../docs/sessions/{started['id']}.md) ({_day(started['id'])}): second"]


def test_append_log_defaults_to_the_note_workstream_and_title(store: Path) -> None:
    started = start(store)
    write(store, started["id"], content(title="Logout"))
    helper(store, "append-log", "--id", started["id"])
    assert f"- [{started['id']}](../docs/sessions/{started['id']}.md) (" in (store / "workstreams" / "auth.md").read_text()
    assert "): Logout\n" in (store / "workstreams" / "auth.md").read_text()


def test_a_missing_workstream_is_only_a_warning(store: Path) -> None:
    started = start(store)
    write(store, started["id"], content(workstream="billing"))
    result = helper(store, "append-log", "--id", started["id"], "--line", "x", "--json")
    assert not json.loads(result.stdout)["written"]
    assert "workstreams/billing.md: no such workstream" in result.stderr
    nothing = start(store, env={"CLAUDE_CODE_SESSION_ID": "no-workstream"})
    write(store, nothing["id"], content(workstream=None), env={"CLAUDE_CODE_SESSION_ID": "no-workstream"})
    quiet = helper(store, "append-log", "--id", nothing["id"], "--line", "x")
    assert "names no workstream" in quiet.stderr


def test_a_workstream_with_the_users_own_edits_is_reported(store: Path) -> None:
    path = store / "workstreams" / "auth.md"
    path.write_text(path.read_text().replace("Sign-in works.", "Sign-in works, also on mobile."))
    started = start(store)
    write(store, started["id"], content())
    result = helper(store, "append-log", "--id", started["id"], "--line", "x")
    assert "already had uncommitted changes" in result.stderr
    staged = helper_json(store, "stage", "--id", started["id"])
    assert staged["preexisting_changes"] == ["workstreams/auth.md"]


@pytest.mark.parametrize(("body", "expected"), [
    ("## Goal\n\nG.\n", "## Goal\n\nG.\n\n## Session Log\n\nENTRY\n"),
    ("## Session Log\n", "## Session Log\n\nENTRY\n"),
    ("## Session Log\n\n## Notes\n\nN.\n", "## Session Log\n\nENTRY\n\n## Notes\n\nN.\n"),
    ("## Session Log\n\nNewest first.\n", "## Session Log\n\nNewest first.\n\nENTRY\n"),
    ("## Session Log\n\n- OLD (2025-01-01): a\n\n## Next\n", "## Session Log\n\nENTRY\n- OLD (2025-01-01): a\n\n## Next\n"),
    ("## Session Log\r\n\r\n- OLD (2025-01-01): a\r\n", "## Session Log\r\n\r\nENTRY\r\n- OLD (2025-01-01): a\r\n"),
    ("```\n## Session Log\n```\n", "```\n## Session Log\n```\n\n## Session Log\n\nENTRY\n"),
    ("", "## Session Log\n\nENTRY\n"),
])
def test_insert_entry_shapes(body: str, expected: str) -> None:
    out, replaced = worklog.insert_entry(body, "RT-250102-01", "ENTRY")
    assert out == expected and not replaced


# ----------------------------------------------------------------- indexes

SESSIONS = {
    "RT-250102-01": "---\nkind: session\nexternal_id: RT-250102-01\nstatus: written\ntitle: T\noperator: rita\n"
                    "summary: 'Pipes | and\n  newlines'\ntags: []\noutcome: done\ndate: 2025-01-02\n---\n",
    "SK-250103-01": "---\nkind: session\nexternal_id: SK-250103-01\nstatus: written\ntitle: T\noperator: sam\n"
                    "summary: Later.\ntags: []\noutcome: done\ndate: 2025-01-03\n---\n",
    "CONV-7": "---\nkind: session\nexternal_id: CONV-7\nsummary: Legacy.\ntags: []\ndate: 2024-12-01\noperator: rita\n---\n",
    "RT-250104-01": "---\nkind: session\nexternal_id: RT-250104-01\noperator: rita\nstatus: claimed\n"
                    "claimed_at: 2025-01-04T09:00:00Z\n---\n",
}
WORKSTREAMS = {
    "zeta": "---\nkind: workstream\nexternal_id: zeta\nowner: sam\nsummary: Z.\ntags: []\nstatus: done\n---\n",
    "alpha": "---\nkind: workstream\nexternal_id: alpha\nowner: rita\nsummary: A.\ntags: []\nstatus: paused\n---\n",
}


def _fill(root: Path, order: list[str]) -> None:
    for name in order:
        if name in SESSIONS:
            (root / "docs" / "sessions" / f"{name}.md").write_text(SESSIONS[name])
        else:
            (root / "workstreams" / f"{name}.md").write_text(WORKSTREAMS[name])


def test_indexes_are_deterministic_whatever_order_the_notes_came_in(tmp_path: Path) -> None:
    outputs = []
    for n, order in enumerate((["RT-250102-01", "SK-250103-01", "CONV-7", "RT-250104-01", "zeta", "alpha"],
                               ["alpha", "RT-250104-01", "CONV-7", "zeta", "SK-250103-01", "RT-250102-01"])):
        root = tmp_path / f"r{n}"
        for folder in ("docs/sessions", "workstreams"):
            (root / folder).mkdir(parents=True)
        _fill(root, order)
        first = listings.regen_indexes(root)
        assert sorted(first.written) == [listings.SESSIONS_INDEX, listings.WORKSTREAMS_INDEX]
        second = listings.regen_indexes(root)
        assert second.written == [] and sorted(second.unchanged) == sorted(first.written)
        outputs.append(((root / listings.SESSIONS_INDEX).read_bytes(), (root / listings.WORKSTREAMS_INDEX).read_bytes()))
    assert outputs[0] == outputs[1]
    sessions = outputs[0][0].decode()
    rows = [line for line in sessions.splitlines() if line.startswith("| [")]
    assert [r.split("]")[0][3:] for r in rows] == ["SK-250103-01", "RT-250102-01", "CONV-7"]  # newest first
    assert "RT-250104-01" not in sessions  # a claim stub is not a session yet
    assert "| Pipes \\| and newlines |" in sessions
    workstreams = outputs[0][1].decode()
    assert workstreams.index("(alpha.md)") < workstreams.index("(zeta.md)")  # paused before done


def test_regen_index_records_its_files_for_the_commit(store: Path) -> None:
    started = start(store)
    write(store, started["id"], content())
    helper(store, "regen-index", "--id", started["id"])
    helper(store, "commit", "--id", started["id"])
    files = git(store, "show", "--name-only", "--format=", "HEAD").split()
    assert sorted(files) == sorted([started["path"], "docs/sessions/INDEX.md", "workstreams/INDEX.md"])


def _age(*paths: Path) -> None:
    """Date files an hour back: a file changed just before the indexes were made is re-checked (racy)."""
    past = time.time_ns() - 3600 * 10**9
    for path in paths:
        os.utime(path, ns=(past, past))


def test_indexes_know_when_a_note_changed_after_them(store: Path) -> None:
    workstream = store / "workstreams" / "auth.md"
    _age(workstream)
    listings.regen_indexes(store)
    assert not listings.is_stale(store)
    started = start(store)
    assert listings.is_stale(store)  # a new claim stub
    _age(store / started["path"])
    listings.regen_indexes(store)
    assert not listings.is_stale(store)
    (store / started["path"]).unlink()
    assert listings.is_stale(store)  # a removal
    listings.regen_indexes(store)
    workstream.write_text(workstream.read_text() + "\nMore.\n")
    assert listings.is_stale(store)  # an edit, even in the same tick as the indexes
