"""/handoff under the real Claude Code CLI: `start` pre-run, one `finish` call, and the model requests it takes.

The stand-in counts the CLI's model requests after the command is invoked: `--auto` and `--quick` take two
(the `finish` call, then the closing message), the interactive command two plus one per question put to the
user. Only the command file's allowed-tools grant anything.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from lib.store import frontmatter, validate

from . import standin as s
from .claude_cli import Claude, CliRun, ProjectClone
from .handoff_flow import FULL_SECTIONS, closing, finish_call, full_content, quick_content, started
from .standin import Request, StandIn


def _ready(root: Path) -> None:
    (root / ".venv").symlink_to(Path(sys.prefix))


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout


def _sections(note: Path) -> tuple[dict[str, Any], list[str]]:
    metadata, body = frontmatter.read(note)
    assert metadata["content_hash"] == frontmatter.content_hash(metadata, body)
    assert validate.check_paths([note], note.parents[2]).problems == []
    return metadata, [line[3:] for line in body.splitlines() if line.startswith("## ")]


def _requests_of(standin: StandIn, before: int) -> list[Request]:
    return standin.model_requests()[before:]


def _ok(run: CliRun) -> None:
    assert run.returncode == 0 and not run.result.get("is_error"), run.describe()


# The user's answer is a new turn, which the command's allowed-tools no longer cover: in a terminal Claude
# Code asks the user to allow the `finish` call; a headless run is told up front.
ANSWER_GRANT = ["--allowedTools", "Bash(./scripts/py scripts/handoff_helpers.py:*)"]


def _work(claude: Claude, standin: StandIn, root: Path, env: dict[str, str]) -> str:
    """A session that did something (a commit), so the handoff is not `trivial`; its Claude session id."""
    standin.add(s.bash("echo work > work.txt && git add work.txt && git commit -q -m 'feat: work'"), s.text("Done."))
    run = claude.run("commit some work", cwd=root, env=env, allowed_tools="Bash")
    _ok(run)
    return run.session_id


def test_auto_handoff_takes_two_model_requests_and_writes_the_complete_note(
        claude: Claude, standin: StandIn, project_clone: ProjectClone) -> None:
    root = project_clone.path
    _ready(root)
    seen: dict[str, Any] = {}
    standin.add(finish_call(full_content("auto handoff"), seen=seen), closing(seen))

    run = claude.run("/handoff --auto", cwd=root, env={"OPERATOR": "ada"})  # no --allowedTools

    _ok(run)
    standin.assert_script_consumed()
    assert len(standin.model_requests()) == 2
    start = seen["start"]  # in the first request, before any tool call
    assert start["mode"] == "auto" and start["claim"] == "new" and start["operator"]["slug"] == "ada"
    assert {"commits", "telemetry", "git"} <= set(start) and start["telemetry"]["found"]
    report = seen["finish"]
    assert report["ok"] and not seen["finish_is_error"] and report["pushed"]
    assert [step["status"] for step in report["steps"] if step["status"] in ("failed", "not_run")] == []
    metadata, sections = _sections(root / report["path"])
    assert sections == FULL_SECTIONS
    assert metadata["mode"] == "auto" and metadata["operator"] == "ada" and metadata["status"] == "written"
    assert metadata["claude_session_id"] == run.session_id and isinstance(metadata["tool_calls_count"], int)
    assert (root / "docs" / "learnings" / "handoff-in-two-requests.md").exists()
    remote = _git(project_clone.remote, "log", "-1", "--format=%s", "--name-only").split("\n")
    assert remote[0] == f"handoff: {report['id']} Real client auto handoff"
    assert {report["path"], "docs/learnings/handoff-in-two-requests.md", "CHANGELOG.md"} <= set(remote[1:])


def test_quick_handoff_takes_two_model_requests_and_commits_only_its_files(
        claude: Claude, standin: StandIn, project_clone: ProjectClone) -> None:
    root = project_clone.path
    _ready(root)
    # a file the user staged before handing off stays staged and out of the handoff commit
    (root / "user-work.txt").write_text("in progress\n")
    _git(root, "add", "user-work.txt")
    seen: dict[str, Any] = {}
    standin.add(finish_call(quick_content("quick handoff"), seen=seen), closing(seen))

    run = claude.run("/handoff --quick", cwd=root, env={"OPERATOR": "ada"})

    _ok(run)
    standin.assert_script_consumed()
    assert len(standin.model_requests()) == 2
    assert seen["start"]["mode"] == "quick"
    report = seen["finish"]
    assert report["ok"] and report["id"].startswith("AL-")
    metadata, sections = _sections(root / report["path"])
    assert sections == ["Summary", "Resume Prompt"] and metadata["confidence"] == "high"
    remote = _git(project_clone.remote, "log", "-1", "--format=%s", "--name-only").split("\n")
    assert remote[0] == f"handoff: {report['id']} Real client quick handoff"
    assert "user-work.txt" not in remote[1:]
    assert _git(root, "diff", "--cached", "--name-only").split() == ["user-work.txt"]


def test_a_command_the_handoff_does_not_grant_is_refused(
        claude: Claude, standin: StandIn, project_clone: ProjectClone) -> None:
    root = project_clone.path
    _ready(root)
    seen: dict[str, Any] = {}
    standin.add(s.bash("python3 -c 'open(\"outside-grant.txt\", \"w\")'"),
                finish_call(quick_content("grant check"), seen=seen), closing(seen))

    run = claude.run("/handoff --quick", cwd=root, env={"OPERATOR": "ada"})

    _ok(run)
    assert [r["is_error"] for r in run.tool_results()] == [True, False]
    assert [d["tool_name"] for d in run.result["permission_denials"]] == ["Bash"]
    assert not (root / "outside-grant.txt").exists() and seen["finish"]["ok"]


def test_interactive_handoff_takes_two_requests_plus_the_one_question(
        claude: Claude, standin: StandIn, project_clone: ProjectClone) -> None:
    root = project_clone.path
    _ready(root)
    env = {"OPERATOR": "ada"}
    session = _work(claude, standin, root, env)
    before = len(standin.model_requests())
    seen: dict[str, Any] = {}

    def draft(request: Request) -> s.Reply:
        seen["start"] = started(request)
        return s.text("Mode full. Draft: ... Resume Prompt: ... accept / edit / skip the Resume Prompt, "
                      "or tell me what to correct?")

    standin.add(draft)
    _ok(claude.run("/handoff", cwd=root, env=env, args=["--resume", session]))
    standin.add(finish_call(full_content("interactive handoff")), closing(seen))
    _ok(claude.run("accept", cwd=root, env=env, args=["--resume", session, *ANSWER_GRANT]))

    standin.assert_script_consumed()
    assert len(_requests_of(standin, before)) == 2 + 1
    start = seen["start"]
    assert start["mode"] == "full" and [c["subject"] for c in start["commits"]] == ["feat: work"]
    assert start["git"]["commits_count"] == 1 and start["telemetry"]["tool_calls_count"] >= 1
    report = seen["finish"]
    assert report["ok"] and report["learnings"] == ["handoff-in-two-requests"]
    metadata, sections = _sections(root / report["path"])
    assert sections == FULL_SECTIONS and metadata["commits_count"] == 1 and metadata["tool_calls_count"] >= 1


def test_an_inferred_operator_is_one_more_question_and_finish_claims_after_the_yes(
        claude: Claude, standin: StandIn, project_clone: ProjectClone) -> None:
    root = project_clone.path
    _ready(root)
    _git(root, "config", "user.email", "ada@example.com")  # inferred, so confirmed first
    seen: dict[str, Any] = {}

    def ask_operator(request: Request) -> s.Reply:
        seen["start"] = started(request)
        return s.text("Hand off as **ada** (AL), from git config user.email ada@example.com? (yes / no)")

    standin.add(ask_operator)
    first = claude.run("/handoff", cwd=root)
    _ok(first)
    assert seen["start"]["confirm_operator"] and seen["start"]["id"] is None
    assert list((root / "docs" / "sessions").glob("AL-*.md")) == []  # nothing claimed before the yes
    standin.add(s.text("Draft: ... accept / edit / skip the Resume Prompt, or tell me what to correct?"))
    _ok(claude.run("yes", cwd=root, args=["--resume", first.session_id]))
    standin.add(finish_call(quick_content("confirmed operator"), "--operator-confirmed"), closing(seen))
    _ok(claude.run("accept", cwd=root, args=["--resume", first.session_id, *ANSWER_GRANT]))

    standin.assert_script_consumed()
    assert len(standin.model_requests()) == 2 + 2
    report = seen["finish"]
    assert report["ok"] and report["id"].startswith("AL-")
    metadata, _ = _sections(root / report["path"])
    assert metadata["operator"] == "ada"


def test_per_operator_wrapper_hands_off_as_that_operator_in_two_requests(
        claude: Claude, standin: StandIn, project_clone: ProjectClone) -> None:
    root = project_clone.path
    _ready(root)
    _git(root, "config", "user.email", "ada@example.com")  # operator A types; the wrapper says grace
    seen: dict[str, Any] = {}
    standin.add(finish_call(quick_content("wrapper handoff"), prefix="OPERATOR=grace ", seen=seen), closing(seen))

    run = claude.run("/handoff-gh --quick", cwd=root)  # no --allowedTools, no $OPERATOR in the environment

    _ok(run)
    standin.assert_script_consumed()
    assert len(standin.model_requests()) == 2
    first = s.flatten_text(standin.model_requests()[0].messages()[-1]["content"])
    assert "grace GH" in first  # the wrapper's pre-run operator check
    assert seen["start"]["operator"]["slug"] == "grace" and seen["start"]["mode"] == "quick"
    assert seen["finish"]["ok"] and seen["finish"]["id"].startswith("GH-")
    metadata, _ = frontmatter.read(root / seen["finish"]["path"])
    assert (metadata["operator"], metadata["status"]) == ("grace", "written")
