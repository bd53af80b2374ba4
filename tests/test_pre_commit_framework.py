"""The pre-commit framework (https://pre-commit.com) running baton's hook from .pre-commit-hooks.yaml.

A temporary repository's .pre-commit-config.yaml points at this repository: a snapshot commit of the
files the package needs (pyproject.toml, README.md, .pre-commit-hooks.yaml, scripts/), made in a
cache folder with fixed dates, so the same code is the same `rev`. pre-commit builds the hook's
environment from it with pip once; PRE_COMMIT_HOME lives under .cache/ (gitignored) and is reused
by later runs, so only the first run (or the first after scripts/ changes) pays for pip.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from filelock import FileLock
from support.git import git
from support.paths import REPO_ROOT

CACHE = Path(os.environ.get("BATON_PRE_COMMIT_CACHE") or REPO_ROOT / ".cache")
PRE_COMMIT_HOME = CACHE / "pre-commit"
SNAPSHOT_REPO = CACHE / "pre-commit-src"
PACKAGE_PATHS = ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml", "scripts")
FIXED_DATE = "2000-01-01T00:00:00Z"

GOOD = "---\nkind: learning\nexternal_id: {slug}\nsummary: s\ntags: []\n---\nbody\n"
BAD = "---\nkind: learning\nexternal_id: {slug}\nsummary: 42\ntags: []\n---\nbody\n"


def _pre_commit() -> list[str]:
    try:
        import pre_commit  # type: ignore[import-untyped,unused-ignore]  # noqa: F401
    except ImportError:
        pytest.skip("pre-commit is not installed (pip install pre-commit, or ./scripts/setup.sh)")
    return [sys.executable, "-m", "pre_commit"]


def _git_in(git_dir: Path, *args: str, env: dict[str, str] | None = None) -> str:
    out = subprocess.run(["git", f"--git-dir={git_dir}", *args], capture_output=True, text=True,
                         env={**os.environ, **(env or {})})
    if out.returncode != 0:
        raise AssertionError(f"git {' '.join(args)}: {out.stderr}")
    return out.stdout.strip()


def snapshot_commit() -> str:
    """A commit of this checkout's package files (working tree, tracked or new) in SNAPSHOT_REPO."""
    git_dir = SNAPSHOT_REPO / ".git"
    if not git_dir.is_dir():
        SNAPSHOT_REPO.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "-q", str(SNAPSHOT_REPO)], check=True)
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "--", *PACKAGE_PATHS],
                           cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout.split()
    files = [f for f in files if (REPO_ROOT / f).is_file()]
    index = SNAPSHOT_REPO / f"index.{os.getpid()}"
    env = {"GIT_INDEX_FILE": str(index), "GIT_WORK_TREE": str(REPO_ROOT)}
    try:
        _git_in(git_dir, "add", "-f", "--", *files, env=env)
        tree = _git_in(git_dir, "write-tree", env=env)
    finally:
        index.unlink(missing_ok=True)
    identity = {"GIT_AUTHOR_NAME": "baton", "GIT_AUTHOR_EMAIL": "baton@example.com",
                "GIT_COMMITTER_NAME": "baton", "GIT_COMMITTER_EMAIL": "baton@example.com",
                "GIT_AUTHOR_DATE": FIXED_DATE, "GIT_COMMITTER_DATE": FIXED_DATE}
    commit = _git_in(git_dir, "commit-tree", tree, "-m", "baton package snapshot", env=identity)
    _git_in(git_dir, "update-ref", "refs/heads/main", commit)
    _git_in(git_dir, "tag", "-f", f"snap-{commit[:12]}", commit)
    return commit


@pytest.fixture(scope="module")
def hook_source() -> Iterator[tuple[Path, str]]:
    runner = _pre_commit()
    CACHE.mkdir(parents=True, exist_ok=True)
    with FileLock(str(CACHE / "pre-commit-src.lock"), timeout=900):
        rev = snapshot_commit()
        marker = CACHE / "pre-commit-src.rev"
        if marker.exists() and marker.read_text() != rev:
            # A new snapshot: environments of earlier ones (whose temporary configs are gone) can go.
            subprocess.run([*runner, "gc"], env={**os.environ, "PRE_COMMIT_HOME": str(PRE_COMMIT_HOME)},
                           capture_output=True, text=True)
        marker.write_text(rev)
    yield SNAPSHOT_REPO, rev


@pytest.fixture
def framework_repo(repo: Path, hook_source: tuple[Path, str]) -> Path:
    source, rev = hook_source
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {source}\n    rev: {rev}\n    hooks:\n      - id: baton-frontmatter\n",
        encoding="utf-8")
    git(repo, "add", ".pre-commit-config.yaml")
    git(repo, "commit", "-qm", "use baton's pre-commit hook")
    result = subprocess.run([*_pre_commit(), "install"], cwd=repo, capture_output=True, text=True, env=_env())
    assert result.returncode == 0, result.stdout + result.stderr
    return repo


def _env() -> dict[str, str]:
    return {**os.environ, "PRE_COMMIT_HOME": str(PRE_COMMIT_HOME), "PRE_COMMIT_COLOR": "never"}


def _commit(repo: Path, rel: str, text: str) -> subprocess.CompletedProcess[str]:
    (repo / rel).write_text(text, encoding="utf-8")
    git(repo, "add", rel)
    return subprocess.run(["git", "commit", "-q", "--no-gpg-sign", "-m", f"add {rel}"], cwd=repo, env=_env(),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900)


def test_framework_hook_fails_on_a_bad_staged_note_naming_file_and_line(framework_repo: Path) -> None:
    result = _commit(framework_repo, "docs/learnings/bad-note.md", BAD.format(slug="bad-note"))
    assert result.returncode != 0, result.stdout
    assert "baton frontmatter contract" in result.stdout and "Failed" in result.stdout
    assert "docs/learnings/bad-note.md:4: /summary: must be string, not integer" in result.stdout
    assert "bad-note" not in git(framework_repo, "log", "--name-only", "--format=")


def test_framework_hook_passes_a_good_note(framework_repo: Path) -> None:
    result = _commit(framework_repo, "docs/learnings/good-note.md", GOOD.format(slug="good-note"))
    assert result.returncode == 0, result.stdout
    assert "docs/learnings/good-note.md" in git(framework_repo, "log", "--name-only", "--format=")


def test_framework_hook_skips_templates_and_files_outside_the_store(framework_repo: Path) -> None:
    result = _commit(framework_repo, "docs/learnings/TEMPLATE.md", BAD.format(slug="x"))
    assert result.returncode == 0, result.stdout
    result = _commit(framework_repo, "notes.md", BAD.format(slug="y"))
    assert result.returncode == 0, result.stdout


def test_snapshot_is_the_same_rev_for_the_same_code(hook_source: tuple[Path, str]) -> None:
    # What keeps the cached environment valid between runs.
    with FileLock(str(CACHE / "pre-commit-src.lock"), timeout=900):
        assert snapshot_commit() == hook_source[1]
