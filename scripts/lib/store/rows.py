"""A note file as rows of the store index.

`parse_file` turns one file (found by lib.store.scan) into the rows the index stores for it: its freshness key, its queryable fields, its
metadata with the kept body sections and validation problems, and its full text for
search. Nothing here touches the database (that is `lib.store.index`).
"""

from __future__ import annotations

import os
import re
import time
from typing import Any, NamedTuple

from lib.core.paths import KINDS

# lib.store.markdown and lib.store.sessionid (dataclasses, ~7 ms) are imported by the parsing functions:
# a warm refresh parses nothing and a search's start-up never pays for them.

SECTION_LIMIT = 4000

# Body sections kept per kind (matched case-insensitively), for the dashboard and the SessionStart hook.
SECTIONS: dict[str, tuple[str, ...]] = {
    "session": ("Summary", "Resume Prompt", "Open questions", "Next steps"),
    "workstream": ("What's Next",),
}

# The table layouts the rows below fill (lib.store.index creates the tables).
FILE_COLUMNS = ("path", "size", "mtime_ns", "ctime_ns", "verified_ns", "digest", "validated")
NOTE_COLUMNS = (
    "path", "kind", "external_id", "operator", "status", "outcome", "confidence", "date", "seq",
    "title", "summary", "workstream", "claimed_at", "content_hash", "problem_count",
)
NOTE_TABLE_COLUMNS = (*NOTE_COLUMNS, "rank")
DOC_COLUMNS = ("path", "metadata", "sections", "error", "problems")
# The full-text columns, in the order of their BM25 weights (lib.store.fulltext).
TEXT_COLUMNS = ("title", "summary", "tags", "decisions", "questions", "prompt", "body")
# Body sections with a full-text column of their own (matched by the start of their heading, lower case).
_TEXT_SECTIONS = (("decisions", "decision"), ("questions", "open question"), ("prompt", "resume prompt"))

# Compiled on first use (only files being parsed need them): a warm refresh compiles none.
_PATTERNS = {
    "iso_date": r"(\d{4})-(\d{2})-(\d{2})",
    "trailing_int": r"(\d+)(?!.*\d)",
    "timestampish": r"^\d{4}-\d{1,2}-\d{1,2}",
    "confidence": r"(?i)confidence\W{0,3}\s*(high|medium|low)\b",
    "closing": r"(?m)^(?:---|\.\.\.)[ \t]*$",
}


def _re(name: str) -> re.Pattern[str]:
    return re.compile(_PATTERNS[name])  # re caches compiled patterns


class Row(NamedTuple):
    """One parsed file: its files, notes and docs rows, and its full-text row (TEXT_COLUMNS)."""

    file: tuple[Any, ...]
    note: tuple[Any, ...]
    doc: tuple[Any, ...]
    text: tuple[str, ...]


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)

# A scanned file: (relative path, folder kind, size, mtime_ns, ctime_ns).
Item = tuple[str, str, int, int, int]


def digest(raw: bytes) -> str:
    import hashlib  # ~10 ms to import: only paid when a file is read

    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def parse_file(root: str, item: Item, validate: bool) -> Row | None:
    """The rows of one file (None when it vanished since the scan)."""
    from lib.store import frontmatter

    rel, folder_kind = item[0], item[1]
    verified = time.time_ns()
    try:
        # Never through a symlink: a link planted in a store folder could expose any file of this
        # machine to search and to the model; it is reported as a problem instead.
        fd = os.open(os.path.join(root, rel), os.O_RDONLY | _NOFOLLOW)
        with os.fdopen(fd, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        problem = (1, "", f"cannot read: {exc.strerror or exc}")
        return _row(rel, item, verified, "", folder_kind, {}, None, None, problem[2], [problem])
    hashed = digest(raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problem = (raw[: exc.start].count(b"\n") + 1, "", "not valid UTF-8 text")
        return _row(rel, item, verified, hashed, folder_kind, {}, None, None, problem[2], [problem])
    conflicts: list[tuple[int, str, str]] = []
    if "<<<<<<<" in text or ">>>>>>>" in text:
        from lib.store.validate import conflict_problems

        conflicts = [(p.line, p.pointer, p.message) for p in conflict_problems(rel, text)]
    try:
        yaml_text, body = split(text, rel)
        jsonable = _metadata_json(yaml_text, rel)
    except frontmatter.FrontmatterError as exc:
        problem = (exc.line or 1, "", exc.reason)
        return _row(rel, item, verified, hashed, folder_kind, {}, None, None, exc.reason, [*conflicts, problem])
    problems: list[tuple[int, str, str]] | None = None
    if validate:
        from lib.store.validate import check_metadata

        metadata = jsonable
        if any(isinstance(jsonable.get(k), str) and _re("timestampish").match(jsonable[k])
               for k in ("kind", "external_id")):
            # Was it a date in the YAML? The validator looks at these two keys' YAML types.
            metadata = frontmatter.parse_metadata(yaml_text, rel)
        checked = check_metadata(rel, yaml_text, metadata, folder_kind, instance=jsonable)
        problems = conflicts + [(p.line, p.pointer, p.message) for p in checked.problems]
    declared = jsonable.get("kind")
    kind = declared if declared in KINDS else folder_kind
    content_hash = _content_hash(jsonable, body)
    return _row(rel, item, verified, hashed, kind, jsonable, body, content_hash, None, problems)


def split(text: str, rel: str) -> tuple[str | None, str]:
    """(frontmatter YAML, body) exactly as `frontmatter.split` cuts them, faster for the usual file.

    A file that starts with a bare `---` line and has no CR is cut with one regex search for
    the closing line; anything else (BOM, CRLF, spaces after the opening) goes to the library.
    """
    if text.startswith("---\n") and "\r" not in text:
        closing = _re("closing").search(text, 4)
        if closing is not None:
            return text[4: closing.start()], text[closing.end() + 1:]
    from lib.store import frontmatter

    parts = frontmatter.split(text, rel)
    return parts.yaml_text, parts.body


def _metadata_json(yaml_text: str | None, rel: str) -> dict[str, Any]:
    """The frontmatter as JSON values: `yamlio.jsonable(frontmatter.parse_metadata(...))`, errors included."""
    from lib.store import frontmatter, yamlio

    if yaml_text is None or not yaml_text.strip():
        return {}
    try:
        data = yamlio.load_jsonable(yaml_text)
    except yamlio.YAMLLoadError as exc:
        raise frontmatter.yaml_error(rel, exc) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        frontmatter.parse_metadata(yaml_text, rel)  # raises the library's own wording
        raise frontmatter.FrontmatterError(rel, "frontmatter must be a mapping", line=2)
    return data


class _NotCanonical(Exception):
    pass


def _refuse(value: Any) -> Any:
    raise _NotCanonical


def _content_hash(jsonable: dict[str, Any], body: str) -> str | None:
    """lib.store.frontmatter.content_hash, computed from the JSON form the index has already made."""
    import json  # only files being parsed need it: a warm refresh imports no json

    from lib.store import frontmatter

    sync = frontmatter.SYNC_KEYS
    try:
        meta_json = json.dumps({k: v for k, v in jsonable.items() if k not in sync}, sort_keys=True,
                               ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_refuse)
    except (_NotCanonical, ValueError):  # a value with no JSON form (a set; NaN): no canonical hash
        return None
    import hashlib

    body_lf = body.replace("\r\n", "\n").replace("\r", "\n")
    return "sha256:" + hashlib.sha256((meta_json + "\n" + body_lf).encode("utf-8")).hexdigest()


def _row(rel: str, item: Item, verified: int, hashed: str, kind: str, meta: dict[str, Any], body: str | None,
         content_hash: str | None, error: str | None, problems: list[tuple[int, str, str]] | None) -> Row:
    import json

    _, _, size, mtime, ctime = item
    ext_id = _text(meta.get("external_id"))
    stem = rel.rpartition("/")[2][:-3]  # a note's path always ends in .md
    person = meta.get("operator") if kind in ("session", "learning") else meta.get("owner")
    every, loose = _read_body(body) if body is not None else ({}, "")
    sections = _kept_sections(every, kind)
    confidence = _text(meta.get("confidence"))
    if confidence is None and sections.get("Resume Prompt"):
        found = _re("confidence").findall(sections["Resume Prompt"])
        confidence = found[-1].lower() if found else None
    date, seq = _date_and_seq(kind, ext_id or stem, meta)
    rank = f"{date or '0000-00-00'} {seq:06d}"
    count = len(problems) if problems is not None else None
    title, summary = _text(meta.get("title")), _text(meta.get("summary"))
    return Row(
        (rel, size, mtime, ctime, verified, hashed, int(problems is not None)),
        (rel, kind, ext_id, _text(person), _text(meta.get("status")), _text(meta.get("outcome")), confidence,
         date, seq, title, summary, _text(meta.get("workstream")),
         _text(meta.get("claimed_at")), content_hash, count, rank),
        (rel, json.dumps(meta, ensure_ascii=False, separators=(",", ":"), default=str),
         json.dumps(sections, ensure_ascii=False, separators=(",", ":")) if sections else None, error,
         json.dumps(problems) if problems is not None else None),
        _text_row(title or ext_id or stem, summary, meta.get("tags"), (ext_id or stem, meta.get("workstream")), every,
                  loose),
    )


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


def _date_and_seq(kind: str, ident: str, meta: dict[str, Any]) -> tuple[str | None, int]:
    """A note's date (ISO) and its sequence within the day, from its id and frontmatter.

    `<INITIALS>-YYMMDD-NN` gives both; legacy ids give what they hold (`LOCAL-2026-05-11-1`:
    date and 1, `CONV-30`: 30); the frontmatter's `date` wins over the id's date; else
    the date part of `claimed_at`, `written_at`, `updated` or `created`.
    """
    from lib.store import sessionid

    seq = 0
    id_date: str | None = None
    parsed = sessionid.parse(ident)
    if parsed:
        yymmdd = parsed.yymmdd
        id_date, seq = f"20{yymmdd[:2]}-{yymmdd[2:4]}-{yymmdd[4:]}", parsed.number
    else:
        iso = _re("iso_date").search(ident)
        if iso:
            id_date = iso.group(0)
            rest = ident[iso.end():]
            trailing = _re("trailing_int").search(rest)
            seq = int(trailing.group(1)) if trailing else 0
        else:
            trailing = _re("trailing_int").search(ident)
            seq = int(trailing.group(1)) if trailing else 0
    seq = min(seq, 999_999)
    for key in ("date",) if kind == "session" else ("updated", "date", "created"):
        value = meta.get(key)
        if isinstance(value, str) and _re("iso_date").match(value):
            return value[:10], seq
    if id_date:
        return id_date, seq
    for key in ("claimed_at", "written_at", "ended_at", "updated", "created", "date"):
        value = meta.get(key)
        if isinstance(value, str) and _re("iso_date").match(value):
            return value[:10], seq
    return None, seq


def _read_body(body: str) -> tuple[dict[str, str], str]:
    """(`markdown.sections(body)`, the text outside every `## ` section: before the first, under `# `)."""
    from lib.store import markdown

    lines = body.splitlines()
    every: dict[str, str] = {}
    loose: list[str] = []
    done = 0
    for section in markdown.find_sections(lines):
        every.setdefault(section.key, markdown.section_text(lines, section))
        loose.extend(lines[done:section.start])
        done = section.end
    loose.extend(lines[done:])
    return every, "\n".join(loose).strip()


def _kept_sections(found: dict[str, str], kind: str) -> dict[str, str]:
    """The sections the dashboard and the SessionStart hook read (SECTIONS), by their canonical names."""
    wanted = SECTIONS.get(kind)
    if not wanted:
        return {}
    from lib.store import markdown

    out: dict[str, str] = {}
    for name in wanted:
        text = found.get(markdown.heading_key(name))
        if text:
            out[name] = text[:SECTION_LIMIT]
    return out


def _text_row(title: str, summary: str | None, tags: Any, names: tuple[Any, ...], every: dict[str, str],
              loose: str) -> tuple[str, ...]:
    """The note's full-text row (TEXT_COLUMNS) from its sections (`markdown.sections`: keys in lower
    case): the tags column holds the tags, its id and its workstream (so an id finds its note);
    decisions, open questions and the Resume Prompt get columns of their own (weighted, and queried
    alone by the decisions lookup); the rest is body."""
    own: dict[str, list[str]] = {column: [] for column, _ in _TEXT_SECTIONS}
    rest: list[str] = [loose] if loose else []
    for key, text in every.items():
        if key == "summary" and text == summary:
            continue  # the summary column has it already
        for column, prefix in _TEXT_SECTIONS:
            if key.startswith(prefix):
                own[column].append(text)
                break
        else:
            rest.append(f"{key}\n{text}")
    words = [str(t) for t in tags] if isinstance(tags, list) else [str(tags)] if tags else []
    tag_text = " ".join([*words, *(str(n) for n in names if isinstance(n, str) and n)])
    return (title, summary or "", tag_text, "\n\n".join(own["decisions"]), "\n\n".join(own["questions"]),
            "\n\n".join(own["prompt"]), "\n\n".join(rest))


def parse_chunk(root: str, items: list[Item], validate: bool) -> list[Row]:
    rows = []
    for item in items:
        row = parse_file(root, item, validate)
        if row is not None:
            rows.append(row)
    return rows


def parse_parallel(root: str, items: list[Item], validate: bool, jobs: int) -> list[Row]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from lib.store import schema

    if validate:  # compiled before the fork, so the workers inherit them
        for kind in KINDS:
            schema.fast_check(kind)
    context: Any
    try:
        context = multiprocessing.get_context("fork")
    except ValueError:  # pragma: no cover - platforms without fork
        context = multiprocessing.get_context()
    # Small chunks; the workers take them from the front while this process, instead of waiting,
    # takes the ones no worker has started from the back (a cancelled future is ours to run).
    size = max(25, min(400, len(items) // (jobs * 8)))
    chunks = [items[i: i + size] for i in range(0, len(items), size)]
    results: list[list[Row] | None] = [None] * len(chunks)
    with ProcessPoolExecutor(max_workers=max(1, jobs - 1), mp_context=context) as pool:
        futures = [pool.submit(parse_chunk, root, chunk, validate) for chunk in chunks]
        for i in range(len(chunks) - 1, -1, -1):
            if futures[i].cancel():
                results[i] = parse_chunk(root, chunks[i], validate)
        rows: list[Row] = []
        for done, future in zip(results, futures, strict=True):
            rows.extend(done if done is not None else future.result())
        return rows
