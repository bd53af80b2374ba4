"""SessionStart hook of baton's Claude Code plugin: make the plugin's helpers reachable and runnable.

1. Bash tool calls get `$BATON_PLUGIN_DATA` and the plugin's `bin/` on PATH, through the file
   Claude Code names in `$CLAUDE_ENV_FILE` (it sources that file before each Bash command), so
   command files can run `baton <helper>.py ...`. Claude Code 2.1.197 also puts a plugin's `bin/`
   on PATH by itself; this keeps older releases working.
2. The helpers need baton's dependencies: unless `$BATON_PYTHON` names a Python that has them,
   a venv is made under `${CLAUDE_PLUGIN_DATA}/venv` (which survives plugin updates) from the
   plugin's pyproject.toml. That takes a while (pip), so it runs in the background, detached,
   logging to `${CLAUDE_PLUGIN_DATA}/venv.log`; the session starts at once, and `bin/baton`
   says plainly when the environment is not ready yet.

Standard library only and valid Python 3.8 (it runs on whatever `python3` is on PATH): on too old
a Python it logs why and does nothing else. Like every baton hook it always exits 0 and prints
nothing to stdout (SessionStart stdout would go into the model's context).
"""

from __future__ import annotations

import os
import sys


def _scripts_dir() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def env_lines(plugin_root: str, data: str) -> str:
    """What the Bash tool's shell sources: the data folder, and bin/ on PATH (once)."""
    import shlex

    bin_dir = os.path.join(plugin_root, "bin")
    lines = []
    if data:
        lines.append("export BATON_PLUGIN_DATA=%s" % shlex.quote(data))
    lines.append('case ":$PATH:" in *:%s:*) ;; *) export PATH="$PATH":%s ;; esac'
                 % (shlex.quote(bin_dir), shlex.quote(bin_dir)))
    return "\n".join(lines) + "\n"


def _log(data: str, message: str, to_file: bool = True) -> None:
    sys.stderr.write("baton plugin: " + message + "\n")
    if data and to_file:
        try:
            os.makedirs(data, exist_ok=True)
            with open(os.path.join(data, "venv.log"), "a", encoding="utf-8") as fh:
                fh.write(message + "\n")
        except OSError:
            pass


def start(environ: "dict[str, str]") -> None:
    plugin_root = environ.get("CLAUDE_PLUGIN_ROOT") or os.path.dirname(_scripts_dir())
    data = environ.get("CLAUDE_PLUGIN_DATA", "")
    env_file = environ.get("CLAUDE_ENV_FILE")
    if env_file:
        with open(env_file, "a", encoding="utf-8") as fh:
            fh.write(env_lines(plugin_root, data))
    if environ.get("BATON_PYTHON") or not data:
        return
    if sys.version_info < (3, 11):
        _log(data, "the helpers need Python >= 3.11 and python3 here is %d.%d: set BATON_PYTHON to one "
                   "with baton's dependencies" % sys.version_info[:2])
        return
    sys.path.insert(0, _scripts_dir())
    from pathlib import Path

    from lib.core import pyenv

    requirements = pyenv.runtime_requirements(Path(plugin_root) / "pyproject.toml")
    if pyenv.is_current(Path(data) / "venv", pyenv.requirements_text(requirements)):
        return
    import subprocess

    os.makedirs(data, exist_ok=True)
    with open(os.path.join(data, "venv.log"), "a", encoding="utf-8") as log:
        subprocess.Popen(
            [sys.executable, "-I", os.path.abspath(__file__), "--provision", plugin_root, data],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        )


def provision(plugin_root: str, data: str) -> int:
    """Make `<data>/venv` for the plugin's requirements; one at a time, a no-op when already current."""
    import fcntl
    from pathlib import Path

    sys.path.insert(0, _scripts_dir())
    from lib.core import pyenv

    os.makedirs(data, exist_ok=True)
    with open(os.path.join(data, "venv.lock"), "a") as lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return 0  # another session is making it right now
        requirements = pyenv.runtime_requirements(Path(plugin_root) / "pyproject.toml")
        venv = Path(data) / "venv"
        if pyenv.is_current(venv, pyenv.requirements_text(requirements)):
            return 0
        try:
            pyenv.create(venv, requirements, sys.executable)
        except pyenv.EnvError as exc:
            _log(data, "making %s failed: %s" % (venv, exc), to_file=False)  # stderr is the log
            return 1
        _log(data, "made %s (%d packages)" % (venv, len(requirements)), to_file=False)
    return 0


def main(argv: "list[str]") -> int:
    if len(argv) == 4 and argv[1] == "--provision":
        try:
            return provision(argv[2], argv[3])
        except Exception as exc:
            _log(argv[3], "provisioning failed: %s: %s" % (type(exc).__name__, exc), to_file=False)
            return 1
    try:
        start(dict(os.environ))
    except BaseException as exc:  # never block or break Claude Code
        try:
            sys.stderr.write("baton plugin: %s: %s\n" % (type(exc).__name__, str(exc)[:300]))
        except Exception:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
