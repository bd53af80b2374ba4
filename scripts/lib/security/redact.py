"""Redact secrets of well-known shapes from text, keeping everything else byte for byte.

Used on Claude Code transcripts (JSON lines) before they are archived. A secret is
replaced by `[REDACTED:<kind>]`, which needs no escaping in JSON, so a valid JSON
line stays valid JSON. Inside a JSON string the patterns run on the *decoded* text
(so `\\n`, `\\"` and `\\uXXXX` escapes neither hide a key nor get cut in half) and the
replacement is mapped back onto the raw escaped span; bytes outside a redacted span
are never touched. Text that is not JSON is redacted as it stands.

The shapes (RULES) are deliberately specific: a token prefix, a length, and word
boundaries, so that base64 blobs (images in transcripts) and prose are not touched.
A line is only examined at all when it contains one of the prefixes (TRIGGERS),
which keeps a 100 MB transcript fast.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

# Start of a token: not preceded by a token character, or preceded by a literal
# `\n`/`\r`/`\t` (a JSON-encoded string inside a JSON string, e.g. tool output).
_B = r"(?:(?<![A-Za-z0-9_-])|(?<=\\[nrt]))"
# End of a token: not followed by a token character.
_E = r"(?![A-Za-z0-9_-])"

# (kind, triggers, pattern). The secret is the named group `s` when present, else the whole match;
# text around `s` (e.g. `Bearer `) is kept. A rule only runs on text that contains one of its triggers.
RULES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("private-key", ("PRIVATE KEY",),
     r"(?P<s>-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
     r"(?:-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|\Z))"),
    ("anthropic-key", ("sk-ant-",), _B + r"sk-ant-[A-Za-z0-9_-]{20,}"),
    ("openai-key", ("sk-",), _B + r"sk-(?:proj-|svcacct-|admin-)?(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{20,}"),
    ("github-token", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), _B + r"gh[pousr]_[A-Za-z0-9]{30,}" + _E),
    ("github-token", ("github_pat_",), _B + r"github_pat_[A-Za-z0-9_]{22,}"),
    ("aws-access-key-id", ("AKIA", "ASIA"), _B + r"(?:AKIA|ASIA)[0-9A-Z]{16}(?![0-9A-Za-z])"),
    ("aws-secret-key", ("secret_", "Secret_", "SECRET_", "ecretAccess", "ecretaccess", "ECRETACCESS"),
     r"(?i:aws_?secret_?access_?key|secretaccesskey)[\"']?\s*[:=]\s*[\"']?"
     r"(?P<s>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"),
    ("slack-token", ("xox",), _B + r"xox[abprs]-[A-Za-z0-9-]{10,}"),
    ("notion-token", ("secret_", "ntn_"), _B + r"(?:secret_|ntn_)[A-Za-z0-9]{40,}" + _E),
    ("google-api-key", ("AIza",), _B + r"AIza[0-9A-Za-z_-]{35}" + _E),
    ("jwt", ("eyJ",), _B + r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
    # `Bearer <token>`: the token must contain a digit, so prose ("Bearer authentication") is kept.
    ("bearer", ("earer", "EARER"),
     r"(?:(?<![A-Za-z0-9])|(?<=\\[nrt]))(?i:bearer)\s+"
     r"(?P<s>(?=[A-Za-z0-9._~+/-]*\d)[A-Za-z0-9._~+/-]{16,}=*)"),
)

# Every rule needs one of these substrings to match; a line without any is copied unread.
# Longest first, so that a match names the most specific trigger (`sk-ant-` rather than `sk-`).
TRIGGERS: tuple[str, ...] = tuple(sorted({t for _, triggers, _ in RULES for t in triggers}, key=lambda t: (-len(t), t)))
# The rules a trigger (as found) wakes: those with a trigger it contains (`sk-ant-` wakes `sk-` rules too).
_WAKES: dict[str, tuple[int, ...]] = {
    found: tuple(i for i, (_, triggers, _) in enumerate(RULES) if any(t in found for t in triggers))
    for found in TRIGGERS
}

_COMPILED: list[tuple[str, tuple[str, ...], re.Pattern[str]]] = []
_TRIGGER_TEXT = re.compile("|".join(re.escape(t) for t in TRIGGERS))
_TRIGGER_BYTES = re.compile("|".join(re.escape(t) for t in TRIGGERS).encode("ascii"))
_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"', re.S)
_ESCAPE = re.compile(r'\\(?:u[0-9a-fA-F]{4}|["\\/bfnrt])')
_SIMPLE = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _rules() -> list[tuple[str, tuple[str, ...], re.Pattern[str]]]:
    if not _COMPILED:
        _COMPILED.extend((kind, triggers, re.compile(pattern)) for kind, triggers, pattern in RULES)
    return _COMPILED


def replacement(kind: str) -> str:
    return f"[REDACTED:{kind}]"


@dataclass
class Redaction:
    """What a redaction did: the text and how many secrets of each kind it removed."""

    text: str
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def find_secrets(text: str) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, kind) spans of secrets in `text`, in order."""
    awake: set[int] = set()
    for trigger in {m.group() for m in _TRIGGER_TEXT.finditer(text)}:
        awake.update(_WAKES[trigger])
    if not awake:
        return []
    rules = _rules()
    found: list[tuple[int, int, int, str]] = []
    for priority in sorted(awake):
        kind, _triggers, pattern = rules[priority]
        for match in pattern.finditer(text):
            start, end = match.span("s") if "s" in pattern.groupindex else match.span()
            if end > start:
                found.append((start, priority, end, kind))
    found.sort()
    spans: list[tuple[int, int, str]] = []
    for start, _priority, end, kind in found:
        if spans and start < spans[-1][1]:  # overlaps the previous span: widen it, keep its kind
            prev_start, prev_end, prev_kind = spans[-1]
            spans[-1] = (prev_start, max(prev_end, end), prev_kind)
        else:
            spans.append((start, end, kind))
    return spans


def redact_text(text: str) -> Redaction:
    """Redact plain text (no JSON awareness)."""
    spans = find_secrets(text)
    if not spans:
        return Redaction(text)
    return Redaction(_splice(text, [(a, b, replacement(k)) for a, b, k in spans]),
                     Counter(k for _, _, k in spans))


def _splice(text: str, edits: list[tuple[int, int, str]]) -> str:
    out: list[str] = []
    pos = 0
    for start, end, new in edits:
        out.append(text[pos:start])
        out.append(new)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _decode_string(raw: str) -> tuple[str, list[int]] | None:
    """A JSON string literal's content decoded, with the raw offset of each decoded character.

    `starts[i]` is where decoded character i begins in `raw`; `starts[len(decoded)]` is
    len(raw). None when the literal has an escape JSON does not allow.
    """
    chars: list[str] = []
    starts: list[int] = []
    pos = 0
    for match in _ESCAPE.finditer(raw):
        begin = match.start()
        if "\\" in raw[pos:begin]:
            return None  # an escape the pattern did not accept
        chars.append(raw[pos:begin])
        starts.extend(range(pos, begin))
        escape = match.group()
        if escape[1] == "u":
            # A surrogate pair stays two characters here; the patterns only look at ASCII shapes.
            chars.append(chr(int(escape[2:], 16)))
        else:
            chars.append(_SIMPLE[escape[1]])
        starts.append(begin)
        pos = match.end()
    if "\\" in raw[pos:]:
        return None
    chars.append(raw[pos:])
    starts.extend(range(pos, len(raw)))
    starts.append(len(raw))
    return "".join(chars), starts


def _json_string_edits(raw: str) -> tuple[list[tuple[int, int, str]], Counter[str]]:
    """Edits to the raw content of one JSON string literal (offsets into `raw`)."""
    counts: Counter[str] = Counter()
    if not _TRIGGER_TEXT.search(raw):
        return [], counts
    if "\\" not in raw:
        spans = find_secrets(raw)
        counts.update(k for _, _, k in spans)
        return [(a, b, replacement(k)) for a, b, k in spans], counts
    decoded = _decode_string(raw)
    if decoded is None:
        spans = find_secrets(raw)
        counts.update(k for _, _, k in spans)
        return [(a, b, replacement(k)) for a, b, k in spans], counts
    text, starts = decoded
    edits = []
    for start, end, kind in find_secrets(text):
        edits.append((starts[start], starts[end], replacement(kind)))
        counts[kind] += 1
    return edits, counts


def redact_json_text(line: str) -> Redaction:
    """Redact one line of JSON (or anything else): inside string literals on their decoded text.

    Text between string literals (numbers, punctuation; or a line that is not JSON at
    all) is redacted as plain text.
    """
    if not _TRIGGER_TEXT.search(line):
        return Redaction(line)
    edits: list[tuple[int, int, str]] = []
    counts: Counter[str] = Counter()
    pos = 0
    for match in _STRING.finditer(line):
        _plain(line, pos, match.start(), edits, counts)
        inner_start = match.start() + 1
        string_edits, string_counts = _json_string_edits(match.group()[1:-1])
        edits.extend((a + inner_start, b + inner_start, new) for a, b, new in string_edits)
        counts.update(string_counts)
        pos = match.end()
    _plain(line, pos, len(line), edits, counts)
    if not edits:
        return Redaction(line)
    return Redaction(_splice(line, edits), counts)


def _plain(line: str, start: int, end: int, edits: list[tuple[int, int, str]], counts: Counter[str]) -> None:
    if end <= start:
        return
    for a, b, kind in find_secrets(line[start:end]):
        edits.append((a + start, b + start, replacement(kind)))
        counts[kind] += 1


def _lines_with_triggers(data: bytes) -> Iterator[tuple[int, int]]:
    """(start, end) of each line of `data` that contains a trigger, end including its newline."""
    pos = 0
    while True:
        match = _TRIGGER_BYTES.search(data, pos)
        if match is None:
            return
        start = data.rfind(b"\n", 0, match.start()) + 1
        newline = data.find(b"\n", match.end())
        end = len(data) if newline < 0 else newline + 1
        yield start, end
        pos = end


def redact_jsonl_bytes(data: bytes) -> tuple[bytes, Counter[str]]:
    """Redact a JSON-lines document given as bytes. Lines without a trigger are copied as they are.

    Bytes that are not UTF-8 survive unchanged (surrogateescape round trip).
    """
    counts: Counter[str] = Counter()
    out: list[bytes] = []
    pos = 0
    for start, end in _lines_with_triggers(data):
        line = data[start:end].decode("utf-8", "surrogateescape")
        result = redact_json_text(line)
        if result.counts:
            out.append(data[pos:start])
            out.append(result.text.encode("utf-8", "surrogateescape"))
            counts.update(result.counts)
            pos = end
    if not out:
        return data, counts
    out.append(data[pos:])
    return b"".join(out), counts
