"""The read side of the store index: the IndexedNote record and the queries over indexed notes.

`Queries` is mixed into `lib.store.index.Index`, which supplies the connection (`select`)
and the per-generation memo (`_memo`); everything here is a read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import PurePosixPath
from typing import Any, NamedTuple

from lib.store.rows import NOTE_COLUMNS


# Records are NamedTuples: a dataclass costs several times more to define, and every
# command that reads the store imports this module.
class IndexedNote(NamedTuple):
    """One indexed note. `operator` is a session's or learning's operator, a workstream's or plan's owner."""

    path: str
    kind: str | None
    external_id: str | None
    operator: str | None
    status: str | None
    outcome: str | None
    confidence: str | None
    date: str | None
    seq: int
    title: str | None
    summary: str | None
    workstream: str | None
    claimed_at: str | None
    content_hash: str | None
    problem_count: int | None
    metadata: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return self.external_id or PurePosixPath(self.path).stem

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "path": self.path, "kind": self.kind, "external_id": self.external_id,
            "operator": self.operator, "status": self.status, "outcome": self.outcome,
            "confidence": self.confidence, "date": self.date, "seq": self.seq, "title": self.title,
            "summary": self.summary, "workstream": self.workstream, "claimed_at": self.claimed_at,
            "content_hash": self.content_hash, "problem_count": self.problem_count,
        }
        if self.metadata is not None:
            out["metadata"] = self.metadata
        return out



class Queries:
    """Queries over the indexed notes (see `lib.store.index.Index`)."""

    def select(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Rows of a query over the index's tables (a damaged cache is rebuilt and the query run again)."""
        raise NotImplementedError

    def _memo(self, key: str, compute: Callable[[], Any]) -> Any:
        raise NotImplementedError

    def notes(self, kind: str | None = None, *, operator: str | None = None,
              not_operator: str | None = None, status: str | Sequence[str] | None = None,
              not_status: str | Sequence[str] | None = None, workstream: str | None = None,
              since: str | None = None, limit: int | None = None, order: str = "newest",
              with_metadata: bool = False) -> list[IndexedNote]:
        """Notes matching every given filter. `order`: "newest" (date, then sequence) or "path".

        `since` keeps notes whose date is on or after an ISO date. Statuses may be one
        value or several; `not_status` keeps notes without a status too.
        """
        where: list[str] = []
        params: list[Any] = []
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        if operator is not None:
            where.append("operator = ?")
            params.append(operator)
        if not_operator is not None:
            where.append("operator IS NOT ?")
            params.append(not_operator)
        for column_values, negate in ((status, False), (not_status, True)):
            if column_values is None:
                continue
            values = [column_values] if isinstance(column_values, str) else list(column_values)
            marks = ", ".join("?" * len(values))
            where.append(f"(status IS NULL OR status NOT IN ({marks}))" if negate else f"status IN ({marks})")
            params.extend(values)
        if workstream is not None:
            where.append("workstream = ?")
            params.append(workstream)
        if since is not None:
            # rank starts with the date, so this is a range of the (kind, rank) index.
            where.append("rank >= ? AND date >= ?")
            params.extend([since, since])
        sql = f"SELECT {note_select_list(with_metadata)} FROM {_from(with_metadata)}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY rank DESC, path DESC" if order == "newest" else " ORDER BY path"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return [note_from_row(row, with_metadata) for row in self.select(sql, params)]

    def unreadable(self) -> dict[str, str]:
        """{path: one-line reason} of every note whose frontmatter could not be read (it has no metadata)."""
        return dict(self.select("SELECT path, error FROM docs WHERE error IS NOT NULL ORDER BY path"))

    def note(self, path: str, *, with_metadata: bool = True) -> IndexedNote | None:
        rows = self.select(
            f"SELECT {note_select_list(with_metadata)} FROM {_from(with_metadata)} WHERE notes.path = ?", (path,)
        )
        return note_from_row(rows[0], with_metadata) if rows else None

    def sections(self, path: str) -> dict[str, str]:
        """The kept body sections of a note (see SECTIONS), by their canonical names."""
        rows = self.select("SELECT sections FROM docs WHERE path = ?", (path,))
        if not rows or not rows[0][0]:
            return {}
        import json  # not at the top: a search imports this module and needs no JSON

        data: dict[str, str] = json.loads(rows[0][0])
        return data

    def count(self, kind: str | None = None) -> int:
        counts: dict[str, int] = self._memo("counts", lambda: {
            str(k): n for k, n in self.select("SELECT kind, COUNT(*) FROM notes GROUP BY kind")
        })
        return sum(counts.values()) if kind is None else counts.get(kind, 0)

    def latest_by(self, column: str, kind: str = "session", *,
                  not_status: Sequence[str] = ("claimed",)) -> dict[str, IndexedNote]:
        """The newest note of a kind for each value of `operator` or `workstream`."""
        if column not in ("operator", "workstream"):
            raise ValueError(f"cannot group by {column!r}")
        marks = ", ".join("?" * len(not_status))

        def compute() -> list[list[Any]]:
            # From the covering index (kind, column, rank, status, path); then one lookup of the winners.
            sql = (f"SELECT MAX(rank || ' ' || path) FROM notes WHERE kind = ? AND {column} IS NOT NULL "
                   f"AND (status IS NULL OR status NOT IN ({marks})) GROUP BY {column}")
            paths = [row[0].split(" ", 2)[2] for row in self.select(sql, [kind, *not_status])]
            rows: list[list[Any]] = []
            for start in range(0, len(paths), 500):
                chunk = paths[start: start + 500]
                rows.extend(list(r) for r in self.select(
                    f"SELECT {note_select_list(False)} FROM notes WHERE path IN ({', '.join('?' * len(chunk))})", chunk
                ))
            return rows

        index = NOTE_COLUMNS.index(column)
        rows = self._memo(f"latest_by\0{column}\0{kind}\0{','.join(not_status)}", compute)
        return {row[index]: note_from_row(row, False) for row in rows}

    def counts_by_operator(self, since: str | None = None, kind: str = "session",
                           not_status: Sequence[str] = ("claimed",)) -> dict[str, int]:
        marks = ", ".join("?" * len(not_status))
        sql = (f"SELECT operator, COUNT(*) FROM notes WHERE kind = ? AND operator IS NOT NULL "
               f"AND (status IS NULL OR status NOT IN ({marks}))")
        params: list[Any] = [kind, *not_status]
        if since is not None:
            sql += " AND date >= ?"
            params.append(since)
        key = f"counts_by_operator\0{since}\0{kind}\0{','.join(not_status)}"
        counts: dict[str, int] = self._memo(key, lambda: {
            op: n for op, n in self.select(sql + " GROUP BY operator", params)
        })
        return counts

    def validated(self) -> bool:
        return not self.select("SELECT 1 FROM files WHERE validated = 0 LIMIT 1")

    def duplicate_ids(self) -> list[tuple[str, str, list[str]]]:
        """(kind, external_id, paths) for every id that more than one note of a kind uses."""
        rows = self._memo("duplicate_ids", lambda: [list(r) for r in self.select(
            "SELECT kind, external_id, GROUP_CONCAT(path, char(10)) FROM notes "
            "WHERE external_id IS NOT NULL AND kind IS NOT NULL GROUP BY kind, external_id HAVING COUNT(*) > 1"
        )])
        return [(k, i, sorted(paths.split("\n"))) for k, i, paths in rows]

    def problem_count(self) -> tuple[int, int]:
        """(problems, files with problems), cross-file ones included."""
        count, files = self._memo("problem_count", self._problem_count)
        return int(count), int(files)

    def _problem_count(self) -> tuple[int, int]:
        count, files = self.select(
            "SELECT COALESCE(SUM(problem_count), 0), COUNT(*) FROM notes WHERE problem_count > 0"
        )[0]
        paths_with = None
        for _kind, _ext, paths in self.duplicate_ids():
            if paths_with is None:
                paths_with = {r[0] for r in self.select("SELECT path FROM notes WHERE problem_count > 0")}
            for path in paths:
                count += 1
                if path not in paths_with:
                    paths_with.add(path)
                    files += 1
        return int(count), int(files)


def note_select_list(with_metadata: bool) -> str:
    columns = ", ".join(f"notes.{c}" for c in NOTE_COLUMNS)
    return columns + ", docs.metadata" if with_metadata else columns


def _from(with_metadata: bool) -> str:
    return "notes JOIN docs USING (path)" if with_metadata else "notes"


def _no_constant(name: str) -> None:
    return None


def note_from_row(row: Sequence[Any], with_metadata: bool) -> IndexedNote:
    values = list(row[: len(NOTE_COLUMNS)])
    if with_metadata:
        import json

        # .inf/.nan (a validation problem of their own) read back as null: JSON has no form for them
        values.append(json.loads(row[len(NOTE_COLUMNS)], parse_constant=_no_constant))
    else:
        values.append(None)
    return IndexedNote(*values)


