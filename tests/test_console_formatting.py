"""One money format, durations, and relative times that carry the UTC time for hover."""

from __future__ import annotations

import datetime as dt

import pytest
from lib.console import formatting


@pytest.mark.parametrize(("value", "text"), [
    (0.41, "$0.41"), (1.25, "$1.25"), (0, "$0.00"), (1250.5, "$1,250.50"), (0.004, "<$0.01"), (-2, "-$2.00"),
    (None, "–"), ("1", "–"), (True, "–"), (float("nan"), "–"),
])
def test_money_has_one_format(value: object, text: str) -> None:
    assert formatting.money(value) == text


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0 s"), (59, "59 s"), (60, "1 min"), (3599, "59 min"), (3600, "1 h"), (4320, "1 h 12 min"),
    (86400 + 3 * 3600, "1 d 3 h"), (None, "–"), (-1, "–"),
])
def test_durations_read_at_a_glance(seconds: object, text: str) -> None:
    assert formatting.duration(seconds) == text


def test_a_relative_time_has_the_utc_time_on_hover() -> None:
    stamp = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5, seconds=3)).isoformat(timespec="seconds")
    html = str(formatting.when(stamp))
    assert ">5 min ago</time>" in html and ' UTC"' in html and 'datetime="' in html
    assert formatting.utc("2026-12-05T14:03:09+01:00") == "2026-12-05 13:03 UTC"
    assert formatting.utc("2026-12-05T14:03:09") == "2026-12-05 14:03 UTC"
    assert str(formatting.when(None)) == "–"


def test_operators_show_by_name_with_the_slug_on_hover_and_markup_escaped() -> None:
    names = {"theo": "Theo <Adebayo>"}
    assert str(formatting.who("theo", names)) == '<span title="theo">Theo &lt;Adebayo&gt;</span>'
    assert str(formatting.who("<b>x</b>", names)) == "&lt;b&gt;x&lt;/b&gt;"
    assert str(formatting.who(None, names)) == "–"
