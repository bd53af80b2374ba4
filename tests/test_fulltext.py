"""Full-text search in the store index: BM25 ranking, phrases, prefixes, filters, and hits that follow the files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from lib.store import fulltext
from lib.store.index import Index
from support.store import session, workstream_text, write


@pytest.fixture
def store(repo: Path) -> Path:
    session(repo, "RT-261120-01", "rt", "2026-11-20", title="Datum conversion for chart datum",
            summary="Converted heights to chart datum.", workstream="tide-api", outcome="incomplete",
            decisions="- Chart datum is opt-in; mean sea level stays the default.")
    session(repo, "RT-261121-01", "rt", "2026-11-21", title="Station listing",
            summary="Listed stations; the conversion of units is next.", workstream="tide-api")
    session(repo, "SK-261121-01", "sk", "2026-11-21", title="Alerts fallback",
            summary="E-mail when SMS fails.", workstream="harbour-alerts",
            resume_prompt="Wire the alerts fallback to the relay, then test the datum of the gateway.")
    write(repo, "workstreams/tide-api.md", workstream_text("tide-api", "rt", title="Tide prediction API"))
    write(repo, "docs/adr/ADR-0001-chart-datum.md",
          "---\ntitle: Chart datum by station\nkind: adr\nexternal_id: ADR-0001\nstatus: accepted\n"
          "date: 2026-11-19\n---\n## Decision\n\nKeep one offset per station for chart datum.\n")
    return repo


def search(root: Path, query: str, **kwargs: object) -> list[fulltext.Hit]:
    with Index(root) as index:
        index.refresh(validate=False)
        return fulltext.search(index, query, **kwargs)  # type: ignore[arg-type]


def ids(hits: list[fulltext.Hit]) -> list[str]:
    return [h.note.id for h in hits]


def test_a_title_match_ranks_above_a_body_match(store: Path) -> None:
    hits = search(store, "datum")
    assert ids(hits)[0] == "RT-261120-01"  # the title says datum twice
    assert ids(hits)[-1] == "SK-261121-01"  # only its Resume Prompt mentions it
    assert [h.score for h in hits] == sorted(h.score for h in hits)


def test_every_hit_has_a_one_line_snippet_with_the_matches_marked(store: Path) -> None:
    for hit in search(store, "datum"):
        assert "\n" not in hit.snippet
        assert f"{fulltext.MARK_START}" in hit.snippet and fulltext.MARK_END in hit.snippet
        assert "[datum]" in hit.plain_snippet("[", "]").lower()


def test_a_phrase_matches_only_the_words_together(store: Path) -> None:
    assert ids(search(store, '"alerts fallback"')) == ["SK-261121-01"]
    assert ids(search(store, '"fallback alerts"')) == []


def test_a_prefix_matches_every_word_that_starts_with_it(store: Path) -> None:
    assert set(ids(search(store, "conver*"))) == {"RT-261120-01", "RT-261121-01"}


def test_every_section_is_searched_decisions_questions_and_resume_prompt_included(store: Path) -> None:
    assert ids(search(store, "opt-in")) == ["RT-261120-01"]  # Decisions
    assert ids(search(store, "relay")) == ["SK-261121-01"]  # Resume Prompt
    assert ids(search(store, "offset per station")) == ["ADR-0001"]  # an ADR's Decision
    assert set(ids(search(store, "decisions: datum"))) == {"RT-261120-01", "ADR-0001"}


def test_an_id_or_a_slug_with_punctuation_is_searched_as_a_phrase(store: Path) -> None:
    assert "RT-261120-01" in ids(search(store, "RT-261120-01"))
    assert set(ids(search(store, "tide-api", kind="session"))) == {"RT-261120-01", "RT-261121-01"}


@pytest.mark.parametrize("query", ['"unclosed', "datum AND", "(datum", "nosuchfield: datum", "AND", "*"])
def test_a_query_that_is_not_valid_syntax_is_a_one_line_query_error(store: Path, query: str) -> None:
    with pytest.raises(fulltext.QueryError) as caught:
        search(store, query)
    assert "\n" not in str(caught.value) and "not a valid search query" in str(caught.value)


def test_an_empty_query_is_refused(store: Path) -> None:
    with pytest.raises(fulltext.QueryError, match="empty query"):
        search(store, "   ")


def test_filters_narrow_the_hits(store: Path) -> None:
    assert ids(search(store, "datum", kind="adr")) == ["ADR-0001"]
    assert ids(search(store, "datum", operator="sk")) == ["SK-261121-01"]
    assert ids(search(store, "datum", workstream="tide-api")) == ["RT-261120-01"]
    assert ids(search(store, "datum", outcome="incomplete")) == ["RT-261120-01"]
    assert set(ids(search(store, "datum", since="2026-11-20"))) == {"RT-261120-01", "SK-261121-01"}
    assert len(search(store, "datum", limit=2)) == 2


def test_hits_follow_edits_deletions_and_renames_of_the_files(store: Path) -> None:
    with Index(store) as index:
        index.refresh()
        assert ids(fulltext.search(index, "datum", kind="adr")) == ["ADR-0001"]
        adr = store / "docs/adr/ADR-0001-chart-datum.md"
        adr.write_text(adr.read_text().replace("one offset per station", "lowest astronomical tide"),
                       encoding="utf-8")
        index.refresh()
        assert ids(fulltext.search(index, "astronomical")) == ["ADR-0001"]
        assert fulltext.search(index, "offset") == []  # the old text is gone with the old version
        os.rename(store / "docs/sessions/SK-261121-01.md", store / "docs/sessions/SK-261121-02.md")
        index.refresh()
        assert [h.note.path for h in fulltext.search(index, "relay")] == ["docs/sessions/SK-261121-02.md"]
        (store / "docs/sessions/SK-261121-02.md").unlink()
        index.refresh()
        assert fulltext.search(index, "relay") == []
        # One full-text row per note, whatever happened to the files.
        assert index.select("SELECT COUNT(*) FROM fts")[0][0] == index.count()


def test_a_note_written_after_the_last_refresh_is_found_by_the_next_one(store: Path) -> None:
    with Index(store) as index:
        index.refresh()
        session(store, "RT-261122-01", "rt", "2026-11-22", title="Brand new", summary="Quokka sightings.")
        index.refresh(validate=False)
        assert ids(fulltext.search(index, "quokka")) == ["RT-261122-01"]


def test_related_notes_leave_out_the_workstreams_own_sessions(store: Path) -> None:
    with Index(store) as index:
        index.refresh()
        hits = fulltext.search_related(index, "tide-api Tide prediction API chart datum", workstream="tide-api",
                                       exclude=["workstreams/tide-api.md"])
        assert ids(hits) and all(h.note.workstream != "tide-api" for h in hits)
        assert "ADR-0001" in ids(hits) and len(hits) <= 3


def test_column_text_marks_the_matches_of_one_column(store: Path) -> None:
    with Index(store) as index:
        index.refresh()
        text = fulltext.column_text(index, "docs/sessions/RT-261120-01.md", "decisions", "opt*")
        assert f"{fulltext.MARK_START}opt{fulltext.MARK_END}-in" in text
        assert fulltext.column_text(index, "docs/sessions/RT-261120-01.md", "title") == \
            "Datum conversion for chart datum"


def test_a_symlinked_note_is_reported_and_its_target_never_searched(store: Path, tmp_path: Path) -> None:
    secret = tmp_path / "credentials.md"
    secret.write_text("---\ntitle: keys\n---\n## Key\n\nhunter2 wombat\n", encoding="utf-8")
    (store / "docs/sessions/RT-261122-09.md").symlink_to(secret)
    with Index(store) as index:
        index.refresh()
        assert fulltext.search(index, "hunter2") == []
        problems = index.select("SELECT problems FROM docs WHERE path = 'docs/sessions/RT-261122-09.md'")
        assert "cannot read" in problems[0][0]


def test_notes_that_score_the_same_come_newest_first_across_the_limit(repo: Path) -> None:
    for day in (18, 22, 20, 21, 19):  # the same text: the same score
        session(repo, f"RT-2611{day}-01", "rt", f"2026-11-{day}", title="Buoy drift", summary="Same words.")
    session(repo, "RT-261117-01", "rt", "2026-11-17", title="Buoy drift buoy drift", summary="More of them.")
    for limit in (1, 2, 3, 6):
        unfiltered = ids(search(repo, "buoy", limit=limit))
        assert unfiltered == ["RT-261117-01", "RT-261122-01", "RT-261121-01", "RT-261120-01", "RT-261119-01",
                              "RT-261118-01"][:limit]
        assert ids(search(repo, "buoy", limit=limit, kind="session")) == unfiltered
