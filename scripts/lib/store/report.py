"""The validator's report over the whole store, served from the store index.

Per-file problems are stored in the index by the refresh that read each file; the
cross-file ones (duplicate ids) come from the indexed ids. Only this module joins the
index and the validator, so neither imports the other.
"""

from __future__ import annotations

import json
from pathlib import Path

from lib.store import frontmatter, yamlio
from lib.store.index import Index
from lib.store.validate import FileResult, Problem, Report


def check_store(root: Path) -> Report:
    """Every note of the store, checked through the store index: only files changed since the last
    check are read again; the cross-file checks run over the indexed ids."""
    with Index(root) as index:
        index.refresh()
        return store_report(index)


def file_problems(index: Index) -> list[Problem]:
    """Every stored per-file problem (refresh with validation first)."""
    problems = []
    for path, text in index.select(
        "SELECT notes.path, problems FROM notes JOIN docs USING (path) WHERE problem_count > 0"
    ):
        for line, pointer, message in json.loads(text):
            problems.append(Problem(path, line, pointer, message))
    return problems


def store_report(index: Index) -> Report:
    """The validator's report over the whole store, served from the index (refresh first)."""
    files = [FileResult(path, kind, ext_id) for path, kind, ext_id in index.select(
        "SELECT path, kind, external_id FROM notes ORDER BY path"
    )]
    by_path = {f.path: f for f in files}
    for problem in file_problems(index):
        by_path[problem.path].problems.append(problem)
    cross = []
    for _kind, ext_id, paths in index.duplicate_ids():
        for path in paths:
            others = ", ".join(p for p in paths if p != path)
            cross.append(Problem(path, _id_line(index.root, path), "/external_id",
                                 f"duplicate external_id {ext_id!r} (also in {others})"))
    return Report(files=files, cross_problems=cross)


def _id_line(root: Path, path: str) -> int:
    try:
        parts = frontmatter.split((root / path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, frontmatter.FrontmatterError):
        return 1
    found = yamlio.key_line(parts.yaml_text, ["external_id"]) if parts.yaml_text else None
    return found + 1 if found else 1
