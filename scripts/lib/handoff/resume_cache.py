"""Step 8's refresh of the `/resume` cache, when the resume helpers are installed."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCRIPT = "resume_helpers.py"


@dataclass
class RefreshResult:
    ran: bool
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def script_path() -> Path:
    return Path(__file__).resolve().parents[2] / SCRIPT


def refresh_resume_cache(root: Path, timeout: float = 60.0) -> RefreshResult:
    script = script_path()
    if not script.is_file():
        return RefreshResult(False, True, f"skipped: {SCRIPT} is not installed")
    try:
        proc = subprocess.run([sys.executable, str(script), "write-resume-cache"], cwd=root,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return RefreshResult(True, False, f"{SCRIPT} write-resume-cache timed out after {timeout:g} s")
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        return RefreshResult(True, False, lines[-1] if lines else f"exit {proc.returncode}")
    return RefreshResult(True, True, "resume cache refreshed")
