"""Every CLI in scripts/: `build_parser()` apart from `main(argv) -> int`, help on every command, `--json`."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import PYTHON, REPO_ROOT, SCRIPTS, git

CLIS = sorted(p.stem for p in SCRIPTS.glob("*.py") if "\ndef main(" in p.read_text(encoding="utf-8"))

# Commands that rightly have no --json, and why.
NO_JSON = {
    ("serve", ""): "a long-running web server: what it serves is its output",
    ("chains", "supervise"): "internal to `run --detach`: a long-running supervisor whose output is its log",
    ("mcp_server", ""): "a stdio MCP server: it speaks JSON-RPC on stdout",
}

# Read-only runs on a copy of the example store: each must print one JSON document.
READ_ONLY_JSON: list[tuple[str, list[str]]] = [
    ("validate_frontmatter", ["--json"]),
    ("insights", ["--json"]),
    ("vault", ["check", "--json"]),
    ("resume_helpers", ["dashboard", "--json", "--operator", "theo"]),
    ("search", ["datum", "--json"]),
    ("session", ["claims", "--json"]),
    ("chains", ["list", "--json"]),
    ("backfill_frontmatter", ["--json"]),
    ("install_hooks", ["--dry-run", "--json"]),
]


def _module(name: str) -> Any:
    return importlib.import_module(name)


def _commands(name: str) -> list[tuple[str, argparse.ArgumentParser]]:
    parser = _module(name).build_parser()
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [("", parser)]
    return [(sub, sp) for action in subs for sub, sp in action.choices.items()]


def test_every_script_with_a_main_is_covered() -> None:
    assert {"validate_frontmatter", "handoff_helpers", "resume_helpers", "chains", "serve"} <= set(CLIS)


@pytest.mark.parametrize("name", CLIS)
def test_parsing_is_apart_from_running(name: str) -> None:
    module = _module(name)
    assert callable(module.main)
    assert isinstance(module.build_parser(), argparse.ArgumentParser)


@pytest.mark.parametrize("name", CLIS)
def test_every_command_says_what_it_does_and_offers_json(name: str) -> None:
    for sub, parser in _commands(name):
        where = f"{name} {sub}".strip()
        assert (parser.description or "").strip(), f"{where}: no description in --help"
        options = {o for action in parser._actions for o in action.option_strings}
        if (name, sub) not in NO_JSON:
            assert "--json" in options, f"{where}: no --json"
        for action in parser._actions:
            if action.option_strings and action.dest != "help":
                assert (action.help or "").strip(), f"{where} {action.option_strings[0]}: no help text"


@pytest.mark.parametrize("name", CLIS)
def test_help_through_main_exits_zero(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    for sub, _parser in _commands(name):
        argv = [sub, "--help"] if sub else ["--help"]
        with pytest.raises(SystemExit) as stop:
            _module(name).main(argv)
        assert stop.value.code == 0
        assert "usage:" in capsys.readouterr().out


@pytest.mark.parametrize("name", CLIS)
def test_bad_arguments_are_a_usage_error_not_a_traceback(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    for sub, _parser in _commands(name):
        with pytest.raises(SystemExit) as stop:
            _module(name).main([sub, "--no-such-option"] if sub else ["--no-such-option"])
        assert stop.value.code == 2
        err = capsys.readouterr().err
        assert "usage:" in err and ("--no-such-option" in err or "required" in err), err


@pytest.fixture(scope="module")
def example_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli") / "store"
    shutil.copytree(REPO_ROOT / "examples" / "store", root)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "-c", "user.email=author@example.com", "-c", "user.name=Test Author", "commit", "-q", "-m", "store")
    return root


@pytest.mark.parametrize(("name", "args"), READ_ONLY_JSON, ids=[f"{n}-{a[0]}" for n, a in READ_ONLY_JSON])
def test_json_output_is_one_document(name: str, args: list[str], example_store: Path) -> None:
    env = {**os.environ, "CLAUDE_PROJECT_DIR": str(example_store)}
    result = subprocess.run([PYTHON, str(SCRIPTS / f"{name}.py"), *args], cwd=example_store, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode in (0, 1), result.stderr
    document = json.loads(result.stdout)
    assert isinstance(document, (dict, list))
    assert not (example_store / ".claude" / "settings.json").exists() or name != "install_hooks"


def test_scripts_run_from_anywhere_with_their_own_library() -> None:
    result = subprocess.run([sys.executable, str(SCRIPTS / "validate_frontmatter.py"), "--help"], cwd="/",
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "usage:" in result.stdout
