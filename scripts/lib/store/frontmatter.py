"""Markdown files with YAML frontmatter: fast reads, faithful round-trip writes, content_hash.

File shape (docs/conventions/frontmatter.md):

    [UTF-8 BOM] ---<EOL> YAML mapping <EOL>--- (or ...)<EOL> body

- `read` / `read_metadata` use the fast libyaml path (lib.store.yamlio); `read_metadata`
  stops at the closing delimiter and never reads the body.
- `load_document` / `Document.save` use ruamel.yaml's round-trip mode: comments,
  key order, quoting and unknown keys survive an edit, and an unchanged document
  is re-emitted byte for byte. ruamel normalises some insignificant whitespace
  (aligned values, `~` for null, spacing inside flow collections, mixed
  indentation); the emitter (lib.store.roundtrip.emit) puts the original spelling
  back for every line whose tokens did not change, then re-parses the result and
  keeps it only when it means exactly the same as the data (else it falls back to
  ruamel's own output).
- `content_hash` is the documented, machine-independent digest of a note.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lib.core import atomic
from lib.core.errors import BatonError
from lib.store import roundtrip, yamlbounds, yamlio

BOM = "\ufeff"
DELIMITER = "---"
SYNC_KEYS: tuple[str, ...] = (
    "content_hash",
    "notion_page_id",
    "sync_status",
    "synced_at",
    "synced_hash",
    "sync_error",
)
_SYNC_SET = frozenset(SYNC_KEYS)


class FrontmatterError(BatonError):
    """A file whose frontmatter cannot be read; formats as `PATH:LINE: message`."""

    def __init__(self, path: str | Path | None, message: str, line: int | None = None) -> None:
        self.path = str(path) if path is not None else "<text>"
        self.line = line
        self.reason = message
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {message}")


@dataclass
class Split:
    """A file cut into its parts; `yaml_text` is None when the file has no frontmatter."""

    yaml_text: str | None
    body: str
    bom: bool = False
    newline: str = "\n"
    opening: str = DELIMITER
    closing: str = DELIMITER

    @property
    def yaml_first_line(self) -> int:
        return 2  # the YAML starts on the line after the opening delimiter


def _is_delimiter(line: str, closing: bool) -> bool:
    stripped = line.rstrip("\r\n").rstrip(" \t")
    return stripped == DELIMITER or (closing and stripped == "...")


def split(text: str, path: str | Path | None = None) -> Split:
    """Cut a file's text into BOM, frontmatter YAML (LF line ends) and body (verbatim)."""
    bom = text.startswith(BOM)
    if bom:
        text = text[1:]
    first_end = text.find("\n")
    first = text if first_end < 0 else text[: first_end + 1]
    if not _is_delimiter(first, closing=False):
        return Split(None, text, bom=bom)
    newline = "\r\n" if first.endswith("\r\n") else "\n"
    pos = len(first)
    lines: list[str] = []
    cap = yamlbounds.limits().max_bytes
    while pos < len(text):
        end = text.find("\n", pos)
        line = text[pos:] if end < 0 else text[pos : end + 1]
        pos += len(line)
        if pos - len(first) > cap + len(line):  # characters <= bytes: past the cap, stop looking
            _refuse_size(path, cap)
        if _is_delimiter(line, closing=True):
            yaml_text = "".join(lines).replace("\r\n", "\n")
            return Split(
                yaml_text, text[pos:], bom=bom, newline=newline,
                opening=first.rstrip("\r\n"), closing=line.rstrip("\r\n"),
            )
        lines.append(line)
    raise FrontmatterError(path, "frontmatter has no closing '---'", line=1)


def yaml_error(path: str | Path | None, exc: yamlio.YAMLLoadError) -> FrontmatterError:
    """The FrontmatterError for a frontmatter the YAML loader refused (lines counted in the file)."""
    if isinstance(exc, yamlbounds.YAMLTooLarge):
        return FrontmatterError(path, f"frontmatter {exc}", line=1)
    line = exc.line + 1 if exc.line else None  # +1: the opening delimiter
    return FrontmatterError(path, f"invalid YAML: {exc}", line=line)


def _refuse_size(path: str | Path | None, cap: int) -> None:
    raise FrontmatterError(path, f"frontmatter {yamlbounds.too_large(cap)}", line=1)


def parse_metadata(yaml_text: str | None, path: str | Path | None = None) -> dict[str, Any]:
    """The frontmatter mapping through the fast loader (empty for no or empty frontmatter)."""
    if yaml_text is None or not yaml_text.strip():
        return {}
    try:
        data = yamlio.load(yaml_text)
    except yamlio.YAMLLoadError as exc:
        raise yaml_error(path, exc) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise FrontmatterError(path, f"frontmatter must be a mapping, not {_yaml_type(data)}", line=2)
    return data


def _yaml_type(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__}"


def _decode(raw: bytes, path: str | Path | None) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise FrontmatterError(path, "not valid UTF-8 text", line=line) from None


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise FrontmatterError(path, "no such file") from None
    except IsADirectoryError:
        raise FrontmatterError(path, "is a directory, not a file") from None
    except OSError as exc:
        raise FrontmatterError(path, f"cannot read: {exc.strerror}") from None


def loads(text: str, path: str | Path | None = None) -> tuple[dict[str, Any], str]:
    parts = split(text, path)
    return parse_metadata(parts.yaml_text, path), parts.body


def read(path: str | Path) -> tuple[dict[str, Any], str]:
    """(metadata, body) of a file, through the fast loader. Body is verbatim."""
    path = Path(path)
    return loads(_decode(_read_bytes(path), path), path)


def read_metadata(path: str | Path) -> dict[str, Any]:
    """Only the frontmatter mapping: reads as far as the closing delimiter, never the body."""
    path = Path(path)
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below; open errors mapped like read()
    except OSError:
        _read_bytes(path)  # raises the same FrontmatterError read() would
        raise
    with fh:
        first = fh.readline()
        if first.startswith(b"\xef\xbb\xbf"):
            first = first[3:]
        if not _is_delimiter(_decode(first, path), closing=False):
            return {}
        chunks: list[bytes] = []
        cap, read = yamlbounds.limits().max_bytes, 0
        # a line at a time, never more than the cap: a one-line 50 MB file is not read whole
        for raw in iter(lambda: fh.readline(cap + 2), b""):
            if len(raw) > cap:  # (perhaps cut inside a character: refuse before decoding)
                _refuse_size(path, cap)
            line = _decode(raw, path)
            if _is_delimiter(line, closing=True):
                return parse_metadata(_decode(b"".join(chunks), path).replace("\r\n", "\n"), path)
            read += len(raw)
            if read > cap:  # no need to read on to the end of a huge file
                _refuse_size(path, cap)
            chunks.append(raw)
    raise FrontmatterError(path, "frontmatter has no closing '---'", line=1)


# ----------------------------------------------------------------- content hash

def day_text(value: Any) -> str | None:
    """A frontmatter day as YAML may hand it over (a date, a timestamp, or `YYYY-MM-DD` text) as
    `YYYY-MM-DD`; None for anything else."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return value
    return None


def canonical_json(metadata: Mapping[str, Any]) -> str:
    """Metadata without sync keys, as sorted-key compact JSON (the first half of the hash input)."""
    meta = {str(k): v for k, v in metadata.items() if str(k) not in _SYNC_SET}
    try:
        return json.dumps(
            yamlio.jsonable(meta), sort_keys=True, ensure_ascii=False, separators=(",", ":"),
            allow_nan=False,
        )
    except ValueError:  # .inf/.nan: refused with where it is, not a traceback
        for location, value in roundtrip.non_finite(meta):
            pointer = "/" + "/".join(str(p) for p in location)
            raise FrontmatterError(
                None, f"{pointer}: {roundtrip.spell_float(value)} is not a finite number, so the note has no content hash"
            ) from None
        raise


def content_hash(metadata: Mapping[str, Any], body: str) -> str:
    """`sha256:<hex>` of canonical metadata JSON + "\\n" + LF-normalised body.

    Recipe (docs/conventions/frontmatter.md, "content_hash"): drop the sync keys
    (content_hash, notion_page_id, sync_status, synced_at, synced_hash,
    sync_error); dates and datetimes become ISO 8601 strings (`date.isoformat()`,
    `datetime.isoformat()`); serialise as JSON with sorted keys, separators ","
    and ":", non-ASCII kept as UTF-8; append a newline and the body with CRLF and
    CR turned into LF; SHA-256 of those UTF-8 bytes.
    """
    body_lf = body.replace("\r\n", "\n").replace("\r", "\n")
    payload = canonical_json(metadata) + "\n" + body_lf
    return "sha256:" + hashlib.sha256(payload.encode("utf-8")).hexdigest()


def file_content_hash(path: str | Path) -> str:
    """The content hash of a file as it is on disk now."""
    metadata, body = read(path)
    return content_hash(metadata, body)


# ----------------------------------------------------------------- round trip

@dataclass
class Document:
    """A note loaded for editing: `data` is a ruamel CommentedMap, edited in place."""

    data: Any
    body: str = ""
    kind: str | None = None
    bom: bool = False
    newline: str = "\n"
    opening: str = DELIMITER
    closing: str = DELIMITER
    source_yaml: str | None = None
    path: Path | None = None
    had_frontmatter: bool = True
    _indent: tuple[int, int, int] = field(default=(2, 4, 2), repr=False)

    # -- reading
    def get(self, key: str, default: Any = None) -> Any:
        return roundtrip.to_plain(self.data.get(key, default))

    def __contains__(self, key: object) -> bool:
        return key in self.data

    def metadata(self) -> dict[str, Any]:
        """Plain values, as the fast reader would return them after a save."""
        plain: dict[str, Any] = roundtrip.to_plain(self.data)
        return plain

    # -- editing
    def set(self, key: str, value: Any) -> None:
        """Set a key; an existing key keeps its place, a new one goes where the canonical order puts it."""
        if key in self.data:
            self.data[key] = value
            return
        self.data.insert(_insert_position(list(self.data), key, self._kind()), key, value)

    def update(self, values: Mapping[str, Any]) -> None:
        for key, value in values.items():
            if key in self.data and roundtrip.same_values(roundtrip.to_plain(self.data[key]), roundtrip.to_plain(value)):
                continue  # keep the original node (and its quoting) when nothing changed
            self.set(key, value)

    def delete(self, key: str) -> None:
        if key in self.data:
            del self.data[key]

    def _kind(self) -> str | None:
        kind = self.data.get("kind") if self.data is not None else None
        return str(kind) if kind else self.kind

    # -- writing
    def render(self) -> str:
        yaml_text = roundtrip.emit(self.data, self.source_yaml, self._indent)
        if not self.had_frontmatter and not len(self.data):
            text = self.body
        else:
            nl = self.newline
            if nl != "\n":
                yaml_text = yaml_text.replace("\n", nl)
            text = f"{self.opening}{nl}{yaml_text}{self.closing}{nl}{self.body}"
        return (BOM if self.bom else "") + text

    def save(self, path: str | Path | None = None) -> Path:
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ValueError("Document.save needs a path")
        text = self.render()
        atomic.write_text(target, text)
        self.path = target
        self.source_yaml = split(text).yaml_text
        return target

    def stamp_content_hash(self) -> str:
        """Set `content_hash` to the hash of the document as it will read back from disk."""
        metadata, body = loads(self.render(), self.path)
        try:
            digest = content_hash(metadata, body)
        except FrontmatterError as exc:
            raise FrontmatterError(self.path, exc.reason) from None
        self.set("content_hash", digest)
        return digest


def _insert_position(keys: list[Any], key: str, kind: str | None) -> int:
    """Where a new key goes in an existing mapping, keeping the canonical order where the file has it."""
    # the trailing run of sync keys is "the sync block"; a sync key elsewhere is the author's choice
    block = len(keys)
    while block > 0 and keys[block - 1] in _SYNC_SET:
        block -= 1
    if key in _SYNC_SET:
        mine = SYNC_KEYS.index(key)
        for i in range(block, len(keys)):
            if SYNC_KEYS.index(keys[i]) > mine:
                return i
        return len(keys)
    rank = {k: i for i, k in enumerate(canonical_order(kind)) if k not in _SYNC_SET}
    if key not in rank:
        return block  # unknown keys: just before the sync block
    mine = rank[key]
    after = [i for i, existing in enumerate(keys[:block]) if rank.get(existing, mine) < mine]
    if after:
        return after[-1] + 1
    before = [i for i, existing in enumerate(keys[:block]) if rank.get(existing, -1) > mine]
    return before[0] if before else block


def canonical_order(kind: str | None) -> list[str]:
    """The canonical key order of a kind: its schema's properties, sync keys last."""
    from lib.store import schema  # lazy: frontmatter reads must not load the schemas

    order = schema.key_order(kind) if kind in schema.KINDS else []
    rest = [k for k in order if k not in _SYNC_SET]
    return rest + list(SYNC_KEYS)


def loads_document(text: str, path: str | Path | None = None, kind: str | None = None) -> Document:
    parts = split(text, path)
    parse_metadata(parts.yaml_text, path)  # the safe loader vets tags and shape first
    rt = roundtrip.round_trip_yaml()
    from ruamel.yaml.comments import CommentedMap

    try:
        data = roundtrip.round_trip_load(rt, parts.yaml_text) if parts.yaml_text and parts.yaml_text.strip() else None
    except yamlio.YAMLLoadError as exc:
        raise yaml_error(path, exc) from None
    if data is None:
        data = CommentedMap()
    return Document(
        data=data, body=parts.body, kind=kind, bom=parts.bom, newline=parts.newline,
        opening=parts.opening, closing=parts.closing, source_yaml=parts.yaml_text,
        path=Path(path) if path is not None else None, had_frontmatter=parts.yaml_text is not None,
        _indent=roundtrip.guess_indent(parts.yaml_text or ""),
    )


def load_document(path: str | Path, kind: str | None = None) -> Document:
    path = Path(path)
    return loads_document(_decode(_read_bytes(path), path), path, kind)


def new_document(metadata: Mapping[str, Any], body: str = "", kind: str | None = None) -> Document:
    """A document for a new file, keys in the canonical order of its kind."""
    from ruamel.yaml.comments import CommentedMap

    kind = str(metadata.get("kind") or kind or "") or None
    order = canonical_order(kind)
    rank = {k: i for i, k in enumerate(order)}
    sync_rank = {k: i for i, k in enumerate(SYNC_KEYS)}
    keys = list(metadata)

    def sort_key(k: str) -> tuple[int, int, int]:
        if k in _SYNC_SET:
            return (2, sync_rank[k], 0)
        if k in rank:
            return (0, rank[k], 0)
        return (1, 0, keys.index(k))

    data = CommentedMap()
    for key in sorted(keys, key=sort_key):
        data[key] = metadata[key]
    return Document(data=data, body=body, kind=kind, had_frontmatter=True)


def write(path: str | Path, metadata: Mapping[str, Any], body: str) -> None:
    """Write a note atomically.

    An existing file is edited in place through the round-trip writer: keys keep
    their position, comments and formatting survive, keys absent from `metadata`
    are removed, new keys go where the canonical order puts them. A new file is
    written in canonical key order.
    """
    path = Path(path)
    if path.exists():
        doc = load_document(path)
        for key in [k for k in doc.data if k not in metadata]:
            doc.delete(key)
        doc.update(metadata)
        doc.body = body
    else:
        doc = new_document(metadata, body)
    doc.save(path)
