"""The MCP tools' answers: compact hits, chosen sections, every answer within its token budget."""

from __future__ import annotations

from pathlib import Path

import pytest
from lib.core.errors import BatonError
from lib.recall import answers
from lib.store.index import Index
from store_factory import session, workstream_text, write


@pytest.fixture
def index(repo: Path) -> Index:
    for i in range(1, 21):
        session(repo, f"RT-2611{i:02d}-01", "rt" if i % 2 else "sk", f"2026-11-{i:02d}",
                title=f"Gateway work {i}", workstream="alerts",
                summary=f"Session {i} on the alerts gateway. " + "Long words about the gateway. " * 20,
                decisions=f"- Gateway retries: {i} times.\n- Keep the relay.")
    write(repo, "workstreams/alerts.md", workstream_text("alerts", "rt", title="Harbour alerts"))
    write(repo, "workstreams/old.md", workstream_text("old", "sk", status="done"))
    idx = Index(repo)
    idx.refresh()
    return idx


def test_search_hits_are_compact_lines_of_at_most_about_100_tokens(index: Index) -> None:
    text = answers.search_notes(index, "gateway", limit=5, budget=5000)
    hits = [block for block in text.split("\n- ")[1:]]
    assert len(hits) == 5 and "[cut:" not in text
    for hit in hits:
        assert answers.tokens(hit) <= answers.HIT_TOKENS
        assert hit.count(" | ") == 4 and "**gateway**" in hit.lower()


def test_an_answer_over_budget_is_cut_with_a_note_saying_what(index: Index) -> None:
    text = answers.search_notes(index, "gateway", limit=20, budget=200)
    assert answers.tokens(text) <= 200 + 30  # the note on what was cut is the only extra
    assert text.splitlines()[-1].startswith("[cut: ") and "more hits" in text


def test_get_note_returns_the_chosen_sections_or_all(index: Index) -> None:
    one = answers.get_note(index, "RT-261103-01", sections=["decisions"])
    assert "## Decisions" in one and "Gateway retries: 3 times." in one and "## Resume Prompt" not in one
    every = answers.get_note(index, "docs/sessions/RT-261103-01.md")
    assert "## Decisions" in every and "## Resume Prompt" in every and "## Open questions" in every
    assert "outcome: done" in every and "workstream: alerts" in every


def test_get_note_cuts_a_long_section_and_says_so(index: Index) -> None:
    text = answers.get_note(index, "RT-261103-01", budget=120)
    assert answers.tokens(text) <= 120 + 40 and "[cut: " in text


def test_get_note_of_an_unknown_id_is_a_clear_error(index: Index) -> None:
    with pytest.raises(BatonError, match="no note with id 'XX-000000-00'"):
        answers.get_note(index, "XX-000000-00")


def test_get_note_never_reads_through_a_symlink(index: Index, repo: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.md"
    secret.write_text("---\ntitle: secret\n---\n## Key\n\nhunter2\n", encoding="utf-8")
    (repo / "docs/sessions/LINK-1.md").symlink_to(secret)
    index.refresh()
    with pytest.raises(BatonError, match="cannot read"):
        answers.get_note(index, "LINK-1")


def test_recent_sessions_of_the_team_or_one_operator(index: Index) -> None:
    team = answers.recent_sessions(index, limit=3)
    assert team.splitlines()[1].startswith("- RT-261120-01 | session | 2026-11-20 | sk")
    mine = answers.recent_sessions(index, operator="rt", limit=2)
    assert "RT-261119-01" in mine and "| sk |" not in mine
    assert answers.recent_sessions(index, operator="nobody") == "no sessions by nobody"


def test_list_workstreams_shows_live_ones_with_their_last_session(index: Index) -> None:
    text = answers.list_workstreams(index)
    assert "- alerts | active | rt | Harbour alerts | RT-261120-01 (2026-11-20)" in text and "old" not in text
    assert "- old | done" in answers.list_workstreams(index, include_closed=True)


def test_decisions_returns_the_matching_decisions_sections(index: Index) -> None:
    text = answers.decisions(index, "relay", limit=2)
    assert text.count("Gateway retries") == 2 and "**relay**" in text
    assert answers.decisions(index, "nothing-like-this") == "no decisions match 'nothing-like-this'"
