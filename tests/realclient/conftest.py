"""Fixtures that drive the real Claude Code CLI against the local API stand-in.

Every test under tests/realclient is marked ``realclient``. The CLI is installed from the npm registry
once into a cache folder (``$BATON_CLAUDE_CACHE``, default ``<repo>/.cache/claude-code``) and reused.
Without node/npm the whole group is skipped with one line; set ``BATON_SKIP_REALCLIENT=1`` to skip it
on purpose. An install that fails is an error, never a silent skip.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from .standin import StandIn

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent

# The Claude Code release this suite is verified against; BATON_CLAUDE_VERSION overrides it.
CLAUDE_CODE_VERSION = "2.1.197"
CLAUDE_PACKAGE = "@anthropic-ai/claude-code"
MODEL = "claude-sonnet-4-6"

# Wall time of every CLI run in this process, summarised at the end: the group must stay fast.
_RUN_SECONDS: list[float] = []

# Captured when pytest loads this file, before any fixture points HOME at a temporary folder, so
# npm keeps using the machine's own package cache and configuration.
_LAUNCH_ENV = dict(os.environ)


def claude_version() -> str:
    return _LAUNCH_ENV.get("BATON_CLAUDE_VERSION") or CLAUDE_CODE_VERSION


def cache_root() -> Path:
    configured = _LAUNCH_ENV.get("BATON_CLAUDE_CACHE")
    return Path(configured).expanduser() if configured else REPO_ROOT / ".cache" / "claude-code"


def _missing_tools() -> list[str]:
    return [tool for tool in ("node", "npm") if shutil.which(tool, path=_LAUNCH_ENV.get("PATH")) is None]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # tryfirst: the marker must be on the items before `-m realclient` selects them.
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.realclient)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _RUN_SECONDS:
        terminalreporter.write_line(
            f"realclient: {len(_RUN_SECONDS)} Claude Code runs, {sum(_RUN_SECONDS):.1f}s in all, "
            f"slowest {max(_RUN_SECONDS):.2f}s, fastest {min(_RUN_SECONDS):.2f}s "
            f"(Claude Code {claude_version()})")


@pytest.fixture(scope="session", autouse=True)
def _realclient_available() -> None:
    """Skip the group with one reason (one line in the summary) when it cannot run here."""
    if _LAUNCH_ENV.get("BATON_SKIP_REALCLIENT"):
        pytest.skip("realclient group skipped: BATON_SKIP_REALCLIENT is set")
    missing = _missing_tools()
    if missing:
        pytest.skip(f"realclient group skipped: {' and '.join(missing)} not found "
                    "(install Node.js and npm to drive the real Claude Code CLI)")


# ---- installing the CLI ---------------------------------------------------------------------------

def _binary_in(prefix: Path) -> Path:
    return prefix / "node_modules" / ".bin" / "claude"


def _reported_version(binary: Path) -> str | None:
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=60,
                             env={**_LAUNCH_ENV, "DISABLE_AUTOUPDATER": "1"})
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.match(r"\s*(\S+)", out.stdout)
    return match.group(1) if out.returncode == 0 and match else None


def install_claude_code(version: str, root: Path) -> Path:
    """The `claude` binary of ``version`` under ``root``, installed from npm unless already there.

    Concurrent test processes share one install: a file lock serialises them, and an install is
    built in a staging folder and renamed into place only once `claude --version` answers, so a
    killed install is never reused.
    """
    root.mkdir(parents=True, exist_ok=True)
    final = root / version
    with FileLock(str(root / f"{version}.lock"), timeout=600):
        if _reported_version(_binary_in(final)) == version:
            return _binary_in(final)
        staging = root / f"{version}.staging-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        (staging / "package.json").write_text('{"private": true}\n')
        started = time.monotonic()
        result = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--no-save", "--loglevel=error",
             f"{CLAUDE_PACKAGE}@{version}"],
            cwd=staging, env=_LAUNCH_ENV, capture_output=True, text=True, timeout=600)
        reported = _reported_version(_binary_in(staging))
        if result.returncode != 0 or reported != version:
            shutil.rmtree(staging, ignore_errors=True)
            raise RuntimeError(
                f"installing {CLAUDE_PACKAGE}@{version} with npm failed (exit {result.returncode}, "
                f"`claude --version` gave {reported!r}): {result.stderr.strip()[-2000:]}")
        shutil.rmtree(final, ignore_errors=True)
        staging.rename(final)
        print(f"\ninstalled {CLAUDE_PACKAGE}@{version} in {time.monotonic() - started:.1f}s into {final}")
        return _binary_in(final)


@pytest.fixture(scope="session")
def claude_binary() -> Path:
    try:
        return install_claude_code(claude_version(), cache_root())
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


# ---- running it -----------------------------------------------------------------------------------

@dataclass
class CliRun:
    """One finished CLI run: its stream-json events and where it left its files."""

    args: list[str]
    returncode: int
    events: list[dict[str, Any]]
    noise: list[str]
    stderr: str
    seconds: float
    home: Path
    cwd: Path

    def of_type(self, kind: str, subtype: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.events
                if e.get("type") == kind and (subtype is None or e.get("subtype") == subtype)]

    @property
    def init(self) -> dict[str, Any]:
        found = self.of_type("system", "init")
        if not found:
            raise AssertionError(f"no init event in the CLI output: {self.describe()}")
        return found[0]

    @property
    def result(self) -> dict[str, Any]:
        found = self.of_type("result")
        if not found:
            raise AssertionError(f"no result event in the CLI output: {self.describe()}")
        return found[-1]

    @property
    def session_id(self) -> str:
        return str(self.init["session_id"])

    def assistant_messages(self) -> list[dict[str, Any]]:
        return self.of_type("assistant")

    def tool_results(self) -> list[dict[str, Any]]:
        """Every tool_result block the CLI fed back to the model, in order."""
        return [block for event in self.of_type("user")
                for block in (event.get("message", {}).get("content") or [])
                if isinstance(block, dict) and block.get("type") == "tool_result"]

    @property
    def transcript_path(self) -> Path:
        """The session transcript under the temporary HOME (``.claude/projects/<munged cwd>/``)."""
        found = sorted((self.home / ".claude" / "projects").glob(f"*/{self.session_id}.jsonl"))
        if not found:
            raise AssertionError(f"no transcript for session {self.session_id} under {self.home}")
        return found[0]

    def transcript(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.transcript_path.read_text().splitlines() if line.strip()]

    def describe(self) -> str:
        kinds = [f"{e.get('type')}/{e['subtype']}" if "subtype" in e else str(e.get("type"))
                 for e in self.events]
        return (f"claude {' '.join(self.args)} -> exit {self.returncode} in {self.seconds:.2f}s; "
                f"events={kinds}; "
                f"noise={self.noise[-5:]}; stderr={self.stderr[-1500:]!r}")


def parse_stream(stdout: str) -> tuple[list[dict[str, Any]], list[str]]:
    """stream-json lines as events; anything else (the CLI may print plain lines) kept apart."""
    events: list[dict[str, Any]] = []
    noise: list[str] = []
    for line in stdout.splitlines():
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            noise.append(line)
            continue
        if isinstance(value, dict):
            events.append(value)
        else:
            noise.append(line)
    return events, noise


# Variables of an enclosing Claude Code (or of the user's API setup) that must not leak into a run.
_STRIPPED_PREFIXES = ("ANTHROPIC_", "CLAUDE", "BATON_SESSION", "OTEL_")


@dataclass
class Claude:
    """The installed CLI wired to a stand-in and a temporary HOME."""

    binary: Path
    standin: StandIn
    home: Path
    model: str = MODEL
    max_retries: int = 1
    env: dict[str, str] = field(default_factory=dict)
    runs: list[CliRun] = field(default_factory=list)

    def environment(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_STRIPPED_PREFIXES)}
        env.update({
            "HOME": str(self.home),
            "ANTHROPIC_BASE_URL": self.standin.base_url,
            "ANTHROPIC_API_KEY": "sk-ant-standin-not-a-real-key",
            "CLAUDE_CODE_MAX_RETRIES": str(self.max_retries),
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
        })
        env.update(self.env)
        env.update(extra or {})
        return env

    def run(self, prompt: str, *, cwd: Path, args: Sequence[str] = (), allowed_tools: str | None = None,
            env: dict[str, str] | None = None, timeout: float = 90) -> CliRun:
        """`claude -p PROMPT` in ``cwd`` with stream-json output; the whole process group is killed
        on timeout (hooks may have started children)."""
        argv = ["-p", prompt, "--output-format", "stream-json", "--verbose", "--model", self.model]
        if allowed_tools is not None:
            argv += ["--allowedTools", allowed_tools]
        argv += list(args)
        started = time.monotonic()
        proc = subprocess.Popen([str(self.binary), *argv], cwd=cwd, env=self.environment(env),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
            events, noise = parse_stream(stdout)
            partial = CliRun(argv, -9, events, noise, stderr, time.monotonic() - started, self.home, cwd)
            raise AssertionError(f"the CLI did not finish within {timeout}s: {partial.describe()}") from None
        events, noise = parse_stream(stdout)
        run = CliRun(argv, proc.returncode, events, noise, stderr, time.monotonic() - started, self.home, cwd)
        self.runs.append(run)
        _RUN_SECONDS.append(run.seconds)
        return run


@pytest.fixture
def standin() -> Iterator[StandIn]:
    """A started stand-in; the test fails if the client did anything it did not expect."""
    server = StandIn().start()
    try:
        yield server
    finally:
        server.stop()
    if server.problems:
        pytest.fail(f"stand-in problems: {server.problems}", pytrace=False)


@pytest.fixture
def claude(claude_binary: Path, standin: StandIn, tmp_path: Path,
           request: pytest.FixtureRequest) -> Iterator[Claude]:
    home = tmp_path / "claude-home"
    home.mkdir()
    cli = Claude(claude_binary, standin, home)
    yield cli
    # Wall time per run, shown with -rA or on failure: the group must stay fast.
    for run in cli.runs:
        request.node.add_report_section("call", "cli", f"{run.seconds:.2f}s exit {run.returncode}")


def _git(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=cwd,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed in {cwd}: {result.stderr}")
    return result.stdout


@dataclass(frozen=True)
class ProjectClone:
    path: Path
    remote: Path


@pytest.fixture
def project_clone(tmp_path: Path) -> ProjectClone:
    """A temporary clone of this repository's committed HEAD, whose origin is a local bare repo.

    Only committed files are there (the committed .claude/settings.json is what the CLI loads).
    """
    remote = tmp_path / "remote.git"
    path = tmp_path / "project"
    _git(tmp_path, "clone", "--quiet", "--bare", str(REPO_ROOT), str(remote))
    _git(tmp_path, "clone", "--quiet", str(remote), str(path))
    _git(path, "config", "user.name", "Test Author")
    _git(path, "config", "user.email", "author@example.com")
    _git(path, "config", "commit.gpgsign", "false")
    return ProjectClone(path, remote)


@pytest.fixture
def scratch_project(tmp_path: Path) -> Path:
    """An empty git repository to run the CLI in when the test brings its own .claude/ files."""
    path = tmp_path / "scratch"
    path.mkdir()
    _git(path, "init", "--quiet")
    _git(path, "config", "user.name", "Test Author")
    _git(path, "config", "user.email", "author@example.com")
    return path
