"""The decision log: locked appends from many processes, rotation, and no exception ever."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from lib.failures.decisions import (
    DECISION_KINDS,
    decisions_path,
    log_decision,
    read_decisions,
)

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"

WRITER = """
import sys
sys.path.insert(0, sys.argv[1])
from lib.failures.decisions import log_decision
path, writer, count, max_bytes, keep = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
sys.stdin.readline()  # start together
failed = 0
for i in range(count):
    ok = log_decision("retry", path=path, decision="retry", reason="x" * (i % 50), writer=writer, seq=i,
                      context={"attempt": i, "note": "line\\nbreak and \\u00e9"},
                      max_bytes=max_bytes, keep=keep, lock_timeout=30)
    failed += not ok
print(failed)
"""


def _run_writers(path: Path, writers: int, count: int, max_bytes: int, keep: int) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(SCRIPTS), str(path), str(w), str(count), str(max_bytes), str(keep)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        for w in range(writers)
    ]
    for proc in procs:  # every writer is up and waiting before any starts writing
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        assert out.strip() == "0", "a writer failed to log"


def _assert_every_line_whole(path: Path, expected: set[tuple[int, int]]) -> None:
    files = sorted(path.parent.glob(path.name + "*"))
    lines = [ln for f in files if not f.name.endswith(".lock") for ln in f.read_bytes().split(b"\n") if ln]
    parsed = [json.loads(ln) for ln in lines]  # a torn line would not parse
    seen = [(r["writer"], r["seq"]) for r in parsed]
    assert len(seen) == len(set(seen)), "a record was written twice"
    assert set(seen) == expected, f"lost records: {sorted(expected - set(seen))[:10]}"


def test_twenty_concurrent_writer_processes_lose_and_tear_no_line(tmp_path: Path) -> None:
    path = tmp_path / "state" / "decisions.jsonl"
    _run_writers(path, writers=20, count=25, max_bytes=10**9, keep=1)
    _assert_every_line_whole(path, {(w, i) for w in range(20) for i in range(25)})
    records = read_decisions(path)
    assert len(records) == 500
    assert all(r["context"]["note"] == "line\nbreak and \u00e9" for r in records)


def test_concurrent_writers_rotating_as_they_go_lose_nothing_kept(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    _run_writers(path, writers=20, count=20, max_bytes=6_000, keep=200)
    rotated = list(tmp_path.glob("decisions.jsonl.*[0-9]"))
    assert len(rotated) >= 5, "the test meant to rotate many times while writers raced"
    _assert_every_line_whole(path, {(w, i) for w in range(20) for i in range(20)})
    for file in [path, *rotated]:
        assert file.stat().st_size <= 6_000


def test_a_decision_is_one_json_line_with_its_fields(repo: Path) -> None:
    assert log_decision("escalation", root=repo, decision="hand to a human", reason="3 failed retries",
                        context={"failure_class": "test_fail"}, session_id="s-1", attempt=3)
    path = repo / ".claude/state/decisions.jsonl"
    assert decisions_path(repo) == path
    lines = path.read_text().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["kind"] == "escalation"
    assert record["decision"] == "hand to a human"
    assert record["reason"] == "3 failed retries"
    assert record["session_id"] == "s-1"
    assert record["attempt"] == 3
    assert record["context"] == {"failure_class": "test_fail"}
    assert record["ts"].endswith("Z")
    assert record["pid"] == os.getpid()


def test_default_log_is_in_the_current_repository(chdir_repo: Path) -> None:
    assert log_decision("skip", decision="skip lint step")
    assert [r["decision"] for r in read_decisions()] == ["skip lint step"]
    assert (chdir_repo / ".claude/state/decisions.jsonl").exists()


def test_every_documented_kind_is_accepted_and_others_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    for kind in DECISION_KINDS:
        assert log_decision(kind, path=path)
    assert not log_decision("whim", path=path)
    assert [r["kind"] for r in read_decisions(path)] == list(DECISION_KINDS)


def test_logging_into_a_folder_that_cannot_exist_returns_false(tmp_path: Path) -> None:
    # Tests run as root, so permissions would not stop the write: put the folder under a file.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    assert log_decision("retry", path=blocker / "state" / "decisions.jsonl") is False
    assert log_decision("retry", root=blocker) is False
    assert blocker.read_text() == "x"


def test_logging_onto_a_directory_returns_false(tmp_path: Path) -> None:
    target = tmp_path / "decisions.jsonl"
    target.mkdir()
    assert log_decision("abort", path=target) is False


def test_a_lock_held_elsewhere_makes_the_writer_give_up_not_hang(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    fd = os.open(tmp_path / "decisions.jsonl.lock", os.O_RDWR | os.O_CREAT)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl,os,sys; fd=os.open(sys.argv[1], os.O_RDWR);"
         "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.readline()",
         str(tmp_path / "decisions.jsonl.lock")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert log_decision("retry", path=path, lock_timeout=0.05) is False
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=30)
        os.close(fd)
    assert log_decision("retry", path=path, lock_timeout=0.05) is True


def test_values_json_cannot_hold_are_stored_as_text_and_cycles_fail_quietly(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    assert log_decision("routing", path=path, context={"where": tmp_path, "when": {1, 2}.__class__})
    assert read_decisions(path)[0]["context"]["where"] == str(tmp_path)
    cyclic: dict[str, object] = {}
    cyclic["self"] = cyclic
    assert log_decision("routing", path=path, context=cyclic) is False
    assert len(read_decisions(path)) == 1


def test_rotation_keeps_the_newest_generations_and_reads_them_in_order(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    for i in range(60):
        assert log_decision("retry", path=path, seq=i, reason="r" * 40, max_bytes=1_000, keep=2)
    generations = sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock"))
    assert generations == ["decisions.jsonl", "decisions.jsonl.1", "decisions.jsonl.2"]
    assert all((tmp_path / name).stat().st_size <= 1_000 for name in generations)
    seqs = [r["seq"] for r in read_decisions(path)]
    assert seqs == sorted(seqs) and seqs[-1] == 59
    assert seqs[0] > 0, "the oldest generation beyond keep=2 was dropped"
    assert [r["seq"] for r in read_decisions(path, include_rotated=False)] == seqs[-len(
        (tmp_path / "decisions.jsonl").read_text().splitlines()):]


def test_reader_skips_torn_and_garbage_lines_and_recovers_what_follows_a_tear(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    assert log_decision("retry", path=path, seq=1)
    good = path.read_text()
    with path.open("a") as fh:
        fh.write("not json at all\n")
        fh.write('{"ts": "2026-01-01T00:00:00.000Z", "kind": "ret')  # a writer killed mid-line
    assert log_decision("skip", path=path, seq=2)
    with path.open("a") as fh:
        fh.write('["a list"]\n{"ts": "x", "kind": "not-a-kind"}\n\n\x00\xff\n')
        fh.write(good[: len(good) // 2])  # torn last line
    assert [(r["kind"], r["seq"]) for r in read_decisions(path)] == [("retry", 1), ("skip", 2)]


def test_reading_a_missing_log_gives_nothing(tmp_path: Path) -> None:
    assert read_decisions(tmp_path / "none.jsonl") == []
