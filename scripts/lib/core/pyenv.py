"""baton's runtime Python environment: which packages it needs, making a venv with them, checking one.

Shared by the installer (`.baton/.venv` in an adopting repository) and the Claude Code plugin's
SessionStart hook (a venv under `${CLAUDE_PLUGIN_DATA}`), so this module is standard library only
and parses on Python 3.8: the plugin hook runs it with whatever `python3` is on PATH and must be
able to say "too old" rather than crash. The helpers themselves need Python >= 3.11.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

MIN_PYTHON = (3, 11)
REQUIREMENTS_HEADER = (
    "# baton's runtime dependencies (from its pyproject.toml); generated, do not edit.\n"
)
# Written into a venv once its packages match the requirements, so a re-run skips pip.
STAMP = ".baton-requirements"

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


class EnvError(Exception):
    """A one-line reason the environment cannot be made or used."""


def runtime_requirements(pyproject: Path) -> List[str]:
    """`[project].dependencies` of a pyproject.toml (needs Python >= 3.11 for tomllib)."""
    try:
        import tomllib
    except ImportError:
        raise EnvError(
            "reading %s needs Python >= 3.11 (this is %d.%d)" % (pyproject, *sys.version_info[:2])
        ) from None
    try:
        with open(pyproject, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, ValueError) as exc:
        raise EnvError("%s: cannot read the dependencies: %s" % (pyproject, exc)) from None
    deps = data.get("project", {}).get("dependencies", [])
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        raise EnvError("%s: [project].dependencies must be a list of strings" % pyproject)
    return list(deps)


def requirements_text(requirements: Sequence[str]) -> str:
    return REQUIREMENTS_HEADER + "".join(r + "\n" for r in requirements)


def requirement_names(requirements: Sequence[str]) -> List[str]:
    names = []
    for req in requirements:
        match = _NAME.match(req)
        if match:
            names.append(match.group(1))
    return names


def python_of(venv: Path) -> Path:
    return venv / "bin" / "python"


def version_of(python: str) -> Optional[Tuple[int, int]]:
    """(major, minor) of an interpreter, or None when it does not run."""
    try:
        out = subprocess.run(
            [python, "-I", "-c", "import sys; print('%d %d' % sys.version_info[:2])"],
            capture_output=True, text=True, timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = out.stdout.split()
    if out.returncode != 0 or len(parts) != 2:
        return None
    return int(parts[0]), int(parts[1])


def missing_distributions(python: str, names: Sequence[str]) -> List[str]:
    """Which of the distributions `names` the interpreter cannot find (all of them if it does not run)."""
    code = (
        "import sys\n"
        "from importlib import metadata\n"
        "for n in sys.argv[1:]:\n"
        "    try:\n"
        "        metadata.version(n)\n"
        "    except metadata.PackageNotFoundError:\n"
        "        print(n)\n"
    )
    try:
        out = subprocess.run([python, "-I", "-c", code, *names], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return list(names)
    if out.returncode != 0:
        return list(names)
    return out.stdout.split()


def check_environment(venv: Path, requirements: Sequence[str]) -> None:
    """Raise EnvError (one line) unless `venv` has a Python >= 3.11 with every requirement."""
    python = python_of(venv)
    if not os.access(str(python), os.X_OK):
        raise EnvError("%s: no bin/python there" % venv)
    version = version_of(str(python))
    if version is None:
        raise EnvError("%s does not run" % python)
    if version < MIN_PYTHON:
        raise EnvError("%s is Python %d.%d; baton needs >= %d.%d" % (python, *version, *MIN_PYTHON))
    missing = missing_distributions(str(python), requirement_names(requirements))
    if missing:
        raise EnvError("%s lacks baton's dependencies: %s" % (venv, ", ".join(missing)))


def is_current(venv: Path, requirements_body: str) -> bool:
    """True when `venv` was made by `create` for exactly these requirements and still runs."""
    try:
        stamp = (venv / STAMP).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return stamp == requirements_body and os.access(str(python_of(venv)), os.X_OK)


def create(venv: Path, requirements: Sequence[str], python: str = sys.executable) -> None:
    """Make `venv` with `requirements` installed, whole or not at all.

    It is built beside its final place and renamed into it, so a half-made environment is never
    used; a venv only needs its `bin/python` to work after a rename (its console scripts would not,
    and nothing here uses them). An older venv at that place is replaced.
    """
    body = requirements_text(requirements)
    venv.parent.mkdir(parents=True, exist_ok=True)
    staging = venv.with_name(venv.name + ".staging-%d" % os.getpid())
    shutil.rmtree(str(staging), ignore_errors=True)
    try:
        args = [python, "-m", "venv", str(staging)]
        if not requirements:
            args.insert(3, "--without-pip")
        _run(args, "creating a virtual environment")
        if requirements:
            req_file = staging / "requirements.txt"
            req_file.write_text(body, encoding="utf-8")
            _run([str(python_of(staging)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                  "-r", str(req_file)], "installing baton's dependencies with pip")
            req_file.unlink()
        (staging / STAMP).write_text(body, encoding="utf-8")
        old = venv.with_name(venv.name + ".old-%d" % os.getpid())
        if venv.is_symlink():
            venv.unlink()
        elif venv.exists():
            venv.rename(old)
        staging.rename(venv)
        shutil.rmtree(str(old), ignore_errors=True)
    except BaseException:
        shutil.rmtree(str(staging), ignore_errors=True)
        raise


def _run(args: Sequence[str], what: str) -> None:
    try:
        out = subprocess.run(list(args), capture_output=True, text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EnvError("%s failed: %s" % (what, exc)) from None
    if out.returncode != 0:
        lines = [line for line in (out.stderr or out.stdout).splitlines() if line.strip()]
        tail = lines[-1].strip() if lines else "exit %d" % out.returncode
        raise EnvError("%s failed: %s" % (what, tail))
