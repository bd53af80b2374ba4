"""`run --detach`: a supervisor that resumes a crashed runner; `service`: units for other supervisors."""

from __future__ import annotations

import json
import os
import plistlib
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from chains_harness import Harness, make_harness, note, result, session, wait_dead


@pytest.fixture
def h(repo: Path, tmp_path: Path) -> Harness:
    harness = make_harness(repo, tmp_path)
    harness.settings(supervisor_backoff_s=0.05, supervisor_max_restarts=2)
    return harness


def _wait_status(h: Harness, chain_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        chain = h.chain(chain_id)
        if chain["status"] != "running":
            return chain
        if time.monotonic() > deadline:
            raise AssertionError(f"chain {chain_id} still running after {timeout} s")
        time.sleep(0.05)


def test_kill_9_of_a_detached_runner_resumes_without_a_person_and_runs_no_session_twice(h: Harness) -> None:
    marker = h.tmp / "session2-wrote-note"
    h.scenario(
        session(cost=0.1),
        {"steps": [{"init": {}}, note("incomplete", resume_prompt="RESUME-AFTER-CRASH"), {"touch": str(marker)},
                   {"sleep": 1.0}, result(total_cost_usd=0.1)]},
        session("done", cost=0.1),
    )
    started = h.chains_process("run", "--detach", "--mission", "Build the feature.", "--operator", "rt", "--json")
    assert started.returncode == 0, started.stderr
    info = json.loads(started.stdout)
    chain_id, supervisor_pid = info["id"], info["supervisor_pid"]
    try:
        h.wait_for(marker)
        runner_pid = h.chain(chain_id)["runner"]["pid"]
        assert runner_pid != supervisor_pid
        os.kill(runner_pid, signal.SIGKILL)
        chain = _wait_status(h, chain_id)
    finally:
        if not wait_dead(supervisor_pid, timeout=60):
            os.kill(supervisor_pid, signal.SIGKILL)
    chain = h.chain(chain_id)  # as the supervisor left it
    assert chain["status"] == "done"
    s1, s2, s3 = chain["sessions"]
    assert s2["status"] == "interrupted" and s2["handoff"]["status"] == "valid"
    ids = [r["baton_session_id"] for r in h.invocations()]
    assert ids == [s1["id"], s2["id"], s3["id"]]  # no session run twice
    assert "RESUME-AFTER-CRASH" in h.invocations()[2]["prompt"]
    assert chain["supervisor"]["restarts"] == 1 and chain["supervisor"]["state"] == "ended"
    log = (h.state / "chains" / chain_id / "supervisor.log").read_text()
    assert "restart 1/2" in log and "signal 9" in log and "chain ended done" in log
    status = h.chains("status", chain_id)
    assert "1/2 restarts" in status.stdout


def test_a_stopped_detached_chain_is_not_restarted(h: Harness) -> None:
    started_marker = h.tmp / "started"
    h.scenario({"steps": [{"init": {}}, {"touch": str(started_marker)}, {"sleep": 30}]}, default=session("done"))
    started = h.chains_process("run", "--detach", "--mission", "Build.", "--operator", "rt", "--json")
    info = json.loads(started.stdout)
    try:
        h.wait_for(started_marker)
        stop = h.chains("stop", info["id"])
        assert stop.returncode == 0, stop.stderr
        assert wait_dead(info["supervisor_pid"], timeout=30)
    finally:
        if not wait_dead(info["supervisor_pid"], timeout=1):
            os.kill(info["supervisor_pid"], signal.SIGKILL)
    chain = h.chain(info["id"])
    assert chain["status"] == "stopped" and chain["supervisor"]["restarts"] == 0
    assert len(h.invocations()) == 1


def test_service_prints_a_systemd_unit_that_restarts_on_a_crash_only(h: Harness) -> None:
    proc = h.chains("service", "--format", "systemd", "--project-dir", str(h.root))
    assert proc.returncode == 0, proc.stderr
    unit = proc.stdout
    assert "[Service]" in unit and "Restart=on-abnormal" in unit and "StartLimitBurst=3" in unit
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert "chains.py run --resume --project-dir" in exec_start and str(h.root) in exec_start
    assert "NOTION_TOKEN" not in unit and "EnvironmentFile=-%h/.config/baton/chains.env" in unit
    as_json = json.loads(h.chains("service", "--format", "systemd", "--project-dir", str(h.root), "--json").stdout)
    assert as_json == {"format": "systemd", "name": "baton-chain", "unit": unit}


def test_service_prints_a_launchd_agent_for_one_chain(h: Harness) -> None:
    h.scenario(session("done"))
    chain_id = json.loads(h.run().stdout)["id"]
    proc = h.chains("service", chain_id, "--format", "launchd")
    assert proc.returncode == 0, proc.stderr
    agent = plistlib.loads(proc.stdout.encode())
    assert agent["Label"] == f"dev.baton.baton-chain-{chain_id}"
    assert agent["ProgramArguments"][-4:] == ["--resume", chain_id, "--project-dir", str(h.root)]
    assert agent["KeepAlive"] == {"Crashed": True}
