"""The redactor on JSON text: secrets out of JSON lines and JSON-lines documents (transcripts).

Inside a string literal the rules run on its decoded text, so `\\n`, `\\"` and `\\uXXXX` escapes
neither hide a key nor get cut; the edits are made to the raw literal, so the line stays JSON
and every byte outside a redacted span is kept. Text between literals (or a line that is not
JSON) is redacted as plain text. The engine, its rules and its anchors are lib/security/redact.py.

Standard library only and valid Python 3.8, like the engine it runs on.

- `redact_json_text(line)` -> a Redaction of one line;
- `redact_jsonl_bytes(data)` -> (the document redacted, counts per kind): the anchors are found
  once for the whole document, and only the lines that hold one are read.
"""

from __future__ import annotations

from lib.security import redact

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs milliseconds to import; annotations are strings anyway
    from typing import Any, Dict, List, Optional, Tuple

_SIMPLE = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _decode_string(raw: str) -> Optional[Tuple[str, List[int]]]:
    """A JSON string literal's content decoded, with the raw offset of each decoded character.

    `starts[i]` is where decoded character i begins in `raw`; `starts[len(decoded)]` is
    len(raw). None when the literal has an escape JSON does not allow.
    """
    chars: List[str] = []
    starts: List[int] = []
    pos = 0
    for match in _json_patterns()[1].finditer(raw):
        begin = match.start()
        if "\\" in raw[pos:begin]:
            return None  # an escape the pattern did not accept
        chars.append(raw[pos:begin])
        starts.extend(range(pos, begin))
        escape = match.group()
        # A surrogate pair stays two characters here; the rules only look at ASCII shapes.
        chars.append(chr(int(escape[2:], 16)) if escape[1] == "u" else _SIMPLE[escape[1]])
        starts.append(begin)
        pos = match.end()
    if "\\" in raw[pos:]:
        return None
    chars.append(raw[pos:])
    starts.extend(range(pos, len(raw)))
    starts.append(len(raw))
    return "".join(chars), starts


def _string_edits(raw: str, offset: int, mine: List[Tuple[int, int]], edits: List[Tuple[int, int, str]],
                  counts: Dict[str, int]) -> None:
    """Edits to the raw content of one JSON string literal starting at `offset` of its line
    (`mine`: the line's anchor hits inside it)."""
    decoded = _decode_string(raw) if "\\" in raw else None
    if decoded is None:  # no escapes: the line's anchors are this string's, shifted
        spans = redact.find_secrets(raw, [(at - offset, index) for at, index in mine])
        edits.extend((a + offset, b + offset, redact.replacement(k)) for a, b, k in spans)
    else:
        import bisect

        text, starts = decoded
        # an anchor found in the raw line is at the decoded character that starts there
        spans = redact.find_secrets(text, [(bisect.bisect_left(starts, at - offset), index) for at, index in mine])
        edits.extend((starts[a] + offset, starts[b] + offset, redact.replacement(k)) for a, b, k in spans)
    redact.count_kinds(spans, counts)


def _plain_edits(text: str, start: int, end: int, edits: List[Tuple[int, int, str]], counts: Dict[str, int],
                 mine: Optional[List[Tuple[int, int]]] = None) -> None:
    if end > start:
        spans = redact.find_secrets(text[start:end], None if mine is None else [(at - start, index) for at, index in mine])
        edits.extend((a + start, b + start, redact.replacement(k)) for a, b, k in spans)
        redact.count_kinds(spans, counts)


_PATTERNS: List[Tuple[Any, Any]] = []


def _json_patterns() -> Tuple[Any, Any]:
    """A JSON string literal (unrolled: no possessive quantifiers before Python 3.11) and an escape,
    compiled on first use."""
    if not _PATTERNS:
        import re

        _PATTERNS.append((re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S),
                          re.compile(r'\\(?:u[0-9a-fA-F]{4}|["\\/bfnrt])')))
    return _PATTERNS[0]


def redact_json_text(line: str, hits: Optional[List[Tuple[int, int]]] = None) -> redact.Redaction:
    """Redact one line of JSON (or anything else): inside string literals on their decoded text.

    Text between string literals (numbers, punctuation; or a line that is not JSON at all) is
    redacted as plain text. Outside redacted spans, every byte is kept. Only the string
    literals that hold an anchor (or a scanned rule's match) are examined.
    """
    rules = redact.ruleset()
    if hits is None:
        hits = redact.anchor_hits(line)
        if redact.long_run(line):
            hits.extend((m.start(), -1) for index in rules.scanned for m in rules.pattern(index).finditer(line))
    if not hits:
        return redact.Redaction(line)
    hits.sort()
    edits: List[Tuple[int, int, str]] = []
    counts: Dict[str, int] = {}
    pos = 0
    last = hits[-1][0]
    k = 0  # hits[:k] are behind `pos`: the literals and the text between them are walked in order
    for match in _json_patterns()[0].finditer(line):
        begin, end = match.span()
        if begin > last:
            break
        if hits[k][0] < begin:
            j = k
            while hits[j][0] < begin:
                j += 1
            _plain_edits(line, pos, begin, edits, counts, hits[k:j])
            k = j
        if hits[k][0] < end:
            j = k
            while j < len(hits) and hits[j][0] < end:
                j += 1
            _string_edits(match.group()[1:-1], begin + 1, hits[k:j], edits, counts)
            k = j
            if k == len(hits):
                pos = end
                break
        pos = end
    if k < len(hits):
        _plain_edits(line, pos, len(line), edits, counts, hits[k:])
    if not edits:
        return redact.Redaction(line)
    return redact.Redaction(redact.splice(line, edits), counts)


def _raw_result(line: str, hits: List[Tuple[int, int]]) -> Optional[redact.Redaction]:
    """The line redacted as it stands, when that is certainly what the JSON-aware way would give:
    no escape near any anchor (so decoding changes nothing the rules look at) and no span that
    reaches a quote (so every span lies inside one string literal). None otherwise."""
    if "\\" in line:
        for at, _index in hits:
            if "\\" in line[max(0, at - redact.LEAD_MAX):at + 512]:
                return None
    spans = redact.find_secrets(line, hits)
    for begin, end, _kind in spans:
        if '"' in line[begin:end]:
            return None
    if not spans:
        return redact.Redaction(line)
    counts: Dict[str, int] = {}
    redact.count_kinds(spans, counts)
    return redact.Redaction(redact.splice(line, [(a, b, redact.replacement(k)) for a, b, k in spans]), counts)


def redact_jsonl_bytes(data: bytes) -> Tuple[bytes, Dict[str, int]]:
    """Redact a JSON-lines document given as bytes; lines without an anchor are copied unread.

    The anchors are found once for the whole document; only the lines (and in them the string
    literals) that hold one are examined. Bytes that are not UTF-8 survive unchanged
    (surrogateescape round trip).
    """
    rules = redact.ruleset()
    text = data.decode("utf-8", "surrogateescape")
    low = data.lower().decode("utf-8", "surrogateescape")  # bytes.lower: ASCII only, offsets stay
    hits = redact.anchor_hits(text, low)
    for index in rules.scanned:
        hits.extend((match.start(), -1) for match in rules.pattern(index).finditer(text))
    if not hits:
        return data, {}
    hits.sort()
    counts: Dict[str, int] = {}
    out: List[str] = []
    pos = 0
    i = 0
    while i < len(hits):
        at = hits[i][0]
        start = text.rfind("\n", 0, at) + 1
        newline = text.find("\n", at)
        end = len(text) if newline < 0 else newline + 1
        j = i
        while j < len(hits) and hits[j][0] < end:
            j += 1
        mine = [(a - start, index) for a, index in hits[i:j]]
        line = text[start:end]
        result = _raw_result(line, mine) or redact_json_text(line, mine)
        if result.counts:
            out.append(text[pos:start])
            out.append(result.text)
            for kind, n in result.counts.items():
                counts[kind] = counts.get(kind, 0) + n
            pos = end
        i = j
    if not out:
        return data, counts
    out.append(text[pos:])
    return "".join(out).encode("utf-8", "surrogateescape"), counts
