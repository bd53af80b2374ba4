"""A temp project with a bare remote, a scripted fake `claude`, and helpers to run `chains.py` against them."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lib.core.process import pid_alive

from support.git import git
from support.paths import PYTHON, REPO_ROOT, SCRIPTS
from support.roster import JD, RT, write_roster

FAKE_DIR = REPO_ROOT / "tests" / "fakeclaude"
FAKE_CLAUDE = FAKE_DIR / "claude"
STREAMS = FAKE_DIR / "streams"

# Fast timings: every wait in these tests is one of these.
FAST_SETTINGS: dict[str, Any] = {
    "backoff_base_s": 0.05,
    "max_retries": 3,
    # Generous: a session writing its note through the three handoff helpers says nothing for seconds on a
    # loaded machine. Tests of the stall limit set their own.
    "stall_s": 20,
    "session_wall_clock_s": 40,
    "kill_grace_s": 0.3,
    "breaker_threshold": 3,
    "breaker_cooldown_s": 3600,
    "usage_limit_max_wait_s": 5,
    "usage_limit_default_wait_s": 0.2,
    "webhook_retry_delay_s": 0.2,
    "resume_wait_s": 5,
    "min_budget_usd": 0.05,
}


# ------------------------------------------------------------------ scenario steps


def note(outcome: str = "incomplete", *, summary: str | None = None, next_steps: str | None = "default",
         resume_prompt: str | None = None, work_file: str | None = None, commit: bool = True,
         helpers: bool = False) -> dict[str, Any]:
    """The session's handoff note: written directly in the note format (fast), or with `helpers`
    through handoff_helpers.py as `/handoff --auto` does (three helper processes)."""
    spec: dict[str, Any] = {"outcome": outcome, "commit": commit}
    if helpers:
        spec["via"] = "helpers"
    if summary is not None:
        spec["summary"] = summary
    if next_steps != "default":
        spec["next_steps"] = next_steps
    if resume_prompt is not None:
        spec["resume_prompt"] = resume_prompt
    if work_file is not None:
        spec["work_file"] = work_file
    return {"write_note": spec}


def result(**fields: Any) -> dict[str, Any]:
    return {"result": fields}


def session(outcome: str = "incomplete", *, cost: float = 0.1, turns: int = 3, before: list[dict[str, Any]] | None = None,
            **note_args: Any) -> dict[str, Any]:
    """A well-behaved session: init, some work, a handoff note, a successful result."""
    return {"steps": [
        {"init": {}},
        {"text": "Working on the mission."},
        *(before or []),
        note(outcome, **note_args),
        result(total_cost_usd=cost, num_turns=turns),
    ]}


def api_error(status: int, error: str, text: str, *, cost: float = 0.0, exit_code: int = 1) -> dict[str, Any]:
    """How the CLI reports an API failure: an assistant `error` message, then `success` + is_error."""
    return {"steps": [
        {"init": {}},
        {"assistant_error": error, "text": text},
        result(subtype="success", is_error=True, api_error_status=status, result=text, total_cost_usd=cost,
               num_turns=1),
        {"exit": exit_code},
    ]}


# ------------------------------------------------------------------ the harness


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Harness:
    root: Path
    remote: Path
    state: Path
    tmp: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def scenario_path(self) -> Path:
        return self.tmp / "scenario.json"

    @property
    def log_path(self) -> Path:
        return self.tmp / "fakeclaude.log"

    def scenario(self, *invocations: dict[str, Any], default: dict[str, Any] | None = None) -> None:
        data: dict[str, Any] = {"invocations": list(invocations)}
        if default is not None:
            data["default"] = default
        self.scenario_path.write_text(json.dumps(data), encoding="utf-8")
        # A new scenario starts from its first invocation.
        Path(f"{self.scenario_path}.count").unlink(missing_ok=True)

    def settings(self, **values: Any) -> None:
        merged = {**FAST_SETTINGS, **values}
        lines = ["chains:"] + [f"  {k}: {json.dumps(v)}" for k, v in merged.items()]
        (self.root / ".claude").mkdir(exist_ok=True)
        (self.root / ".claude" / "baton.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def full_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        env.update(extra or {})
        return env

    def chains(self, *args: str, env: dict[str, str] | None = None) -> Result:
        """`chains.py ARGS` in this process (the real entry point, minus the interpreter start-up)."""
        import chains as chains_cli  # scripts/chains.py

        out, err = io.StringIO(), io.StringIO()
        saved_env, saved_cwd = dict(os.environ), os.getcwd()
        os.environ.update({**self.env, **(env or {})})
        os.chdir(self.root)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = chains_cli.main(list(args))
                except SystemExit as exc:  # argparse
                    code = exc.code if isinstance(exc.code, int) else 1
        finally:
            os.chdir(saved_cwd)
            os.environ.clear()
            os.environ.update(saved_env)
        return Result(code, out.getvalue(), err.getvalue())

    def chains_process(self, *args: str, env: dict[str, str] | None = None,
                       timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """`python scripts/chains.py ARGS` as a user runs it."""
        return subprocess.run([PYTHON, str(SCRIPTS / "chains.py"), *args], cwd=self.root, env=self.full_env(env),
                              capture_output=True, text=True, timeout=timeout)

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen([PYTHON, str(SCRIPTS / "chains.py"), *args], cwd=self.root, env=self.full_env(env),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def run(self, *args: str, mission: str = "Build the feature.", env: dict[str, str] | None = None) -> Result:
        return self.chains("run", "--mission", mission, "--operator", "rt", "--json", *args, env=env)

    def invocations(self) -> list[dict[str, Any]]:
        """One record per fake claude run: its start line merged with its end line."""
        if not self.log_path.exists():
            return []
        runs: dict[int, dict[str, Any]] = {}
        for line in self.log_path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            entry = runs.setdefault(record["n"], {})
            if record["event"] == "start":
                entry.update(record, start=record["t"])
            else:
                entry.update(end=record["t"], code=record["code"])
        return [runs[n] for n in sorted(runs)]

    def registry(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.state / "registry.json").read_text(encoding="utf-8"))
        return data

    def chain(self, chain_id: str | None = None) -> dict[str, Any]:
        chains: list[dict[str, Any]] = self.registry()["chains"]
        if chain_id is None:
            return chains[-1]
        return next(c for c in chains if c["id"] == chain_id)

    def note_text(self, session_id: str) -> str:
        return (self.root / "docs" / "sessions" / f"{session_id}.md").read_text(encoding="utf-8")

    def remote_log(self) -> list[str]:
        return git(self.remote, "log", "--format=%s", "main").splitlines()

    def wait_for(self, path: Path, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not path.exists():
            if time.monotonic() > deadline:
                raise AssertionError(f"{path} never appeared; fake log: {self.log_path.read_text() if self.log_path.exists() else ''}")
            time.sleep(0.02)


def make_harness(repo: Path, tmp_path: Path) -> Harness:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    (repo / "README.md").write_text("# project\n", encoding="utf-8")
    git(repo, "add", "README.md")
    git(repo, "commit", "-q", "-m", "initial")
    git(repo, "branch", "-M", "main")
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "-u", "origin", "main")
    write_roster(repo, [RT, JD])
    state = Path(os.environ["BATON_STATE_HOME"])
    harness = Harness(root=repo, remote=remote, state=state, tmp=tmp_path)
    # The fake is a Python script: run it with this interpreter, not whatever python3 PATH finds first.
    harness.env = {
        "CLAUDE_BIN": str(FAKE_CLAUDE),
        "FAKECLAUDE_SCENARIO": str(harness.scenario_path),
        "FAKECLAUDE_LOG": str(harness.log_path),
        "FAKECLAUDE_BATON_SCRIPTS": str(SCRIPTS),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    harness.settings()
    return harness


def wait_dead(pid: int, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
