"""/handoff under the real Claude Code CLI: only the command file's allowed-tools grant anything."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from lib.store import frontmatter, validate

from . import standin as s
from .claude_cli import Claude, ProjectClone
from .standin import Request, StandIn

HELPER = "./scripts/py scripts/handoff_helpers.py"


def _last_json(request: Request) -> dict[str, Any]:
    """The JSON a helper printed, from the newest tool result the CLI sent back."""
    result = request.tool_results()[-1]
    assert result["is_error"] is False, result
    payload: dict[str, Any] = json.loads(s.flatten_text(result["content"]))
    return payload


def test_quick_handoff_writes_a_valid_note_and_pushes_exactly_its_files(
        claude: Claude, standin: StandIn, project_clone: ProjectClone) -> None:
    root = project_clone.path
    (root / ".venv").symlink_to(Path(sys.prefix))
    # a file the user staged before handing off must stay staged and out of the handoff commit
    (root / "user-work.txt").write_text("in progress\n")
    subprocess.run(["git", "add", "user-work.txt"], cwd=root, check=True)
    seen: dict[str, str] = {}

    def write_note(request: Request) -> s.Reply:
        started = _last_json(request)
        seen["id"] = started["id"]
        assert started["mode"] == "quick"
        prompt = "  " + ("Continue from the real-client handoff test. " * 12).strip()
        content = ("title: Real client handoff\n"
                   "summary: |\n  Checked that /handoff works under the real CLI.\n"
                   "outcome: done\nworkstream: null\nplan: null\ntags:\n  - realclient\n"
                   f"sections:\n  resume_prompt: |\n  {prompt}\n\n    Confidence: high\n")
        # the shape handoff.md shows: block-style YAML in a quoted heredoc
        return s.bash(f"{HELPER} write-session --id {seen['id']} --json <<'EOF'\n{content}EOF")

    def step(command: str) -> Any:
        return lambda request: s.bash(f"{HELPER} {command.format(id=seen['id'])}")

    standin.add(
        s.bash(f"{HELPER} start --json --quick"),
        write_note,
        step("regen-index --id {id} --json"),
        step("stage --id {id} --json"),
        step("commit --id {id} --push --json"),
        # not granted by the command file: the CLI must refuse it
        s.bash("python3 -c 'open(\"outside-grant.txt\", \"w\")'"),
        step("archive-state --id {id} --json"),
        s.text("Handoff done."),
    )

    run = claude.run("/handoff --quick", cwd=root, env={"OPERATOR": "ada"})  # no --allowedTools

    assert run.returncode == 0, run.describe()
    standin.assert_script_consumed()
    results = run.tool_results()
    assert [r["is_error"] for r in results] == [False] * 5 + [True, False], results
    assert [d["tool_name"] for d in run.result["permission_denials"]] == ["Bash"]
    assert not (root / "outside-grant.txt").exists()

    note_id = seen["id"]
    assert note_id.startswith("AL-")
    note = root / "docs" / "sessions" / f"{note_id}.md"
    metadata, body = frontmatter.read(note)
    assert metadata["status"] == "written" and metadata["operator"] == "ada"
    assert metadata["content_hash"] == frontmatter.content_hash(metadata, body)
    assert validate.check_paths([note], root).problems == []

    remote_log = subprocess.run(["git", "log", "-1", "--format=%s", "--name-only"], cwd=project_clone.remote,
                                capture_output=True, text=True, check=True).stdout.split("\n")
    assert remote_log[0] == f"handoff: {note_id} Real client handoff"
    committed = {line for line in remote_log[1:] if line}
    assert f"docs/sessions/{note_id}.md" in committed
    assert "user-work.txt" not in committed
    staged = subprocess.run(["git", "diff", "--cached", "--name-only"], cwd=root, capture_output=True,
                            text=True, check=True).stdout.split()
    assert staged == ["user-work.txt"]


def test_per_operator_wrapper_hands_off_as_that_operator_whoever_git_says_is_typing(
        claude: Claude, standin: StandIn, project_clone: ProjectClone) -> None:
    root = project_clone.path
    (root / ".venv").symlink_to(Path(sys.prefix))
    subprocess.run(["git", "config", "user.email", "ada@example.com"], cwd=root, check=True)  # operator A
    prefixed = f"OPERATOR=grace {HELPER}"
    seen: dict[str, str] = {}

    def write_note(request: Request) -> s.Reply:
        seen["id"] = _last_json(request)["id"]
        prompt = "  " + ("Continue from the wrapper test. " * 15).strip()
        content = ("title: Wrapper handoff\nsummary: |\n  Handed off through /handoff-gh.\noutcome: done\n"
                   f"tags:\n  - realclient\nsections:\n  resume_prompt: |\n  {prompt}\n\n    Confidence: medium\n")
        return s.bash(f"{prefixed} write-session --id {seen['id']} --json <<'EOF'\n{content}EOF")

    standin.add(s.bash(f"{prefixed} start --json --quick"), write_note, s.text("Done."))

    run = claude.run("/handoff-gh --quick", cwd=root)  # no --allowedTools, no $OPERATOR in the environment

    assert run.returncode == 0, run.describe()
    standin.assert_script_consumed()
    assert "grace GH" in s.flatten_text(standin.model_requests()[0].messages()[-1]["content"])  # the pre-run check
    assert [r["is_error"] for r in run.tool_results()] == [False, False]
    assert seen["id"].startswith("GH-")
    metadata, _ = frontmatter.read(root / "docs" / "sessions" / f"{seen['id']}.md")
    assert (metadata["operator"], metadata["status"]) == ("grace", "written")
