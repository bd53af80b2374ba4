"""Session ids are parsed in one place."""

from __future__ import annotations

import datetime as dt

import pytest
from lib.store import sessionid


def test_a_current_id_gives_its_parts_and_day() -> None:
    parsed = sessionid.parse("ADA-261205-07")
    assert parsed is not None
    assert (parsed.initials, parsed.yymmdd, parsed.number) == ("ADA", "261205", 7)
    assert parsed.day == dt.date(2026, 12, 5)
    assert str(parsed) == "ADA-261205-07"


@pytest.mark.parametrize("text", ["ada-261205-07", "A-261205-07", "ABCDE-261205-07", "AB-2612-07", "AB-261205-7",
                                  "AB-261205-07\n", "CONV-30", ""])
def test_anything_else_is_not_a_current_id(text: str) -> None:
    assert sessionid.parse(text) is None
    assert not sessionid.is_session_id(text)


def test_an_impossible_date_parses_but_has_no_day() -> None:
    assert sessionid.day_of("AB-261399-01") is None
    assert sessionid.is_session_id("AB-261399-01")


@pytest.mark.parametrize(("text", "legacy"), [("CONV-30", True), ("LOCAL-2026-05-11-1", True), ("CONV-", False),
                                              ("AB-261205-01", False)])
def test_legacy_ids(text: str, legacy: bool) -> None:
    assert sessionid.is_legacy_id(text) is legacy
