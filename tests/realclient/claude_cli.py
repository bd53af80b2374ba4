"""Installing the real Claude Code CLI from npm and running it headless against the stand-in.

Used by the realclient fixtures and by bench/bench_realclient.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock

from .standin import StandIn

REPO_ROOT = Path(__file__).resolve().parent.parent.parent

# The Claude Code release this suite is verified against; BATON_CLAUDE_VERSION overrides it.
CLAUDE_CODE_VERSION = "2.1.197"
CLAUDE_PACKAGE = "@anthropic-ai/claude-code"
MODEL = "claude-sonnet-4-6"

# Variables of an enclosing Claude Code session or of the user's own API setup: none may leak
# into a run (a real key or base URL would send the test's traffic elsewhere).
_STRIPPED_PREFIXES = ("ANTHROPIC_", "CLAUDE", "BATON_SESSION", "OTEL_")


def claude_version(env: Mapping[str, str]) -> str:
    return env.get("BATON_CLAUDE_VERSION") or CLAUDE_CODE_VERSION


def cache_root(env: Mapping[str, str]) -> Path:
    configured = env.get("BATON_CLAUDE_CACHE")
    return Path(configured).expanduser() if configured else REPO_ROOT / ".cache" / "claude-code"


def missing_tools(env: Mapping[str, str]) -> list[str]:
    return [tool for tool in ("node", "npm") if shutil.which(tool, path=env.get("PATH")) is None]


def _binary_in(prefix: Path, version: str, env: Mapping[str, str]) -> Path | None:
    """The install's working `claude`: the package's own launcher, or else the native binary of the
    platform package (what the launcher becomes when npm runs the package's postinstall; an npm that
    skips install scripts leaves only a placeholder)."""
    modules = prefix / "node_modules"
    candidates = [modules / ".bin" / "claude",
                  *sorted(modules.glob("@anthropic-ai/claude-code-*/claude"))]
    for candidate in candidates:
        if candidate.is_file() and reported_version(candidate, env) == version:
            return candidate
    return None


def reported_version(binary: Path, env: Mapping[str, str]) -> str | None:
    """What `claude --version` says (e.g. ``2.1.197``), or None when it does not run."""
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=60,
                             env={**env, "DISABLE_AUTOUPDATER": "1"})
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.match(r"\s*(\S+)", out.stdout)
    return match.group(1) if out.returncode == 0 and match else None


def install_claude_code(version: str, root: Path, env: Mapping[str, str]) -> Path:
    """The `claude` binary of ``version`` under ``root``, installed from npm unless already there.

    Concurrent test processes share one install: a file lock serialises them, and an install is
    built in a staging folder and renamed into place only once `claude --version` answers, so a
    killed install is never reused. ``env`` is the environment npm runs with (its cache, registry
    and proxy settings).
    """
    root.mkdir(parents=True, exist_ok=True)
    final = root / version
    with FileLock(str(root / f"{version}.lock"), timeout=600):
        if final.is_dir() and (found := _binary_in(final, version, env)) is not None:
            return found
        staging = root / f"{version}.staging-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        (staging / "package.json").write_text('{"private": true}\n')
        result = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--no-save", "--loglevel=error",
             f"{CLAUDE_PACKAGE}@{version}"],
            cwd=staging, env=dict(env), capture_output=True, text=True, timeout=600)
        if result.returncode != 0 or _binary_in(staging, version, env) is None:
            shutil.rmtree(staging, ignore_errors=True)
            raise RuntimeError(
                f"installing {CLAUDE_PACKAGE}@{version} with npm failed (exit {result.returncode}, "
                f"no `claude` there answers --version with {version}): {result.stderr.strip()[-2000:]}")
        shutil.rmtree(final, ignore_errors=True)
        staging.rename(final)
        found = _binary_in(final, version, env)
        if found is None:
            raise RuntimeError(f"{CLAUDE_PACKAGE}@{version} stopped answering after moving it to {final}")
        return found


@dataclass(frozen=True)
class ProjectClone:
    """A temporary clone of the repository under test and its bare ``origin``."""

    path: Path
    remote: Path


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
        """Every tool_result block the CLI fed back to the model, in order (subagents' included)."""
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
                f"events={kinds}; noise={self.noise[-5:]}; stderr={self.stderr[-1500:]!r}")


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

    def environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment a run gets; also what to give a program that starts `claude` itself."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(_STRIPPED_PREFIXES)}
        env.update({
            # A program under test that runs `claude` itself (the chain runner) finds this one.
            "PATH": os.pathsep.join([str(self.binary.parent), env.get("PATH", os.defpath)]),
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

    def argv(self, prompt: str, allowed_tools: str | None = None, args: Sequence[str] = ()) -> list[str]:
        argv = ["-p", prompt, "--output-format", "stream-json", "--verbose", "--model", self.model]
        if allowed_tools is not None:
            argv += ["--allowedTools", allowed_tools]
        return argv + list(args)

    def run(self, prompt: str, *, cwd: Path, args: Sequence[str] = (), allowed_tools: str | None = None,
            env: Mapping[str, str] | None = None, timeout: float = 90) -> CliRun:
        """`claude -p PROMPT` in ``cwd`` with stream-json output. On timeout the whole process group
        is killed (hooks may have started children) and the run fails with what it printed."""
        argv = self.argv(prompt, allowed_tools, args)
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
        return run


def _git_out(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed in {cwd}: {result.stderr}")
    return result.stdout


def working_tree_files(root: Path) -> list[str]:
    """The files of `root`'s working tree that git would commit: tracked ones still on disk, untracked ones
    not ignored (so an uncommitted change is what the tests run)."""
    out = _git_out(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    return sorted({name for name in out.split("\0") if name and (root / name).is_file()})


def clone_working_tree(source: Path, tmp_path: Path) -> ProjectClone:
    """A clone of `source` whose HEAD is `source`'s working tree as it is now, with a bare `origin` holding it.

    Nothing is written into `source`: the clone is made from its committed history, then its files are
    replaced by the working tree's and committed in the clone.
    """
    remote = tmp_path / "remote.git"
    path = tmp_path / "project"
    _git_out(tmp_path, "clone", "--quiet", "--no-hardlinks", str(source), str(path))
    _git_out(path, "config", "user.name", "Test Author")
    _git_out(path, "config", "user.email", "author@example.com")
    _git_out(path, "config", "commit.gpgsign", "false")
    wanted = set(working_tree_files(source))
    for name in set(working_tree_files(path)) - wanted:
        (path / name).unlink()
    for name in sorted(wanted):
        src, dst = source / name, path / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if dst.is_symlink() or dst.exists():
            dst.unlink()
        shutil.copy2(src, dst, follow_symlinks=False)
    _git_out(path, "add", "-A")
    if _git_out(path, "status", "--porcelain").strip():
        _git_out(path, "commit", "--quiet", "--no-verify", "-m", "the working tree under test")
    _git_out(tmp_path, "clone", "--quiet", "--bare", str(path), str(remote))
    _git_out(path, "remote", "set-url", "origin", str(remote))
    _git_out(path, "fetch", "--quiet", "origin")
    branch = _git_out(path, "rev-parse", "--abbrev-ref", "HEAD").strip()
    _git_out(path, "branch", "--quiet", f"--set-upstream-to=origin/{branch}")
    return ProjectClone(path, remote)
