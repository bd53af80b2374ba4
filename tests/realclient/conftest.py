"""Fixtures that drive the real Claude Code CLI against the local API stand-in.

Every test under tests/realclient is marked ``realclient``. The CLI is installed from the npm registry
once into a cache folder (``$BATON_CLAUDE_CACHE``, default ``<repo>/.cache/claude-code``) and reused;
``BATON_CLAUDE_VERSION`` tries another release. Without node/npm the whole group is skipped with one
line in the summary; ``BATON_SKIP_REALCLIENT=1`` skips it on purpose. A failed install is an error,
never a silent skip.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .claude_cli import (
    REPO_ROOT,
    Claude,
    ProjectClone,
    cache_root,
    claude_version,
    clone_working_tree,
    install_claude_code,
    missing_tools,
)
from .standin import StandIn

HERE = Path(__file__).resolve().parent
SKIP_PREFIX = "realclient group skipped: "

# Captured when pytest loads this file, before any fixture points HOME at a temporary folder, so
# npm keeps using the machine's own package cache and configuration.
_LAUNCH_ENV = dict(os.environ)

# Wall time of every CLI run in this process, summarised at the end: the group must stay fast.
_RUN_SECONDS: list[float] = []


def unavailable_reason() -> str | None:
    """Why the group cannot run here, or None when it can."""
    if _LAUNCH_ENV.get("BATON_SKIP_REALCLIENT"):
        return SKIP_PREFIX + "BATON_SKIP_REALCLIENT is set"
    missing = missing_tools(_LAUNCH_ENV)
    if missing:
        return (SKIP_PREFIX + f"{' and '.join(missing)} not found "
                "(install Node.js and npm to drive the real Claude Code CLI)")
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # tryfirst: the marker must be on the items before `-m realclient` selects them.
    reason = unavailable_reason()
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.realclient)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    # Report every skip of the group at this file with no line number, so the summary folds them
    # into one line however many test files the group has.
    report = yield
    longrepr = report.longrepr
    if report.skipped and isinstance(longrepr, tuple) and SKIP_PREFIX in str(longrepr[2]):
        report.longrepr = (__file__, None, longrepr[2])
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _RUN_SECONDS:
        terminalreporter.write_line(
            f"realclient: {len(_RUN_SECONDS)} Claude Code runs, {sum(_RUN_SECONDS):.1f}s in all, "
            f"slowest {max(_RUN_SECONDS):.2f}s, fastest {min(_RUN_SECONDS):.2f}s "
            f"(Claude Code {claude_version(_LAUNCH_ENV)})")


@pytest.fixture(scope="session")
def claude_binary() -> Path:
    """The pinned Claude Code, installed from npm into the cache on first use."""
    try:
        return install_claude_code(claude_version(_LAUNCH_ENV), cache_root(_LAUNCH_ENV), _LAUNCH_ENV)
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def standin() -> Iterator[StandIn]:
    """A started stand-in; the test errors if the client did anything the stand-in did not expect."""
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
    """The CLI wired to ``standin`` with its own temporary HOME (``claude.home``)."""
    home = tmp_path / "claude-home"
    home.mkdir()
    cli = Claude(claude_binary, standin, home)
    yield cli
    for run in cli.runs:
        _RUN_SECONDS.append(run.seconds)
        request.node.add_report_section("call", "claude", f"{run.seconds:.2f}s exit {run.returncode}")


def _git(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=cwd,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed in {cwd}: {result.stderr}")
    return result.stdout


@pytest.fixture
def project_clone(tmp_path: Path) -> ProjectClone:
    """A temporary clone of this repository's working tree (committed or not), whose origin is a local bare repo.

    The clone's committed .claude/settings.json is the working tree's: it is what the CLI loads.
    """
    return clone_working_tree(REPO_ROOT, tmp_path)


@pytest.fixture
def scratch_project(tmp_path: Path) -> Path:
    """An empty git repository to run the CLI in, for tests that bring their own .claude/ files."""
    path = tmp_path / "scratch"
    path.mkdir()
    _git(path, "init", "--quiet")
    _git(path, "config", "user.name", "Test Author")
    _git(path, "config", "user.email", "author@example.com")
    return path
