"""The one section reader: heading rules, fences, and the callers that rely on it agreeing."""

from __future__ import annotations

import datetime as dt

import pytest
from lib.handoff import worklog
from lib.store import markdown

BODY = """\
Intro text.

## Summary

Did things.

```python
## not a heading inside a fence
```

## next steps:
- one

### Detail
still next steps

# Top

## Session Log
- AB-261201-01 (2026-12-01): x
"""


def test_sections_are_keyed_case_insensitively_and_fences_do_not_split() -> None:
    found = markdown.sections(BODY)
    assert list(found) == ["summary", "next steps", "session log"]
    assert "## not a heading inside a fence" in found["summary"]
    assert found["next steps"].endswith("still next steps")


def test_a_level_one_heading_ends_a_section() -> None:
    assert "Top" not in markdown.sections(BODY)["next steps"]


@pytest.mark.parametrize("heading", ["## Session Log", "##   session   log  ", "## SESSION LOG:", "   ## Session Log ##"])
def test_heading_spellings_match_one_key(heading: str) -> None:
    section = markdown.find_section([heading, "- x"], "Session Log")
    assert section is not None and section.start == 0 and section.end == 2


def test_tilde_and_longer_fences_close_only_on_their_own_kind() -> None:
    lines = ["## A", "~~~~", "```", "## fenced", "~~~", "## still fenced", "~~~~", "## B", "b"]
    assert [s.key for s in markdown.find_sections(lines)] == ["a", "b"]


def test_the_first_of_repeated_headings_wins() -> None:
    assert markdown.sections("## Summary\nfirst\n## Summary\nsecond\n")["summary"] == "first"


def test_select_keeps_headings_and_note_order() -> None:
    assert markdown.select(BODY, ["Session Log", "Summary"]).startswith("## Summary")
    assert markdown.select(BODY, ["nothing"]) == ""


def test_worklog_adds_to_a_lower_case_session_log_instead_of_a_second_one() -> None:
    body = "Intro\n\n## session log\n\n- AB-261201-01 (2026-12-01): old\n"
    entry = worklog.log_line("AB-261202-01", dt.date(2026, 12, 2), "new")
    out, replaced = worklog.insert_entry(body, "AB-261202-01", entry)
    assert out.lower().count("## session log") == 1
    assert out.index("AB-261202-01") < out.index("AB-261201-01")
    assert replaced is False


def test_worklog_ignores_a_session_log_heading_inside_a_code_block() -> None:
    body = "## Notes\n\n```\n## Session Log\n```\n"
    out, _ = worklog.insert_entry(body, "AB-261202-01", "- AB-261202-01 (2026-12-02): new")
    assert out.endswith("## Session Log\n\n- AB-261202-01 (2026-12-02): new\n")
    assert out.count("## Session Log") == 2  # the fenced one untouched, the real one added
