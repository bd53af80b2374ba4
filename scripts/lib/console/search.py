"""The console's search page: full-text search over the served projects' stores.

Served by each project's store index (lib.store.fulltext), on the index's own thread
(see lib.console.storeview); the page is rendered on the server and works without
JavaScript. Hits of several projects are merged by their BM25 score.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

from lib.console.data import BadRequest, Console
from lib.core.paths import KINDS
from lib.store import fulltext

MAX_QUERY_CHARS = 500
DEFAULT_LIMIT = 30


def search(console: Console, query: str, *, project: str | None = None, kind: str | None = None,
           limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
    """{"query", "kind", "hits": [{project, id, kind, title, date, operator, path, snippet_html, link}]}."""
    query = query.strip()
    if len(query) > MAX_QUERY_CHARS:
        raise BadRequest(f"query: at most {MAX_QUERY_CHARS} characters")
    if kind is not None and kind not in KINDS:
        raise BadRequest(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    found: list[tuple[float, dict[str, Any]]] = []
    if query:
        for proj in console.selected(project):
            try:
                hits = proj.view.search(query, kind=kind, limit=limit)
            except fulltext.QueryError as exc:
                raise BadRequest(str(exc)) from None
            for hit in hits:
                found.append((hit.score, _row(proj.name, hit)))
    found.sort(key=lambda pair: pair[0])
    return {"query": query, "kind": kind, "hits": [row for _, row in found[:limit]]}


def snippet_html(hit: fulltext.Hit) -> Markup:
    """The snippet, escaped, with its matches in <mark>."""
    text = str(escape(hit.snippet))
    return Markup(text.replace(fulltext.MARK_START, "<mark>").replace(fulltext.MARK_END, "</mark>"))


def _row(project: str, hit: fulltext.Hit) -> dict[str, Any]:
    note = hit.note
    link = None
    if note.kind == "session":
        link = f"/sessions/{note.id}"
    elif note.kind == "workstream":
        link = "/workstreams"
    return {"project": project, "id": note.id, "kind": note.kind, "title": note.title, "date": note.date,
            "operator": note.operator, "path": note.path, "snippet_html": snippet_html(hit), "link": link}
