"""Where baton goes in an adopting repository, and the marked block it keeps in `.gitignore`.

Everything of ours lives under `.baton/` (code, launcher, venv, manifest), except the files Claude
Code and git look for in fixed places: slash commands, settings, the pre-commit hook, the store.
"""

from __future__ import annotations

import re
from pathlib import Path

from lib.adopt import claude_settings
from lib.core.errors import BatonError

HOME = ".baton"
SCRIPTS = f"{HOME}/scripts"
VENV = f"{HOME}/.venv"
MANIFEST = f"{HOME}/manifest.json"
REQUIREMENTS = f"{HOME}/requirements.txt"
MANIFEST_VERSION = 1
COMMANDS = ".claude/commands"
OPERATORS = ".claude/operators.yaml"
GIT_HOOK = "pre-commit"
GIT_HOOK_TARGET = f"{SCRIPTS}/hooks/pre-commit"
LOCATION = claude_settings.HookLocation(scripts=SCRIPTS)

# How our command files call helpers here, and how they must call them in the adopting repository.
SOURCE_HELPER_PREFIX = "./scripts/py scripts/"
TARGET_HELPER_PREFIX = f"./{SCRIPTS}/py {SCRIPTS}/"

GITIGNORE_BEGIN = "# >>> baton (managed by baton's installer; edit outside this block) >>>"
GITIGNORE_END = "# <<< baton <<<"
GITIGNORE_LINES = (VENV, f"{HOME}/**/__pycache__/", ".claude/state/", ".claude/archive/")


def gitignore_block() -> str:
    return "\n".join([GITIGNORE_BEGIN, *GITIGNORE_LINES, GITIGNORE_END]) + "\n"


BLOCK = re.compile(re.escape(GITIGNORE_BEGIN) + r"\n.*?" + re.escape(GITIGNORE_END) + r"\n?", re.S)


def shown(target: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(target).as_posix()
    except ValueError:
        return str(path)



def read_text(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise BatonError(f"{path}: not UTF-8; left untouched") from None

