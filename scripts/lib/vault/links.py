"""Links: the links line each note's frontmatter implies, and the links in its prose (checked, repaired)."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from urllib.parse import unquote

from lib.store import schema
from lib.vault.model import (
    _CODE_SPAN,
    _FENCE,
    _INLINE_LINK,
    _LINKS_LINE,
    _REF_DEF,
    _SCHEME,
    _SUBHEADING,
    _WIKILINK,
    BROKEN_LINK,
    INDEX_FILE,
    MAPS_DIR,
    SEPARATOR,
    WIKILINK,
    FixPlan,
    Problem,
    Vault,
    VaultNote,
    _eol,
    _newline,
    link,
    relative,
)

# ----------------------------------------------------------------- expected links

def links_segments(note: VaultNote, vault: Vault,
                   meta_lists: dict[str, list[str]] | None = None) -> list[tuple[str, list[VaultNote | str]]]:
    """(label, targets) of a note's links line; a target is a VaultNote, or a path for the workstream's map."""
    lists = meta_lists or {}

    def refs(key: str) -> list[str]:
        return lists.get(key, note.refs(key))

    def notes(kind: str, ids: Iterable[str]) -> list[VaultNote | str]:
        found: list[VaultNote | str] = []
        seen: set[str] = set()
        for ref in ids:
            target = vault.get(kind, ref)
            if target is not None and target.rel not in seen and target.rel != note.rel:
                seen.add(target.rel)
                found.append(target)
        return found

    segments: list[tuple[str, list[VaultNote | str]]] = []
    if note.kind == "session":
        segments = [("Workstream", notes("workstream", refs("workstream"))),
                    ("Plan", notes("plan", refs("plan"))),
                    ("ADRs", notes("adr", sorted(refs("adrs_touched"))))]
    elif note.kind == "workstream":
        segments = [("Plan", notes("plan", refs("plan")))]
        if schema.SLUG.match(note.id):
            segments.append(("Map", [f"{MAPS_DIR}/{note.id}.md"]))
    elif note.kind == "plan":
        segments = [("Workstreams", notes("workstream", refs("workstreams")))]
    elif note.kind == "adr":
        segments = [("Sessions", notes("session", refs("sessions"))),
                    ("Supersedes", notes("adr", refs("supersedes"))),
                    ("Superseded by", notes("adr", refs("superseded_by")))]
    elif note.kind == "learning":
        segments = [("Workstream", notes("workstream", refs("workstream"))),
                    ("Session", notes("session", refs("session")))]
    return [(label, targets) for label, targets in segments if targets]


def links_line(note: VaultNote, vault: Vault, meta_lists: dict[str, list[str]] | None = None) -> str | None:
    parts = []
    for label, targets in links_segments(note, vault, meta_lists):
        rendered = []
        for target in targets:
            if isinstance(target, VaultNote):
                rendered.append(link(target.id, target.rel, note.folder))
            else:
                rendered.append(link(note.id, target, note.folder))
        parts.append(f"{label}: {', '.join(rendered)}")
    return SEPARATOR.join(parts) or None


def find_links_line(body: str) -> int | None:
    """Index (in body.splitlines) of the links line: before the first `##` heading."""
    for index, line in enumerate(body.splitlines()):
        if _SUBHEADING.match(line):
            return None
        if _LINKS_LINE.match(line):
            return index
    return None


def set_links_line(body: str, wanted: str | None) -> str:
    """The body with its links line set to `wanted` (added before the first `##` heading, or removed)."""
    nl = _newline(body)
    lines = body.splitlines(keepends=True)
    current = find_links_line(body)
    if current is not None:
        if wanted is None:
            del lines[current]
            if current < len(lines) and not lines[current].strip():
                del lines[current]
            return "".join(lines)
        lines[current] = wanted + _eol(lines[current], nl)
        return "".join(lines)
    if wanted is None:
        return body
    boundary = next((i for i, line in enumerate(lines) if _SUBHEADING.match(line)), None)
    if boundary is None:
        if not body:
            return wanted + nl
        return wanted + nl + nl + body
    before: list[str] = []
    if boundary > 0 and lines[boundary - 1].strip():
        if not lines[boundary - 1].endswith(("\n", "\r")):
            lines[boundary - 1] += nl
        before.append(nl)
    lines[boundary:boundary] = [*before, wanted + nl, nl]
    return "".join(lines)


# ----------------------------------------------------------------- prose links

def _exists(vault: Vault, rel: str) -> bool:
    if rel in _planned_paths(vault):
        return True
    return (vault.root / rel).exists()


def _planned_paths(vault: Vault) -> set[str]:
    """Paths that exist once fix has run: the notes and the generated files links may point to."""
    if vault._planned is None:
        maps = {f"{MAPS_DIR}/{w.id}.md" for w in vault.of_kind("workstream") if schema.SLUG.match(w.id)}
        planned = {INDEX_FILE} | maps
        vault._planned = planned | set(vault.by_rel)
    return vault._planned


def _split_target(raw: str) -> tuple[str, str]:
    target = raw[1:-1] if raw.startswith("<") and raw.endswith(">") else raw
    for mark in ("#", "?"):
        if mark in target:
            index = target.index(mark)
            return target[:index], target[index:]
    return target, ""


def _resolve(folder: str, path: str) -> str:
    path = unquote(path)
    if path.startswith("/"):
        return posixpath.normpath(path.lstrip("/"))
    return posixpath.normpath(posixpath.join(folder, path))


def _candidates(vault: Vault, path: str) -> list[VaultNote]:
    name = posixpath.basename(path)
    found = vault.named(name)
    if not found and not name.endswith(".md"):
        found = vault.named(name + ".md")
    return found


def plan_prose_links(note: VaultNote, body: str, vault: Vault, plan: FixPlan) -> str:
    """The body with repairable links repaired; every link problem recorded in `plan`."""
    lines = body.splitlines(keepends=True)
    in_fence: str | None = None
    for index, line in enumerate(lines):
        fence = _FENCE.match(line)
        if fence:
            marker = fence.group(1)[0] * 3
            if in_fence is None:
                in_fence = marker
            elif marker == in_fence:
                in_fence = None
            continue
        if in_fence is not None:
            continue
        masked = _CODE_SPAN.sub(lambda m: " " * len(m.group()), line)
        edits: list[tuple[int, int, str]] = []
        line_no = note.body_line + index
        for match in _INLINE_LINK.finditer(masked):
            start, end = match.span("target")
            _check_target(note, line[start:end], start, end, line_no, vault, plan, edits)
        ref = _REF_DEF.match(masked)
        if ref:
            start, end = ref.span("target")
            _check_target(note, line[start:end], start, end, line_no, vault, plan, edits)
        for match in _WIKILINK.finditer(masked):
            _check_wikilink(note, match, line, line_no, vault, plan, edits)
        if edits:
            edits.sort()
            out, pos = [], 0
            for start, end, new in edits:
                out += [line[pos:start], new]
                pos = end
            out.append(line[pos:])
            lines[index] = "".join(out)
    return "".join(lines)


def _check_target(note: VaultNote, raw: str, start: int, end: int, line_no: int, vault: Vault, plan: FixPlan,
                  edits: list[tuple[int, int, str]]) -> None:
    if not raw or raw.startswith("#") or _SCHEME.match(raw) or raw.startswith("//"):
        return
    path, fragment = _split_target(raw)
    if not path:
        return
    resolved = _resolve(note.folder, path)
    if resolved == ".." or resolved.startswith("../"):
        plan.problems.append(Problem(note.rel, line_no, BROKEN_LINK, f"link {raw} leads outside the repository"))
        return
    if _exists(vault, resolved):
        return
    found = _candidates(vault, path)
    if len(found) == 1:
        new = relative(found[0].rel, note.folder) + fragment
        plan.problems.append(Problem(note.rel, line_no, BROKEN_LINK,
                                     f"link {raw} leads nowhere; {found[0].rel} has that name", fixable=True))
        edits.append((start, end, new))
        return
    why = f"{len(found)} notes have that name" if found else "no such file"
    plan.problems.append(Problem(note.rel, line_no, BROKEN_LINK, f"link {raw} leads nowhere ({why})"))


def _check_wikilink(note: VaultNote, match: re.Match[str], line: str, line_no: int, vault: Vault, plan: FixPlan,
                    edits: list[tuple[int, int, str]]) -> None:
    name = match["name"].strip()
    shown = line[match.start():match.end()]
    if match["frag"]:
        plan.problems.append(Problem(note.rel, line_no, WIKILINK,
                                     f"{shown} works in Obsidian only; make it a markdown link by hand"))
        return
    found = _candidates(vault, name)
    targets = [n.rel for n in found]
    if not targets:
        for candidate in (posixpath.join(note.folder, name), name):
            for rel in (candidate, candidate + ".md"):
                rel = posixpath.normpath(rel)
                if not rel.startswith("..") and (vault.root / rel).is_file():
                    targets = [rel]
                    break
            if targets:
                break
    if len(targets) != 1:
        why = "no note has that name" if not targets else f"{len(targets)} notes have that name"
        plan.problems.append(Problem(note.rel, line_no, BROKEN_LINK, f"{shown} leads nowhere ({why})"))
        return
    text = (match["alias"] or name).strip()
    new = f"[{text}]({relative(targets[0], note.folder)})"
    plan.problems.append(Problem(note.rel, line_no, WIKILINK,
                                 f"{shown} works in Obsidian only; fix writes {new}", fixable=True))
    edits.append((match.start(), match.end(), new))
