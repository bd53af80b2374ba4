"""Adopting baton, proven on the real Claude Code CLI: a repository set up by scripts/install.py, the
plugin loaded with --plugin-dir or installed from its marketplace, and both at once."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from support.roster import AUTHOR_EMAIL, member, write_roster

from . import standin as s
from .claude_cli import REPO_ROOT, Claude, ProjectClone
from .handoff_flow import closing, finish_call, quick_content
from .standin import StandIn

# The environment running the tests has baton's dependencies: the plugin's helpers use it through
# BATON_PYTHON, the installed copy through --venv, so nothing is fetched from the network.
PYTHON = sys.executable
HELPER_OUTPUT = "store: 0 notes checked, no problems"

# The roster's one operator, the git identity every test runs under.
ADA = member("ada", "AL", "Ada", AUTHOR_EMAIL)


def _install(project: Path) -> None:
    result = subprocess.run([PYTHON, str(REPO_ROOT / "scripts/install.py"), str(project), "--venv", sys.prefix],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def _state(project: Path, session_id: str) -> dict[str, Any]:
    state: dict[str, Any] = json.loads(
        (project / ".claude/state" / f"session-{session_id}.json").read_text(encoding="utf-8"))
    return state


def _claude_cmd(claude: Claude, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A `claude` subcommand (plugin management) with the run's HOME and environment, run in `cwd` (a
    temporary project: the CLI writes project state where it runs, never into this checkout)."""
    return subprocess.run([str(claude.binary), *args], cwd=cwd, env=claude.environment(), capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_installed_repo_counts_tool_calls_and_keeps_their_own_hook_running(
        claude: Claude, standin: StandIn, scratch_project: Path, tmp_path: Path) -> None:
    their_log = tmp_path / "their-hook.log"
    settings = {"hooks": {"PostToolUse": [{"matcher": "*", "hooks": [
        {"type": "command", "command": f"cat >> {shlex.quote(str(their_log))}"}]}]}}
    (scratch_project / ".claude").mkdir()
    (scratch_project / ".claude/settings.json").write_text(json.dumps(settings), encoding="utf-8")
    _install(scratch_project)
    standin.add(s.bash("echo adopted", "succeeds"), s.bash("ls /nonexistent-dir", "fails"), s.text("Done."))

    run = claude.run("go", cwd=scratch_project, allowed_tools="Bash")

    assert run.returncode == 0, run.describe()
    state = _state(scratch_project, run.session_id)
    assert state["tool_calls_count"] == 2 and state["tool_failures_count"] == 1
    assert state["session_starts"] == 1 and state["ended_at"]
    assert json.loads(their_log.read_text(encoding="utf-8").splitlines()[0])["tool_name"] == "Bash"
    assert not (scratch_project / ".claude/state/hook-errors.log").exists()


def test_plugin_dir_hooks_count_into_the_project_and_its_bin_runs_a_helper(
        claude: Claude, standin: StandIn, scratch_project: Path) -> None:
    standin.add(s.bash("baton validate_frontmatter.py --summary", "run a baton helper by its bin name"),
                s.text("Done."))

    run = claude.run("go", cwd=scratch_project, allowed_tools="Bash",
                     args=["--plugin-dir", str(REPO_ROOT)], env={"BATON_PYTHON": PYTHON})

    assert run.returncode == 0, run.describe()
    [result] = run.tool_results()
    assert not result.get("is_error"), result
    assert s.flatten_text(result["content"]).splitlines()[0] == HELPER_OUTPUT
    state = _state(scratch_project, run.session_id)  # the plugin's hooks wrote to the project's store
    assert state["tool_calls_count"] == 1 and state["session_starts"] == 1


def test_plugin_command_reaches_a_helper_through_bin_without_the_plugin_path(
        claude: Claude, standin: StandIn, scratch_project: Path, tmp_path: Path) -> None:
    # The plugin as shipped, plus one command that pre-runs a helper the way baton's commands call them.
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    for name in (".claude-plugin", "bin", "hooks", "scripts", "pyproject.toml"):
        (plugin / name).symlink_to(REPO_ROOT / name)
    (plugin / "commands").mkdir()
    (plugin / "commands/probe.md").write_text(
        "---\ndescription: probe\nallowed-tools: Bash(baton validate_frontmatter.py:*)\n---\n\n"
        "Store check: !`baton validate_frontmatter.py --summary`\n", encoding="utf-8")
    standin.add(s.text("Seen."))

    run = claude.run("/baton:probe", cwd=scratch_project, args=["--plugin-dir", str(plugin)],
                     env={"BATON_PYTHON": PYTHON})

    assert run.returncode == 0, run.describe()
    [request] = standin.model_requests()
    assert f"Store check: {HELPER_OUTPUT}" in request.all_text()


def test_plugin_and_project_hooks_together_count_each_tool_call_once(
        claude: Claude, standin: StandIn, scratch_project: Path) -> None:
    _install(scratch_project)
    standin.add(s.bash("echo one", "first", tool_id="toolu_twice_1"), s.bash("echo two", "second"), s.text("Done."))

    run = claude.run("go", cwd=scratch_project, allowed_tools="Bash",
                     args=["--plugin-dir", str(REPO_ROOT)], env={"BATON_PYTHON": PYTHON})

    assert run.returncode == 0, run.describe()
    state = _state(scratch_project, run.session_id)
    assert state["tool_calls_count"] == 2
    assert state["tool_calls_breakdown"] == {"Bash": 2}
    assert state["duplicate_events_ignored"] == 2  # both registrations fired for both calls


def test_marketplace_validates_installs_and_the_installed_plugin_works(
        claude: Claude, standin: StandIn, project_clone: ProjectClone, scratch_project: Path) -> None:
    source = str(project_clone.path)
    for target in (source, os.path.join(source, ".claude-plugin/marketplace.json")):
        checked = _claude_cmd(claude, scratch_project, "plugin", "validate", "--strict", target)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    added = _claude_cmd(claude, scratch_project, "plugin", "marketplace", "add", source)
    assert added.returncode == 0, added.stdout + added.stderr
    installed = _claude_cmd(claude, scratch_project, "plugin", "install", "baton@baton")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    listed = _claude_cmd(claude, scratch_project, "plugin", "list")
    assert "baton@baton" in listed.stdout

    standin.add(s.bash("baton validate_frontmatter.py --summary", "run a baton helper"), s.text("Done."))
    run = claude.run("go", cwd=scratch_project, allowed_tools="Bash", env={"BATON_PYTHON": PYTHON})

    assert run.returncode == 0, run.describe()
    [result] = run.tool_results()
    assert s.flatten_text(result["content"]).splitlines()[0] == HELPER_OUTPUT
    assert _state(scratch_project, run.session_id)["tool_calls_count"] == 1


def _quick_handoff_script(standin: StandIn, helper: str) -> dict[str, Any]:
    """The model's side of `/handoff --quick`: one `finish` call the way the command file shows it, then the
    closing message."""
    seen: dict[str, Any] = {}
    content = {**quick_content("adopted handoff"), "title": "Adopted handoff"}
    standin.add(finish_call(content, helper=helper, seen=seen), closing(seen))
    return seen


def _with_remote(project: Path, tmp_path: Path) -> Path:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "-c", "init.defaultBranch=main", "init", "-q", "--bare", str(remote)], check=True)
    for args in (["remote", "add", "origin", str(remote)], ["add", "-A"], ["commit", "-qm", "start"],
                 ["push", "-q", "-u", "origin", "HEAD"]):
        subprocess.run(["git", *args], cwd=project, check=True, capture_output=True)
    return remote


def _pushed(remote: Path) -> tuple[str, set[str]]:
    log = subprocess.run(["git", "log", "-1", "--format=%s", "--name-only"], cwd=remote, capture_output=True,
                         text=True, check=True).stdout.split("\n")
    return log[0], {line for line in log[1:] if line}


def test_handoff_in_an_installed_repo_runs_only_through_the_rewritten_grant(
        claude: Claude, standin: StandIn, scratch_project: Path, tmp_path: Path) -> None:
    _install(scratch_project)  # drafts operators.yaml from the git author: test-author, TA
    remote = _with_remote(scratch_project, tmp_path)
    seen = _quick_handoff_script(standin, "./.baton/scripts/py .baton/scripts/handoff_helpers.py")

    run = claude.run("/handoff --quick", cwd=scratch_project, env={"OPERATOR": "test-author"})  # no --allowedTools

    assert run.returncode == 0, run.describe()
    standin.assert_script_consumed()
    assert [r["is_error"] for r in run.tool_results()] == [False], run.tool_results()
    assert len(standin.model_requests()) == 2
    note_id = seen["finish"]["id"]
    assert note_id.startswith("TA-") and seen["start"]["mode"] == "quick"
    subject, files = _pushed(remote)
    assert subject == f"handoff: {note_id} Adopted handoff"
    assert f"docs/sessions/{note_id}.md" in files


def test_plugin_handoff_reaches_its_helper_through_bin(
        claude: Claude, standin: StandIn, scratch_project: Path, tmp_path: Path) -> None:
    write_roster(scratch_project, [ADA], version=1)
    remote = _with_remote(scratch_project, tmp_path)
    seen = _quick_handoff_script(standin, "baton handoff_helpers.py")

    run = claude.run("/baton:handoff --quick", cwd=scratch_project, args=["--plugin-dir", str(REPO_ROOT)],
                     env={"OPERATOR": "ada", "BATON_PYTHON": PYTHON})  # no --allowedTools: the command grants

    assert run.returncode == 0, run.describe()
    standin.assert_script_consumed()
    assert [r["is_error"] for r in run.tool_results()] == [False], run.tool_results()
    assert len(standin.model_requests()) == 2
    note_id = seen["finish"]["id"]
    subject, files = _pushed(remote)
    assert subject == f"handoff: {note_id} Adopted handoff" and note_id.startswith("AL-")
    assert f"docs/sessions/{note_id}.md" in files
    # finish archived the session's telemetry; the plugin's hook then counted the finish call itself
    archived = list((scratch_project / ".claude/state/archive").glob(f"session-{run.session_id}.json"))
    assert archived and _state(scratch_project, run.session_id)["tool_calls_count"] == 1


def test_plugin_resume_preruns_its_helpers_through_bin(
        claude: Claude, standin: StandIn, scratch_project: Path) -> None:
    write_roster(scratch_project, [ADA], version=1)
    standin.add(s.text("Nothing to resume yet."))

    run = claude.run("/baton:resume", cwd=scratch_project, args=["--plugin-dir", str(REPO_ROOT)],
                     env={"BATON_PYTHON": PYTHON})

    assert run.returncode == 0, run.describe()
    [request] = standin.model_requests()
    text = request.all_text()
    assert "Who is asking: ada AL" in text  # session.py whoami, from the git email
    assert "no prior sessions for ada" in text  # resume_helpers.py dashboard --json
