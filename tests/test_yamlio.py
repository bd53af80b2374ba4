"""yamlio: the fast reader and the round-trip loader share one pinned interpretation (YAML 1.2)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from lib.store import roundtrip, yamlbounds, yamlio

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
    slow = roundtrip.to_plain(roundtrip.round_trip_yaml().load(text))["key"]
    assert roundtrip.same_values(fast, expected)
    assert roundtrip.same_values(slow, expected)


def test_same_values_compares_types() -> None:
    assert not roundtrip.same_values(True, 1)
    assert not roundtrip.same_values(1, 1.0)
    assert roundtrip.same_values({"a": [1, {"b": None}]}, {"a": [1, {"b": None}]})


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


# ---------------------------------------------------------------- load_jsonable

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

AWKWARD = [
    "base: &b {x: 1, y: [a, b]}\nother:\n  <<: *b\n  z: 2\n",          # merge key
    "a: &x [1, 2]\nb: *x\n",                                            # shared alias
    "1: one\ntrue: yes\nnull: nothing\n2024-05-01: date key\n",        # keys that are not strings
    "data: !!binary aGVsbG8=\n",                                        # bytes
    "s: !!set {a, b}\n",                                                # a set
    "q: !!str 010\ni: !!int '12'\nf: !!float '1'\n",                   # explicit core tags
    "when: 2024-05-01T10:00:00.5+02:00\nday: 2024-05-01\n",            # timestamps
    "x: .nan\ny: -.inf\nz: 0x1F\nw: 1_000\n",                          # numbers
    "dup: 1\ndup: 2\n",                                                 # duplicate keys
    "- a\n- {b: c}\n", "just a string\n", "", "---\n", "a: b\n---\nc: d\n",  # not mappings, two documents
    "a: !local x\n", "a: [unclosed\n",                                 # errors
]


def _outcome(load: Any, text: str) -> Any:
    try:
        return ("ok", load(text))
    except yamlio.YAMLLoadError as exc:
        return ("error", str(exc), exc.line)


@pytest.mark.parametrize("text", AWKWARD)
def test_load_jsonable_matches_load_then_jsonable(text: str) -> None:
    direct = _outcome(yamlio.load_jsonable, text)
    ordinary = _outcome(lambda t: yamlio.jsonable(yamlio.load(t)), text)
    assert direct[0] == ordinary[0]
    if direct[0] == "ok":
        assert roundtrip.same_values(direct[1], ordinary[1]) or (direct[1] != direct[1] and ordinary[1] != ordinary[1])
    else:
        assert direct == ordinary


_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False, width=32),
    st.dates(), st.datetimes(timezones=st.sampled_from([None, dt.UTC])),
    st.text(max_size=12), st.sampled_from(["yes", "no", "on", "010", "1:30", "0x1F", "~", "2024-5-1"]),
)
_DATA = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


def test_load_jsonable_refuses_an_alias_inside_its_own_anchor() -> None:
    # load() builds the recursive list; jsonable() of it would never end.
    with pytest.raises(yamlio.YAMLLoadError, match="alias refers to a node that contains it") as caught:
        yamlio.load_jsonable("ok: 1\na: &x [1, *x]\n")
    assert caught.value.line == 2


@settings(max_examples=200, deadline=None)
@given(data=st.dictionaries(st.text(max_size=10), _DATA, max_size=6), flow=st.booleans())
def test_load_jsonable_matches_on_generated_documents(data: dict[str, Any], flow: bool) -> None:
    import yaml

    text = yaml.safe_dump(data, default_flow_style=flow, allow_unicode=True)
    assert roundtrip.same_values(yamlio.load_jsonable(text), yamlio.jsonable(yamlio.load(text)))


def test_an_alias_inside_its_own_anchor_is_refused_not_recursed_forever() -> None:
    with pytest.raises(yamlio.YAMLLoadError, match="alias refers to a node that contains it"):
        yamlio.load("a: &x [1, *x]\n")
    assert yamlio.load("a: &x [1, 2]\nb: *x\n") == {"a": [1, 2], "b": [1, 2]}  # a shared value is fine


# ---------------------------------------------------------------- bounds


def _laughs(levels: int) -> str:
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("load", [yamlio.load, yamlio.load_jsonable])
def test_nested_aliases_are_refused_before_they_expand(load: Any) -> None:
    text = _laughs(8)  # 9**9 strings once expanded
    assert len(text.encode()) < 500
    started = time.perf_counter()
    with pytest.raises(yamlio.YAMLLoadError, match="aliases expand to more than the limit of 10000 nodes"):
        load(text)
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("load", [yamlio.load, yamlio.load_jsonable])
def test_merge_keys_count_as_aliases(load: Any) -> None:
    text = "a: &a {x: 1, y: 2}\n" + "".join(
        f"m{i}: &m{i} {{<<: [" + ",".join([f"*{'a' if i == 0 else f'm{i - 1}'}"] * 9) + "]}\n" for i in range(8))
    with pytest.raises(yamlio.YAMLLoadError, match="aliases expand"):
        load(text)


def test_aliases_within_the_limit_still_load() -> None:
    assert yamlio.load(_laughs(3)) == yamlio.load_jsonable(_laughs(3))
    assert len(yamlio.load(_laughs(3))["l3"]) == 9


@pytest.mark.parametrize("text, size", [("n: " + "7" * 4301, 4301), ("n: -" + "1" * 5000, 5000),
                                        ("n: 0x" + "f" * 4000, 4000), ("n: 0b" + "1" * 20000, 20000)])
@pytest.mark.parametrize("load", [yamlio.load, yamlio.load_jsonable])
def test_an_integer_past_the_digit_limit_is_one_yaml_error(load: Any, text: str, size: int) -> None:
    with pytest.raises(yamlio.YAMLLoadError, match=f"a {size}-digit integer is past the limit of 4300 digits"):
        load("ok: 1\n" + text + "\n")


def test_an_integer_at_the_digit_limit_loads() -> None:
    assert yamlio.load("n: " + "7" * 4300) == {"n": int("7" * 4300)}
    assert yamlio.load("n: 0" + "0" * 6000 + "12") == {"n": 12}  # leading zeros are not digits of the value


@pytest.mark.parametrize("tag", ["!!set {a, b}", "!!binary aGVsbG8=", "!!omap [{a: 1}]", "!!pairs [{a: 1}]",
                                 "!!python/object:os.system x", "!custom 1"])
@pytest.mark.parametrize("load", [yamlio.load, yamlio.load_jsonable])
def test_collection_binary_and_unknown_tags_are_refused(load: Any, tag: str) -> None:
    with pytest.raises(yamlio.YAMLLoadError, match="unsupported YAML tag") as caught:
        load(f"ok: 1\nv: {tag}\n")
    assert caught.value.line == 2


@pytest.mark.parametrize("load", [yamlio.load, yamlio.load_jsonable])
def test_nesting_past_the_depth_limit_is_refused_without_recursing(load: Any) -> None:
    assert load("a: " + "[" * 63 + "]" * 63) is not None
    for text in ("a: " + "[" * 64 + "]" * 64, "a: " + "[" * 900 + "]" * 900,
                 "a:\n" + "".join("  " * i + "-\n" for i in range(1, 200)),
                 "z: &z [[[[[[[[1]]]]]]]]\na: " + "[" * 60 + "*z" + "]" * 60):
        with pytest.raises(yamlio.YAMLLoadError, match="nested deeper than the limit of 64 levels"):
            load(text)


@pytest.mark.parametrize("load", [yamlio.load, yamlio.load_jsonable])
def test_a_document_over_the_size_cap_is_refused_before_parsing(load: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    text = "a: '" + "é" * 600_000 + "'\n"  # 600,000 characters, 1.2 MB of UTF-8
    with pytest.raises(yamlbounds.YAMLTooLarge, match=r"larger than the 1 MiB limit \(BATON_MAX_FRONTMATTER_BYTES\)"):
        load(text)
    monkeypatch.setenv("BATON_MAX_FRONTMATTER_BYTES", str(2 << 20))
    assert len(load(text)["a"]) == 600_000
    monkeypatch.setenv("BATON_MAX_FRONTMATTER_BYTES", "1000")
    with pytest.raises(yamlbounds.YAMLTooLarge, match="larger than the 1000 bytes limit"):
        load("a: '" + "x" * 1000 + "'\n")


def test_non_finite_numbers_are_found_wherever_they_are() -> None:
    data = yamlio.load("a: .inf\nb: [1, -.inf, {c: .nan}]\nd: 1e999\ne: 1.5\n")
    found = {where: roundtrip.spell_float(v) for where, v in roundtrip.non_finite(data)}
    assert found == {("a",): ".inf", ("b", 1): "-.inf", ("b", 2, "c"): ".nan", ("d",): ".inf"}


@pytest.mark.parametrize("text, message", [
    ("d: 2024-13-45", "'2024-13-45' is not a valid date or timestamp"),
    ("d: 2024-02-30T10:00:00Z", "is not a valid date or timestamp"),
    ("d: !!timestamp yesterday", "'yesterday' is not a valid date or timestamp"),
    ("d: !!int x", "'x' is not an integer"),
    ("d: !!int 1.5", "'1.5' is not an integer"),
    ("d: !!float x", "'x' is not a number"),
    ("d: !!float 0x1F", "'0x1F' is not a number"),
    ("d: !!bool maybe", "'maybe' is not true or false"),
])
@pytest.mark.parametrize("load", [yamlio.load, yamlio.load_jsonable])
def test_a_value_its_tag_cannot_hold_is_one_yaml_error(load: Any, text: str, message: str) -> None:
    with pytest.raises(yamlio.YAMLLoadError, match=message) as caught:
        load("ok: 1\n" + text + "\n")
    assert caught.value.line == 2


def test_explicit_tags_on_values_they_fit_still_load() -> None:
    assert yamlio.load("a: !!float 1\nb: !!int 0x1F\nc: !!bool TRUE\nd: !!timestamp 2024-05-01\n") == {
        "a": 1.0, "b": 31, "c": True, "d": dt.date(2024, 5, 1)}
