"""baton's one redactor: secrets out of any text that leaves the machine or enters git.

A secret is replaced by `[REDACTED:<kind>]` (no character in it needs escaping in JSON or
YAML); every other character is kept. The rules (lib/security/rules.py) are generated from
detect-secrets' regex plugins plus baton's own assignment, URL-credential and provider
rules, and run as ONE alternation in one pass over the text.

This module is imported by the telemetry hook, so it is standard library only, valid
Python 3.8, and does nothing at import: the alternation is compiled on first use (only a
failed tool call pays for it, never a successful one).

- `redact(text)` -> the text, redacted; `scan(text)` -> a Redaction (text + counts per kind).
- `redact_json_text(line)` and `redact_jsonl_bytes(data)` look inside JSON string literals
  on their decoded text, so `\\n`, `\\"` and `\\uXXXX` escapes neither hide a key nor get cut.
- `redact_data(obj)` redacts every string in a JSON-like structure (keys included).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs milliseconds to import; annotations are strings anyway
    from typing import Any, Dict, List, Optional, Tuple

    Span = Tuple[int, int, str]

# Rules that say "this is a credential" by context, not by shape: when the secret they found
# starts where a provider's rule found one, the provider's kind is reported
# (`GITHUB_TOKEN=ghp_...` is a github-token).
GENERIC_KINDS = frozenset(("secret-assignment", "url-credentials", "authorization-header", "bearer"))
# Below this many characters the anchors are looked up one by one with str.find (no regex to
# compile: what the telemetry hook's failure path wants); above, one alternation finds them all.
SMALL_TEXT = 16 * 1024
LEAD_CHARS = {
    "name": frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"),
    "quoted": frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-\"'["),
    "scheme": frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+.-"),
}
LEAD_MAX = 64
TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_MARK = "[REDACTED:"
_ASCII_LOWER = {c: c + 32 for c in range(65, 91)}


class _Rules:
    """The rules by anchor, and each rule's pattern compiled on first use."""

    __slots__ = ("alternation", "alternation_bytes", "patterns", "rules", "scanned", "search", "wakes")

    def __init__(self) -> None:
        from lib.security.rules import RULES

        self.rules = RULES
        self.patterns: Dict[int, Any] = {}
        by_anchor: Dict[str, List[int]] = {}
        scanned: List[int] = []
        for index, rule in enumerate(RULES):
            if not rule[4]:
                scanned.append(index)
            for anchor in rule[4]:
                by_anchor.setdefault(anchor, []).append(index)
        # Only anchors that contain no other anchor are searched for (`pass`, not `password`);
        # a hit wakes the rules of every anchor that contains it and is really there.
        search = sorted(a for a in by_anchor if not any(b != a and b in a for b in by_anchor))
        self.search = tuple(search)
        self.wakes: Dict[str, List[Tuple[str, int, Tuple[int, ...]]]] = {}
        for found in search:
            entries = []
            for anchor, rules in by_anchor.items():
                offset = anchor.find(found)
                while offset >= 0:
                    entries.append((anchor, offset, tuple(rules)))
                    offset = anchor.find(found, offset + 1)
            self.wakes[found] = entries
        self.scanned = tuple(scanned)
        self.alternation: Any = None
        self.alternation_bytes: Any = None

    def pattern(self, index: int) -> Any:
        compiled = self.patterns.get(index)
        if compiled is None:
            import re

            compiled = self.patterns[index] = re.compile(self.rules[index][1])
        return compiled

    def pattern_bytes(self, index: int) -> Any:
        compiled = self.patterns.get(-2 - index)
        if compiled is None:
            import re

            compiled = self.patterns[-2 - index] = re.compile(self.rules[index][1].encode("utf-8"))
        return compiled

    def finder(self, as_bytes: bool) -> Any:
        """One regex finding every searched anchor in lower-cased text, shaped as a trie (an
        alternation tried branch by branch at every position ran at 1.5 MB/s)."""
        if self.alternation is None:
            import re

            source = _trie(self.search, re.escape)
            self.alternation = re.compile(source)
            self.alternation_bytes = re.compile(source.encode("utf-8"))
        return self.alternation_bytes if as_bytes else self.alternation


def _trie(words: Tuple[str, ...], escape: Any) -> str:
    tree: Dict[str, Any] = {}
    for word in words:
        node = tree
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: Dict[str, Any]) -> str:
        if "" in node:
            return ""  # searched anchors contain no other, so an anchor's node is a leaf
        branches = [escape(ch) + build(sub) for ch, sub in sorted(node.items())]
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return build(tree)


_STATE: List[_Rules] = []


def _rules() -> _Rules:
    if not _STATE:
        _STATE.append(_Rules())
    return _STATE[0]


def replacement(kind: str) -> str:
    return _MARK + kind + "]"


class Redaction:
    """What one redaction did: the text and how many secrets of each kind it removed.

    A plain class, not a dataclass: `dataclasses` would cost the telemetry hook its import.
    """

    __slots__ = ("counts", "text")

    def __init__(self, text: str, counts: Optional[Dict[str, int]] = None) -> None:
        self.text = text
        self.counts: Dict[str, int] = counts if counts is not None else {}

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def kinds(self) -> List[str]:
        return sorted(self.counts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Redaction) and (self.text, self.counts) == (other.text, other.counts)

    def __repr__(self) -> str:
        return "Redaction(total=" + str(self.total) + ", counts=" + repr(self.counts) + ")"


def lower_ascii(text: str) -> str:
    """ASCII letters lower-cased, every character at its place (str.lower can change lengths)."""
    return text.lower() if text.isascii() else text.translate(_ASCII_LOWER)


def anchor_hits(text: str) -> List[Tuple[int, int]]:
    """(position, rule index) wherever a rule's anchor occurs in `text`."""
    rules = _rules()
    low = lower_ascii(text)
    wakes = rules.wakes
    found: List[Tuple[int, str]] = []
    if len(low) <= SMALL_TEXT:
        for anchor in rules.search:
            at = low.find(anchor)
            while at >= 0:
                found.append((at, anchor))
                at = low.find(anchor, at + 1)
    else:
        found.extend((match.start(), match.group()) for match in rules.finder(False).finditer(low))
    hits: List[Tuple[int, int]] = []
    for at, anchor in found:
        for full, offset, indexes in wakes[anchor]:
            begin = at - offset
            if begin >= 0 and ((not offset and len(full) == len(anchor)) or low.startswith(full, begin)):
                hits.extend((begin, index) for index in indexes)
    return hits


def _starts(text: str, at: int, lead: str) -> List[int]:
    """Where a match woken by an anchor at `at` may begin, most likely first."""
    if lead == "line":
        return [text.rfind("\n", 0, at) + 1]
    starts = []
    chars = LEAD_CHARS.get(lead)
    if chars is not None:
        begin = at
        stop = max(0, at - LEAD_MAX)
        while begin > stop and text[begin - 1] in chars:
            begin -= 1
        starts.append(begin)
    starts.extend((at - 1, at) if at > 0 else (at,))
    return starts


def find_secrets(text: str, hits: Optional[List[Tuple[int, int]]] = None) -> List[Span]:
    """Non-overlapping (start, end, kind) spans of secrets in `text`, in order.

    `hits` are anchor_hits(text) when the caller has them already."""
    if not text:
        return []
    rules = _rules()
    table = rules.rules
    found: List[Tuple[int, int, int, str]] = []  # (start, rule index, end, kind)
    tried = set()
    for at, index in anchor_hits(text) if hits is None else hits:
        if (at, index) in tried:
            continue
        tried.add((at, index))
        kind, _pattern, _groups, secret, _anchors, lead, _source = table[index]
        pattern = rules.pattern(index)
        for start in _starts(text, at, lead):
            if start < 0:
                continue
            match = pattern.match(text, start)
            if match is not None and match.end() > at:
                begin, end = match.span(secret)
                if end > begin:
                    found.append((begin, index, end, kind))
                break
    for index in rules.scanned:
        kind, _pattern, _groups, secret, _anchors, _lead, _source = table[index]
        for match in rules.pattern(index).finditer(text):
            start = match.start()
            if start > 0 and text[start - 1] in TOKEN_CHARS:
                continue
            begin, end = match.span(secret)
            if end > begin:
                found.append((begin, index, end, kind))
    if not found:
        return []
    found.sort()
    spans: List[Span] = []
    for start, _index, end, kind in found:
        if spans and start < spans[-1][1]:  # overlaps the previous span: widen it
            prev_start, prev_end, prev_kind = spans[-1]
            if prev_kind in GENERIC_KINDS and kind not in GENERIC_KINDS and start == prev_start:
                prev_kind = kind
            spans[-1] = (prev_start, max(prev_end, end), prev_kind)
        else:
            spans.append((start, end, kind))
    return spans


def _splice(text: str, edits: List[Tuple[int, int, str]]) -> str:
    out: List[str] = []
    pos = 0
    for start, end, new in edits:
        out.append(text[pos:start])
        out.append(new)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _count(spans: List[Span], counts: Dict[str, int]) -> None:
    for _start, _end, kind in spans:
        counts[kind] = counts.get(kind, 0) + 1


def scan(text: str) -> Redaction:
    """Redact plain text (no JSON awareness) and say what was removed."""
    spans = find_secrets(text)
    if not spans:
        return Redaction(text)
    counts: Dict[str, int] = {}
    _count(spans, counts)
    return Redaction(_splice(text, [(a, b, replacement(k)) for a, b, k in spans]), counts)


# The name the transcript archive has always used.
redact_text = scan


def redact(text: str) -> str:
    """`text` with every secret replaced by `[REDACTED:<kind>]`."""
    if not text:
        return text
    return scan(text).text


def redact_data(obj: Any, counts: Optional[Dict[str, int]] = None) -> Any:
    """A copy of a JSON-like structure with every string (values and keys) redacted."""
    if isinstance(obj, str):
        result = scan(obj)
        if counts is not None:
            for kind, n in result.counts.items():
                counts[kind] = counts.get(kind, 0) + n
        return result.text
    if isinstance(obj, dict):
        return {redact_data(k, counts): redact_data(v, counts) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact_data(v, counts) for v in obj]
    return obj


# --------------------------------------------------------------------------- JSON-aware redaction

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


def _string_edits(raw: str, offset: int, hits: List[Tuple[int, int]], edits: List[Tuple[int, int, str]],
                  counts: Dict[str, int]) -> None:
    """Edits to the raw content of one JSON string literal starting at `offset` of its line."""
    decoded = _decode_string(raw) if "\\" in raw else None
    if decoded is None:  # no escapes: the line's anchors are this string's, shifted
        mine = [(at - offset, index) for at, index in hits if offset <= at < offset + len(raw)]
        spans = find_secrets(raw, mine)
        edits.extend((a + offset, b + offset, replacement(k)) for a, b, k in spans)
    else:
        text, starts = decoded
        spans = find_secrets(text)
        edits.extend((starts[a] + offset, starts[b] + offset, replacement(k)) for a, b, k in spans)
    _count(spans, counts)


def _plain_edits(text: str, start: int, end: int, edits: List[Tuple[int, int, str]], counts: Dict[str, int]) -> None:
    if end > start:
        spans = find_secrets(text[start:end])
        edits.extend((a + start, b + start, replacement(k)) for a, b, k in spans)
        _count(spans, counts)


def _json_patterns() -> Tuple[Any, Any]:
    """A JSON string literal (unrolled: no possessive quantifiers before Python 3.11) and an escape."""
    rules = _rules()
    cached = rules.patterns.get(-1)
    if cached is None:
        import re

        cached = rules.patterns[-1] = (re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S),
                                       re.compile(r'\\(?:u[0-9a-fA-F]{4}|["\\/bfnrt])'))
    return cached  # type: ignore[no-any-return,unused-ignore]


def redact_json_text(line: str) -> Redaction:
    """Redact one line of JSON (or anything else): inside string literals on their decoded text.

    Text between string literals (numbers, punctuation; or a line that is not JSON at all) is
    redacted as plain text. Outside redacted spans, every byte is kept. Only the string
    literals that hold an anchor (or a scanned rule's match) are examined.
    """
    rules = _rules()
    hits = sorted(anchor_hits(line))
    places = {at for at, _index in hits}
    for index in rules.scanned:
        places.update(match.start() for match in rules.pattern(index).finditer(line))
    if not places:
        return Redaction(line)
    positions = sorted(places)
    edits: List[Tuple[int, int, str]] = []
    counts: Dict[str, int] = {}
    pos = 0
    for match in _json_patterns()[0].finditer(line):
        if _any_within(positions, pos, match.start()):
            _plain_edits(line, pos, match.start(), edits, counts)
        if _any_within(positions, match.start(), match.end()):
            _string_edits(match.group()[1:-1], match.start() + 1, hits, edits, counts)
        pos = match.end()
    if _any_within(positions, pos, len(line)):
        _plain_edits(line, pos, len(line), edits, counts)
    if not edits:
        return Redaction(line)
    return Redaction(_splice(line, edits), counts)


def _any_within(hits: List[int], start: int, end: int) -> bool:
    import bisect

    i = bisect.bisect_left(hits, start)
    return i < len(hits) and hits[i] < end


def _lines_with_hits(data: bytes) -> List[Tuple[int, int]]:
    """(start, end) of each line of `data` that holds an anchor or a scanned rule's match."""
    rules = _rules()
    low = data.lower()  # bytes.lower changes ASCII letters only: offsets stay
    places = [m.start() for m in rules.finder(True).finditer(low)]
    for index in rules.scanned:
        places.extend(m.start() for m in rules.pattern_bytes(index).finditer(data))
    places.sort()
    lines: List[Tuple[int, int]] = []
    for at in places:
        if lines and at < lines[-1][1]:
            continue
        start = data.rfind(b"\n", 0, at) + 1
        newline = data.find(b"\n", at)
        lines.append((start, len(data) if newline < 0 else newline + 1))
    return lines


def redact_jsonl_bytes(data: bytes) -> Tuple[bytes, Dict[str, int]]:
    """Redact a JSON-lines document given as bytes; lines without an anchor are copied unread.

    Bytes that are not UTF-8 survive unchanged (surrogateescape round trip).
    """
    counts: Dict[str, int] = {}
    out: List[bytes] = []
    pos = 0
    for start, end in _lines_with_hits(data):
        line = data[start:end].decode("utf-8", "surrogateescape")
        result = redact_json_text(line)
        if result.counts:
            out.append(data[pos:start])
            out.append(result.text.encode("utf-8", "surrogateescape"))
            for kind, n in result.counts.items():
                counts[kind] = counts.get(kind, 0) + n
            pos = end
    if not out:
        return data, counts
    out.append(data[pos:])
    return b"".join(out), counts
