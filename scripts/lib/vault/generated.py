"""Generated files: docs/maps/<workstream>.md, INDEX.md and docs/templates/<kind>.md, rendered from the notes."""

from __future__ import annotations

import re
from pathlib import Path

from lib.core.paths import STORE_FOLDERS
from lib.store import frontmatter, schema
from lib.vault.model import (
    GENERATED_MARK,
    INDEX_FILE,
    MAPS_DIR,
    SEPARATOR,
    TEMPLATES_DIR,
    Vault,
    VaultNote,
    _cell,
    link,
    one_line,
)

# ----------------------------------------------------------------- generated files

def _meta_view(vault: Vault, additions: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, list[str]]]:
    return {rel: {key: vault.by_rel[rel].refs(key) + items for key, items in keys.items()}
            for rel, keys in additions.items()}


def _refs(note: VaultNote, key: str, view: dict[str, dict[str, list[str]]]) -> list[str]:
    return view.get(note.rel, {}).get(key, note.refs(key))


def generated_files(vault: Vault, additions: dict[str, dict[str, list[str]]] | None = None,
                    only: set[str] | None = None) -> dict[str, str | None]:
    """Every generated file's expected content (or those in `only`); None for one that should go."""
    view = _meta_view(vault, additions or {})
    files: dict[str, str | None] = {}
    workstreams = sorted((w for w in vault.of_kind("workstream") if schema.SLUG.match(w.id)), key=lambda n: n.id)
    for ws in workstreams:
        rel = f"{MAPS_DIR}/{ws.id}.md"
        if only is None or rel in only:
            files[rel] = render_map(ws, vault, view)
    if only is not None:
        if INDEX_FILE in only:
            files[INDEX_FILE] = render_index(vault, view)
        return files
    maps = vault.root / MAPS_DIR
    if maps.is_dir():
        for path in sorted(maps.glob("*.md")):
            rel = f"{MAPS_DIR}/{path.name}"
            if rel not in files and _is_generated(path):
                files[rel] = None
    files[INDEX_FILE] = render_index(vault, view)
    for kind, folder in STORE_FOLDERS.items():
        source = vault.root / folder / "TEMPLATE.md"
        if source.is_file():
            try:
                files[f"{TEMPLATES_DIR}/{kind}.md"] = obsidian_template(kind, source.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError):
                continue
    return files


def _is_generated(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.readline().rstrip("\r\n") == GENERATED_MARK
    except (OSError, UnicodeDecodeError):
        return False


def render_map(ws: VaultNote, vault: Vault, view: dict[str, dict[str, list[str]]]) -> str:
    here = MAPS_DIR
    sessions = vault.sessions_of(ws.id)
    session_ids = {s.id for s in sessions}
    plans = [p for p in (vault.get("plan", ref) for ref in ws.refs("plan")[:1]) if p is not None]
    plans += sorted((p for p in vault.of_kind("plan") if ws.id in _refs(p, "workstreams", view) and p not in plans),
                    key=lambda n: n.id)
    adrs = sorted({a.rel: a for a in vault.of_kind("adr")
                   if session_ids & set(_refs(a, "sessions", view))}.values(), key=lambda n: n.id)
    learnings = sorted((n for n in vault.of_kind("learning")
                        if n.refs("workstream")[:1] == [ws.id] or set(n.refs("session")) & session_ids),
                       key=lambda n: n.id)
    facts = [link("workstream", ws.rel, here)]
    for key in ("status", "owner", "priority"):
        if ws.text(key):
            facts.append(f"{key}: {ws.text(key)}")
    facts.append(link("index", INDEX_FILE, here))
    out = [GENERATED_MARK, f"# {ws.id}: {ws.title()}", "", SEPARATOR.join(facts), ""]
    if ws.text("summary") and ws.text("summary") != ws.text("title"):
        out += [one_line(ws.text("summary") or "", 600), ""]
    out += ["## Plan", ""]
    out += [f"- {link(p.id, p.rel, here)}: {p.title()}" + (f" ({p.text('status')})" if p.text("status") else "")
            for p in plans] or ["None."]
    out += ["", f"## Sessions ({len(sessions)})", ""]
    if sessions:
        out += ["| session | date | operator | outcome | title |", "|---|---|---|---|---|"]
        for s in sessions:
            out.append(f"| {link(s.id, s.rel, here)} | {s.date() or ''} | {_cell(s.text('operator') or '')} | "
                       f"{_cell(s.text('outcome') or '')} | {_cell(s.title())} |")
    else:
        out.append("None yet.")
    out += ["", "## ADRs", ""]
    out += [f"- {link(a.id, a.rel, here)}: {a.title()}" + (f" ({a.text('status')})" if a.text("status") else "")
            for a in adrs] or ["None."]
    out += ["", "## Learnings", ""]
    out += [f"- {link(n.id, n.rel, here)}: {n.title()}" for n in learnings] or ["None."]
    return "\n".join(out) + "\n"


def render_index(vault: Vault, view: dict[str, dict[str, list[str]]]) -> str:
    out = [GENERATED_MARK, "# Index", "",
           "The notes of this repository, linked: each workstream's map lists its sessions, plan, ADRs and "
           "learnings.", ""]
    see = [(label, rel) for label, rel in (
        ("sessions", f"{STORE_FOLDERS['session']}/INDEX.md"), ("workstreams", f"{STORE_FOLDERS['workstream']}/INDEX.md"),
        ("changelog", "CHANGELOG.md"), ("the frontmatter contract", "docs/conventions/frontmatter.md"),
    ) if (vault.root / rel).is_file()]
    if see:
        out += ["See also: " + SEPARATOR.join(link(label, rel, "") for label, rel in see), ""]
    workstreams = sorted(vault.of_kind("workstream"), key=lambda n: n.id)
    out += [f"## Workstreams ({len(workstreams)})", ""]
    if workstreams:
        out += ["| workstream | status | owner | plan | map | title |", "|---|---|---|---|---|---|"]
        for ws in workstreams:
            plan_note = next((p for p in (vault.get("plan", r) for r in ws.refs("plan")[:1]) if p), None)
            plan_cell = link(plan_note.id, plan_note.rel, "") if plan_note else ""
            map_cell = link("map", f"{MAPS_DIR}/{ws.id}.md", "") if schema.SLUG.match(ws.id) else ""
            out.append(f"| {link(ws.id, ws.rel, '')} | {_cell(ws.text('status') or '')} | "
                       f"{_cell(ws.text('owner') or '')} | {plan_cell} | {map_cell} | {_cell(ws.title())} |")
    else:
        out.append("None yet.")
    plans = sorted(vault.of_kind("plan"), key=lambda n: n.id)
    out += ["", f"## Plans ({len(plans)})", ""]
    if plans:
        out += ["| plan | status | workstreams | title |", "|---|---|---|---|"]
        for p in plans:
            streams = [w for w in (vault.get("workstream", r) for r in _refs(p, "workstreams", view)) if w]
            cell = ", ".join(link(w.id, w.rel, "") for w in streams)
            out.append(f"| {link(p.id, p.rel, '')} | {_cell(p.text('status') or '')} | {cell} | {_cell(p.title())} |")
    else:
        out.append("None yet.")
    adrs = sorted(vault.of_kind("adr"), key=lambda n: n.id)
    out += ["", f"## ADRs ({len(adrs)})", ""]
    if adrs:
        out += ["| ADR | status | date | title |", "|---|---|---|---|"]
        for a in adrs:
            out.append(f"| {link(a.id, a.rel, '')} | {_cell(a.text('status') or '')} | {a.date() or ''} | "
                       f"{_cell(a.title())} |")
    else:
        out.append("None yet.")
    learnings = sorted(vault.of_kind("learning"), key=lambda n: n.id)
    out += ["", f"## Learnings ({len(learnings)})", ""]
    if learnings:
        out += ["| learning | workstream | title |", "|---|---|---|"]
        for n in learnings:
            ws_note = next((w for w in (vault.get("workstream", r) for r in n.refs("workstream")[:1]) if w), None)
            cell = link(ws_note.id, ws_note.rel, "") if ws_note else ""
            out.append(f"| {link(n.id, n.rel, '')} | {cell} | {_cell(n.title())} |")
    else:
        out.append("None yet.")
    return "\n".join(out) + "\n"


_TEMPLATE_VARIABLES: dict[str, dict[str, str]] = {
    # Obsidian's Templates plugin fills {{title}} (the new file's name) and {{date}} (templates.json dateFormat).
    "session": {"date": '"{{date}}"'},
    "workstream": {"external_id": '"{{title}}"', "created": '"{{date}}"'},
    "plan": {"external_id": '"{{title}}"', "created": '"{{date}}"'},
    "adr": {"date": '"{{date}}"'},
    "learning": {"external_id": '"{{title}}"', "date": '"{{date}}"'},
}


def obsidian_template(kind: str, text: str) -> str:
    """A store TEMPLATE.md as an Obsidian template: the id and dates filled in by Obsidian on insertion."""
    try:
        parts = frontmatter.split(text)
    except frontmatter.FrontmatterError:
        return text
    if parts.yaml_text is None:
        return text
    replace = _TEMPLATE_VARIABLES.get(kind, {})
    lines = []
    for line in parts.yaml_text.splitlines(keepends=True):
        match = re.match(r"^([A-Za-z_][A-Za-z0-9_]*):[ \t]*[^\n]*?(\n?)$", line)
        if match and match.group(1) in replace:
            line = f"{match.group(1)}: {replace[match.group(1)]}{match.group(2)}"
        lines.append(line)
    nl = parts.newline
    yaml_text = "".join(lines).replace("\n", nl)
    return f"{parts.opening}{nl}{yaml_text}{parts.closing}{nl}{parts.body}"
