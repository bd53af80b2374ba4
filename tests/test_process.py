"""lib.core.process: one answer to "is that process alive", a zombie counted as gone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from lib.core import process


def test_a_running_process_is_alive_and_keeps_its_start_time() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        assert process.pid_alive(child.pid)
        assert process.proc_start_time(child.pid) == process.proc_start_time(child.pid)
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait()
    assert not process.pid_alive(child.pid)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to tell a zombie")
def test_an_exited_child_nobody_reaped_yet_counts_as_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, still in the process table
    try:
        assert process.proc_stat(child.pid) is not None
        assert not process.pid_alive(child.pid)
    finally:
        child.wait()


def test_this_process_is_alive_and_has_a_start_time_where_there_is_proc() -> None:
    assert process.pid_alive(os.getpid())
    if Path("/proc/self/stat").exists():
        assert process.proc_start_time(os.getpid())
