"""Filters forgive: operators by slug, initials or name in any case, days as people type them; what still
cannot be used is one message naming the field."""

from __future__ import annotations

import datetime as dt

import pytest
from lib.console.queries import BadRequest, Person, SessionQuery, parse_date, resolve_operator

ROSTER = [Person("theo", "Theo Adebayo", "TA"), Person("mara", "Mara Lindqvist", "ML"),
          Person("ines", "Inès Carvalho", "IC")]
TODAY = dt.date(2026, 12, 6)


@pytest.mark.parametrize("typed", ["theo", "Theo", "THEO ", "  theo", "TA", "ta", "Theo Adebayo", "theo  adebayo"])
def test_an_operator_is_found_by_slug_initials_or_name_in_any_case(typed: str) -> None:
    assert resolve_operator(typed, ROSTER) == "theo"


def test_a_name_with_accents_and_an_unknown_slug_shaped_operator() -> None:
    assert resolve_operator("inès carvalho", ROSTER) == "ines"
    # Notes may name someone who has left the roster: a slug is kept as it is.
    assert resolve_operator("Former-Member", ROSTER) == "former-member"


def test_an_operator_that_matches_nobody_is_one_message_offering_the_roster() -> None:
    with pytest.raises(BadRequest) as caught:
        resolve_operator("Nobody Known", ROSTER)
    assert caught.value.field == "operator"
    assert "nobody called 'Nobody Known'" in str(caught.value) and "Theo Adebayo (theo)" in str(caught.value)


@pytest.mark.parametrize(("typed", "day"), [
    ("2026-12-05", dt.date(2026, 12, 5)), (" 2026/12/05 ", dt.date(2026, 12, 5)), ("05.12.2026", dt.date(2026, 12, 5)),
    ("20261205", dt.date(2026, 12, 5)), ("5 Dec 2026", dt.date(2026, 12, 5)), ("Dec 5, 2026", dt.date(2026, 12, 5)),
    ("today", TODAY), ("Yesterday", dt.date(2026, 12, 5)), ("7d", dt.date(2026, 11, 29)),
    ("2 weeks ago", dt.date(2026, 11, 22)), ("2026-12-05T10:00:00", dt.date(2026, 12, 5)),
])
def test_days_are_read_as_people_type_them(typed: str, day: dt.date) -> None:
    assert parse_date(typed, "since", today=TODAY) == day


def test_a_day_that_cannot_be_read_names_its_field_and_the_accepted_forms() -> None:
    with pytest.raises(BadRequest) as caught:
        parse_date("the day before", "until")
    assert caught.value.field == "until" and "2026-12-05" in str(caught.value)


def test_a_page_query_keeps_the_usable_filters_and_explains_the_rest() -> None:
    errors: dict[str, str] = {}
    query = SessionQuery.from_params({"operator": "ta", "since": "soonish", "limit": "ten", "outcome": "DONE"},
                                     ROSTER, errors=errors)
    assert query.operator == "theo" and query.outcome == "done"
    assert query.since is None and query.limit == 50
    assert set(errors) == {"since", "limit"}


def test_an_api_query_refuses_the_first_unusable_value() -> None:
    with pytest.raises(BadRequest, match="limit"):
        SessionQuery.from_params({"limit": "ten"}, ROSTER)
    with pytest.raises(BadRequest, match="after until"):
        SessionQuery.from_params({"since": "2026-03-05", "until": "2026-03-01"}, ROSTER)
