"""Shared fixtures: real git repositories in tmp_path, a pinned identity, no HOME writes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = REPO_ROOT / "scripts"
PYTHON = sys.executable

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
}


_CHECKOUT_KEY = pytest.StashKey[dict[str, tuple[str, int, int]]]()


def pytest_sessionstart(session: pytest.Session) -> None:
    # Once per run (the xdist controller, or the only process): what the checkout looks like now.
    if not hasattr(session.config, "workerinput"):
        from checkout import checkout_state

        session.config.stash[_CHECKOUT_KEY] = checkout_state(REPO_ROOT)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No test writes into this checkout: a run that changed it fails, naming what changed."""
    before = session.config.stash.get(_CHECKOUT_KEY, None)
    if before is None:
        return
    from checkout import changes, checkout_state

    changed = changes(before, checkout_state(REPO_ROOT))
    if changed:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("tests changed the checkout (they must work in tmp_path):", red=True)
            for line in changed:
                reporter.write_line(f"  {line}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep tests off the user's home, git config and Claude Code variables."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("BATON_STATE_HOME", str(home / ".local/state/baton"))
    for key in list(os.environ):
        if key.startswith(("CLAUDE_", "GIT_", "BATON_SESSION", "NOTION_")) or key in ("OPERATOR",):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for key, value in GIT_IDENTITY.items():
        monkeypatch.setenv(key, value)


def git(cwd: Path, *args: str, check: bool = True) -> str:
    result = subprocess.run(
        ["git", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", *args],
        cwd=cwd, capture_output=True, text=True,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {result.stderr}")
    return result.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty git repository with a pinned identity and the store folders."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    git(root, "config", "user.email", "author@example.com")
    git(root, "config", "user.name", "Test Author")
    git(root, "config", "commit.gpgsign", "false")
    for folder in ("docs/sessions", "workstreams", "plans", "docs/adr", "docs/learnings", ".claude/state"):
        (root / folder).mkdir(parents=True)
    return root


def run_script(name: str, *args: str, cwd: Path, env: dict[str, str] | None = None,
               input: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run scripts/<name> as a user would: a fresh process with this interpreter."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run(
        [PYTHON, str(SCRIPTS / name), *args], cwd=cwd, env=full_env, input=input,
        capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture
def chdir_repo(repo: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(repo)
    yield repo
