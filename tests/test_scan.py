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


def test_a_scan_rebuilt_from_its_parts_has_the_same_signature_and_files(repo: Path) -> None:
    notes(repo, 300)
    write(repo, "workstreams/tide-api.md", workstream_text("tide-api", "rt"))
    whole = scan.take(repo)
    parts = [scan.stat_folder(repo, listed) for listed in scan.listing(repo)]
    again = scan.Scan(whole.started_ns, parts)
    assert (again.signature, again.count, again.files) == (whole.signature, 301, whole.files)
    assert scan.Scan(0, parts, signature="given").signature == "given"


def test_a_file_that_vanishes_between_the_listing_and_its_stat_is_left_out(repo: Path) -> None:
    notes(repo, 2)
    listed = scan.listing(repo)
    _, folder, names = listed[0]
    (repo / folder / names[0]).unlink()
    count, _ = scan.stat_folder(repo, listed[0])
    assert count == 1
