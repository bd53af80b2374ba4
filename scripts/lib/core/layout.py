"""The store's layout as plain constants: which folder holds which kind, which names are not notes.

The contract is docs/conventions/frontmatter.md. These live apart from lib.core.paths, which
re-exports them, because a search's early scan (lib.store.prescan) reads them in a freshly forked
process before anything else is imported: this module imports nothing.
"""

from __future__ import annotations

# kind -> folder, relative to the repository root
STORE_FOLDERS: dict[str, str] = {
    "session": "docs/sessions",
    "workstream": "workstreams",
    "plan": "plans",
    "adr": "docs/adr",
    "learning": "docs/learnings",
}
KINDS: tuple[str, ...] = tuple(STORE_FOLDERS)

# Files in store folders that are not notes of the folder's kind.
SKIPPED_NAMES = frozenset({"TEMPLATE.md", "INDEX.md", "README.md", "MAP.md"})

STATE_DIR = ".claude/state"
