"""Retiring the Notion pages of deleted notes (`sync_to_notion_oneshot.py --prune`), against the fake server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.fakenotion import FakeNotion
from support.notionstore import meta, session_note, workspace, write_config
from support.paths import run_script

SCRIPT = "sync_to_notion_oneshot.py"


@pytest.fixture
def fake() -> Iterator[FakeNotion]:
    # A short page cap makes the listing follow Notion's pagination.
    with FakeNotion(rate=None) as server:
        server.page_cap = 2
        yield server


def _synced_store(repo: Path, fake: FakeNotion, count: int) -> tuple[list[Path], dict[str, str]]:
    ws = workspace(fake)
    write_config(repo, ws)
    notes = [session_note(repo, f"RT-260511-{i + 1:02d}") for i in range(count)]
    result = run_script(SCRIPT, "--apply", cwd=repo, env=ws.env())
    assert result.returncode == 0, result.stdout + result.stderr
    return notes, ws.env()


def test_dry_run_lists_the_pages_of_deleted_notes_and_archives_nothing(repo: Path, fake: FakeNotion) -> None:
    notes, env = _synced_store(repo, fake, 5)
    gone = [meta(n) for n in notes[:2]]
    for note in notes[:2]:
        note.unlink()
    fake.reset_requests()

    result = run_script(SCRIPT, "--prune", cwd=repo, env=env)

    assert result.returncode == 0, result.stdout + result.stderr
    listed = [line for line in result.stdout.splitlines() if line.startswith("archive ")]
    assert sorted(line.split()[2] for line in listed) == sorted(g["external_id"] for g in gone)
    assert all(g["notion_page_id"] in result.stdout for g in gone)
    assert "2 pages of deleted notes would be moved to Notion's trash (run with --apply)" in result.stdout
    assert fake.write_requests() == []
    assert len(fake.live_pages()) == 5


def test_apply_prune_archives_exactly_the_orphans_and_keeps_hand_made_pages(repo: Path, fake: FakeNotion) -> None:
    notes, env = _synced_store(repo, fake, 5)
    ds = next(iter(fake.data_sources))
    by_hand = fake.add_page(ds, {"Name": "Team notes (made in Notion)"})
    gone = meta(notes[4])
    notes[4].unlink()

    result = run_script(SCRIPT, "--apply", "--prune", "--json", cwd=repo, env=env)

    assert result.returncode == 0, result.stdout + result.stderr
    pruned = json.loads(result.stdout)["pruned"]
    assert [(p["external_id"], p["outcome"]) for p in pruned] == [(gone["external_id"], "archived")]
    live = {p["id"].replace("-", "") for p in fake.live_pages()}
    assert gone["notion_page_id"].replace("-", "") not in live
    assert by_hand.replace("-", "") in live
    assert {meta(n)["notion_page_id"].replace("-", "") for n in notes[:4]} <= live

    again = run_script(SCRIPT, "--prune", cwd=repo, env=env)
    assert "prune: every page's note is still in the repository" in again.stdout


def test_prune_waits_while_a_note_cannot_be_read(repo: Path, fake: FakeNotion) -> None:
    notes, env = _synced_store(repo, fake, 2)
    notes[0].write_text("---\nid: [unclosed\n---\nbody\n", encoding="utf-8")
    fake.reset_requests()

    result = run_script(SCRIPT, "--apply", "--prune", cwd=repo, env=env)

    assert result.returncode == 1
    assert "prune skipped: the sync had errors" in result.stderr
    assert len(fake.live_pages()) == 2  # the unreadable note's page is kept
