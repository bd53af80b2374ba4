"""scripts/search.py: ranked hits with snippets, a note written a moment ago, JSON, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_script
from store_factory import session


@pytest.fixture
def store(repo: Path) -> Path:
    session(repo, "RT-261120-01", "rt", "2026-11-20", title="Datum conversion", workstream="tide-api",
            summary="Heights relative to chart datum.", decisions="- Chart datum is opt-in.")
    session(repo, "SK-261121-01", "sk", "2026-11-21", title="Alerts fallback", outcome="blocked",
            summary="E-mail when SMS fails; datum untouched.")
    return repo


def search(root: Path, *args: str) -> tuple[int, str, str]:
    result = run_script("search.py", *args, "--root", str(root), cwd=root)
    return result.returncode, result.stdout, result.stderr


def test_hits_are_ranked_with_a_highlighted_snippet_each(store: Path) -> None:
    code, out, err = search(store, "datum")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("RT-261120-01  session  2026-11-20  rt  Datum conversion")
    assert "**Datum**" in lines[1] or "**datum**" in lines[1]
    assert lines[2].strip() == "docs/sessions/RT-261120-01.md"
    assert lines[3].startswith("SK-261121-01") and lines[-1] == "2 notes, best first"


def test_a_note_written_a_moment_ago_is_found(store: Path) -> None:
    assert search(store, "wombat")[1] == "no notes match 'wombat'\n"
    session(store, "RT-261122-01", "rt", "2026-11-22", title="Wombat census")
    code, out, _ = search(store, "wombat")
    assert code == 0 and out.startswith("RT-261122-01")


def test_json_lists_each_hit_with_its_fields_and_snippet(store: Path) -> None:
    code, out, _ = search(store, '"chart datum"', "--json", "--kind", "session", "--operator", "rt",
                          "--workstream", "tide-api", "--since", "2026-11-01", "--outcome", "done", "--limit", "5")
    data = json.loads(out)
    assert code == 0 and data["query"] == '"chart datum"' and data["count"] == 1
    [hit] = data["hits"]
    assert {k: hit[k] for k in ("id", "kind", "operator", "workstream", "path")} == {
        "id": "RT-261120-01", "kind": "session", "operator": "rt", "workstream": "tide-api",
        "path": "docs/sessions/RT-261120-01.md"}
    assert "**chart datum**" in hit["snippet"].lower() and isinstance(hit["score"], float)


def test_filters_apply(store: Path) -> None:
    assert json.loads(search(store, "datum", "--json", "--outcome", "blocked")[1])["count"] == 1
    assert json.loads(search(store, "datum", "--json", "--since", "2026-11-21")[1])["hits"][0]["id"] == "SK-261121-01"


@pytest.mark.parametrize("query", ['"unclosed', "datum AND", "nosuchfield: x"])
def test_a_query_that_is_not_valid_syntax_is_one_line_and_exit_1(store: Path, query: str) -> None:
    code, out, err = search(store, query)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("search.py: error: not a valid search query")
    assert "Traceback" not in err


def test_bad_options_are_refused_by_the_parser(store: Path) -> None:
    code, _, err = search(store, "datum", "--since", "yesterday")
    assert code == 2 and "not a date" in err
    code, _, err = search(store, "datum", "--limit", "0")
    assert code == 2 and "not a positive number" in err
