"""/resume's SessionStart context under the real Claude Code CLI: a new session starts oriented."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lib.store import frontmatter

from . import standin as s
from .claude_cli import Claude, ProjectClone
from .standin import StandIn

RESUME_PROMPT = "Pick up the index rebuild where RT left it: run the benchmark, then compare cold and warm."


def test_the_last_notes_summary_and_resume_prompt_reach_the_first_request(
        claude: Claude, standin: StandIn, project_clone: ProjectClone) -> None:
    root = project_clone.path
    (root / ".venv").symlink_to(Path(sys.prefix))
    note = root / "docs" / "sessions" / "AL-261101-01.md"
    frontmatter.write(note, {
        "title": "Index rebuild", "operator": "ada", "summary": "Rebuilt the store index; warm path is fast now.",
        "workstream": None, "tags": ["index"], "kind": "session", "external_id": "AL-261101-01",
        "status": "written", "outcome": "incomplete", "confidence": "high", "date": "2026-11-01",
    }, f"## Summary\n\nRebuilt the store index.\n\n## Next steps\n\n1. Benchmark it.\n\n"
       f"## Resume Prompt\n\n{RESUME_PROMPT}\n\nConfidence: high\n")
    env = {**os.environ, "OPERATOR": "ada"}
    # the hook never builds a cold index: /resume (here its helper) builds it first
    warm = subprocess.run([sys.executable, "scripts/resume_helpers.py", "dashboard", "--json"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)
    assert warm.returncode == 0, warm.stderr
    standin.add(s.text("Oriented."))

    run = claude.run("where were we?", cwd=root, env={"OPERATOR": "ada"})

    assert run.returncode == 0, run.describe()
    first = standin.model_requests()[0].all_text()
    assert "Rebuilt the store index; warm path is fast now." in first
    assert RESUME_PROMPT in first
