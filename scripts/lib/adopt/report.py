"""What the installer is asked to do (Options) and what it did (Report, one Step per thing)."""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Options:
    upgrade: bool = False
    uninstall: bool = False
    dry_run: bool = False
    link: bool = False
    venv: Path | None = None  # reuse this environment (symlinked as .baton/.venv)
    no_venv: bool = False
    python: str = sys.executable  # makes .baton/.venv when neither venv nor no_venv
    ci: tuple[str, ...] = ()  # CI providers to write a workflow for (lib.adopt.ci.PROVIDERS); kept on upgrade
    today: dt.date | None = None  # the install day, for strict_from (default: today)


@dataclass(frozen=True)
class Step:
    """One thing the installer did (or, in a dry run, would do)."""

    what: str  # file | settings | mcp | gitignore | git-hook | operators | venv | manifest | folder
    path: str
    action: str
    note: str = ""

    def as_dict(self) -> dict[str, str]:
        out = {"what": self.what, "path": self.path, "action": self.action}
        if self.note:
            out["note"] = self.note
        return out


@dataclass
class Report:
    target: Path
    mode: str  # install | upgrade | uninstall
    dry_run: bool
    steps: list[Step] = field(default_factory=list)

    def add(self, what: str, path: str, action: str, note: str = "") -> None:
        self.steps.append(Step(what, path, action, note))

    def with_action(self, *actions: str) -> list[Step]:
        return [s for s in self.steps if s.action in actions]

    @property
    def changed(self) -> bool:
        return any(s.action not in QUIET_ACTIONS for s in self.steps)

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": str(self.target), "mode": self.mode, "dry_run": self.dry_run, "changed": self.changed,
            "locally_modified": [s.path for s in self.with_action(KEPT_MODIFIED)],
            "skipped": [s.path for s in self.with_action(SKIPPED_THEIRS)],
            "steps": [s.as_dict() for s in self.steps],
        }


# Step actions that mean "nothing changed here".
UNCHANGED = "unchanged"
KEPT_MODIFIED = "kept (modified locally)"
KEPT_DELETED = "kept deleted (deleted locally)"
SKIPPED_THEIRS = "skipped (exists and is not baton's)"
OUTDATED = "differs from this baton (run with --upgrade)"
KEPT_EDITED = "kept (edited by the team)"
PRESENT = "already present (yours)"
KEPT_YOURS = "kept (yours)"
QUIET_ACTIONS = frozenset({UNCHANGED, KEPT_MODIFIED, KEPT_DELETED, SKIPPED_THEIRS, OUTDATED, KEPT_EDITED, PRESENT,
                           KEPT_YOURS, "not installed", "skipped", "kept (not empty)"})

