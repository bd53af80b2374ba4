"""Run baton's scripts with baton's own Python, whichever `python3` started them.

Every script in scripts/ imports this module first (before anything outside the standard
library), so `python3 scripts/x.py` works from any shell: outside the project's virtualenv the
script is re-executed with it, and when there is none yet the user gets one line saying how to
make it. The environment lives beside the scripts' folder: `.venv` in baton's own checkout,
`.baton/.venv` where baton was installed into another repository (`<scripts>/../.venv` in both).

Standard library only, Python 3.8 grammar, and nothing but a few path comparisons when the
script already runs in that environment (the launcher `scripts/py` always does).
"""

from __future__ import annotations

import os
import sys

MIN_PYTHON = (3, 11)
# Set across the re-execution so that a broken environment fails once instead of looping.
GUARD = "BATON_REEXECUTED"
# Top-level modules of baton's dependencies: a Python that finds them all can run the scripts as is.
NEEDED = ("yaml", "jsonschema", "filelock", "git", "httpx")


def _venvs(script: str) -> "list[str]":
    """Where the project's environment can be: beside the script as called, and beside this file."""
    seen = []
    for path in (os.path.abspath(script), os.path.realpath(script), os.path.abspath(__file__)):
        scripts = os.path.dirname(path)
        if os.path.basename(scripts) == "hooks":
            scripts = os.path.dirname(scripts)
        venv = os.path.join(os.path.dirname(scripts), ".venv")
        if venv not in seen:
            seen.append(venv)
    return seen


def _has_dependencies() -> bool:
    if sys.version_info < MIN_PYTHON:
        return False
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in NEEDED)


def plan(script: str, environ: "dict[str, str]") -> "tuple[str, str]":
    """("run", "") to go on here, ("exec", python) to re-execute, or ("fail", one-line reason)."""
    venvs = _venvs(script)
    here = os.path.realpath(sys.prefix)
    if any(os.path.isdir(v) and os.path.realpath(v) == here for v in venvs):
        return "run", ""
    if environ.get(GUARD) or _has_dependencies():
        return "run", ""
    chosen = environ.get("BATON_PYTHON", "")
    if not chosen:
        for venv in venvs:
            python = os.path.join(venv, "bin", "python")
            if os.access(python, os.X_OK):
                chosen = python
                break
    if chosen:
        return "exec", chosen
    # setup.sh sits in the scripts' folder, beside which it makes the environment.
    setup = os.path.join(os.path.dirname(venvs[0]), "scripts", "setup.sh")
    shown = os.path.relpath(setup)
    if not shown.startswith("."):
        shown = "./" + shown
    elif shown.startswith(".."):
        shown = setup
    return "fail", ("baton: no Python environment with baton's dependencies (%s is missing); make it with "
                    "%s (needs Python >= %d.%d)" % (venvs[0], shown, *MIN_PYTHON))


def ensure(script: str) -> None:
    """Re-execute `script` with the project's Python unless this interpreter can run it."""
    action, value = plan(script, dict(os.environ))
    if action == "run":
        # Scripts this one starts decide for themselves.
        os.environ.pop(GUARD, None)
        return
    if action == "fail":
        sys.stderr.write(value + "\n")
        raise SystemExit(127)
    os.environ[GUARD] = "1"
    try:
        os.execv(value, [value, script, *sys.argv[1:]])
    except OSError as exc:
        sys.stderr.write("baton: cannot run %s: %s\n" % (value, exc.strerror))
        raise SystemExit(127) from None


def _main_script() -> "str | None":
    """The path the running script was started by, when it is one of baton's scripts (not a test runner)."""
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    if not main or not sys.argv or not sys.argv[0]:
        return None
    ours = os.path.dirname(os.path.realpath(__file__))
    folder = os.path.dirname(os.path.realpath(main))
    if folder in (ours, os.path.join(ours, "hooks")) and os.path.basename(main) != os.path.basename(__file__):
        return sys.argv[0]
    return None


# Importing this module is the whole interface: a script's first import, before any dependency.
_SCRIPT = _main_script()
if _SCRIPT is not None:
    ensure(_SCRIPT)
