"""Full-text search over the store index: BM25-ranked hits with a highlighted snippet each.

The text lives in the index's FTS5 table (`fts`, one row per note, columns
`rows.TEXT_COLUMNS`), written by the same refresh that keeps the other tables fresh,
so a search sees exactly the notes in the working tree. Queries are FTS5 syntax:
words (all must match), "a phrase", a prefix*, OR / NOT / parentheses, and
`column: word`. A word with punctuation in it (an id such as RT-261120-01, a
slug such as datum-conversion) is taken as the phrase of its parts.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from typing import Any, NamedTuple

from lib.core.errors import BatonError
from lib.store.index import Index
from lib.store.queries import IndexedNote, note_from_row, note_select_list
from lib.store.rows import TEXT_COLUMNS

# BM25 weight per column (TEXT_COLUMNS order): a hit in the title counts most, the body least.
WEIGHTS = (10.0, 5.0, 4.0, 2.0, 2.0, 2.0, 1.0)
MARK_START = "\x02"
MARK_END = "\x03"
ELLIPSIS = "…"
SNIPPET_TOKENS = 14
DEFAULT_LIMIT = 20
MAX_LIMIT = 500

# A token FTS5 would refuse as a bare word, but that means plain text: wrap it in quotes.
_PLAIN = re.compile(r'^[^"()*:^+\s]*[^\w"()*:^+\s][^"()*:^+\s]*\*?$')
_TOKEN = re.compile(r'"[^"]*"?|\S+')
_OPERATORS = {"AND", "OR", "NOT", "NEAR"}
# Words too common in a store to say what a note is about (for related notes).
_STOPWORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "into", "is", "it", "of", "on",
    "or", "the", "to", "was", "were", "with", "this", "that", "what", "which", "who", "how", "why", "when",
    "where", "we", "our", "you", "your", "not", "no", "session", "sessions", "workstream", "workstreams",
    "note", "notes", "plan", "work",
))


class QueryError(BatonError):
    """The query is not valid search syntax."""


class Hit(NamedTuple):
    note: IndexedNote
    score: float  # BM25 (lower is better, as SQLite reports it)
    snippet: str  # one line, matches between MARK_START and MARK_END

    def plain_snippet(self, start: str = "", end: str = "") -> str:
        return self.snippet.replace(MARK_START, start).replace(MARK_END, end)

    def as_dict(self, start: str = "[", end: str = "]") -> dict[str, Any]:
        note = self.note
        return {"id": note.id, "path": note.path, "kind": note.kind, "title": note.title, "date": note.date,
                "operator": note.operator, "workstream": note.workstream, "outcome": note.outcome,
                "score": round(-self.score, 4), "snippet": self.plain_snippet(start, end)}


def normalize(query: str) -> str:
    """The query as FTS5 will read it: words with punctuation inside quoted as phrases."""
    out = []
    for token in _TOKEN.findall(query):
        if token.startswith('"') or token in _OPERATORS:
            out.append(token)
        elif _PLAIN.match(token):
            star = token.endswith("*")
            core = token[:-1] if star else token
            out.append(f'"{core}"' + ("*" if star else ""))
        else:
            out.append(token)
    return " ".join(out)


def search(index: Index, query: str, *, kind: str | None = None, operator: str | None = None,
           workstream: str | None = None, since: str | None = None, outcome: str | None = None,
           limit: int = DEFAULT_LIMIT, columns: Sequence[str] | None = None,
           exclude: Sequence[str] = ()) -> list[Hit]:
    """The best `limit` notes for `query` under the filters, best first. Raises QueryError for a query
    that is not valid syntax. `columns` restricts matching to some of TEXT_COLUMNS."""
    text = normalize(query).strip()
    if not text:
        raise QueryError("empty query: give at least one word")
    if columns:
        unknown = [c for c in columns if c not in TEXT_COLUMNS]
        if unknown:
            raise QueryError(f"unknown search column {unknown[0]!r} (one of: {', '.join(TEXT_COLUMNS)})")
        text = "{" + " ".join(columns) + "} : (" + text + ")"
    where = ["fts MATCH ?"]
    params: list[Any] = [text]
    for column, value in (("kind", kind), ("operator", operator), ("workstream", workstream),
                          ("outcome", outcome)):
        if value is not None:
            where.append(f"notes.{column} = ?")
            params.append(value)
    if since is not None:
        where.append("notes.date >= ?")
        params.append(since)
    if exclude:
        where.append(f"notes.path NOT IN ({', '.join('?' * len(exclude))})")
        params.extend(exclude)
    limit = max(1, min(int(limit), MAX_LIMIT))
    weights = ", ".join(str(w) for w in WEIGHTS)
    scored = f"SELECT rowid, bm25(fts, {weights}) AS score FROM fts WHERE fts MATCH ?"
    if len(where) == 1:
        # No filter: the full-text index alone finds the `limit`-th best score, and only notes scoring
        # at least that well (ties included) are joined to their notes for the newest-first tie-break.
        # A common word matches hundreds of notes; looking each up costs more than a second FTS pass.
        cut = _run(index, f"SELECT max(score) FROM ({scored} ORDER BY score LIMIT ?)", [text, limit], query)
        if not cut or cut[0][0] is None:
            return []
        where.append("m.score <= ?")
        params.append(cut[0][0])
    # Rank first (cheap), then snippets for the winners only: a snippet re-reads the note's text.
    sql = (f"SELECT m.rowid, m.score FROM ({scored}) AS m "
           "JOIN docs ON docs.rowid = m.rowid JOIN notes ON notes.path = docs.path "
           f"WHERE {' AND '.join(where[1:]) or '1'} ORDER BY m.score, notes.rank DESC LIMIT ?")
    params.append(limit)
    ranked = _run(index, sql, params, query)
    if not ranked:
        return []
    ids = [r[0] for r in ranked]
    marks = ", ".join("?" * len(ids))
    snippets = dict(_run(index, (
        f"SELECT rowid, snippet(fts, -1, '{MARK_START}', '{MARK_END}', '{ELLIPSIS}', {SNIPPET_TOKENS}) "
        f"FROM fts WHERE fts MATCH ? AND rowid IN ({marks})"), [text, *ids], query))
    notes = {r[0]: note_from_row(r[1:], False) for r in index.select(
        f"SELECT docs.rowid, {note_select_list(False)} FROM docs JOIN notes USING (path) "
        f"WHERE docs.rowid IN ({marks})", ids)}
    return [Hit(notes[rowid], score, _one_line(snippets.get(rowid, "")))
            for rowid, score in ranked if rowid in notes]


def column_text(index: Index, path: str, column: str, query: str | None = None) -> str:
    """One full-text column of a note (`decisions`, `prompt`...), matches marked when a query is given."""
    if column not in TEXT_COLUMNS:
        raise QueryError(f"unknown search column {column!r}")
    position = TEXT_COLUMNS.index(column)
    if query:
        rows = _run(index, (f"SELECT highlight(fts, {position}, '{MARK_START}', '{MARK_END}') FROM fts "
                            "WHERE fts MATCH ? AND rowid = (SELECT rowid FROM docs WHERE path = ?)"),
                    [normalize(query), path], query)
        if rows:
            return str(rows[0][0] or "")
    rows = index.select(f"SELECT {column} FROM fts WHERE rowid = (SELECT rowid FROM docs WHERE path = ?)",
                        (path,))
    return str(rows[0][0] or "") if rows else ""


def search_related(index: Index, words: str, *, exclude: Sequence[str] = (), limit: int = 3,
            workstream: str | None = None) -> list[Hit]:
    """Notes about the same things as `words` (a workstream's title and slug, say): any of its
    significant words, best first; notes of `workstream` itself and `exclude` left out."""
    terms: list[str] = []
    for word in re.findall(r"\w+", words.lower()):
        if len(word) > 2 and word not in _STOPWORDS and not word.isdigit() and word not in terms:
            terms.append(word)
    if not terms:
        return []
    query = " OR ".join(f'"{t}"' for t in terms[:12])
    if workstream is not None:
        # A phrase of the slug's parts finds the notes that name the workstream.
        parts = re.findall(r"\w+", workstream.lower())
        if parts:
            query = f'"{" ".join(parts)}" OR {query}'
    hits = search(index, query, limit=limit + 20, exclude=exclude)
    return [h for h in hits if workstream is None or h.note.workstream != workstream][:limit]


def _run(index: Index, sql: str, params: Sequence[Any], query: str) -> list[Any]:
    try:
        return index.select(sql, params)
    except sqlite3.OperationalError as exc:
        reason = str(exc).removeprefix("fts5: ")
        if "locked" in reason or "busy" in reason:
            raise
        raise QueryError(f"not a valid search query {query!r} ({reason}); quote a phrase \"like this\", "
                         "end a prefix with *") from None


def _one_line(text: str) -> str:
    return " ".join(text.split())
