"""Checking notes against the contract: per-file schema checks and cross-file checks.

Input is (display path, text) pairs, so the same checks serve the working tree,
explicit paths and git's staged blobs. Problems carry the line of the offending
key when it exists; reporting is the CLI's job.
"""

from __future__ import annotations

import math
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from lib.core.paths import KINDS, kind_for_relpath
from lib.store import frontmatter, roundtrip, schema, yamlio


@dataclass(frozen=True, order=True)
class Problem:
    path: str
    line: int
    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.pointer or '/'}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "pointer": self.pointer or "/", "message": self.message}


@dataclass
class FileResult:
    path: str
    kind: str | None = None
    external_id: str | None = None
    problems: list[Problem] = field(default_factory=list)
    # the frontmatter text, kept so the line of a key is looked up only when a problem names it
    yaml_text: str = field(default="", repr=False)

    @property
    def id_line(self) -> int:
        found = yamlio.key_line(self.yaml_text, ["external_id"]) if self.yaml_text else None
        return found + 1 if found else 1  # +1: the opening delimiter line


@dataclass
class Report:
    files: list[FileResult] = field(default_factory=list)
    cross_problems: list[Problem] = field(default_factory=list)

    @property
    def problems(self) -> list[Problem]:
        found = [p for f in self.files for p in f.problems] + self.cross_problems
        return sorted(found)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        problems = self.problems
        return {
            "version": 1,
            "files_checked": len(self.files),
            "files_with_problems": len({p.path for p in problems}),
            "problem_count": len(problems),
            "ok": not problems,
            "problems": [p.as_dict() for p in problems],
        }


def _pointer(parts: Iterable[Any]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _message(error: Any) -> str:
    if isinstance(error.instance, float) and not math.isfinite(error.instance):
        return _not_finite(error.instance)
    validator = error.validator
    if validator == "required":
        match = re.match(r"'(.+)' is a required property", error.message)
        return f"missing required key '{match.group(1)}'" if match else error.message
    if validator == "pattern":
        description = error.schema.get("description")
        value = error.instance
        return f"{value!r} is not {description}" if description else f"{value!r} has the wrong format"
    if validator == "const":
        return f"must be {error.validator_value!r}, not {error.instance!r}"
    if validator == "enum":
        allowed = ", ".join("null" if v is None else str(v) for v in error.validator_value)
        return f"{error.instance!r} is not one of: {allowed}"
    if validator == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return f"must be {expected}, not {_json_type(error.instance)}"
    return " ".join(str(error.message).split())


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _not_finite(value: float) -> str:
    return f"{roundtrip.spell_float(value)} is not a finite number (JSON, Notion and the content hash have no form for it)"


# Only a text with one of these can hold a non-finite number: `.inf`, `.nan`, or a float too big (1e999).
_NON_FINITE_HINT = re.compile(r"\.(?:inf|Inf|INF|nan|NaN|NAN)|[0-9][eE][-+]?[0-9]{3}")


def check_text(path: str, text: str, kind_hint: str | None = None) -> FileResult:
    """Check one file's text. `path` is repository-relative (POSIX) where possible."""
    conflicts = conflict_problems(path, text)
    try:
        parts = frontmatter.split(text, path)
        metadata = frontmatter.parse_metadata(parts.yaml_text, path)
    except frontmatter.FrontmatterError as exc:
        return FileResult(path=path, problems=[*conflicts, Problem(path, exc.line or 1, "", exc.reason)])
    result = check_metadata(path, parts.yaml_text, metadata, kind_hint)
    result.problems[:0] = conflicts
    return result


CONFLICT_MESSAGE = ("unresolved merge conflict (git's conflict markers): `scripts/vault.py fix` merges a Session "
                    "Log and the generated files; anything else, resolve by hand, then `git add` it")


def conflict_problems(path: str, text: str) -> list[Problem]:
    """A problem at the first conflict marker git left in the file (a clone merged without baton's driver)."""
    if "<<<<<<<" not in text and ">>>>>>>" not in text:
        return []
    from lib.store.conflictmarkers import conflict_lines

    lines = conflict_lines(text)
    return [Problem(path, lines[0], "", CONFLICT_MESSAGE)] if lines else []


def check_metadata(path: str, yaml_text: str | None, metadata: dict[str, Any], kind_hint: str | None = None,
                   *, instance: dict[str, Any] | None = None) -> FileResult:
    """Check a file's parsed frontmatter (`yaml_text` None: the file has none).

    `instance` is `schema.jsonable(metadata)` when the caller has it already (the store index).
    """
    result = FileResult(path=path)
    text = yaml_text or ""

    def line_of(parts_: list[Any]) -> int:
        found = yamlio.key_line(text, parts_) if text else None
        return found + 1 if found else 1  # +1: the opening delimiter line

    if yaml_text is None:
        result.problems.append(Problem(path, 1, "", "no frontmatter (a '---' block at the top of the file)"))
        return result

    declared = metadata.get("kind")
    kind = declared if isinstance(declared, str) else None
    if declared is not None and declared not in KINDS:
        allowed = ", ".join(KINDS)
        result.problems.append(Problem(path, line_of(["kind"]), "/kind", f"unknown kind {declared!r} (one of: {allowed})"))
        return result
    kind = kind or kind_hint
    result.kind = kind
    if kind is None:
        result.problems.append(
            Problem(path, 1, "/kind", "cannot tell the kind: add 'kind:' or keep the file in a store folder")
        )
        return result

    ext_id = metadata.get("external_id")
    if isinstance(ext_id, str):
        result.external_id = ext_id
        result.yaml_text = text

    if instance is None:
        instance = schema.jsonable(metadata)
    # The compiled yes/no check first: only a note it refuses pays for the validator's messages.
    fast = schema.fast_check(kind)
    if fast is None or not fast(instance):
        for error in schema.validator(kind).iter_errors(instance):
            location = list(error.absolute_path)
            if error.validator == "required":
                line = 1
            else:
                line = line_of(location)
            result.problems.append(Problem(path, line, _pointer(location), _message(error)))

    if _NON_FINITE_HINT.search(text):
        # Anywhere in the note, not only where the schema has a number: an unknown key too.
        reported = {p.pointer for p in result.problems}
        for where, value in roundtrip.non_finite(instance):
            pointer = _pointer(where)
            if pointer not in reported:
                result.problems.append(Problem(path, line_of(list(where)), pointer, _not_finite(value)))

    if isinstance(ext_id, str) and schema.id_is_valid(kind, ext_id):
        stem = PurePosixPath(path).stem
        if not schema.expected_stem_matches(kind, stem, ext_id):
            result.problems.append(
                Problem(path, result.id_line, "/external_id",
                        f"file name {PurePosixPath(path).name!r} disagrees with external_id {ext_id!r}")
            )
    # Duplicate problems (e.g. one error reachable through two schema branches) add nothing.
    result.problems = sorted(set(result.problems))
    return result


def cross_check(results: Iterable[FileResult]) -> list[Problem]:
    """Checks across files: one external_id per note within a kind."""
    by_id: dict[tuple[str, str], list[FileResult]] = defaultdict(list)
    for res in results:
        if res.kind and res.external_id:
            by_id[(res.kind, res.external_id)].append(res)
    problems: list[Problem] = []
    for (_kind, ext_id), group in by_id.items():
        if len(group) < 2:
            continue
        paths = sorted(r.path for r in group)
        for res in group:
            others = ", ".join(p for p in paths if p != res.path)
            problems.append(
                Problem(res.path, res.id_line, "/external_id", f"duplicate external_id {ext_id!r} (also in {others})")
            )
    return problems


def check_many(items: Iterable[tuple[str, str | bytes]]) -> Report:
    """Check (relative path, content) pairs, including the cross-file checks among them."""
    report = Report(files=[_check_content(path, content) for path, content in items])
    report.cross_problems = cross_check(report.files)
    return report


# Below this many files a process pool costs more than it saves.
PARALLEL_THRESHOLD = 400


def check_paths(paths: Sequence[Path], root: Path, jobs: int | None = None) -> Report:
    """Read and check files (in several processes for a large store), then check across them."""
    jobs = jobs or os.cpu_count() or 1
    if jobs < 2 or len(paths) < PARALLEL_THRESHOLD:
        files = _read_and_check(list(paths), root)
    else:
        size = -(-len(paths) // (jobs * 4))
        chunks = [list(paths[i : i + size]) for i in range(0, len(paths), size)]
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            files = [r for chunk in pool.map(_read_and_check, chunks, [root] * len(chunks)) for r in chunk]
    report = Report(files=files)
    report.cross_problems = cross_check(report.files)
    return report


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _read_and_check(paths: list[Path], root: Path) -> list[FileResult]:
    results = []
    for path in paths:
        rel = _relative(path, root)
        try:
            content = path.read_bytes()
        except IsADirectoryError:
            results.append(FileResult(rel, problems=[Problem(rel, 1, "", "is a directory, not a file")]))
            continue
        except OSError as exc:
            results.append(FileResult(rel, problems=[Problem(rel, 1, "", f"cannot read: {exc.strerror or exc}")]))
            continue
        results.append(_check_content(rel, content))
    return results


def _check_content(path: str, content: str | bytes) -> FileResult:
    if isinstance(content, bytes):
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = content[: exc.start].count(b"\n") + 1
            return FileResult(path, problems=[Problem(path, line, "", "not valid UTF-8 text")])
    else:
        text = content
    return check_text(path, text, kind_for_relpath(path))
