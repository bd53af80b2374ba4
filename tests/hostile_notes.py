"""Hostile frontmatter for the bounds tests: notes an attacker (or an accident) can commit to the store."""

from __future__ import annotations

from pathlib import Path

from store_factory import session_text, write


def billion_laughs(levels: int = 8) -> str:
    """Nested aliases, nine per level: a few hundred bytes that expand to 9**levels values."""
    lines = ['lol0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels + 1):
        lines.append(f"lol{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines)


# name -> (extra frontmatter lines of a session note, words the one-line report must carry)
HOSTILE: dict[str, tuple[str, str]] = {
    "laughs": (billion_laughs(), "aliases expand"),
    "bigint": ("tool_calls_count: " + "9" * 5000, "5000-digit integer"),
    "set": ("tags_seen: !!set {a, b}", "tag:yaml.org,2002:set"),
    "binary": ("blob: !!binary aGVsbG8=", "tag:yaml.org,2002:binary"),
    "omap": ("ordered: !!omap [{a: 1}]", "tag:yaml.org,2002:omap"),
    "deep": ("nested: " + "[" * 200 + "]" * 200, "nested deeper"),
    "huge": ("padding: '" + "x" * (1 << 20) + "'", "larger than the 1 MiB limit"),
    "inf": ("cost_usd: .inf", "not a finite number"),
    "nan": ("cost_usd: .nan", "not a finite number"),
}

# session ids by name; the day tells them apart
HOSTILE_IDS = {name: f"EV-261201-{i + 1:02d}" for i, name in enumerate(HOSTILE)}
GOOD_ID = "RT-261202-01"


def hostile_session(root: Path, name: str) -> Path:
    ext_id = HOSTILE_IDS[name]
    extra, _ = HOSTILE[name]
    # `tool_calls_count` twice would be a duplicate key: the good note has none, so neither here
    return write(root, f"docs/sessions/{ext_id}.md",
                 session_text(ext_id, "ev", "2026-12-01", title=f"Hostile {name}", extra=extra))


def good_session(root: Path, ext_id: str = GOOD_ID, date: str = "2026-12-02") -> Path:
    return write(root, f"docs/sessions/{ext_id}.md",
                 session_text(ext_id, "rt", date, title="A good session", summary="Did good work."))
