"""The one redactor: every format of the corpus is removed, ordinary text survives, JSON stays JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lib.security import redact, redact_json

CORPUS = json.loads((Path(__file__).parent / "fixtures" / "secrets" / "corpus.json").read_text(encoding="utf-8"))
FORMATS = CORPUS["formats"]


def secret_of(entry: dict[str, object]) -> str:
    parts = entry["secret_parts"]
    assert isinstance(parts, list)
    return "".join(str(p) for p in parts)


def test_the_corpus_covers_at_least_forty_formats_each_with_a_source() -> None:
    assert len(FORMATS) >= 40
    assert len({e["name"] for e in FORMATS}) == len(FORMATS)
    assert all(e["source"] for e in FORMATS)


@pytest.mark.parametrize("entry", FORMATS, ids=[e["name"] for e in FORMATS])
def test_every_corpus_format_is_redacted_and_its_kind_reported(entry: dict[str, object]) -> None:
    secret = secret_of(entry)
    text = f"line before\n{entry['before']}{secret}{entry['after']}\nline after"
    result = redact.scan(text)
    assert secret not in result.text
    assert result.text.startswith("line before\n") and result.text.endswith("\nline after")
    assert entry["kind"] in result.counts, result.counts
    assert "[REDACTED:" in result.text


@pytest.mark.parametrize("entry", FORMATS, ids=[e["name"] for e in FORMATS])
def test_every_corpus_format_is_redacted_inside_a_json_line(entry: dict[str, object]) -> None:
    secret = secret_of(entry)
    line = json.dumps({"type": "user", "toolUseResult": {"stdout": f"{entry['before']}{secret}{entry['after']}"}})
    out, counts = redact_json.redact_jsonl_bytes((line + "\n").encode())
    assert secret.encode() not in out and json.dumps(secret)[1:-1].encode() not in out
    json.loads(out)
    assert counts


NEGATIVES = [
    "commit 3f9c2a1b4d5e6f708192a3b4c5d6e7f809a1b2c3 (HEAD -> main)",
    "request 123e4567-e89b-12d3-a456-426614174000 took 3 ms",
    "FAILED tests/test_x.py::test_add - assert 3 == 4",
    "Traceback (most recent call last):\n  File \"/home/user/project/app.py\", line 5, in <module>",
    "PWD=/home/user/project\nOLDPWD=/home/user",
    '"usage": {"input_tokens": 1234, "output_tokens": 99, "max_tokens": 4096}',
    "Bearer authentication failed for the proxy; the password was rejected",
    "see https://github.com/org/repo/pull/12 and postgres://db.internal:5432/app",
    "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d08c04d3e5b2f",
    "the secret_key_for_the_application_layer is configured elsewhere",
    "pip install scikit-learn sk-learn risk-assessment-framework",
    "/usr/lib/python3.11/site-packages/detect_secrets/plugins/aws.py:12: DeprecationWarning",
    "Connection to 192.168.1.20:5432 refused; retry in 2.5 s (attempt 3/5)",
    "git log --oneline: a1b2c3d Fix token refresh, 9e8d7c6 Add password reset page",
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_ordinary_text_shas_uuids_and_paths_survive_byte_for_byte(text: str) -> None:
    result = redact.scan(text)
    assert result.text == text and result.counts == {}


def test_redact_data_redacts_every_string_and_keeps_structure() -> None:
    secret = secret_of(next(e for e in FORMATS if e["name"] == "github-classic-pat"))
    doc = {"a": [f"x {secret}", 3, None], "b": {"c": f"Authorization: Bearer {secret}"}}
    counts: dict[str, int] = {}
    out = redact.redact_data(doc, counts)
    assert secret not in json.dumps(out)
    assert out["a"][1:] == [3, None] and counts


def test_a_large_text_finds_the_same_secrets_as_its_parts() -> None:
    small = "\n".join(f"{e['before']}{secret_of(e)}{e['after']}" for e in FORMATS)
    big = ("filler text without anything in it; " * 20000) + "\n" + small
    assert redact.redact(big).endswith(redact.redact(small))
    assert redact.scan(big).counts == redact.scan(small).counts


def test_a_jsonl_document_is_redacted_line_by_line_like_each_line_alone() -> None:
    lines = [json.dumps({"type": "user", "message": {"content": f"{e['before']}{secret_of(e)}{e['after']}"}})
             for e in FORMATS]
    whole, counts = redact_json.redact_jsonl_bytes(("\n".join(lines) + "\n").encode())
    one_by_one = [redact_json.redact_json_text(line).text for line in lines]
    assert whole.decode().splitlines() == one_by_one
    assert sum(counts.values()) >= len(FORMATS)


def test_a_document_past_the_compiled_anchor_search_threshold_is_redacted_like_its_lines_alone() -> None:
    # texts of TRIE_FROM characters and more find anchors with compiled tries, short ones with str.find:
    # both must wake the same rules
    secrets = [json.dumps({"type": "user", "message": {"content": f"{e['before']}{secret_of(e)}{e['after']}"}})
               for e in FORMATS]
    filler = json.dumps({"type": "assistant", "message": {"content": "the token budget and the password prompt " * 40,
                                                          "usage": {"input_tokens": 12, "output_tokens": 900}}})
    lines = secrets + [filler] * (redact.TRIE_FROM // len(filler) + 1) + secrets
    data = ("\n".join(lines) + "\n").encode()
    assert len(data) > redact.TRIE_FROM
    whole, counts = redact_json.redact_jsonl_bytes(data)
    assert whole.decode().splitlines() == [redact_json.redact_json_text(line).text for line in lines]
    assert sum(counts.values()) >= 2 * len(FORMATS)


def test_bytes_that_are_not_utf8_survive_unchanged() -> None:
    data = b'{"a": "\xff\xfe caf\xc3\xa9"}\n{"b": "' + ("gh" + "p_" + "Q7xZ2pL9mN4vB8cK1rT6yW3eH5jD0fGaAbcd").encode() + b'"}\n'
    out, counts = redact_json.redact_jsonl_bytes(data)
    assert out.startswith(b'{"a": "\xff\xfe caf\xc3\xa9"}\n') and counts == {"github-token": 1}
