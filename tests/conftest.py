"""Shared fixtures: real git repositories in tmp_path, a pinned identity, no HOME writes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.git import GIT_IDENTITY, init_repo
from support.handoff import add_remote, make_store
from support.paths import REPO_ROOT

_CHECKOUT_KEY = pytest.StashKey[dict[str, tuple[str, int, int]]]()


def pytest_sessionstart(session: pytest.Session) -> None:
    # Once per run (the xdist controller, or the only process): what the checkout looks like now.
    if not hasattr(session.config, "workerinput"):
        from support.checkout import checkout_state

        session.config.stash[_CHECKOUT_KEY] = checkout_state(REPO_ROOT)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No test writes into this checkout: a run that changed it fails, naming what changed."""
    before = session.config.stash.get(_CHECKOUT_KEY, None)
    if before is None:
        return
    from support.checkout import changes, checkout_state

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


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty git repository with a pinned identity and the store folders."""
    return init_repo(tmp_path / "repo")


@pytest.fixture
def chdir_repo(repo: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(repo)
    yield repo


@pytest.fixture
def store(repo: Path) -> Path:
    """`repo` as a team's store: the roster, one workstream, one commit (support.handoff.make_store).
    A module that needs other notes defines its own `store`."""
    return make_store(repo)


@pytest.fixture
def remote(store: Path, tmp_path: Path) -> Path:
    """A bare remote `origin` that `store`'s main is pushed to."""
    return add_remote(store, tmp_path / "remote.git")
