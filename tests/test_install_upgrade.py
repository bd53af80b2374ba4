"""Upgrading a repository installed by an earlier baton: the flat `scripts/lib/*.py` layout before the library
moved into packages (commit c5a22ff), upgraded with `install.py --upgrade` from this tree."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
from lib.adopt import claude_settings
from support.git import git
from support.paths import PYTHON, REPO_ROOT
from test_install import GOOD, VENV, commit, fire, run_install, theirs  # noqa: F401  (the fixture)

PACKAGES_COMMIT = "c5a22ff"


@pytest.fixture
def previous_baton(tmp_path: Path) -> Path:
    """baton as it was just before its library moved into packages, unpacked from git."""
    rev = f"{PACKAGES_COMMIT}~1"
    found = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], cwd=REPO_ROOT,
                           capture_output=True, text=True)
    if found.returncode != 0:
        pytest.skip(f"{rev} is not in this clone's history (a shallow clone)")
    archive = subprocess.run(["git", "archive", "--format=tar", rev], cwd=REPO_ROOT, capture_output=True,
                             check=True, timeout=120).stdout
    old = tmp_path / "baton-previous"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(old, filter="data")
    return old


def _manifest(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / ".baton/manifest.json").read_text(encoding="utf-8"))
    return data


def _hook_commands(root: Path) -> list[str]:
    settings = json.loads((root / claude_settings.SETTINGS_PATH).read_text(encoding="utf-8"))
    return sorted(h["command"] for groups in settings["hooks"].values() for g in groups for h in g["hooks"])


def test_upgrade_from_the_flat_library_layout_removes_old_modules_and_keeps_hook_paths(
        theirs: Path, previous_baton: Path) -> None:  # noqa: F811
    old = subprocess.run([PYTHON, str(previous_baton / "scripts/install.py"), str(theirs), "--venv", str(VENV)],
                         cwd=theirs, capture_output=True, text=True, timeout=120)
    assert old.returncode == 0, old.stderr
    assert (theirs / ".baton/scripts/lib/frontmatter.py").is_file()  # the flat layout
    git(theirs, "add", "-A")
    git(theirs, "commit", "-qm", "adopt baton (previous layout)")
    before_files = set(_manifest(theirs)["files"])
    hooks_before = _hook_commands(theirs)

    result = run_install(theirs, "--upgrade", "--json")

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["locally_modified"] == [] and report["skipped"] == []
    after_files = set(_manifest(theirs)["files"])
    gone = before_files - after_files
    assert ".baton/scripts/lib/frontmatter.py" in gone and ".baton/scripts/lib/atomic.py" in gone
    for rel in gone:
        assert not (theirs / rel).exists(), f"{rel} is left behind"
    removed = {s["path"] for s in report["steps"] if s["action"] == "removed (no longer part of baton)"}
    assert removed == gone
    for rel in after_files:
        assert (theirs / rel).is_file(), rel
    assert (theirs / ".baton/scripts/lib/store/frontmatter.py").is_file()
    assert _hook_commands(theirs) == hooks_before  # same paths: settings.json needs no change

    # Everything works on the new layout: the telemetry hook, the helpers, the pre-commit hook.
    fire(theirs, "PostToolUse", {"session_id": "upgraded", "hook_event_name": "PostToolUse", "tool_name": "Bash",
                                 "tool_input": {"command": "true"}, "tool_response": {"stdout": ""},
                                 "tool_use_id": "toolu_1", "cwd": str(theirs)})
    state = json.loads((theirs / ".claude/state/session-upgraded.json").read_text(encoding="utf-8"))
    assert state["tool_calls_count"] == 1
    checked = subprocess.run(["./.baton/scripts/py", ".baton/scripts/validate_frontmatter.py", "--summary"],
                             cwd=theirs, capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0 and "no problems" in checked.stdout, checked.stdout + checked.stderr
    (theirs / "docs/learnings/after-upgrade.md").write_text(GOOD.format(slug="after-upgrade"), encoding="utf-8")
    git(theirs, "add", "-A")
    committed = commit(theirs, "-m", "upgrade baton and write a learning")
    assert committed.returncode == 0, committed.stdout
    assert "Traceback" not in committed.stdout

    again = run_install(theirs, "--upgrade", "--json")
    assert json.loads(again.stdout)["changed"] is False
