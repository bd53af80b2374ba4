"""baton as a Claude Code plugin: manifest and hooks file shapes, generated files in step with their
sources, the bin/ launcher, the SessionStart environment hook, and one count per tool call when the
plugin's hooks and a project's hooks both fire."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from lib.adopt import claude_settings, payload, plugin
from lib.adopt.manifest import baton_version
from lib.core import pyenv
from support.paths import REPO_ROOT, run_script

BIN = REPO_ROOT / "bin" / "baton"
ENV_HOOK = REPO_ROOT / "scripts" / "hooks" / "plugin_env.py"
EVENTS = {"PreToolUse", "PostToolUse", "PostToolUseFailure", "Notification", "UserPromptSubmit", "Stop",
          "SubagentStop", "SessionStart", "SessionEnd", "PreCompact"}
VENV_PYTHON = '"${BATON_PYTHON:-$CLAUDE_PLUGIN_DATA/venv/bin/python}"'
SEMVER = re.compile(r"^\d+\.\d+\.\d+([-+].+)?$")


def _load(rel: str) -> Any:
    return json.loads((REPO_ROOT / rel).read_text(encoding="utf-8"))


def test_generated_plugin_files_are_up_to_date() -> None:
    result = run_script("build_plugin.py", "--check", cwd=REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_plugin_manifest_shape() -> None:
    manifest = _load(plugin.PLUGIN_JSON)
    assert manifest["name"] == "baton" and re.fullmatch(r"[a-z0-9-]+", manifest["name"])
    assert SEMVER.match(manifest["version"])
    assert manifest["version"] == baton_version(REPO_ROOT)
    assert isinstance(manifest["description"], str) and manifest["description"]
    assert isinstance(manifest["author"], dict) and manifest["author"]["name"]
    # Components live at the default places, so the manifest names none of them.
    assert not {"commands", "hooks", "agents", "mcpServers"} & set(manifest)


def test_marketplace_entry_shape() -> None:
    market = _load(plugin.MARKETPLACE_JSON)
    assert market["name"] == "baton" and market["owner"]["name"]
    [entry] = market["plugins"]
    assert entry["name"] == _load(plugin.PLUGIN_JSON)["name"]
    assert entry["source"] == "./"  # this repository's root is the plugin
    assert (REPO_ROOT / entry["source"] / plugin.PLUGIN_JSON).is_file()
    assert entry["version"] == _load(plugin.PLUGIN_JSON)["version"]


def test_hooks_file_shape_and_every_command_addresses_the_plugin_root() -> None:
    data = _load(plugin.HOOKS_JSON)
    assert set(data) == {"description", "hooks"}
    assert set(data["hooks"]) <= EVENTS
    scripts = set()
    for event, groups in data["hooks"].items():
        assert isinstance(groups, list) and groups, event
        for group in groups:
            assert set(group) <= {"matcher", "hooks"}
            if event in ("PostToolUse", "PostToolUseFailure"):
                assert group["matcher"] == "*"
            for handler in group["hooks"]:
                assert set(handler) == {"type", "command", "timeout"}
                assert handler["type"] == "command" and isinstance(handler["timeout"], int)
                command = handler["command"]
                rel = command.split('"${CLAUDE_PLUGIN_ROOT}"/', 1)[1].split()[0]
                if rel == claude_settings.RESUME_CONTEXT_SCRIPT:
                    # needs baton's dependencies: the plugin's environment only, and still never blocks
                    assert command == f'{VENV_PYTHON} -I "${{CLAUDE_PLUGIN_ROOT}}"/{rel} || true'
                else:
                    assert command == (f'{VENV_PYTHON} -I -S "${{CLAUDE_PLUGIN_ROOT}}"/{rel} || '
                                       f'python3 -I -S "${{CLAUDE_PLUGIN_ROOT}}"/{rel} || true')  # never blocks
                assert (REPO_ROOT / rel).is_file(), rel
                scripts.add(rel)
    telemetry = claude_settings.TELEMETRY_SCRIPT
    for event in ("PostToolUse", "PostToolUseFailure", "SessionStart", "SessionEnd", "PreCompact"):
        assert any(telemetry in h["command"] for g in data["hooks"][event] for h in g["hooks"]), event
    assert plugin.ENV_SCRIPT in scripts
    assert claude_settings.RESUME_CONTEXT_SCRIPT in scripts


def test_plugin_commands_reach_helpers_through_the_bin_launcher() -> None:
    sources = payload.source_commands(REPO_ROOT)
    shipped = sorted(p.name for p in (REPO_ROOT / plugin.COMMANDS_DIR).glob("*.md")) \
        if (REPO_ROOT / plugin.COMMANDS_DIR).is_dir() else []
    assert shipped == sorted(sources)
    for name in shipped:
        text = (REPO_ROOT / plugin.COMMANDS_DIR / name).read_text(encoding="utf-8")
        assert "./scripts/py" not in text and "${CLAUDE_PLUGIN_ROOT}" not in text
        for helper in re.findall(r"\bbaton ([A-Za-z0-9_]+\.py)", text):
            assert (REPO_ROOT / "scripts" / helper).is_file(), f"{name}: {helper}"
    sample = "allowed-tools: Bash(./scripts/py scripts/handoff_helpers.py:*)\n\n./scripts/py scripts/handoff_helpers.py start\n"
    assert payload.rewrite_helper_calls(sample, plugin.HELPER_PREFIX) == (
        "allowed-tools: Bash(baton handoff_helpers.py:*)\n\nbaton handoff_helpers.py start\n")


def _bin(*args: str, env: dict[str, str] | None = None, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BATON_PYTHON", "BATON_PLUGIN", "CLAUDE_"))}
    return subprocess.run([str(BIN), *args], cwd=cwd, env={**base, **(env or {})}, capture_output=True, text=True,
                          timeout=60)


def test_bin_launcher_runs_a_helper_with_baton_python(repo: Path) -> None:
    result = _bin("validate_frontmatter.py", "--summary", env={"BATON_PYTHON": sys.executable}, cwd=repo)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("store: 0 notes checked")
    # the .py may be left out
    assert _bin("validate_frontmatter", "--summary", env={"BATON_PYTHON": sys.executable}, cwd=repo).returncode == 0


def test_bin_launcher_uses_the_venv_in_the_plugin_data_folder(tmp_path: Path, repo: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "venv").symlink_to(Path(sys.prefix))  # an environment with baton's dependencies
    result = _bin("validate_frontmatter.py", "--summary", env={"BATON_PLUGIN_DATA": str(data)}, cwd=repo)
    assert result.returncode == 0, result.stderr


def test_bin_launcher_without_an_environment_says_so_in_one_line(tmp_path: Path) -> None:
    result = _bin("validate_frontmatter.py", env={"BATON_PLUGIN_DATA": str(tmp_path / "empty")})
    assert result.returncode == 127
    [line] = result.stderr.splitlines()
    assert line.startswith("baton: no Python environment for the plugin's helpers yet")
    assert f"{tmp_path / 'empty'}/venv.log" in line and "BATON_PYTHON" in line


@pytest.mark.parametrize("name", ["../scripts/py", "/etc/passwd", ".hidden.py", "a b.py", "nope.py"])
def test_bin_launcher_refuses_anything_but_a_helper_name(name: str) -> None:
    result = _bin(name, env={"BATON_PYTHON": sys.executable})
    assert result.returncode == 2
    assert result.stderr.startswith("baton: ")


def test_plugin_hooks_are_python_3_8_syntax() -> None:
    for path in (ENV_HOOK, REPO_ROOT / "scripts/lib/core/pyenv.py"):
        ast.parse(path.read_text(encoding="utf-8"), feature_version=(3, 8))


def _session_start(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BATON_PYTHON", "CLAUDE_"))}
    return subprocess.run([sys.executable, "-I", "-S", str(ENV_HOOK)], input="{}", env={**base, **env},
                          capture_output=True, text=True, timeout=60)


def test_session_start_puts_bin_on_path_through_the_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / "env.sh"
    data = tmp_path / "plugin data"
    result = _session_start({"CLAUDE_ENV_FILE": str(env_file), "CLAUDE_PLUGIN_ROOT": str(REPO_ROOT),
                             "CLAUDE_PLUGIN_DATA": str(data), "BATON_PYTHON": sys.executable})
    assert result.returncode == 0 and result.stdout == ""
    # What the Bash tool's shell does: source the file, then run the command. It is sourced before
    # every call, so twice here: bin/ must still be on PATH once.
    shell = subprocess.run(["sh", "-c", f". '{env_file}'; . '{env_file}'; echo \"$PATH\"; echo \"$BATON_PLUGIN_DATA\"; "
                            "command -v baton"], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    path, data_seen, found = shell.stdout.splitlines()
    assert path.split(":").count(str(REPO_ROOT / "bin")) == 1
    assert data_seen == str(data) and found == str(BIN)
    assert not data.exists()  # BATON_PYTHON set: no environment is made


def test_session_start_never_fails(tmp_path: Path) -> None:
    result = _session_start({"CLAUDE_ENV_FILE": str(tmp_path / "missing-dir" / "env.sh"),
                             "CLAUDE_PLUGIN_DATA": str(tmp_path / "d")})
    assert result.returncode == 0 and result.stdout == ""
    assert "baton plugin:" in result.stderr


def _tiny_plugin(tmp_path: Path) -> Path:
    """A plugin root whose pyproject needs no packages, so its environment is made offline in a moment."""
    root = tmp_path / "plugin"
    shutil.copytree(REPO_ROOT / "scripts", root / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "pyproject.toml").write_text('[project]\nname = "baton"\nversion = "0.0.0"\ndependencies = []\n',
                                         encoding="utf-8")
    return root


def test_session_start_makes_the_environment_in_the_background_once(tmp_path: Path) -> None:
    root = _tiny_plugin(tmp_path)
    data = tmp_path / "data"
    env = {"CLAUDE_PLUGIN_ROOT": str(root), "CLAUDE_PLUGIN_DATA": str(data)}
    started = time.monotonic()
    assert _session_start(env).returncode == 0
    venv = data / "venv"
    deadline = started + 120
    while not pyenv.is_current(venv, pyenv.requirements_text([])) and time.monotonic() < deadline:
        time.sleep(0.05)  # waiting for the detached process to finish its work, not for a duration
    assert pyenv.is_current(venv, pyenv.requirements_text([]))
    assert "made " in (data / "venv.log").read_text(encoding="utf-8")
    made = (venv / pyenv.STAMP).stat().st_mtime_ns
    assert _session_start(env).returncode == 0  # current: nothing is started
    assert subprocess.run([sys.executable, str(ENV_HOOK), "--provision", str(root), str(data)]).returncode == 0
    assert (venv / pyenv.STAMP).stat().st_mtime_ns == made


def test_plugin_and_project_hooks_firing_for_one_call_count_it_once(repo: Path) -> None:
    """Both registrations run the telemetry hook with the same payload; the state counts the call once."""
    project = claude_settings.stdlib_hook_command(claude_settings.TELEMETRY_SCRIPT)
    plugin_cmd = next(h["command"] for g in _load(plugin.HOOKS_JSON)["hooks"]["PostToolUse"] for h in g["hooks"])
    (repo / "scripts").symlink_to(REPO_ROOT / "scripts")
    payload = json.dumps({"session_id": "both-1", "hook_event_name": "PostToolUse", "tool_name": "Bash",
                          "tool_use_id": "toolu_both_1", "tool_input": {}, "tool_response": {}})
    env = {**os.environ, "CLAUDE_PROJECT_DIR": str(repo), "CLAUDE_PLUGIN_ROOT": str(REPO_ROOT)}
    procs = [subprocess.Popen(["sh", "-c", command], stdin=subprocess.PIPE, env=env, cwd=repo, text=True)
             for command in (project, plugin_cmd)]
    for proc in procs:
        proc.communicate(payload, timeout=30)
    state = json.loads((repo / ".claude/state/session-both-1.json").read_text(encoding="utf-8"))
    assert state["tool_calls_count"] == 1
    assert state["duplicate_events_ignored"] == 1


def _plugin_hook(data: Path, repo: Path, env: dict[str, str] | None = None) -> None:
    command = next(h["command"] for g in _load(plugin.HOOKS_JSON)["hooks"]["PostToolUse"] for h in g["hooks"])
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BATON_PYTHON", "CLAUDE_"))}
    payload = json.dumps({"session_id": "py-1", "hook_event_name": "PostToolUse", "tool_name": "Read"})
    subprocess.run(["sh", "-c", command], input=payload, text=True, check=True, timeout=30, cwd=repo,
                   env={**base, "CLAUDE_PROJECT_DIR": str(repo), "CLAUDE_PLUGIN_ROOT": str(REPO_ROOT),
                        "CLAUDE_PLUGIN_DATA": str(data), **(env or {})})


def test_plugin_hooks_run_with_the_plugin_venv_and_fall_back_to_python3(repo: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    _plugin_hook(data, repo)  # no venv yet: python3 on PATH counts the call
    assert json.loads((repo / ".claude/state/session-py-1.json").read_text())["tool_calls_count"] == 1
    marker = tmp_path / "venv-python-used"
    python = data / "venv/bin/python"
    python.parent.mkdir(parents=True)
    python.write_text(f"#!/bin/sh\necho used >> '{marker}'\nexec '{sys.executable}' \"$@\"\n")
    python.chmod(0o755)
    _plugin_hook(data, repo)
    assert marker.read_text() == "used\n"
    assert json.loads((repo / ".claude/state/session-py-1.json").read_text())["tool_calls_count"] == 2
