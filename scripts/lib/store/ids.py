"""Session ids: `<INITIALS>-YYMMDD-NN`, claimed atomically (docs/conventions/ids.md).

A claim creates `docs/sessions/<id>.md` with O_CREAT|O_EXCL: the file system,
not a lock or a counter, decides which process owns a number, so any number of
terminals can claim at once. Numbers already present in the working tree, in
HEAD or on any remote-tracking branch are skipped before trying, so an id is
never reused after a note was deleted locally or pushed from another clone.

The git trees are read with two git plumbing calls (`for-each-ref`, then one
`cat-file --batch` for every tree): measured against GitPython in
bench/bench_claim.py, importing GitPython alone costs several times a whole claim.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from lib.core import git
from lib.core.atomic import fsync_dir
from lib.core.errors import BatonError
from lib.core.paths import STORE_FOLDERS
from lib.store import sessionid
from lib.store.operators import Operator, is_initials, is_slug

SESSIONS_DIR = STORE_FOLDERS["session"]
FIRST_NUMBER = 1
LAST_NUMBER = 99
SESSION_ID = sessionid.SESSION_ID

# Folders synced by a file provider (iCloud Drive, Dropbox/OneDrive/Google Drive on
# macOS): they can report a create as exclusive on two machines at once.
FILE_PROVIDER_MARKERS = ("/Library/Mobile Documents/", "/Library/CloudStorage/")

STUB_BODY = "This session id is claimed; `/handoff` writes the session note here.\n"
# A claim stub holds these keys only (the session schema's `status: claimed` branch).
STUB_KEYS = ("operator", "kind", "external_id", "status", "claimed_at", "chain_id")


class Claim(NamedTuple):
    id: str
    path: Path
    operator: str
    claimed_at: str | None
    reused: bool = False
    warnings: tuple[str, ...] = ()


class ClaimStub(NamedTuple):
    id: str
    path: Path
    operator: str | None
    claimed_at: dt.datetime | None
    age_hours: float
    empty: bool = False


def session_id(initials: str, day: dt.date, number: int) -> str:
    return f"{initials}-{day:%y%m%d}-{number:02d}"


def file_provider_warning(root: Path) -> str | None:
    where = root.resolve().as_posix() + "/"
    for marker in FILE_PROVIDER_MARKERS:
        if marker in where:
            return (
                f"{root} is inside a file-provider folder ({marker.strip('/')}): exclusive file creation is not "
                "reliable there across machines, so two machines can claim the same session id; keep the "
                "repository outside iCloud Drive / CloudStorage"
            )
    return None


def numbers_in(names: Iterable[str], prefix: str) -> set[int]:
    """The NN of every name that is `<prefix>-NN` followed by an extension (any: .md, .html, ...)."""
    pattern = re.compile(rf"^{re.escape(prefix)}-(\d{{2}})(?:\.|$)")
    found = set()
    for name in names:
        match = pattern.match(name)
        if match:
            found.add(int(match.group(1)))
    return found


def worktree_names(root: Path) -> list[str]:
    try:
        return [entry.name for entry in os.scandir(root / SESSIONS_DIR)]
    except FileNotFoundError:
        return []


def _git(root: Path, *args: str, input: bytes | None = None) -> git.GitBytes | None:
    try:
        return git.run_bytes(root, *args, input=input)
    except (BatonError, OSError):
        return None


def git_tree_names(root: Path, folder: str = SESSIONS_DIR) -> set[str]:
    """Names in `folder` at HEAD and at every remote-tracking branch (nothing is checked out)."""
    refs = _git(root, "for-each-ref", "--format=%(objectname)", "refs/remotes")
    if refs is None or refs.returncode != 0:
        return set()  # not a git repository (or no git): the working tree is all there is
    commits = list(dict.fromkeys(refs.stdout.split()))
    request = b"".join(f"{rev}:{folder}\n".encode() for rev in ["HEAD", *(c.decode() for c in commits)])
    out = _git(root, "cat-file", "--batch", input=request)
    if out is None or out.returncode != 0:
        detail = out.stderr.decode("utf-8", "replace").strip() if out is not None else "git not found"
        raise BatonError(f"cannot read the git trees of {folder}: {detail}")
    return _names_in_batch(out.stdout)


def _names_in_batch(data: bytes) -> set[str]:
    """Entry names of every tree in `git cat-file --batch` output (missing objects skipped)."""
    names: set[str] = set()
    pos = 0
    while pos < len(data):
        end = data.index(b"\n", pos)
        header = data[pos:end].split()
        pos = end + 1
        if len(header) != 3:
            continue  # "<name> missing": HEAD unborn, or the folder absent on that branch
        oid, kind, size_text = header
        size = int(size_text)
        body = data[pos : pos + size]
        pos += size + 1  # the object is followed by a newline
        if kind != b"tree":
            continue
        hash_len = len(oid) // 2  # 20 bytes for SHA-1, 32 for SHA-256 repositories
        i = 0
        while i < len(body):
            space = body.index(b" ", i)
            nul = body.index(b"\0", space)
            names.add(body[space + 1 : nul].decode("utf-8", "surrogateescape"))
            i = nul + 1 + hash_len
    return names


def linked_worktrees(root: Path) -> list[Path]:
    """The other working trees of the repository at `root` (`git worktree add`), read from the git
    folder without running git: a chain in its own worktree claims ids next to a person in the main one."""
    common = git_common_dir(root)
    if common is None:
        return []
    trees = [common.parent] if common.name == ".git" else []
    folder = common / "worktrees"
    try:
        entries = list(folder.iterdir()) if folder.is_dir() else []
    except OSError:
        entries = []
    for entry in entries:
        try:
            pointer = (entry / "gitdir").read_text(encoding="utf-8").strip()
        except OSError:
            continue
        trees.append(Path(pointer).parent)
    here = os.path.realpath(root)
    return [t for t in trees if os.path.realpath(t) != here and t.is_dir()]


def git_common_dir(root: Path) -> Path | None:
    dot_git = root / ".git"
    try:
        if dot_git.is_dir():
            return dot_git
        if not dot_git.is_file():
            return None
        text = dot_git.read_text(encoding="utf-8").strip()
        if not text.startswith("gitdir:"):
            return None
        gitdir = (root / text[len("gitdir:"):].strip()).resolve()
        commondir = gitdir / "commondir"
        return (gitdir / commondir.read_text(encoding="utf-8").strip()).resolve() if commondir.is_file() else gitdir
    except OSError:
        return None


@contextlib.contextmanager
def _across_worktrees(root: Path) -> Iterator[None]:
    """With linked worktrees, claims in any of them are serialised on a lock in the shared git folder:
    exclusive creation only guards one folder, and each worktree has its own docs/sessions."""
    common = git_common_dir(root) if linked_worktrees(root) else None
    if common is None:
        yield
        return
    import fcntl

    fd = os.open(common / "baton-claim.lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def used_numbers(root: Path, prefix: str) -> set[int]:
    names = set(worktree_names(root))
    for tree in linked_worktrees(root):
        names.update(worktree_names(tree))
    return numbers_in(names, prefix) | numbers_in(git_tree_names(root), prefix)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def format_timestamp(value: dt.datetime) -> str:
    """ISO 8601 with `Z` for UTC: how baton writes timestamps (docs/conventions/frontmatter.md)."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def stub_metadata(operator: Operator, sid: str, claimed_at: dt.datetime, chain_id: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "operator": operator.slug,
        "kind": "session",
        "external_id": sid,
        "status": "claimed",
        "claimed_at": claimed_at,
    }
    if chain_id is not None:
        # A chain session's note keeps it: the note `/handoff` writes starts from the stub's keys.
        metadata["chain_id"] = chain_id
    return metadata


def render_stub(metadata: Mapping[str, Any], body: str = STUB_BODY) -> str:
    """The stub's text, keys in canonical order: the bytes `frontmatter.new_document(...).render()` gives.

    Written by hand because the round-trip writer costs more to import than a
    whole claim; tests/test_ids.py checks the two agree byte for byte.
    """
    if not all(isinstance(v, dt.datetime) or _plain_safe(v) for v in metadata.values()):
        # e.g. a slug like `007` or `null` must be quoted: let the real writer decide how.
        from lib.store import frontmatter

        return frontmatter.new_document(metadata, body).render()
    from lib.store.schema import key_order

    rank = {key: i for i, key in enumerate(key_order("session"))}
    lines = ["---"]
    for key in sorted(metadata, key=lambda k: rank[k]):
        value = metadata[key]
        lines.append(f"{key}: {format_timestamp(value) if isinstance(value, dt.datetime) else value}")
    lines.append("---")
    return "\n".join(lines) + "\n" + body


_PLAIN_WORD = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")
_RESERVED = frozenset({"true", "false", "null", "yes", "no", "on", "off", "y", "n"})


def _plain_safe(value: Any) -> bool:
    """Whether a value is a string YAML reads back as itself when written plain."""
    return isinstance(value, str) and bool(_PLAIN_WORD.match(value)) and value.lower() not in _RESERVED


def _check_operator(operator: Operator) -> None:
    # Initials become a file name: vet them here too, whatever produced the Operator.
    if not is_initials(operator.initials):
        raise BatonError(f"operator initials {operator.initials!r} must be 2-4 uppercase letters")
    if not is_slug(operator.slug):
        raise BatonError(f"operator slug {operator.slug!r} must be lowercase letters, digits and hyphens")


def claim(
    root: Path,
    operator: Operator,
    day: dt.date | None = None,
    now: dt.datetime | None = None,
    env: Mapping[str, str] | None = None,
    chain_id: str | None = None,
) -> Claim:
    """Claim the next free `<INITIALS>-YYMMDD-NN` for `operator` (or reuse `$BATON_SESSION_ID`)."""
    _check_operator(operator)
    env = os.environ if env is None else env
    warnings: list[str] = []
    provider = file_provider_warning(root)
    if provider:
        warnings.append(provider)

    preclaimed = env.get("BATON_SESSION_ID", "").strip()
    if preclaimed:
        reused = _reuse(root, preclaimed, operator, warnings)
        if reused is not None:
            return reused

    folder = root / SESSIONS_DIR
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BatonError(f"{folder}: cannot create the sessions folder: {exc.strerror}") from None
    day = day or dt.date.today()
    claimed_at = now or utc_now()
    with _across_worktrees(root):
        return _claim_next(root, folder, operator, day, claimed_at, chain_id, warnings)


def _claim_next(root: Path, folder: Path, operator: Operator, day: dt.date, claimed_at: dt.datetime,
                chain_id: str | None, warnings: list[str]) -> Claim:
    prefix = f"{operator.initials}-{day:%y%m%d}"
    taken = used_numbers(root, prefix)
    for number in range(FIRST_NUMBER, LAST_NUMBER + 1):
        if number in taken:
            continue
        sid = session_id(operator.initials, day, number)
        path = folder / f"{sid}.md"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
        except FileExistsError:
            continue  # another terminal took it between our scan and now: try the next number
        except OSError as exc:
            raise BatonError(f"{path}: cannot create the claim: {exc.strerror}") from None
        _write_stub(fd, path, render_stub(stub_metadata(operator, sid, claimed_at, chain_id)))
        return Claim(sid, path, operator.slug, format_timestamp(claimed_at), warnings=tuple(warnings))
    raise BatonError(
        f"no session number left for {operator.initials} on {day.isoformat()}: {prefix}-01 to -{LAST_NUMBER} are all "
        "taken (in docs/sessions, HEAD or a remote branch); remove unused claims (session.py claims --stale 0) "
        "or claim with --date for another day"
    )


def _write_stub(fd: int, path: Path, text: str) -> None:
    try:
        data = text.encode("utf-8")
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException as exc:
        os.close(fd)
        try:
            path.unlink()
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise BatonError(f"{path}: cannot write the claim stub: {exc.strerror}") from None
        raise
    os.close(fd)
    fsync_dir(path.parent)


def _reuse(root: Path, sid: str, operator: Operator, warnings: list[str]) -> Claim | None:
    """The claim `$BATON_SESSION_ID` names, when it is this operator's; None to claim afresh."""
    if not SESSION_ID.match(sid):
        raise BatonError(f"BATON_SESSION_ID={sid!r} is not a session id (<INITIALS>-YYMMDD-NN)")
    path = root / SESSIONS_DIR / f"{sid}.md"
    if not path.exists():
        warnings.append(f"BATON_SESSION_ID={sid} is not claimed in {SESSIONS_DIR}; claimed a new id instead")
        return None
    from lib.store import frontmatter

    metadata = frontmatter.read_metadata(path)
    owner = metadata.get("operator")
    if owner != operator.slug:
        whose = f"operator {owner!r}" if owner else "no operator"
        raise BatonError(
            f"BATON_SESSION_ID={sid} belongs to {whose}, not {operator.slug!r}: "
            "unset BATON_SESSION_ID or run as that operator"
        )
    claimed_at = metadata.get("claimed_at")
    if isinstance(claimed_at, dt.datetime):
        stamp: str | None = format_timestamp(claimed_at)
    else:
        stamp = str(claimed_at) if claimed_at is not None else None
    return Claim(sid, path, operator.slug, stamp, reused=True, warnings=tuple(warnings))


# ------------------------------------------------------------------ listing claims

_CLAIMED_LINE = re.compile(rb"^status:[ \t]*['\"]?claimed['\"]?[ \t]*(?:#.*)?\r?$", re.M)


def claims(root: Path, stale_hours: float | None = None, now: dt.datetime | None = None) -> list[ClaimStub]:
    """Claim stubs (and empty files a crashed claim left), oldest first; with `stale_hours`, only older ones."""
    now = now or utc_now()
    folder = root / SESSIONS_DIR
    found: list[ClaimStub] = []
    for name in sorted(worktree_names(root)):
        if not name.endswith(".md") or not SESSION_ID.match(name[:-3]):
            continue
        stub = _stub_at(folder / name, name[:-3], now)
        if stub is not None and (stale_hours is None or stub.age_hours >= stale_hours):
            found.append(stub)
    found.sort(key=lambda s: (-s.age_hours, s.id))
    return found


def _stub_at(path: Path, sid: str, now: dt.datetime) -> ClaimStub | None:
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
            mtime = os.fstat(fh.fileno()).st_mtime
    except OSError:
        return None
    if not head:
        # O_EXCL created the file but the stub was never written (the claiming process died).
        claimed = dt.datetime.fromtimestamp(mtime, dt.UTC)
        return ClaimStub(sid, path, None, claimed, _hours(now, claimed), empty=True)
    if not _CLAIMED_LINE.search(head):
        return None  # cheap pre-check: most notes are written sessions
    from lib.store import frontmatter

    try:
        metadata = frontmatter.read_metadata(path)
    except frontmatter.FrontmatterError:
        return None
    if metadata.get("status") != "claimed":
        return None
    claimed_at = _as_datetime(metadata.get("claimed_at")) or dt.datetime.fromtimestamp(mtime, dt.UTC)
    owner = metadata.get("operator")
    return ClaimStub(sid, path, str(owner) if owner else None, claimed_at, _hours(now, claimed_at))


def _as_datetime(value: Any) -> dt.datetime | None:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return None


def _hours(now: dt.datetime, then: dt.datetime) -> float:
    return max(0.0, (now - then).total_seconds() / 3600)
