"""What the installer puts in an adopting repository: git-tracked files only, and docs whose commands work there."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from lib.adopt import payload
from support.git import git
from support.paths import REPO_ROOT
from test_install import run_install, theirs  # noqa: F401  (the fixture)
from test_project_python import SYSTEM_PYTHON, _outside_env

# A command into baton's installed scripts as docs and messages write it, with an optional subcommand.
COMMAND = re.compile(r"(?:\./)?\.baton/scripts/(?:py \.baton/scripts/)?([A-Za-z0-9_/]+\.(?:py|sh))"
                     r"((?: [a-z][a-z-]+)?)")
BACKTICKED = re.compile(r"`+([^`]+)`+")


def _tracked(prefix: str) -> set[str]:
    out = git(REPO_ROOT, "ls-files", "--", prefix)
    return {line for line in out.splitlines() if (REPO_ROOT / line).is_file()}


def test_only_files_git_tracks_in_baton_are_installed(theirs: Path) -> None:  # noqa: F811
    # Build artifacts and caches beside the tracked files in this checkout (setup.sh's editable install
    # leaves scripts/baton.egg-info) are not baton.
    result = run_install(theirs, "--json")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((theirs / ".baton/manifest.json").read_text(encoding="utf-8"))
    code = {rel[len(".baton/scripts/"):] for rel in manifest["files"] if rel.startswith(".baton/scripts/")}
    tracked = {rel[len("scripts/"):] for rel in _tracked("scripts")} - payload.EXCLUDED_SCRIPTS
    assert code == tracked | {"setup.sh"}  # setup.sh is the teammates' one, generated
    assert not any(".egg-info" in rel or "__pycache__" in rel for rel in manifest["files"])
    assert not (theirs / ".baton/scripts/baton.egg-info").exists()
    conventions = {rel for rel in manifest["files"] if rel.startswith("docs/conventions/")}
    assert conventions == {rel for rel in _tracked("docs/conventions") if rel.endswith(".md")}


def test_an_untracked_file_in_the_checkout_is_not_installed(tmp_path: Path) -> None:
    source = tmp_path / "baton"
    git(tmp_path, "clone", "-q", str(REPO_ROOT), str(source))
    (source / "scripts" / "baton.egg-info").mkdir()
    (source / "scripts" / "baton.egg-info" / "PKG-INFO").write_text("Name: baton\n", encoding="utf-8")
    (source / "scripts" / "scratch.py").write_text("print('mine')\n", encoding="utf-8")
    names = payload.script_files(source)
    assert "scratch.py" not in names and not any(n.startswith("baton.egg-info") for n in names)
    assert "hooks/session_state.py" in names


def _commands(text: str, spans_only: bool) -> set[tuple[str, str]]:
    chunks = BACKTICKED.findall(text) if spans_only else [text]
    return {(m.group(1), m.group(2).strip()) for chunk in chunks for m in COMMAND.finditer(chunk)}


def test_installed_docs_and_next_lines_name_only_commands_that_exist_and_run(theirs: Path) -> None:  # noqa: F811
    result = run_install(theirs)
    assert result.returncode == 0, result.stderr
    docs = [*sorted((theirs / "docs/conventions").glob("*.md")), theirs / ".baton/README.md"]
    shown: set[tuple[str, str]] = set()
    for doc in docs:
        text = doc.read_text(encoding="utf-8")
        assert "./scripts/py" not in text, doc.name  # the launcher here is ./.baton/scripts/py
        shown |= _commands(text, spans_only=True)
    next_lines = [line for line in result.stdout.splitlines() if line.startswith(("Next", "Then", "Commit"))]
    assert next_lines, result.stdout
    shown |= _commands("\n".join(next_lines), spans_only=False)
    # The first handoff's hint, as /handoff shows it there.
    started = subprocess.run(["./.baton/scripts/py", ".baton/scripts/handoff_helpers.py", "start", "--json"],
                             cwd=theirs, capture_output=True, text=True, timeout=120,
                             env={**_outside_env(), "OPERATOR": "test-author"})
    assert started.returncode == 0, started.stderr
    hint = json.loads(started.stdout)["hint"]
    assert ("session.py", "wrappers") in _commands(hint, spans_only=True), hint
    shown |= _commands(hint, spans_only=True)
    assert ("session.py", "wrappers") in shown and ("setup.sh", "") in shown
    assert ("handoff_helpers.py", "") in shown and ("vault.py", "fix") in shown

    for script, sub in sorted(shown):
        path = theirs / ".baton/scripts" / script
        assert path.is_file(), f"{script} is shown but not installed"
        if not script.endswith(".py") or script.startswith("hooks/"):
            continue
        # Run as a user would, with the system python3: the script finds .baton/.venv by itself.
        run = subprocess.run([str(SYSTEM_PYTHON), f".baton/scripts/{script}", *sub.split(), "--help"],
                             cwd=theirs, capture_output=True, text=True, env=_outside_env(), timeout=120)
        assert run.returncode == 0, f"{script} {sub} --help: {run.stderr}"
        assert run.stdout.startswith("usage:"), (script, sub)
    setup = subprocess.run([".baton/scripts/setup.sh"], cwd=theirs, capture_output=True, text=True, timeout=120)
    assert setup.returncode == 0, setup.stderr


def test_the_wrappers_command_the_installer_names_makes_the_per_operator_commands(theirs: Path) -> None:  # noqa: F811
    result = run_install(theirs)
    assert "`./.baton/scripts/py .baton/scripts/session.py wrappers`" in result.stdout
    made = subprocess.run(["./.baton/scripts/py", ".baton/scripts/session.py", "wrappers"], cwd=theirs,
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    wrappers = sorted(p.name for p in (theirs / ".claude/commands").glob("*-*.md"))
    assert any(n.startswith("handoff-") for n in wrappers) and any(n.startswith("resume-") for n in wrappers)


def test_dry_run_says_what_it_would_do(theirs: Path) -> None:  # noqa: F811
    result = run_install(theirs, "--dry-run")
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first == f"Dry run, nothing written: would install baton into {theirs.resolve()}"
    assert "Installed" not in result.stdout and "Next" not in result.stdout


def test_teammate_setup_keeps_pip_noise_out_of_sight(theirs: Path, tmp_path: Path) -> None:  # noqa: F811
    run_install(theirs)
    git(theirs, "add", "-A")
    git(theirs, "commit", "-qm", "adopt baton")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(theirs), str(clone))
    # A teammate's fresh environment whose pip prints what local index settings make it print.
    python = clone / ".baton/.venv/bin/python"
    python.parent.mkdir(parents=True)
    noise = "WARNING: Location 'file:///opt/wheels' is ignored: it is neither a file nor a directory."
    python.write_text(f'#!/bin/sh\nif [ "$1" = "-m" ] && [ "$2" = "pip" ]; then\n'
                      f'    for i in 1 2 3 4 5 6 7 8; do echo "{noise}" >&2; done\n    exit 0\nfi\n'
                      f'exec {sys.executable} "$@"\n', encoding="utf-8")
    python.chmod(0o755)
    result = subprocess.run([".baton/scripts/setup.sh"], cwd=clone, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "is ignored" not in result.stdout + result.stderr
    assert noise in (clone / ".baton/.venv/pip.log").read_text(encoding="utf-8")  # kept for whoever needs it
    assert result.stdout.splitlines()[-1].startswith("baton is ready")
    assert (clone / ".baton/.venv/.baton-requirements").is_file()
