"""The git pre-commit hook: staged content only, warn or block, foreign hooks kept and chained."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.git import git
from support.paths import REPO_ROOT, run_script

# The environment running the tests, which has baton's dependencies.
VENV = Path(sys.prefix)

GOOD = "---\nkind: learning\nexternal_id: {slug}\nsummary: s\ntags: []\n---\nbody\n"
BAD = "---\nkind: learning\nexternal_id: {slug}\nsummary: 42\ntags: []\n---\nbody\n"


@pytest.fixture
def hooked(repo: Path) -> Path:
    """A repo whose scripts/ is this checkout's and whose .venv is the one running the tests."""
    (repo / "scripts").symlink_to(REPO_ROOT / "scripts")
    (repo / ".venv").symlink_to(VENV)
    (repo / ".gitignore").write_text("scripts\n.venv\n", encoding="utf-8")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-qm", "init")
    result = run_script("install_git_hook.py", cwd=repo)
    assert result.returncode == 0, result.stderr
    return repo


def note(repo: Path, slug: str, template: str) -> str:
    rel = f"docs/learnings/{slug}.md"
    (repo / rel).write_text(template.format(slug=slug), encoding="utf-8")
    return rel


def commit(repo: Path, *args: str, strict: bool = False) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if strict:
        env["BATON_STRICT"] = "1"
    # git hands a hook's stdout to our stderr: merge the two so assertions read one stream
    return subprocess.run(["git", "commit", "-q", "--no-gpg-sign", *args], cwd=repo, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_staged_bad_worktree_good_is_caught(hooked: Path) -> None:
    rel = note(hooked, "alpha", BAD)
    git(hooked, "add", rel)
    note(hooked, "alpha", GOOD)  # the working tree is fixed, the index is not
    result = commit(hooked, "-m", "bad staged", strict=True)
    assert result.returncode != 0
    assert "docs/learnings/alpha.md:4: /summary: must be string, not integer" in result.stdout
    assert "blocking the commit" in result.stdout


def test_staged_good_worktree_bad_passes(hooked: Path) -> None:
    rel = note(hooked, "beta", GOOD)
    git(hooked, "add", rel)
    note(hooked, "beta", BAD)
    result = commit(hooked, "-m", "good staged", strict=True)
    assert result.returncode == 0, result.stdout


def test_warn_mode_reports_and_lets_the_commit_through(hooked: Path) -> None:
    git(hooked, "add", note(hooked, "gamma", BAD))
    result = commit(hooked, "-m", "warned")
    assert result.returncode == 0
    assert "/summary: must be string, not integer" in result.stdout
    assert "warning only" in result.stdout


def test_settings_file_can_make_the_hook_strict(hooked: Path) -> None:
    (hooked / ".claude").mkdir(exist_ok=True)
    (hooked / ".claude/baton.yaml").write_text("pre_commit: strict\n", encoding="utf-8")
    git(hooked, "add", note(hooked, "delta", BAD))
    assert commit(hooked, "-m", "blocked by settings").returncode != 0


def test_commit_only_is_checked_against_the_index_git_hands_the_hook(hooked: Path) -> None:
    # A bad note sits staged; `git commit --only` of another, good note uses a temporary
    # index (GIT_INDEX_FILE) that does not contain it, so the commit must pass...
    git(hooked, "add", note(hooked, "staged-bad", BAD))
    good = note(hooked, "only-good", GOOD)
    git(hooked, "add", good)
    result = commit(hooked, "--only", "-m", "only the good one", "--", good, strict=True)
    assert result.returncode == 0, result.stdout
    assert "staged-bad" not in result.stdout
    # ...and `--only` of a file whose working-tree copy is bad must be caught, though its staged copy is good.
    other = note(hooked, "only-bad", GOOD)
    git(hooked, "add", other)
    note(hooked, "only-bad", BAD)
    result = commit(hooked, "--only", "-m", "worktree copy is bad", "--", other, strict=True)
    assert result.returncode != 0
    assert "docs/learnings/only-bad.md:4: /summary" in result.stdout


def test_foreign_hook_is_kept_and_still_runs_first(repo: Path) -> None:
    (repo / "scripts").symlink_to(REPO_ROOT / "scripts")
    (repo / ".venv").symlink_to(VENV)
    (repo / ".gitignore").write_text("scripts\n.venv\nran-foreign\n", encoding="utf-8")
    hooks = repo / ".git/hooks"
    foreign = "#!/bin/sh\necho ran >> \"$(git rev-parse --show-toplevel)/ran-foreign\"\n[ -e \"$(git rev-parse --show-toplevel)/fail-foreign\" ] && exit 3\nexit 0\n"
    (hooks / "pre-commit").write_text(foreign, encoding="utf-8")
    (hooks / "pre-commit").chmod(0o755)

    first = run_script("install_git_hook.py", cwd=repo)
    assert "kept the existing hook" in first.stdout
    assert (hooks / "pre-commit.legacy").read_text(encoding="utf-8") == foreign
    again = run_script("install_git_hook.py", cwd=repo)
    assert "unchanged" in again.stdout

    git(repo, "add", ".gitignore", note(repo, "eps", BAD))
    result = commit(repo, "-m", "both hooks")
    assert result.returncode == 0
    assert (repo / "ran-foreign").read_text(encoding="utf-8") == "ran\n"
    assert "/summary" in result.stdout  # ours ran too

    (repo / "fail-foreign").write_text("", encoding="utf-8")
    note(repo, "zeta", GOOD)
    git(repo, "add", "docs/learnings/zeta.md")
    assert commit(repo, "-m", "foreign hook fails").returncode != 0
    assert "zeta" not in git(repo, "log", "--name-only", "--format=")  # nothing was committed

    removed = run_script("install_git_hook.py", "--uninstall", cwd=repo)
    assert "restored the previous hook" in removed.stdout
    assert (hooks / "pre-commit").read_text(encoding="utf-8") == foreign
