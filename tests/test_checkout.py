"""The fixtures that copy, clone and install from this checkout leave it exactly as they found it.

(tests/conftest.py checks the same for the whole run: a run that changed the checkout fails.)
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from realclient.claude_cli import clone_working_tree, working_tree_files
from support.checkout import changes, checkout_state
from support.git import git
from support.paths import PYTHON, REPO_ROOT, SCRIPTS


def test_cloning_the_working_tree_and_installing_from_it_leave_the_checkout_unchanged(
        repo: Path, tmp_path: Path) -> None:
    before = checkout_state(REPO_ROOT)
    clone = clone_working_tree(REPO_ROOT, tmp_path)
    installed = subprocess.run([PYTHON, str(SCRIPTS / "install.py"), str(repo), "--no-venv"], cwd=repo,
                               capture_output=True, text=True, timeout=120)
    assert installed.returncode == 0, installed.stderr
    assert changes(before, checkout_state(REPO_ROOT)) == []
    # The clone is the working tree as it is, uncommitted changes included.
    assert working_tree_files(clone.path) == working_tree_files(REPO_ROOT)
    for name in working_tree_files(REPO_ROOT):
        source, copy = REPO_ROOT / name, clone.path / name
        assert copy.is_symlink() == source.is_symlink(), name
        if not source.is_symlink():
            assert copy.read_bytes() == source.read_bytes(), name
    assert git(clone.path, "status", "--porcelain") == ""
    assert git(clone.remote, "rev-parse", "HEAD") == git(clone.path, "rev-parse", "HEAD")
