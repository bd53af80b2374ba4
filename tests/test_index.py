"""The store index: parse once, see every edit / add / delete / rename, survive corruption and concurrency."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lib.store import frontmatter, report, validate
from lib.store.index import Index, IndexCold, IndexStale, index_path
from support.paths import SCRIPTS
from support.store import claim_text, session, session_text, workstream_text, write


@pytest.fixture
def store(repo: Path) -> Path:
    session(repo, "RT-261120-01", "rt", "2026-11-20", title="First")
    session(repo, "RT-261120-02", "rt", "2026-11-20", title="Second")
    session(repo, "SK-261121-01", "sk", "2026-11-21", title="Peer")
    write(repo, "workstreams/store.md", workstream_text("store", "rt"))
    return repo


def refresh(root: Path, **kwargs: object) -> tuple[Index, object]:
    index = Index(root)
    return index, index.refresh(**kwargs)  # type: ignore[arg-type]


def test_first_refresh_parses_every_note_and_the_next_parses_none(store: Path) -> None:
    with Index(store) as index:
        first = index.refresh()
        second = index.refresh()
    assert (first.parsed, first.added) == (4, 4)
    assert second.parsed == 0 and not second.store_changed
    with Index(store) as again:  # a new process's view: the cache on disk
        assert again.refresh().parsed == 0
        assert again.count() == 4 and again.count("session") == 3


def test_a_plain_write_is_seen_by_the_very_next_refresh(store: Path) -> None:
    with Index(store) as index:
        index.refresh()
        path = store / "docs/sessions/RT-261120-02.md"
        path.write_text(path.read_text().replace("title: Second", "title: Edited"), encoding="utf-8")
        result = index.refresh()
        assert result.changed_paths == ["docs/sessions/RT-261120-02.md"]
        assert index.notes("session", operator="rt")[0].title == "Edited"


def test_an_edit_that_keeps_size_and_times_is_caught_while_the_file_is_recent(store: Path) -> None:
    # Coarse file-system clocks can give an edit the same size, mtime and ctime as the version indexed.
    with Index(store) as index:
        index.refresh()
        rel = "docs/sessions/RT-261120-02.md"
        path = store / rel
        path.write_text(path.read_text().replace("title: Second", "title: Sekond"), encoding="utf-8")
        st = path.stat()
        with sqlite3.connect(index_path(store)) as db:  # the cache still holds the old content ...
            db.execute("UPDATE files SET size = ?, mtime_ns = ?, ctime_ns = ? WHERE path = ?",
                       (st.st_size, st.st_mtime_ns, st.st_ctime_ns, rel))
        result = index.refresh()  # ... under the new stat: only the racy re-check can tell
        assert result.changed_paths == [rel]
        assert index.note(rel) is not None and index.note(rel).title == "Sekond"  # type: ignore[union-attr]


def test_added_deleted_and_renamed_notes_are_picked_up(store: Path) -> None:
    with Index(store) as index:
        index.refresh()
        session(store, "RT-261122-01", "rt", "2026-11-22", title="New")
        (store / "docs/sessions/SK-261121-01.md").unlink()
        os.rename(store / "workstreams/store.md", store / "workstreams/renamed.md")
        result = index.refresh()
        assert (result.added, result.deleted) == (2, 2)
        assert [n.id for n in index.notes("session")] == ["RT-261122-01", "RT-261120-02", "RT-261120-01"]
        assert [n.path for n in index.notes("workstream")] == ["workstreams/renamed.md"]


def test_store_fingerprint_changes_only_when_the_store_does(store: Path) -> None:
    with Index(store) as index:
        index.refresh()
        before = index.fingerprint
        index.refresh()
        assert index.fingerprint == before
        session(store, "RT-261122-01", "rt", "2026-11-22")
        index.refresh()
        assert index.fingerprint != before


@pytest.mark.parametrize("garbage", [b"not a database at all" * 100, b"SQLite format 3\x00" + b"\xff" * 5000, b""])
def test_a_corrupt_cache_is_rebuilt_silently(store: Path, garbage: bytes) -> None:
    with Index(store) as index:
        index.refresh()
    path = index_path(store)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.write_bytes(garbage)
    with Index(store) as index:
        result = index.refresh()
        assert result.parsed == 4 and index.count() == 4
    with sqlite3.connect(path) as db:  # a real database again
        assert db.execute("SELECT COUNT(*) FROM notes").fetchone()[0] == 4


def test_a_cache_written_by_other_code_is_rebuilt(store: Path) -> None:
    with Index(store) as index:
        index.refresh()
    with sqlite3.connect(index_path(store)) as db:
        db.execute("UPDATE meta SET value = 'older code' WHERE key = 'code'")
    with Index(store) as index:
        assert index.refresh().parsed == 4


def test_without_a_usable_state_folder_the_index_still_answers(store: Path) -> None:
    state = store / ".claude/state"
    state.rmdir()
    state.write_text("a file where the state folder should be")
    with Index(store) as index:
        assert index.in_memory
        assert index.refresh().parsed == 4
        assert index.count("session") == 3


def test_create_false_refuses_to_build_a_cold_index(store: Path) -> None:
    with pytest.raises(IndexCold):
        Index(store, create=False)
    assert not index_path(store).exists()


def test_limits_raise_stale_and_keep_the_work_done(store: Path) -> None:
    with Index(store) as index:
        with pytest.raises(IndexStale):
            index.refresh(max_changes=2)
        assert index.count() == 0 and not index.is_complete
        with pytest.raises(IndexStale):
            index.refresh(deadline=time.monotonic() - 1)
        index.refresh(max_changes=10)
        assert index.count() == 4 and index.is_complete


def test_both_naming_schemes_sort_newest_first_by_date_then_sequence(repo: Path) -> None:
    session(repo, "RT-261120-02", "rt", "2026-11-20")
    session(repo, "RT-261120-10", "rt", "2026-11-20")
    session(repo, "RT-261119-05", "rt", "2026-11-19")
    write(repo, "docs/sessions/CONV-30.md", session_text("CONV-30", "rt", "2026-11-19", status=None))
    write(repo, "docs/sessions/CONV-30-buyer-journey.md",
          session_text("CONV-30-buyer-journey", "rt", "2026-11-18", status=None))
    write(repo, "docs/sessions/LOCAL-2026-11-20-3.md",
          session_text("LOCAL-2026-11-20-3", "rt", "2026-11-20", status=None))
    write(repo, "docs/sessions/RT-261121-01.md", claim_text("RT-261121-01", "rt", "2026-11-21T09:00:00Z"))
    with Index(repo) as index:
        index.refresh()
        ids = [n.id for n in index.notes("session", operator="rt", not_status="claimed")]
    assert ids == ["RT-261120-10", "LOCAL-2026-11-20-3", "RT-261120-02", "CONV-30", "RT-261119-05",
                   "CONV-30-buyer-journey"]


def test_body_sections_confidence_and_content_hash_are_indexed(store: Path) -> None:
    session(store, "RT-261122-01", "rt", "2026-11-22", resume_prompt="Start from the parser.\n\nThen tests.",
            open_questions="- Which loader?", confidence="low")
    with Index(store) as index:
        index.refresh()
        rel = "docs/sessions/RT-261122-01.md"
        sections = index.sections(rel)
        note = index.note(rel)
    assert sections["Resume Prompt"] == "Start from the parser.\n\nThen tests.\n\nConfidence: low"
    assert sections["Open questions"] == "- Which loader?"
    assert note is not None and note.confidence == "low"
    assert note.content_hash == frontmatter.file_content_hash(store / rel)
    assert note.metadata is not None and note.metadata["date"] == "2026-11-22"


def test_problems_from_the_index_match_a_direct_check(repo: Path) -> None:
    session(repo, "RT-261120-01", "rt", "2026-11-20")
    write(repo, "docs/sessions/RT-261120-02.md", session_text("RT-261120-02", "Not A Slug", "2026-11-20"))
    write(repo, "docs/sessions/RT-261120-03.md", session_text("RT-261120-01", "rt", "2026-11-20"))  # dup id
    write(repo, "docs/sessions/broken.md", "---\ntitle: [unclosed\n---\n")
    write(repo, "docs/sessions/bad-bytes.md", "---\ntitle: x\n---\n")
    (repo / "docs/sessions/bad-bytes.md").write_bytes(b"---\ntitle: \xff\n---\n")
    write(repo, "workstreams/no-owner.md", workstream_text("no-owner", None))
    direct = validate.check_paths(sorted((repo / "docs/sessions").glob("*.md")) +
                                  sorted((repo / "workstreams").glob("*.md")), repo)
    with Index(repo) as index:
        index.refresh()
        served = report.store_report(index)
        counted = index.problem_count()
    assert [str(p) for p in served.problems] == [str(p) for p in direct.problems]
    assert len(served.files) == len(direct.files)
    assert counted == (len(direct.problems), len({p.path for p in direct.problems}))


def test_a_refresh_without_validation_leaves_problems_for_the_next_validating_one(store: Path) -> None:
    write(store, "docs/sessions/RT-261120-05.md", session_text("RT-261120-05", "Bad Slug", "2026-11-20"))
    with Index(store) as index:
        index.refresh(validate=False)
        assert not index.validated()
        result = index.refresh()
        assert result.parsed == 5 and index.validated()
        assert index.problem_count() == (1, 1)


def test_parallel_parsing_gives_the_same_rows(repo: Path) -> None:
    for i in range(1, 31):
        session(repo, f"RT-2611{i:02d}-01", "rt" if i % 2 else "sk", f"2026-11-{i:02d}", title=f"S{i}")
    with Index(repo, jobs=2, parallel_threshold=10) as index:
        index.refresh()
        parallel = [n.as_dict() for n in index.notes(with_metadata=True)]
    index_path(repo).unlink()
    with Index(repo, jobs=1) as index:
        index.refresh()
        serial = [n.as_dict() for n in index.notes(with_metadata=True)]
    assert parallel == serial and len(serial) == 30


WORKER = """
import sys
sys.path.insert(0, {scripts!r})
from pathlib import Path
from lib.store.index import Index
with Index(Path({root!r})) as index:
    index.refresh()
    print(index.count())
"""


def test_concurrent_refreshes_all_succeed_and_agree(repo: Path) -> None:
    for i in range(1, 41):
        session(repo, f"RT-2611{(i % 28) + 1:02d}-{i:02d}", "rt", f"2026-11-{(i % 28) + 1:02d}")
    code = WORKER.format(scripts=str(SCRIPTS), root=str(repo))
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(6)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, [o[1] for o in outputs]
    assert [o[0].strip() for o in outputs] == ["40"] * 6
    with Index(repo) as index:
        assert index.refresh().parsed == 0


# ---------------------------------------------------------------- the fast split

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from lib.store import index as index_module  # noqa: E402

FIXTURES = sorted((Path(__file__).parent / "fixtures").glob("*/*.md"))


def _library_split(text: str) -> object:
    try:
        parts = frontmatter.split(text, "x.md")
    except frontmatter.FrontmatterError as exc:
        return ("error", str(exc))
    return (parts.yaml_text, parts.body)


def _fast_split(text: str) -> object:
    try:
        return index_module.split(text, "x.md")
    except frontmatter.FrontmatterError as exc:
        return ("error", str(exc))


@pytest.mark.parametrize("path", FIXTURES, ids=[p.name for p in FIXTURES])
def test_fast_split_cuts_every_fixture_like_the_library(path: Path) -> None:
    text = path.read_bytes().decode("utf-8")
    assert _fast_split(text) == _library_split(text)


_LINES = st.sampled_from(["---", "...", "--- ", "---\t", " ---", "----", "a: 1", "", "- x", "b: |", "  ---",
                          "...x", "# c", "\ufeff---", "---\r", "k: v\r"])


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(_LINES, max_size=8), final_newline=st.booleans())
def test_fast_split_agrees_with_the_library_on_generated_files(lines: list[str], final_newline: bool) -> None:
    text = "\n".join(lines) + ("\n" if final_newline and lines else "")
    assert _fast_split(text) == _library_split(text)


def test_a_cache_file_another_process_holds_in_rollback_mode_is_opened_without_switching_it(repo: Path) -> None:
    session(repo, "RT-261120-01", "rt", "2026-11-20")
    with Index(repo) as index:
        index.refresh()
    holder = sqlite3.connect(index_path(repo), isolation_level=None)
    holder.execute("PRAGMA journal_mode=DELETE")
    holder.execute("BEGIN IMMEDIATE")  # as a process creating the file does: WAL needs it to itself
    try:
        with Index(repo, busy_timeout=0.2) as index:
            assert index.count() == 1
    finally:
        holder.execute("ROLLBACK")
        holder.close()
