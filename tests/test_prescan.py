"""lib.store.prescan: a forked child shares the store scan and the result is the scan one process takes."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from lib.store import prescan, scan
from support.store import session


@pytest.fixture
def store(repo: Path) -> Path:
    for i in range(600):
        session(repo, f"RT-2611{i // 100 + 10:02d}-{i % 100 + 1:02d}", "rt", "2026-11-20")
    return repo


def test_the_root_is_guessed_from_the_option_the_environment_or_the_nearest_git_folder(tmp_path: Path) -> None:
    nested = tmp_path / "repo" / "a" / "b"
    nested.mkdir(parents=True)
    (tmp_path / "repo" / ".git").mkdir()
    real = os.path.realpath(tmp_path / "repo")
    assert prescan.root_guess(["q", "--root", str(tmp_path)], {}) == os.path.realpath(tmp_path)
    assert prescan.root_guess([f"--root={tmp_path}", "q"], {}) == os.path.realpath(tmp_path)
    assert prescan.root_guess(["q"], {"CLAUDE_PROJECT_DIR": str(nested)}) == os.path.realpath(nested)
    assert prescan.root_guess(["q"], {}, cwd=str(nested)) == real
    assert prescan.root_guess(["--", "--root", "x"], {}, cwd=str(nested)) == real


def test_the_childs_scan_is_the_scan_this_process_would_take(store: Path) -> None:
    early = prescan.start(["word", "--root", str(store)])
    assert early is not None and early.pid is not None
    shared = early.result(store)
    assert shared is not None
    alone = scan.take(store)
    assert (shared.signature, shared.count, shared.files) == (alone.signature, 600, alone.files)
    assert shared.started_ns <= alone.started_ns


def test_a_child_that_dies_gives_no_scan_and_no_error(store: Path) -> None:
    early = prescan.start(["word", "--root", str(store)])
    assert early is not None and early.pid is not None
    os.kill(early.pid, signal.SIGKILL)
    assert early.result(store) is None
    assert early.pid is None  # reaped


def test_a_scan_of_another_root_is_not_used_and_its_child_is_ended(store: Path, tmp_path: Path) -> None:
    early = prescan.start(["word", "--root", str(store)])
    assert early is not None and early.pid is not None
    pid = early.pid
    assert early.result(tmp_path) is None
    assert early.pid is None
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped already


def test_help_and_a_folder_outside_any_repository_start_nothing(store: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    assert prescan.start(["--help", "--root", str(store)]) is None
    monkeypatch.delenv("CLAUDE_PROJECT_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    if prescan.root_guess([], os.environ) is None:  # tmp_path may itself sit inside a repository
        assert prescan.start(["word"]) is None


def test_nothing_but_built_in_modules_is_imported_before_the_fork() -> None:
    import subprocess
    import sys

    from support.paths import SCRIPTS

    code = ("import sys; before = set(sys.modules); sys.path.insert(0, sys.argv[1]); import lib.store.prescan; "
            "print(' '.join(sorted(set(sys.modules) - before)))")
    new = subprocess.run([sys.executable, "-c", code, str(SCRIPTS)], capture_output=True, text=True,
                         check=True).stdout.split()
    # __future__ is one small module every library file imports for its annotations.
    ours = {"lib", "lib.store", "lib.store.prescan", "__future__"}
    assert "lib.store.prescan" in new
    assert [m for m in new if m not in ours and m not in sys.builtin_module_names] == []
