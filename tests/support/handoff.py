"""Set-up shared by the handoff tests: a store with operators, the real telemetry hook, the helper CLI."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

from support.git import add_bare_remote, git
from support.paths import PYTHON, SCRIPTS, run_script
from support.roster import RITA, SAM, roster_yaml

HOOK = SCRIPTS / "hooks" / "session_state.py"
CLAUDE_ID = "0b9d7c1e-1111-4a2b-9c3d-5e6f7a8b9c0d"

OPERATORS = roster_yaml([RITA, SAM])

WORKSTREAM = """\
---
title: Sign-in
owner: rita
summary: Users sign in with their work account.
tags: [auth]
kind: workstream
external_id: auth  # the file's slug
status: active
---
## Goal

Sign-in works.

## Session Log

- RT-250101-01 (2025-01-01): Started the work.
"""


def make_store(root: Path) -> Path:
    """Operators, one workstream, state ignored, one commit."""
    (root / ".claude").mkdir(exist_ok=True)
    (root / ".claude" / "operators.yaml").write_text(OPERATORS)
    (root / "workstreams" / "auth.md").write_text(WORKSTREAM)
    (root / ".gitignore").write_text(".claude/state/*\n")
    git(root, "add", "-A")
    commit_at(root, "init", "2024-01-01T00:00:00Z")
    return root


def commit_at(root: Path, message: str, when: str) -> None:
    """A commit made at `when` (before the session under test started)."""
    env = {**os.environ, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    subprocess.run(["git", "-c", "commit.gpgsign=false", "commit", "-q", "-m", message], cwd=root, env=env,
                   check=True, capture_output=True)


def add_remote(root: Path, bare: Path) -> Path:
    return add_bare_remote(root, bare)


@contextmanager
def _inside(root: Path, env: Mapping[str, str], stdin: str) -> Iterator[None]:
    saved_env = {key: os.environ.get(key) for key in env}
    saved_cwd, saved_stdin = os.getcwd(), sys.stdin
    os.environ.update(env)
    os.chdir(root)
    sys.stdin = io.StringIO(stdin)
    try:
        yield
    finally:
        sys.stdin = saved_stdin
        os.chdir(saved_cwd)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _in_process(root: Path, args: tuple[str, ...], env: Mapping[str, str],
                input: str | None) -> subprocess.CompletedProcess[str]:
    """handoff_helpers.main() in this process: the same code path without interpreter start-up."""
    import handoff_helpers

    out, err = io.StringIO(), io.StringIO()
    with _inside(root, env, input or ""), redirect_stdout(out), redirect_stderr(err):
        try:
            code = handoff_helpers.main(list(args))
        except SystemExit as exc:  # argparse
            code = int(exc.code or 0)
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


def helper(root: Path, *args: str, input: str | None = None, env: Mapping[str, str] | None = None,
           ok: bool | None = True, process: bool = False) -> subprocess.CompletedProcess[str]:
    """Run handoff_helpers.py (in this process, or as its own with `process`); `ok=True` asserts exit 0,
    `ok=False` asserts a failure, None checks nothing."""
    full_env = {"OPERATOR": "rita", "CLAUDE_CODE_SESSION_ID": CLAUDE_ID}
    full_env.update(env or {})
    if process:
        result = run_script("handoff_helpers.py", *args, cwd=root, env=full_env, input=input)
    else:
        result = _in_process(root, args, full_env, input)
    if ok is True:
        assert result.returncode == 0, f"{args[0]} failed ({result.returncode}): {result.stderr}"
    elif ok is False:
        assert result.returncode != 0, f"{args[0]} should have failed: {result.stdout}"
    return result


def helper_json(root: Path, *args: str, **kwargs: Any) -> dict[str, Any]:
    result = helper(root, *args, "--json", **kwargs)
    payload: dict[str, Any] = json.loads(result.stdout)
    return payload


def hook(root: Path, payload: Mapping[str, Any], claude_id: str = CLAUDE_ID) -> None:
    """Feed one event to the real telemetry hook, as Claude Code does."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUDE_")}
    env["CLAUDE_PROJECT_DIR"] = str(root)
    event = {"session_id": claude_id, "cwd": str(root), "hook_event_name": "PostToolUse", **payload}
    result = subprocess.run([PYTHON, "-I", "-S", str(HOOK)], input=json.dumps(event).encode(), env=env,
                            cwd=root, capture_output=True, timeout=60)
    assert result.returncode == 0


def tool_calls(root: Path, tool: str, count: int, claude_id: str = CLAUDE_ID, start: int = 0) -> None:
    for i in range(start, start + count):
        hook(root, {"tool_name": tool, "tool_input": {}, "tool_response": {"stdout": "ok", "stderr": ""},
                    "tool_use_id": f"toolu_{tool}_{i}"}, claude_id)


def session_start(root: Path, claude_id: str = CLAUDE_ID) -> None:
    hook(root, {"hook_event_name": "SessionStart", "source": "startup"}, claude_id)


def write_state(root: Path, claude_id: str = CLAUDE_ID, **values: Any) -> None:
    """A telemetry state in the documented shape (docs/conventions/telemetry-state.md)."""
    state = {"state_version": 1, "session_id": claude_id, "started_at": "2020-01-01T00:00:00Z",
             "tool_calls_count": 0, "tool_calls_breakdown": {}, **values}
    folder = root / ".claude" / "state"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"session-{claude_id}.json").write_text(json.dumps(state))


def prompt(words: int = 90, confidence: str | None = "medium") -> str:
    text = " ".join(f"word{i}" for i in range(words))
    return f"{text}\n\nConfidence: {confidence}" if confidence else text


def content(**over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title": "Sign-in with the work account",
        "summary": "Users can now sign in with their work account; logout is next.",
        "outcome": "incomplete",
        "workstream": "auth",
        "tags": ["auth"],
        "sections": {
            "what_was_done": "- Added the sign-in form",
            "decisions": "- Tokens live in the session cookie: simpler than local storage",
            "open_questions": "- Who owns the identity provider account?",
            "next_steps": "- Build logout",
            "resume_prompt": prompt(),
        },
    }
    data.update(over)
    return data


def short_content(**over: Any) -> dict[str, Any]:
    data = content(**over)
    data["sections"] = {"resume_prompt": prompt()}
    return data


def start(root: Path, *extra: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    return helper_json(root, "start", *extra, env=env)


def write(root: Path, session_id: str, data: Mapping[str, Any], *extra: str,
          env: Mapping[str, str] | None = None, ok: bool | None = True) -> subprocess.CompletedProcess[str]:
    return helper(root, "write-session", "--id", session_id, *extra, input=json.dumps(data), env=env, ok=ok)


def commit_files(root: Path, rev: str = "HEAD") -> list[str]:
    out = git(root, "show", "--name-only", "--format=", rev)
    return sorted(line for line in out.splitlines() if line)


def handoff(root: Path, data: Mapping[str, Any] | None = None, *, push: bool = False,
            env: Mapping[str, str] | None = None) -> tuple[str, subprocess.CompletedProcess[str]]:
    """A whole handoff through the helpers: start, write, log, indexes, stage, then commit [--push] as a
    process of its own."""
    started = start(root, env=env)
    session_id = started["id"]
    write(root, session_id, data or content(), env=env)
    helper(root, "append-log", "--id", session_id, "--line", "Did the work", env=env)
    helper(root, "regen-index", "--id", session_id, env=env)
    helper(root, "stage", "--id", session_id, env=env)
    args = ["commit", "--id", session_id, "--json"] + (["--push"] if push else [])
    return session_id, helper(root, *args, env=env, ok=None, process=True)


__all__ = ["PYTHON", "SCRIPTS", "git"]
