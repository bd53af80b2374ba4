"""The one git layer: environments, results, and the one rule for where a push goes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from lib.chains import notify
from lib.core import git as gitlayer
from lib.core.errors import BatonError
from lib.handoff import commit
from support.git import git


def _clone_with_remotes(tmp_path: Path, names: list[str]) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q")
    (work / "a.txt").write_text("a\n")
    git(work, "add", "a.txt")
    git(work, "commit", "-q", "-m", "a")
    for name in names:
        bare = tmp_path / f"{name}.git"
        git(tmp_path, "init", "-q", "--bare", str(bare))
        git(work, "remote", "add", name, str(bare))
    return work


def test_results_carry_exit_code_and_last_line(tmp_path: Path) -> None:
    result = gitlayer.run(tmp_path, "rev-parse", "--show-toplevel")
    assert not result.ok
    assert "not a git repository" in result.last_line()


def test_check_raises_one_line_naming_the_command(tmp_path: Path) -> None:
    with pytest.raises(BatonError, match=r"^git rev-parse failed: .*not a git repository"):
        gitlayer.check(tmp_path, "rev-parse", "HEAD")


def test_unattended_turns_prompts_off_and_hook_keeps_gits_own_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_INDEX_FILE", "/tmp/index.tmp")
    monkeypatch.setenv("GIT_DIR", "/elsewhere/.git")
    unattended = gitlayer.git_env(gitlayer.UNATTENDED)
    assert unattended["GIT_TERMINAL_PROMPT"] == "0"
    assert gitlayer.git_env(gitlayer.HOOK)["GIT_INDEX_FILE"] == "/tmp/index.tmp"
    elsewhere = gitlayer.git_env(gitlayer.ELSEWHERE)
    assert "GIT_INDEX_FILE" not in elsewhere and "GIT_DIR" not in elsewhere
    assert elsewhere["GIT_AUTHOR_NAME"] == os.environ["GIT_AUTHOR_NAME"]  # identity survives


def test_push_goes_to_the_upstream_first(tmp_path: Path) -> None:
    work = _clone_with_remotes(tmp_path, ["origin", "team"])
    git(work, "push", "-q", "-u", "team", "HEAD:shared")
    assert gitlayer.push_target(work, "main") == ("team", "shared")


def test_push_without_upstream_prefers_push_default_then_origin(tmp_path: Path) -> None:
    work = _clone_with_remotes(tmp_path, ["origin", "team"])
    assert gitlayer.push_target(work, "main") == ("origin", "main")
    git(work, "config", "remote.pushDefault", "team")
    assert gitlayer.push_target(work, "main") == ("team", "main")


def test_the_only_remote_is_used_whatever_its_name(tmp_path: Path) -> None:
    work = _clone_with_remotes(tmp_path, ["upstream"])
    assert gitlayer.push_target(work, "main") == ("upstream", "main")


def test_several_remotes_without_origin_is_refused_by_the_handoff_and_the_chain_runner_alike(tmp_path: Path) -> None:
    work = _clone_with_remotes(tmp_path, ["alpha", "beta"])
    assert gitlayer.push_target(work, "main") is None
    assert commit.push_target is gitlayer.push_target
    pushed = notify.git_push(work)
    assert not pushed.ok
    assert "remote.pushDefault" in pushed.detail
    assert git(tmp_path / "alpha.git", "branch", "--list") == ""  # nothing went to the first remote


def test_the_chain_runner_pushes_where_the_rule_says(tmp_path: Path) -> None:
    work = _clone_with_remotes(tmp_path, ["alpha", "beta"])
    git(work, "config", "remote.pushDefault", "beta")
    pushed = notify.git_push(work)
    assert pushed.ok, pushed.detail
    assert "main" in git(tmp_path / "beta.git", "branch", "--list")
    assert git(tmp_path / "alpha.git", "branch", "--list") == ""
