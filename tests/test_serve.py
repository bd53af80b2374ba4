"""serve.py as a user runs it: loopback by default, a fresh 0600 token, several projects, clean refusals."""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import subprocess
from pathlib import Path

import httpx
from support.console_store import write_session
from support.paths import PYTHON, SCRIPTS, run_script


def start(*args: str, cwd: Path) -> tuple[subprocess.Popen[str], str, str]:
    proc = subprocess.Popen([PYTHON, str(SCRIPTS / "serve.py"), "--port", "0", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    lines = [proc.stdout.readline() for _ in range(3)]
    url = re.search(r"(http://127\.0\.0\.1:\d+/)", lines[1])
    token = re.search(r"token: (\S+)", lines[2])
    if not lines[0].startswith("store index: ") or not url or not token:
        proc.kill()
        raise AssertionError(f"unexpected start-up output: {lines} {proc.stderr.read() if proc.stderr else ''}")
    return proc, url.group(1), token.group(1)


def stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGINT)
    return proc.wait(timeout=15)


def test_serves_on_loopback_with_a_private_token_file(repo: Path, tmp_path: Path) -> None:
    write_session(repo, "AN-260301-01", date="2026-03-01")
    other = tmp_path / "other"
    (other / "docs" / "sessions").mkdir(parents=True)
    write_session(other, "BO-260302-01", operator="bob", date="2026-03-02")
    proc, url, token = start("--project-dir", str(repo), "--project-dir", str(other), cwd=repo)
    try:
        token_file = repo / ".claude" / "state" / "serve.token"
        assert token_file.read_text(encoding="utf-8").strip() == token
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert len(token) >= 32
        health = httpx.get(url + "api/health", timeout=10).json()
        assert [p["name"] for p in health["projects"]] == [repo.name, "other"]
        sessions = httpx.get(url + "api/sessions", timeout=10).json()["sessions"]
        assert [s["id"] for s in sessions] == ["BO-260302-01", "AN-260301-01"]
        port = url.rsplit(":", 1)[1].rstrip("/")
        foreign = httpx.get(url + "api/health", headers={"host": f"rebind.example:{port}"}, timeout=10)
        assert foreign.status_code == 400
    finally:
        assert stop(proc) == 0
    # The token of a console that stopped is gone with it.
    assert not (repo / ".claude" / "state" / "serve.token").exists()


def test_a_new_token_at_every_start_and_sigterm_stops_cleanly(repo: Path) -> None:
    tokens = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        proc, _url, token = start("--project-dir", str(repo), cwd=repo)
        tokens.append(token)
        proc.send_signal(sig)
        assert proc.wait(timeout=15) == 0, proc.stderr.read() if proc.stderr else ""
        assert not (repo / ".claude" / "state" / "serve.token").exists()
    assert tokens[0] != tokens[1]


def test_non_loopback_bind_needs_allow_remote(repo: Path) -> None:
    result = run_script("serve.py", "--host", "0.0.0.0", "--project-dir", str(repo), cwd=repo, timeout=30)
    assert result.returncode == 1
    assert "--allow-remote" in result.stderr and "not a loopback address" in result.stderr
    assert not (repo / ".claude" / "state" / "serve.token").exists()


def test_a_busy_port_is_a_clear_error(repo: Path) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        port = busy.getsockname()[1]
        result = run_script("serve.py", "--port", str(port), "--project-dir", str(repo), cwd=repo, timeout=30)
    finally:
        busy.close()
    assert result.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_a_missing_project_dir_is_a_clear_error(repo: Path) -> None:
    result = run_script("serve.py", "--project-dir", str(repo / "nope"), cwd=repo, timeout=30)
    assert result.returncode == 1 and "not a folder" in result.stderr


def test_the_rest_of_baton_does_not_import_the_web_stack() -> None:
    code = (f"import sys; sys.path.insert(0, {str(SCRIPTS)!r}); import serve, lib.failures.insights, lib.console.data; "
            "print(sorted(m for m in ('starlette', 'uvicorn', 'jinja2') if m in sys.modules))")
    out = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, env={**os.environ}, check=True)
    assert out.stdout.strip() == "[]"
