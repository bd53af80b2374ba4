"""The store as a vault of linked notes: link checks, back-links, maps of content, INDEX.md, templates.

Every link baton writes is a relative markdown link with the `.md` extension
(`[RT-260511-02](../docs/sessions/RT-260511-02.md)`), which GitHub and Obsidian
both follow. What `check` expects and `fix` writes:

- a **links line** at the top of a note's body, just before its first `##`
  heading, mirroring its frontmatter references:
  session `Workstream: [w](../../workstreams/w.md) · Plan: [p](../../plans/p.md) · ADRs: [...](...)`,
  workstream `Plan: [...] · Map: [...]`, plan `Workstreams: [...], [...]`,
  ADR `Sessions: [...] · Supersedes: [...] · Superseded by: [...]`,
  learning `Workstream: [...] · Session: [...]`. Only notes that exist are linked;
- a workstream's `## Session Log` links each session whose `workstream` is it,
  one line each, newest first: `- [<ID>](../docs/sessions/<ID>.md) (<date>): <text>`;
  a plain `- <ID> (<date>): <text>` line is turned into that form;
- back-links in frontmatter: a workstream whose `plan` is P is in P's
  `workstreams`; a session whose `adrs_touched` names an ADR is in its `sessions`;
- generated files (`docs/maps/<workstream>.md`, `INDEX.md`, `docs/templates/<kind>.md`)
  are up to date.

`check` also reports links that lead nowhere, frontmatter references to notes that
do not exist, wikilinks (Obsidian only), and orphans (notes with no link in or out).
`fix` changes notes through the round-trip writer (comments, key order and
formatting survive; a note with a `content_hash` gets it recomputed) and is
idempotent: a second run changes nothing. It repairs a broken link when exactly one
note has the file name it points to, and turns a wikilink into a markdown link when
its target is unambiguous; what it cannot decide stays reported.

`check` reads with the fast loader only; `fix` loads just the notes it changes.

Modules: `model` (records, loading the store as a vault), `links` (links lines, prose links),
`sessionlog` (the Session Log), `planning` (what a fix would change), `generated` (maps, INDEX.md,
templates), `fix` (check, fix, applying changes, renaming a session). This package re-exports their
public names, so callers write `from lib import vault` and `vault.fix(...)`.
"""

from lib.vault.fix import (
    PARALLEL_THRESHOLD,
    apply_change,
    apply_changes,
    check,
    fix,
    fix_session,
    rename_session_references,
    session_scope,
    write_generated,
)
from lib.vault.generated import (
    generated_files,
    obsidian_template,
    render_index,
    render_map,
)
from lib.vault.links import (
    find_links_line,
    links_line,
    links_segments,
    plan_prose_links,
    set_links_line,
)
from lib.vault.model import (
    BROKEN_LINK,
    DANGLING,
    GENERATED_MARK,
    INDEX_FILE,
    LABELS,
    MAPS_DIR,
    MERGE_CONFLICT,
    MISSING_BACKLINK,
    MISSING_LINK,
    ORPHAN,
    PROBLEM_KINDS,
    SEPARATOR,
    STALE,
    TEMPLATES_DIR,
    UNREADABLE,
    WIKILINK,
    FixPlan,
    NoteChange,
    Problem,
    Report,
    Vault,
    VaultNote,
    link,
    link_log_line,
    load,
    note_id,
    one_line,
    relative,
    session_log_line,
    session_log_target,
)
from lib.vault.planning import (
    plan_vault,
)
from lib.vault.sessionlog import (
    LogEntry,
    plan_session_log,
)

__all__ = [
    "BROKEN_LINK",
    "DANGLING",
    "GENERATED_MARK",
    "INDEX_FILE",
    "LABELS",
    "MAPS_DIR",
    "MERGE_CONFLICT",
    "MISSING_BACKLINK",
    "MISSING_LINK",
    "ORPHAN",
    "PARALLEL_THRESHOLD",
    "PROBLEM_KINDS",
    "SEPARATOR",
    "STALE",
    "TEMPLATES_DIR",
    "UNREADABLE",
    "WIKILINK",
    "FixPlan",
    "LogEntry",
    "NoteChange",
    "Problem",
    "Report",
    "Vault",
    "VaultNote",
    "apply_change",
    "apply_changes",
    "check",
    "find_links_line",
    "fix",
    "fix_session",
    "generated_files",
    "link",
    "link_log_line",
    "links_line",
    "links_segments",
    "load",
    "note_id",
    "obsidian_template",
    "one_line",
    "plan_prose_links",
    "plan_session_log",
    "plan_vault",
    "relative",
    "rename_session_references",
    "render_index",
    "render_map",
    "session_log_line",
    "session_log_target",
    "session_scope",
    "set_links_line",
    "write_generated",
]
