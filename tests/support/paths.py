"""Where baton's checkout, scripts and interpreter are, and running one of its CLIs as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
SCRIPTS = REPO_ROOT / "scripts"
PYTHON = sys.executable


def run_script(name: str, *args: str, cwd: Path, env: dict[str, str] | None = None,
               input: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run scripts/<name> as a user would: a fresh process with this interpreter."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run(
        [PYTHON, str(SCRIPTS / name), *args], cwd=cwd, env=full_env, input=input,
        capture_output=True, text=True, timeout=timeout,
    )
