"""Starting a chain from the console: `chains.py run --detach`, exactly as a person would type it.

The mission is written to a file in the project's state folder and passed by path, so its text never
meets a command line (where a mission starting with `-` would read as an option, and where other users
of the machine can see it). Where the chains CLI has no `--detach`, the runner is started in a session
of its own and the console waits for its chain to appear in the registry.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lib.console.queries import BadRequest, Unavailable
from lib.core import atomic
from lib.core.paths import STATE_DIR

CHAINS_CLI = Path(__file__).resolve().parents[2] / "chains.py"
MISSIONS_DIR = "missions"
MAX_MISSION_CHARS = 100_000
_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,99}$")


@dataclass(frozen=True)
class LaunchRequest:
    mission: str
    operator: str | None = None
    max_sessions: int | None = None
    budget_usd: float | None = None
    model: str | None = None
    worktree: bool = False

    @classmethod
    def from_json(cls, body: Any) -> LaunchRequest:
        if not isinstance(body, dict):
            raise BadRequest("the request body must be a JSON object")
        allowed = {"project", "mission", "operator", "max_sessions", "budget_usd", "model", "worktree"}
        unknown = sorted(set(body) - allowed)
        if unknown:
            raise BadRequest(f"unknown field {unknown[0]!r} (known: {', '.join(sorted(allowed))})", unknown[0])
        return cls.build(mission=body.get("mission"), operator=body.get("operator"),
                         max_sessions=body.get("max_sessions"), budget_usd=body.get("budget_usd"),
                         model=body.get("model"), worktree=body.get("worktree", False))

    @classmethod
    def build(cls, *, mission: Any, operator: Any = None, max_sessions: Any = None, budget_usd: Any = None,
              model: Any = None, worktree: Any = False) -> LaunchRequest:
        if not isinstance(mission, str) or not mission.strip():
            raise BadRequest("mission: the mission text is required", "mission")
        if len(mission) > MAX_MISSION_CHARS:
            raise BadRequest(f"mission: longer than {MAX_MISSION_CHARS} characters", "mission")
        if "\x00" in mission:
            raise BadRequest("mission: contains a NUL character", "mission")
        if operator is not None and not isinstance(operator, str):
            raise BadRequest("operator: must be a string", "operator")
        if max_sessions is not None and (isinstance(max_sessions, bool) or not isinstance(max_sessions, int)
                                         or not 1 <= max_sessions <= 1000):
            raise BadRequest("max_sessions: a whole number from 1 to 1000", "max_sessions")
        if budget_usd is not None and (isinstance(budget_usd, bool) or not isinstance(budget_usd, (int, float))
                                       or not 0 < budget_usd <= 100_000):
            raise BadRequest("budget_usd: a number of dollars above 0 (at most 100000)", "budget_usd")
        if model is not None and (not isinstance(model, str) or not _MODEL.match(model.strip())):
            raise BadRequest("model: a model name such as claude-sonnet-4-5 or opus", "model")
        if not isinstance(worktree, bool):
            raise BadRequest("worktree: true or false", "worktree")
        return cls(mission=mission, operator=(operator or "").strip() or None, max_sessions=max_sessions,
                   budget_usd=float(budget_usd) if budget_usd is not None else None,
                   model=model.strip() if isinstance(model, str) and model.strip() else None, worktree=worktree)


def _mission_file(root: Path, mission: str) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    path = root / STATE_DIR / MISSIONS_DIR / f"{stamp}-{secrets.token_hex(3)}.md"
    atomic.write_text(path, mission if mission.endswith("\n") else mission + "\n", mode=0o600)
    return path


def _argv(root: Path, request: LaunchRequest, mission_path: Path, *, detach: bool) -> list[str]:
    argv = [sys.executable, str(CHAINS_CLI), "run", "--mission", str(mission_path), "--project-dir", str(root)]
    if request.operator:
        argv += ["--operator", request.operator]
    if request.max_sessions is not None:
        argv += ["--max-sessions", str(request.max_sessions)]
    if request.budget_usd is not None:
        argv += ["--max-budget-usd", f"{request.budget_usd:g}"]
    if request.model:
        argv += ["--model", request.model]
    if request.worktree:
        argv.append("--worktree")
    if detach:
        argv += ["--detach", "--json"]
    return argv


def has_detach() -> bool:
    """Whether the chains CLI here can run a chain in the background itself."""
    try:
        return "--detach" in CHAINS_CLI.read_text(encoding="utf-8")
    except OSError:
        return False


def start(root: Path, request: LaunchRequest, *, registry_home: Path | None, timeout_s: float = 20.0) -> str:
    """Start a detached chain in the project at `root`; its id once the registry has it."""
    env = dict(os.environ)
    if registry_home is not None:
        env["BATON_STATE_HOME"] = str(registry_home)
    if request.worktree and not has_detach():
        raise BadRequest("worktree: this baton's chain runner cannot run a chain in a worktree", "worktree")
    mission_path = _mission_file(root, request.mission)
    if has_detach():
        try:
            done = subprocess.run(_argv(root, request, mission_path, detach=True), cwd=root, env=env,
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise Unavailable(f"the chain runner did not answer within {timeout_s:g} s") from None
        if done.returncode != 0:
            raise BadRequest(_cli_error(done.stderr))
        try:
            return str(json.loads(done.stdout)["id"])
        except (ValueError, KeyError, TypeError):
            raise Unavailable("the chain runner's answer had no chain id") from None
    return _start_in_background(root, request, mission_path, env, registry_home, timeout_s)


def _start_in_background(root: Path, request: LaunchRequest, mission_path: Path, env: dict[str, str],
                         registry_home: Path | None, timeout_s: float) -> str:
    from lib.chains.registry import Registry

    registry = Registry(registry_home)
    before = {c.id for c in registry.chains(root, archived=False)}
    log = mission_path.with_suffix(".log")
    with open(log, "ab") as out:
        proc = subprocess.Popen(_argv(root, request, mission_path, detach=False), cwd=root, env=env,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
    # Reaped when it ends, so a finished runner leaves no zombie behind the console.
    threading.Thread(target=proc.wait, name=f"chain-runner-{proc.pid}", daemon=True).start()
    deadline = time.monotonic() + timeout_s
    delay = 0.02
    while time.monotonic() < deadline:
        fresh = [c for c in registry.chains(root, archived=False) if c.id not in before]
        if fresh:
            return str(fresh[-1].id)
        code = proc.poll()
        if code is not None:
            raise BadRequest(_cli_error(log.read_text(encoding="utf-8", errors="replace")))
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
    raise Unavailable(f"no chain appeared within {timeout_s:g} s (log: {log})")


def _cli_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    text = lines[-1] if lines else "the chain runner refused the launch"
    return text.removeprefix("chains.py: ").removeprefix("error: ")[:500]
