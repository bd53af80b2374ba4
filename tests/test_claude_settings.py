"""Merging baton's hooks into .claude/settings.json: never clobbering, idempotent, and the
registered command itself working with and without the project's .venv."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from lib.adopt import claude_settings as cs
from lib.core.errors import BatonError
from support.paths import REPO_ROOT, SCRIPTS, run_script

FOREIGN: dict[str, Any] = {
    "permissions": {"allow": ["Bash(npm test:*)"], "deny": []},
    "env": {"FOO": "bar"},
    "hooks": {
        "PostToolUse": [
            {"matcher": "*", "hooks": [{"type": "command", "command": "their-logger --all", "timeout": 5}]},
            {"matcher": "Edit|Write", "hooks": [{"type": "command", "command": "prettier --write"}]},
        ],
        "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}],
    },
    "model": "claude-sonnet-4-6",
}


def _ours(settings: dict[str, Any], event: str) -> list[dict[str, Any]]:
    return [h for g in settings["hooks"].get(event, []) for h in g["hooks"] if cs.TELEMETRY_SCRIPT in h["command"]]


def test_merge_into_empty_settings_registers_every_entry() -> None:
    merged = cs.merge_hooks({}, cs.baton_hook_entries())
    for event in ("PostToolUse", "PostToolUseFailure", "SessionStart", "SessionEnd", "PreCompact"):
        assert len(_ours(merged, event)) == 1
    assert merged["hooks"]["PostToolUse"][0]["matcher"] == "*"
    assert "matcher" not in merged["hooks"]["SessionEnd"][0]


def test_merge_keeps_foreign_hooks_and_keys_in_place() -> None:
    original = copy.deepcopy(FOREIGN)
    merged = cs.merge_hooks(FOREIGN, cs.baton_hook_entries())
    assert original == FOREIGN  # input untouched
    assert merged["permissions"] == FOREIGN["permissions"]
    assert merged["env"] == FOREIGN["env"] and merged["model"] == FOREIGN["model"]
    assert list(merged) == list(FOREIGN)
    star = merged["hooks"]["PostToolUse"][0]
    assert star["hooks"][0] == FOREIGN["hooks"]["PostToolUse"][0]["hooks"][0]
    assert star["hooks"][1]["command"] == cs.stdlib_hook_command(cs.TELEMETRY_SCRIPT)
    assert merged["hooks"]["PostToolUse"][1] == FOREIGN["hooks"]["PostToolUse"][1]
    assert merged["hooks"]["Stop"] == FOREIGN["hooks"]["Stop"]


def test_merge_is_idempotent() -> None:
    once = cs.merge_hooks(FOREIGN, cs.baton_hook_entries())
    assert cs.merge_hooks(once, cs.baton_hook_entries()) == once


def test_an_older_version_of_our_hook_is_updated_not_duplicated() -> None:
    old = {"hooks": {
        "PostToolUse": [{"matcher": "*", "hooks": [
            {"type": "command", "command": "python3 \"$CLAUDE_PROJECT_DIR\"/scripts/hooks/session_state.py", "timeout": 3},
            {"type": "command", "command": "their-logger"},
        ]}],
        "SessionStart": [{"matcher": "startup", "hooks": [
            {"type": "command", "command": "python3 scripts/hooks/session_state.py"},
            {"type": "command", "command": "their-banner"},
        ]}],
    }}
    merged = cs.merge_hooks(old, cs.baton_hook_entries())
    star = merged["hooks"]["PostToolUse"][0]["hooks"]
    assert [h["command"] for h in star] == [cs.stdlib_hook_command(cs.TELEMETRY_SCRIPT), "their-logger"]
    assert star[0]["timeout"] == cs.TELEMETRY_TIMEOUT
    # Ours moved out of the `startup` group into the all-sources one; theirs stayed.
    assert merged["hooks"]["SessionStart"][0] == {"matcher": "startup", "hooks": [
        {"type": "command", "command": "their-banner"}]}
    assert len(_ours(merged, "SessionStart")) == 1


def test_remove_hooks_takes_out_only_ours() -> None:
    ours = sorted({entry.marker for entry in cs.baton_hook_entries()})
    assert cs.TELEMETRY_SCRIPT in ours and cs.PRECOMPACT_SCRIPT in ours
    merged = cs.merge_hooks(FOREIGN, cs.baton_hook_entries())
    cleaned = cs.remove_hooks(merged, ours)
    assert cleaned == FOREIGN
    assert cs.remove_hooks(cs.merge_hooks({}, cs.baton_hook_entries()), ours) == {}


@pytest.mark.parametrize(("text", "fragment"), [
    ('{"hooks": {', "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
    ('{"hooks": []}', "/hooks must be an object"),
    ('{"hooks": {"PostToolUse": {"matcher": "*"}}}', "/hooks/PostToolUse must be a list"),
    ('{"hooks": {"PostToolUse": ["x"]}}', "/hooks/PostToolUse/0 must be an object"),
])
def test_malformed_settings_are_reported_and_left_untouched(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "settings.json"
    path.write_text(text)
    with pytest.raises(BatonError, match=fragment):
        cs.install(path, cs.baton_hook_entries())
    assert path.read_text() == text


def test_install_writes_once_and_then_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / ".claude" / "settings.json"
    path.parent.mkdir()
    path.write_text(json.dumps(FOREIGN))
    assert cs.install(path, cs.baton_hook_entries()) is True
    written = path.read_bytes()
    stamp = path.stat().st_mtime_ns
    assert cs.install(path, cs.baton_hook_entries()) is False
    assert path.read_bytes() == written and path.stat().st_mtime_ns == stamp
    assert json.loads(written) == cs.merge_hooks(FOREIGN, cs.baton_hook_entries())


def test_committed_settings_match_the_library(tmp_path: Path) -> None:
    committed = json.loads((REPO_ROOT / ".claude" / "settings.json").read_text())
    assert cs.merge_hooks(committed, cs.baton_hook_entries()) == committed
    assert len(_ours(committed, "PostToolUse")) == 1


# --------------------------------------------------------------------------- the CLI


def test_install_hooks_cli_merges_reports_and_is_idempotent(repo: Path) -> None:
    target = repo / ".claude" / "settings.json"
    target.write_text(json.dumps(FOREIGN, indent=4))
    first = run_script("install_hooks.py", "--root", str(repo), cwd=repo)
    assert first.returncode == 0, first.stderr
    assert "registered" in first.stdout
    second = run_script("install_hooks.py", "--root", str(repo), "--json", cwd=repo)
    assert second.returncode == 0
    assert json.loads(second.stdout)["changed"] is False
    assert json.loads(target.read_text())["permissions"] == FOREIGN["permissions"]


def test_install_hooks_cli_dry_run_and_uninstall(repo: Path) -> None:
    target = repo / ".claude" / "settings.json"
    dry = run_script("install_hooks.py", "--root", str(repo), "--dry-run", cwd=repo)
    assert dry.returncode == 0 and "would update" in dry.stdout
    assert not target.exists()
    run_script("install_hooks.py", "--root", str(repo), cwd=repo)
    removed = run_script("install_hooks.py", "--root", str(repo), "--uninstall", cwd=repo)
    assert removed.returncode == 0
    assert json.loads(target.read_text()) == {}


def test_install_hooks_cli_refuses_malformed_settings(repo: Path) -> None:
    target = repo / ".claude" / "settings.json"
    target.write_text('{"hooks": ')
    result = run_script("install_hooks.py", "--root", str(repo), cwd=repo)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "not valid JSON" in result.stderr
    assert target.read_text() == '{"hooks": '


def test_install_hooks_cli_has_help() -> None:
    result = run_script("install_hooks.py", "--help", cwd=REPO_ROOT)
    assert result.returncode == 0
    for option in ("--root", "--dry-run", "--uninstall", "--json"):
        assert option in result.stdout


# --------------------------------------------------------------------------- the registered command


def _project(tmp_path: Path, *, with_venv: bool) -> Path:
    root = tmp_path / "project"
    (root / ".claude" / "state").mkdir(parents=True)
    (root / "scripts").symlink_to(SCRIPTS)
    if with_venv:
        venv = REPO_ROOT / ".venv"
        if not (venv / "bin" / "python").exists():
            pytest.skip("this checkout has no .venv")
        (root / ".venv").symlink_to(venv)
    return root


@pytest.mark.parametrize("with_venv", [True, False], ids=["venv", "no-venv-falls-back-to-python3"])
def test_the_registered_command_counts_the_call_and_never_fails(tmp_path: Path, with_venv: bool) -> None:
    root = _project(tmp_path, with_venv=with_venv)
    command = cs.stdlib_hook_command(cs.TELEMETRY_SCRIPT)
    payload = {"session_id": "cmd-1", "hook_event_name": "PostToolUse", "tool_name": "Read", "tool_use_id": "t1"}
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "CLAUDE_PROJECT_DIR": str(root)}
    result = subprocess.run(["sh", "-c", command], input=json.dumps(payload), text=True, capture_output=True,
                            env=env, timeout=60)
    assert result.returncode == 0
    has_python3 = subprocess.run(["sh", "-c", "command -v python3"], env=env, capture_output=True).returncode == 0
    if with_venv or has_python3:
        doc = json.loads((root / ".claude" / "state" / "session-cmd-1.json").read_text())
        assert doc["tool_calls_count"] == 1
    if not with_venv:
        assert ".venv is missing" in result.stderr
