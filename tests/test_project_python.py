"""scripts/_project_python.py: any python3 runs baton's scripts, re-executing them with the project's Python.

Python 3.8 itself is not installed on every machine that runs these tests: the grammar check below
parses every script as 3.8 would, the runs use the system `python3` outside the virtualenv, and a real
Python 3.8 runs every script's --help where one is found (on PATH or under ~/.pyenv).
"""

from __future__ import annotations

import ast
import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.paths import REPO_ROOT, SCRIPTS

# The interpreter the virtualenv was made from: outside it, without baton's dependencies in reach.
SYSTEM_PYTHON = Path(sys.base_prefix) / "bin" / "python3"
SCRIPT_FILES = sorted(p for p in SCRIPTS.glob("*.py") if p.name != "_project_python.py")


def _python_38() -> Path | None:
    """A real Python 3.8 on this machine, if there is one (looked up before tests move HOME)."""
    candidates = [shutil.which("python3.8"), *glob.glob(os.path.expanduser("~/.pyenv/versions/3.8*/bin/python3.8"))]
    for candidate in candidates:
        if not candidate:
            continue
        try:
            out = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 8))"],
                                 capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.stdout.strip() == "True":
            return Path(candidate)
    return None


PYTHON_38 = _python_38()


def _outside_env() -> dict[str, str]:
    """The environment of a shell where the project's virtualenv is not activated."""
    venv_bin = str(Path(sys.prefix) / "bin")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
           and not k.startswith("BATON_")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    return env


def _system_python_lacks(module: str) -> bool:
    probe = subprocess.run([str(SYSTEM_PYTHON), "-c", f"import {module}"], capture_output=True, env=_outside_env())
    return probe.returncode != 0


needs_system_python = pytest.mark.skipif(not SYSTEM_PYTHON.is_file(), reason=f"no {SYSTEM_PYTHON}")


@pytest.mark.parametrize("script", SCRIPT_FILES, ids=lambda p: p.name)
def test_every_script_imports_the_bootstrap_first_and_parses_as_python_3_8(script: Path) -> None:
    text = script.read_text(encoding="utf-8")
    tree = ast.parse(text, feature_version=(3, 8))
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert isinstance(imports[0], ast.ImportFrom) and imports[0].module == "__future__"
    first = imports[1]
    assert isinstance(first, ast.Import) and [a.name for a in first.names] == ["_project_python"], script.name


def test_the_bootstrap_parses_as_python_3_8() -> None:
    ast.parse((SCRIPTS / "_project_python.py").read_text(encoding="utf-8"), feature_version=(3, 8))


@needs_system_python
def test_a_script_run_by_the_system_python_reexecutes_with_the_project_venv() -> None:
    assert _system_python_lacks("httpx"), "this check needs a system python3 without baton's dependencies"
    result = subprocess.run([str(SYSTEM_PYTHON), "scripts/sync_to_notion_oneshot.py", "--help"], cwd=REPO_ROOT,
                            capture_output=True, text=True, env=_outside_env(), timeout=120)
    assert result.returncode == 0, result.stderr
    assert "--prune" in result.stdout


@needs_system_python
def test_in_an_adopted_layout_the_script_ends_up_on_the_venv_beside_its_folder(tmp_path: Path) -> None:
    base = tmp_path / "repo" / ".baton"
    shutil.copytree(SCRIPTS, base / "scripts", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (base / ".venv").symlink_to(sys.prefix)  # as `install.py --venv` makes it
    probe = base / "scripts" / "probe.py"
    probe.write_text("from __future__ import annotations\nimport _project_python  # noqa: F401\nimport sys\n"
                     "print(sys.prefix)\n", encoding="utf-8")
    result = subprocess.run([str(SYSTEM_PYTHON), ".baton/scripts/probe.py"], cwd=tmp_path / "repo",
                            capture_output=True, text=True, env=_outside_env(), timeout=60)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).resolve() == Path(sys.prefix).resolve()


@needs_system_python
def test_without_a_project_venv_one_line_says_how_to_make_it(tmp_path: Path) -> None:
    copy = tmp_path / "baton"
    shutil.copytree(SCRIPTS, copy / "scripts", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for python in [SYSTEM_PYTHON, *([PYTHON_38] if PYTHON_38 else [])]:
        result = subprocess.run([str(python), "scripts/sync_to_notion_oneshot.py", "--help"], cwd=copy,
                                capture_output=True, text=True, env=_outside_env(), timeout=60)
        assert result.returncode == 127, python
        assert result.stdout == ""
        [line] = result.stderr.splitlines()
        assert line.startswith("baton: no Python environment with baton's dependencies")
        assert "make it with ./scripts/setup.sh" in line


@pytest.mark.skipif(PYTHON_38 is None, reason="no Python 3.8 on this machine (the grammar test above still runs)")
@pytest.mark.parametrize("script", SCRIPT_FILES, ids=lambda p: p.name)
def test_python_3_8_runs_every_script_through_the_project_venv(script: Path) -> None:
    assert PYTHON_38 is not None
    result = subprocess.run([str(PYTHON_38), f"scripts/{script.name}", "--help"], cwd=REPO_ROOT, capture_output=True,
                            text=True, env=_outside_env(), timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage:")
