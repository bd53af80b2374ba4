"""The SessionStart hook: a bounded resume context, never a cold index build, never a failure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from lib.store.index import Index, index_path
from support.paths import SCRIPTS
from support.roster import AUTHOR_EMAIL, member, write_roster
from support.store import session, workstream_text, write

HOOK = SCRIPTS / "hooks" / "resume_context.py"
PAYLOAD = json.dumps({"session_id": "0b7c", "hook_event_name": "SessionStart", "source": "startup"})


def hook(root: Path, *, payload: str = PAYLOAD, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ, CLAUDE_PROJECT_DIR=str(root))
    full.update(env or {})
    return subprocess.run([sys.executable, "-I", str(HOOK)], input=payload, capture_output=True, text=True,
                          env=full, cwd=root, timeout=120)


def warm(root: Path) -> None:
    with Index(root) as index:
        index.refresh()


@pytest.fixture
def store(repo: Path) -> Path:
    session(repo, "RT-261119-01", "rt", "2026-11-19", title="Earlier")
    session(repo, "RT-261120-01", "rt", "2026-11-20", title="Index work", summary="Built the index.",
            resume_prompt="Start with the racy-clean test, then the benchmark.", outcome="incomplete")
    session(repo, "SK-261121-01", "sk", "2026-11-21", title="Peer session", resume_prompt="Peer's prompt.")
    write(repo, "workstreams/store.md", workstream_text("store", "rt"))
    return repo


def test_a_cold_index_gets_a_one_line_pointer_and_is_not_built(store: Path) -> None:
    result = hook(store, env={"OPERATOR": "rt"})
    assert result.returncode == 0
    assert result.stdout.strip().count("\n") == 0 and "/resume" in result.stdout
    assert not index_path(store).exists()


def test_a_warm_index_gives_the_operators_last_session_and_resume_prompt(store: Path) -> None:
    warm(store)
    result = hook(store, env={"OPERATOR": "rt"})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("baton resume context for rt")
    assert "Last session: RT-261120-01 (2026-11-20, incomplete, confidence medium): Index work" in out
    assert "Summary: Built the index." in out
    assert "Start with the racy-clean test, then the benchmark." in out
    assert "Your live workstreams: store (active" in out
    assert "Peer's prompt" not in out


def test_without_an_operator_the_team_latest_is_shown(store: Path) -> None:
    warm(store)
    out = hook(store).stdout
    assert "for the team" in out and "Last session by sk: SK-261121-01" in out


def test_changes_since_the_last_refresh_are_picked_up(store: Path) -> None:
    warm(store)
    session(store, "RT-261122-01", "rt", "2026-11-22", title="Newest", resume_prompt="The newest prompt.")
    out = hook(store, env={"OPERATOR": "rt"}).stdout
    assert "RT-261122-01" in out and "The newest prompt." in out


@pytest.mark.parametrize(("settings", "limit"), [("", 1500 * 4), ("session_start:\n  max_tokens: 100\n", 400)])
def test_output_stays_within_the_token_bound(store: Path, settings: str, limit: int) -> None:
    long_prompt = " ".join(["Carry on with the long plan step by step."] * 400)
    session(store, "RT-261122-01", "rt", "2026-11-22", summary="S " * 300, resume_prompt=long_prompt,
            open_questions="- " + "why? " * 500)
    write(store, ".claude/baton.yaml", settings)
    warm(store)
    result = hook(store, env={"OPERATOR": "rt"})
    assert result.returncode == 0
    assert 0 < len(result.stdout) <= limit + 1  # + the final newline
    assert "RT-261122-01" in result.stdout and "/resume" in result.stdout


def test_switched_off_in_baton_yaml_prints_nothing(store: Path) -> None:
    write(store, ".claude/baton.yaml", "session_start:\n  enabled: false\n")
    warm(store)
    result = hook(store, env={"OPERATOR": "rt"})
    assert result.returncode == 0 and result.stdout == ""


def test_a_bad_setting_is_logged_and_the_default_used(store: Path) -> None:
    write(store, ".claude/baton.yaml", "session_start:\n  max_tokens: lots\n")
    warm(store)
    result = hook(store, env={"OPERATOR": "rt"})
    assert result.returncode == 0 and "RT-261120-01" in result.stdout
    log = (store / ".claude/state/hook-errors.log").read_text()
    assert "resume_context" in log and "session_start.max_tokens" in log


def test_a_spent_time_budget_points_to_resume_and_keeps_the_index_usable(store: Path) -> None:
    warm(store)
    for i in range(2, 6):
        session(store, f"RT-261122-0{i}", "rt", "2026-11-22")
    write(store, ".claude/baton.yaml", "session_start:\n  time_budget_s: 0.000001\n")
    result = hook(store, env={"OPERATOR": "rt"})
    assert result.returncode == 0
    assert result.stdout.count("\n") == 1 and "/resume" in result.stdout
    with Index(store) as index:
        index.refresh()
        assert index.count("session") == 7


@pytest.mark.parametrize("payload", ["", "not json", "[1, 2]", "\x00\xff"])
def test_garbage_on_stdin_still_exits_zero(store: Path, payload: str) -> None:
    warm(store)
    result = hook(store, payload=payload, env={"OPERATOR": "rt"})
    assert result.returncode == 0 and "RT-261120-01" in result.stdout


def test_an_unusable_state_folder_still_exits_zero_with_the_pointer(repo: Path) -> None:
    state = repo / ".claude/state"
    state.rmdir()
    state.write_text("not a folder")
    result = hook(repo, env={"OPERATOR": "rt"})
    assert result.returncode == 0 and "/resume" in result.stdout


def test_the_hook_imports_no_heavy_libraries(store: Path) -> None:
    warm(store)
    probe = (
        "import runpy, sys\n"
        f"sys.argv = [{str(HOOK)!r}]\n"
        "try:\n"
        f"    runpy.run_path({str(HOOK)!r}, run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'jsonschema', 'ruamel', 'rich', 'git', 'filelock'})\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], input=PAYLOAD, capture_output=True, text=True,
                            env=dict(os.environ, CLAUDE_PROJECT_DIR=str(store), OPERATOR="rt"), timeout=120)
    assert result.returncode == 0, result.stderr
    assert "RT-261120-01" in result.stdout
    assert "HEAVY []" in result.stdout


def test_run_through_the_launcher_like_claude_code_does(store: Path) -> None:
    warm(store)
    launcher = SCRIPTS / "py"
    if not (SCRIPTS.parent / ".venv/bin/python").exists():
        pytest.skip("no .venv for scripts/py (run ./scripts/setup.sh)")
    result = subprocess.run([str(launcher), "-I", str(HOOK)], input=PAYLOAD, capture_output=True, text=True,
                            env=dict(os.environ, CLAUDE_PROJECT_DIR=str(store), OPERATOR="rt"), timeout=120)
    assert result.returncode == 0 and "RT-261120-01" in result.stdout


def test_the_operator_comes_from_operators_yaml_and_the_git_email(store: Path) -> None:
    write_roster(store, [member("rt", "RT", "Rosa Tamm", AUTHOR_EMAIL)])
    warm(store)
    first = hook(store)
    assert first.returncode == 0
    assert first.stdout.startswith("baton resume context for rt (Rosa Tamm)")
    assert "RT-261120-01" in first.stdout


def test_an_unknown_git_email_gives_the_team_view_without_logging(store: Path) -> None:
    write_roster(store, [member("sk", "SK", "Sami Kallio", "sami@example.org")])
    warm(store)
    result = hook(store)
    assert result.returncode == 0 and "for the team" in result.stdout
    assert not (store / ".claude/state/hook-errors.log").exists()
