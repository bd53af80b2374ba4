"""yamlio: the fast reader and the round-trip loader share one pinned interpretation (YAML 1.2)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from lib import yamlio

# Scalars on which YAML 1.1 (PyYAML's default) and 1.2 (ruamel's) disagree, and what we pin.
PINNED: list[tuple[str, Any]] = [
    ("yes", "yes"), ("no", "no"), ("on", "on"), ("off", "off"), ("y", "y"), ("Yes", "Yes"),
    ("true", True), ("False", False), ("TRUE", True),
    ("010", 10), ("0o10", 8), ("0x1F", 31), ("0b101", 5), ("1_000", 1000), ("+12", 12), ("-0o7", -7),
    ("1:30", "1:30"), ("12:30:00", "12:30:00"), ("1.5e3", 1500.0), ("1e3", 1000.0), (".inf", float("inf")),
    ("~", None), ("null", None), ("", None), ("'010'", "010"),
    ("2024-05-01", dt.date(2024, 5, 1)), ("2024-5-1", "2024-5-1"),
    ("2024-05-01T10:00:00Z", dt.datetime(2024, 5, 1, 10, tzinfo=dt.UTC)),
    ("2024-05-01 10:00:00+02:00", dt.datetime(2024, 5, 1, 10, tzinfo=dt.timezone(dt.timedelta(hours=2)))),
    ("2024-05-01T10:00:00.123", dt.datetime(2024, 5, 1, 10, 0, 0, 123000)),
]


@pytest.mark.parametrize(("scalar", "expected"), PINNED, ids=[s or "<empty>" for s, _ in PINNED])
def test_both_paths_read_the_pinned_value(scalar: str, expected: Any) -> None:
    text = f"key: {scalar}\n"
    fast = yamlio.load(text)["key"]
    slow = yamlio.to_plain(yamlio.round_trip_yaml().load(text))["key"]
    assert yamlio.same_values(fast, expected)
    assert yamlio.same_values(slow, expected)


def test_same_values_compares_types() -> None:
    assert not yamlio.same_values(True, 1)
    assert not yamlio.same_values(1, 1.0)
    assert yamlio.same_values({"a": [1, {"b": None}]}, {"a": [1, {"b": None}]})


def test_unknown_and_python_tags_are_refused() -> None:
    for text in ("a: !!python/object:os.system x\n", "a: !!python/name:os.system\n", "a: !local x\n"):
        with pytest.raises(yamlio.YAMLLoadError, match="unsupported YAML tag"):
            yamlio.load(text)


def test_key_line_finds_nested_keys() -> None:
    text = "a: 1\nb:\n  c: [1, 2]\n  d:\n    - x\n    - y\n"
    assert yamlio.key_line(text, ["a"]) == 1
    assert yamlio.key_line(text, ["b", "d"]) == 4
    assert yamlio.key_line(text, ["b", "d", 1]) == 6
    assert yamlio.key_line(text, ["missing"]) is None
