"""lib.store.scan: one stat of every note, cut into chunks, signed the same however it was taken."""

from __future__ import annotations

import os
from pathlib import Path

from lib.store import scan
from support.store import session, workstream_text, write


def notes(root: Path, n: int) -> None:
    for i in range(n):
        session(root, f"RT-2611{i // 100 + 10:02d}-{i % 100 + 1:02d}", "rt", "2026-11-20")


def test_every_note_of_every_folder_is_found_with_its_stat(repo: Path) -> None:
    session(repo, "RT-261120-01", "rt", "2026-11-20")
    write(repo, "workstreams/tide-api.md", workstream_text("tide-api", "rt"))
    write(repo, "docs/sessions/TEMPLATE.md", "---\n---\n")
    write(repo, "docs/sessions/notes.txt", "not a note")
    (repo / "docs/sessions/folder.md").mkdir()
    files = scan.take(repo).files
    assert sorted(files) == ["docs/sessions/RT-261120-01.md", "workstreams/tide-api.md"]
    st = os.stat(repo / "docs/sessions/RT-261120-01.md")
    assert files["docs/sessions/RT-261120-01.md"] == ("session", st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def test_the_signature_changes_when_a_note_is_touched_added_or_removed(repo: Path) -> None:
    notes(repo, 3)
    first = scan.take(repo)
    assert scan.take(repo).signature == first.signature
    path = repo / "docs/sessions/RT-261110-02.md"
    os.utime(path, ns=(1, path.stat().st_mtime_ns + 1))
    touched = scan.take(repo)
    session(repo, "RT-261121-09", "rt", "2026-11-21")
    added = scan.take(repo)
    path.unlink()
    removed = scan.take(repo)
    assert len({first.signature, touched.signature, added.signature, removed.signature}) == 4
    assert (first.count, added.count, removed.count) == (3, 4, 3)


def test_a_large_store_is_cut_into_at_most_255_chunks_that_cover_every_file_once(repo: Path) -> None:
    entries = [(f"docs/sessions/S-{i}.md", "session") for i in range(100_000)]
    cut = scan.chunks(entries)
    assert len(cut) <= scan.MAX_CHUNKS
    assert [e for chunk in cut for e in chunk] == entries
    assert scan.chunks(entries[:10]) == [entries[:10]]
    assert scan.chunks([]) == []


def test_a_scan_signed_from_chunks_is_the_scan_of_the_whole_and_decodes_to_the_same_files(repo: Path) -> None:
    notes(repo, 300)
    whole = scan.take(repo)
    listed = scan.listing(repo)
    parts = [scan.stat_chunk(repo, chunk) for chunk in scan.chunks(listed)]
    assert len(parts) == 3
    again = scan.Scan(whole.started_ns, parts)
    assert (again.signature, again.count, again.files) == (whole.signature, 300, whole.files)


def test_a_file_that_vanishes_between_the_listing_and_its_stat_is_left_out(repo: Path) -> None:
    notes(repo, 2)
    listed = scan.listing(repo)
    (repo / listed[0][0]).unlink()
    count, _ = scan.stat_chunk(repo, listed)
    assert count == 1
