"""baton's one redactor: secrets out of any text that leaves the machine or enters git.

A secret is replaced by `[REDACTED:<kind>]` (no character in it needs escaping in JSON or
YAML); every other character is kept. The rules (lib/security/rules.py) are generated from
detect-secrets' regex plugins plus baton's own assignment, URL-credential and provider rules.

How a text is scanned: every anchor (a lower-case literal each rule's matches contain, with the
separator, quote or blank the rule needs after a common word) is found by about twenty patterns,
one per first character, each a trie of its anchors; each rule is then tried only where its
anchor is, from a known start, with `match` (its pattern compiled on first use). A handful of
detect-secrets patterns have no usable literal and run over the text as they are (for a JSON
document once, over the whole of it). Measured on transcripts, running all ~85 patterns as one
alternation at every position managed 0.2 MB/s and cost 60 ms to compile; a str.find pass per
anchor stem (~60 passes) about half the speed of the per-character tries; anchored, the hook
compiles only the rules its text wakes.

This module is imported by the telemetry hook, so it is standard library only, valid Python
3.8, and does nothing at import (a successful tool call never loads it).

- `redact(text)` -> the text, redacted; `scan(text)` -> a Redaction (text + counts per kind).
- `redact_data(obj)` redacts every string in a JSON-like structure (keys included).
- JSON documents as text (transcripts) are redacted inside their string literals by
  lib/security/redact_json.py, on this engine.
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
LEAD_CHARS = {
    "name": frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"),
    "quoted": frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-\"'["),
    "scheme": frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+.-"),
}
LEAD_MAX = 64
TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_MARK = "[REDACTED:"
# The anchorless rules only run on text with a run this long of letters and digits ('_' and '-'
# inside it allowed): no regex module to import for most failed tool calls.
SCAN_RUN = 24
_RUNS: Dict[int, Optional[int]] = {c: None for c in b"_-"}
_RUNS.update({c: 97 for c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"})
_ASCII_LOWER = {c: c + 32 for c in range(65, 91)}
# Texts this long find their anchors with the compiled tries (_Rules.key_search), shorter ones
# with a str.find per stem: compiling the tries (10 ms and more) costs more than they save on
# less than about a megabyte, and the telemetry hook redacts a few kilobytes once.
TRIE_FROM = 1 << 20


class _Rules:
    """The rules by anchor, and each rule's pattern compiled on first use."""

    __slots__ = ("keys", "patterns", "rules", "scanned", "search", "wakes")

    rules: Tuple[Tuple[Any, ...], ...]
    search: Tuple[str, ...]
    wakes: Dict[str, List[Tuple[int, int, Dict[str, Tuple[int, ...]]]]]
    scanned: Tuple[int, ...]

    def __init__(self) -> None:
        # Plain data, worked out when the rules were generated (lib/security/rulegen.py).
        from lib.security.rules import RULES, SCANNED, SEARCH, WAKES

        self.rules = RULES
        self.patterns: Dict[int, Any] = {}
        self.search = SEARCH
        self.wakes = WAKES  # type: ignore[assignment,unused-ignore]
        self.scanned = SCANNED

    def key_search(self) -> Tuple[List[Tuple[Any, bool]], Dict[str, Tuple[int, ...]]]:
        """Patterns that find every full anchor (the stem with the context its rules need), and
        the rules each anchor wakes.

        One pattern per first character, each a trie of the anchors that start with it: a
        pattern that opens with a literal lets `re` skip in C to the next place that character
        occurs, so twenty such passes cost less than one pass of a single trie (which enters the
        matcher at every common letter) or a str.find pass per stem. A pattern matches the
        longest anchor at a place; the shorter anchors that are its prefixes wake their rules
        too, so each match gives every rule woken there.
        """
        cached = self.patterns.get(-2)
        if cached is None:
            import re

            keys: Dict[str, Tuple[int, ...]] = {}
            for slots in self.wakes.values():
                for _offset, _length, slot in slots:
                    for key, indexes in slot.items():
                        keys[key] = tuple(sorted(set(keys.get(key, ()) + tuple(indexes))))
            woken = {key: tuple(sorted({i for k in keys if key.startswith(k) for i in keys[k]})) for key in keys}
            firsts: Dict[str, List[str]] = {}
            for key in sorted(keys):
                firsts.setdefault(key[0], []).append(key)
            cached = self.patterns[-2] = ([(re.compile(_trie(group)), _overlaps(group)) for group in firsts.values()],
                                          woken)
        return cached  # type: ignore[no-any-return,unused-ignore]

    def pattern(self, index: int) -> Any:
        compiled = self.patterns.get(index)
        if compiled is None:
            import re

            compiled = self.patterns[index] = re.compile(self.rules[index][1])
        return compiled


def _trie(words: List[str]) -> str:
    """A regex source matching any of `words` (non-empty), longest first, shared prefixes once."""
    import re

    groups: Dict[str, List[str]] = {}
    ends = False
    for word in words:
        if word:
            groups.setdefault(word[0], []).append(word[1:])
        else:
            ends = True
    alternatives = [re.escape(char) + _trie(rest) for char, rest in sorted(groups.items())]
    if not alternatives:
        return ""
    if len(alternatives) == 1 and not ends:
        return alternatives[0]
    return "(?:" + "|".join(alternatives) + ")" + ("?" if ends else "")


def _overlaps(keys: List[str]) -> bool:
    """Whether one of `keys` can begin inside another's occurrence (then a pass must look again
    one character after each match, not after its end)."""
    for key in keys:
        for i in range(1, len(key)):
            tail = key[i:]
            if any(other.startswith(tail) or tail.startswith(other) for other in keys):
                return True
    return False


_STATE: List[_Rules] = []


def ruleset() -> _Rules:
    """The rules, loaded on first use (their patterns are compiled as texts wake them)."""
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


def long_run(text: str) -> bool:
    """Whether `text` has SCAN_RUN letters and digits in a row (what every anchorless rule needs)."""
    return "a" * SCAN_RUN in text.translate(_RUNS)


def lower_ascii(text: str) -> str:
    """ASCII letters lower-cased, every character at its place (str.lower can change lengths)."""
    return text.lower() if text.isascii() else text.translate(_ASCII_LOWER)


def anchor_hits(text: str, low: Optional[str] = None) -> List[Tuple[int, int]]:
    """(position, rule index) wherever a rule's anchor occurs in `text` (`low`: lower_ascii(text))."""
    if low is None:
        low = lower_ascii(text)
    rules = ruleset()
    hits: List[Tuple[int, int]] = []
    if len(low) < TRIE_FROM:
        # a str.find per stem: nothing to compile, which is what a short text (the hook's) needs
        wakes = rules.wakes
        for anchor in rules.search:
            at = low.find(anchor)
            while at >= 0:
                for offset, length, slot in wakes[anchor]:
                    begin = at - offset
                    if begin >= 0:
                        indexes = slot.get(low[begin:begin + length])
                        if indexes:
                            hits.extend((begin, index) for index in indexes)
                at = low.find(anchor, at + 1)
        return list(set(hits))
    patterns, woken = rules.key_search()
    for pattern, overlaps in patterns:
        if not overlaps:
            for match in pattern.finditer(low):
                begin = match.start()
                hits.extend((begin, index) for index in woken[match.group()])
            continue
        search = pattern.search
        match = search(low)
        while match is not None:
            begin = match.start()
            hits.extend((begin, index) for index in woken[match.group()])
            # anchors can overlap (a stem's tail starting another): look again one character on
            match = search(low, begin + 1)
    return hits


def _start(text: str, at: int, lead: str) -> int:
    """Where a match woken by an anchor at `at` begins."""
    if not lead:
        return at
    if lead == "prev":
        return at - 1
    if lead == "line":
        return text.rfind("\n", 0, at) + 1
    chars = LEAD_CHARS[lead]
    begin = at
    stop = max(0, at - LEAD_MAX)
    while begin > stop and text[begin - 1] in chars:
        begin -= 1
    return begin


def find_secrets(text: str, hits: Optional[List[Tuple[int, int]]] = None) -> List[Span]:
    """Non-overlapping (start, end, kind) spans of secrets in `text`, in order.

    `hits` are anchor_hits(text) when the caller has them already, with (position, -1) where a
    scanned rule matched: the scanned rules then run only when one did (the callers find those
    places once for a whole document), not again over every piece of it."""
    if not text:
        return []
    rules = ruleset()
    table = rules.rules
    found: List[Tuple[int, int, int, str]] = []  # (start, rule index, end, kind)
    compiled = rules.patterns
    scanning = False
    for at, index in set(anchor_hits(text) if hits is None else hits):
        if index < 0:  # a scanned rule's place, matched below
            scanning = True
            continue
        kind, _pattern, _groups, secret, _anchors, lead, _source = table[index]
        start = _start(text, at, lead) if lead else at
        if start < 0:
            continue
        pattern = compiled.get(index) or rules.pattern(index)
        match = pattern.match(text, start)
        if match is not None and match.end() > at:
            begin, end = match.span(secret)
            if end > begin:
                found.append((begin, index, end, kind))
    if hits is None:
        scanning = long_run(text)
    for index in rules.scanned if scanning else ():
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


def splice(text: str, edits: List[Tuple[int, int, str]]) -> str:
    """`text` with each (start, end, new) edit applied; the edits are in order and do not overlap."""
    out: List[str] = []
    pos = 0
    for start, end, new in edits:
        out.append(text[pos:start])
        out.append(new)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def count_kinds(spans: List[Span], counts: Dict[str, int]) -> None:
    """Add the spans' kinds to `counts`."""
    for _start, _end, kind in spans:
        counts[kind] = counts.get(kind, 0) + 1


def scan(text: str) -> Redaction:
    """Redact plain text (no JSON awareness) and say what was removed."""
    spans = find_secrets(text)
    if not spans:
        return Redaction(text)
    counts: Dict[str, int] = {}
    count_kinds(spans, counts)
    return Redaction(splice(text, [(a, b, replacement(k)) for a, b, k in spans]), counts)


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
