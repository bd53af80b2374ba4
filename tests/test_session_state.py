"""The telemetry hook as Claude Code runs it: a fresh process per event, often many at once."""

from __future__ import annotations

import ast
import json
import os
import pwd
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
from support.git import git
from support.paths import PYTHON, SCRIPTS

HOOK = SCRIPTS / "hooks" / "session_state.py"
HOT_MODULES = [HOOK, *(SCRIPTS / "lib" / "telemetry" / f"{m}.py" for m in ("hook", "state", "files", "ids", "jsonc", "usage")),
               SCRIPTS / "lib" / "security" / "redact.py", SCRIPTS / "lib" / "security" / "rules.py"]
CAPTURED = Path(__file__).parent / "fixtures" / "claude_code"
FLAGS = ("-I", "-S")  # as registered in .claude/settings.json
S1 = "8f4f9bf2-05f2-48ab-bc5c-31723315db35"
S2 = "97966373-68e6-4d4b-8911-e017d918658c"
THIRD_PARTY = ("ruamel", "yaml", "jsonschema", "rich", "filelock", "git", "httpx", "frontmatter")


# The payload documented in Claude Code's hooks reference (shared/reference/claude-code.md).
DOCUMENTED_EXAMPLE = {
    "session_id": "abc123",
    "transcript_path": "/Users/me/.claude/projects/p/00893aaf-19fa-41d2-8238-13269b9b3ca0.jsonl",
    "cwd": "/Users/me/proj", "permission_mode": "default", "hook_event_name": "PostToolUse",
    "tool_name": "Write", "tool_input": {"file_path": "/path/to/file.txt", "content": "file content"},
    "tool_response": {"filePath": "/path/to/file.txt", "success": True}, "tool_use_id": "toolu_01ABC123",
}


def _env(root: Path | None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUDE_")}
    if root is not None:
        env["CLAUDE_PROJECT_DIR"] = str(root)
    env.update(extra or {})
    return env


def _stdin(payload: Mapping[str, Any] | bytes | str) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode()
    return json.dumps(payload).encode()


def run_hook(root: Path | None, payload: Mapping[str, Any] | bytes | str, *, cwd: Path | None = None,
             env: Mapping[str, str] | None = None, python: str = PYTHON) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([python, *FLAGS, str(HOOK)], input=_stdin(payload), cwd=cwd or root,
                          env=_env(root, env), capture_output=True, timeout=60)


def run_many(root: Path, payloads: Iterable[Mapping[str, Any]]) -> list[int]:
    """Start every hook process before waiting for any, as parallel tool calls do."""
    procs = []
    for payload in payloads:
        proc = subprocess.Popen([PYTHON, *FLAGS, str(HOOK)], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, cwd=root, env=_env(root))
        procs.append((proc, _stdin(payload)))
    for proc, data in procs:
        assert proc.stdin is not None
        proc.stdin.write(data)
        proc.stdin.close()
    return [proc.wait(timeout=120) for proc, _ in procs]


def state_dir(root: Path) -> Path:
    return root / ".claude" / "state"


def state(root: Path, sid: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((state_dir(root) / f"session-{sid}.json").read_text())
    return doc


def errors(root: Path) -> str:
    log = state_dir(root) / "hook-errors.log"
    return log.read_text() if log.exists() else ""


def tool(sid: str, name: str, n: int | str, event: str = "PostToolUse", **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"session_id": sid, "transcript_path": f"/t/{sid}.jsonl", "cwd": "/w",
                           "hook_event_name": event, "tool_name": name, "tool_input": {},
                           "tool_use_id": f"toolu_{sid[:4]}_{n}"}
    if event == "PostToolUse":
        doc["tool_response"] = {"stdout": "", "stderr": "", "interrupted": False}
    doc.update(extra)
    return doc


def captured(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (CAPTURED / name).read_text().splitlines() if line.strip()]


# --------------------------------------------------------------------------- payloads


def test_documented_post_tool_use_example_is_counted(repo: Path) -> None:
    result = run_hook(repo, DOCUMENTED_EXAMPLE)
    assert result.returncode == 0
    doc = state(repo, "abc123")
    assert doc["state_version"] == 1
    assert doc["tool_calls_count"] == 1
    assert doc["tool_calls_breakdown"] == {"Write": 1}
    assert doc["transcript_path"] == DOCUMENTED_EXAMPLE["transcript_path"]
    assert doc["cwd"] == "/Users/me/proj"
    for key in ("session_id", "started_at", "last_event_at", "tool_calls_breakdown_methods", "tool_failures_count",
                "failures_breakdown", "subagents_dispatched", "parallel_terminals_observed", "tokens", "cost_usd"):
        assert key in doc
    assert errors(repo) == ""


def test_payloads_captured_from_the_real_client_are_counted(repo: Path) -> None:
    for name in ("hook-start.jsonl", "hook-payloads.jsonl", "hook-fail.jsonl", "hook-end.jsonl"):
        for payload in captured(name):
            assert run_hook(repo, payload).returncode == 0
    first, second = state(repo, S1), state(repo, S2)
    assert first["tool_calls_count"] == 2
    assert first["tool_calls_breakdown"] == {"Bash": 2}
    assert first["tool_failures_count"] == 1
    assert first["session_starts"] == 1 and first["last_start_source"] == "startup"
    assert first["end_reason"] == "other" and first["ended_at"]
    assert second["tool_calls_count"] == 1
    assert second["tool_failures_count"] == 0
    has_classifier = (SCRIPTS / "lib" / "failures" / "classify.py").exists()
    assert sum(first["failures_breakdown"].values()) == (1 if has_classifier else 0)


def test_agent_and_task_calls_count_as_subagents(repo: Path) -> None:
    for n, name in enumerate(["Agent", "Task", "TaskCreate", "Read"]):
        run_hook(repo, tool(S1, name, n))
    doc = state(repo, S1)
    assert doc["subagents_dispatched"] == 2
    assert doc["tool_calls_count"] == 4


# --------------------------------------------------------------------------- concurrency


def test_fifty_concurrent_calls_of_one_session_are_all_counted(repo: Path) -> None:
    codes = run_many(repo, [tool(S1, "Bash", n) for n in range(50)])
    assert codes == [0] * 50
    assert state(repo, S1)["tool_calls_count"] == 50
    assert not list(state_dir(repo).glob("*.tmp"))
    assert errors(repo) == ""


def test_fifty_concurrent_mcp_calls_aggregate_under_their_server(repo: Path) -> None:
    methods = ["search", "get_page", "create_page", "update_page", "query_database"]
    codes = run_many(repo, [tool(S1, f"mcp__notion_offplan__{methods[n % 5]}", n) for n in range(50)])
    assert codes == [0] * 50
    doc = state(repo, S1)
    assert doc["tool_calls_breakdown"] == {"mcp__notion_offplan": 50}
    assert doc["tool_calls_breakdown_methods"]["mcp__notion_offplan"] == {m: 10 for m in methods}
    assert sum(doc["tool_calls_breakdown_methods"]["mcp__notion_offplan"].values()) == 50


def test_two_sessions_in_parallel_do_not_touch_each_other(repo: Path) -> None:
    payloads = []
    for n in range(25):
        payloads.append(tool(S1, "Read", n))
        payloads.append(tool(S2, "mcp__memory__create_entities", n))
    assert run_many(repo, payloads) == [0] * 50
    one, two = state(repo, S1), state(repo, S2)
    assert one["tool_calls_breakdown"] == {"Read": 25}
    assert two["tool_calls_breakdown"] == {"mcp__memory": 25}
    assert one["tool_calls_breakdown_methods"] == {}


def test_a_tool_call_delivered_twice_at_once_is_counted_once(repo: Path) -> None:
    # Plugin hooks and project hooks both registered: the same call reaches the hook twice.
    payload = tool(S1, "Edit", "dup")
    assert run_many(repo, [payload, payload]) == [0, 0]
    doc = state(repo, S1)
    assert doc["tool_calls_count"] == 1
    assert doc["duplicate_events_ignored"] == 1


# --------------------------------------------------------------------------- never blocks


@pytest.mark.parametrize(("stdin", "message"), [
    (b"", "empty stdin"),
    (b"   \n", "empty stdin"),
    (b"{not json at all", "stdin is not JSON"),
    (b"\xff\xfe\x00garbage", "stdin is not JSON"),
    (b"[1, 2, 3]", "not a JSON object"),
])
def test_garbage_or_empty_stdin_exits_zero_and_is_logged(repo: Path, stdin: bytes, message: str) -> None:
    result = run_hook(repo, stdin)
    assert result.returncode == 0
    assert message in errors(repo)
    assert not list(state_dir(repo).glob("session-*.json"))


def test_poisoned_state_is_kept_aside_and_counting_restarts(repo: Path) -> None:
    path = state_dir(repo) / f"session-{S1}.json"
    path.write_text('{"tool_calls_count": 41, "trunc')
    result = run_hook(repo, tool(S1, "Read", 1))
    assert result.returncode == 0
    aside = list(state_dir(repo).glob(f"session-{S1}.json.corrupt-*"))
    assert len(aside) == 1
    assert aside[0].read_text() == '{"tool_calls_count": 41, "trunc'
    assert state(repo, S1)["tool_calls_count"] == 1
    assert "not valid JSON" in errors(repo)


def test_a_state_with_wrong_types_is_repaired_not_wedged(repo: Path) -> None:
    path = state_dir(repo) / f"session-{S1}.json"
    path.write_text(json.dumps({"state_version": 1, "tool_calls_count": "many", "tool_calls_breakdown": [],
                                "recent_tool_use_ids": None, "tool_calls_breakdown_methods": {"mcp__x": 3}}))
    assert run_hook(repo, tool(S1, "mcp__x__y", 1)).returncode == 0
    doc = state(repo, S1)
    assert doc["tool_calls_count"] == 1
    assert doc["tool_calls_breakdown_methods"] == {"mcp__x": {"y": 1}}


def test_unwritable_state_folder_exits_zero_and_reports_on_stderr(repo: Path) -> None:
    # Tests run as root, where chmod stops nothing: a file where the folder should be does.
    shutil.rmtree(state_dir(repo))
    state_dir(repo).write_text("not a folder")
    result = run_hook(repo, tool(S1, "Read", 1))
    assert result.returncode == 0
    assert b"baton telemetry hook" in result.stderr
    assert b"NotADirectoryError" in result.stderr
    assert state_dir(repo).read_text() == "not a folder"


def test_unwritable_state_file_exits_zero_and_logs(repo: Path) -> None:
    (state_dir(repo) / f"session-{S1}.json").mkdir()
    result = run_hook(repo, tool(S1, "Read", 1))
    assert result.returncode == 0
    assert f"session={S1}" in errors(repo)
    assert not list(state_dir(repo).glob("*.tmp"))


def test_missing_state_folder_is_created(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    root.mkdir()
    assert run_hook(root, tool(S1, "Read", 1)).returncode == 0
    assert state(root, S1)["tool_calls_count"] == 1


def test_a_broken_library_still_exits_zero(tmp_path: Path) -> None:
    copy = tmp_path / "scripts"
    (copy / "hooks").mkdir(parents=True)
    (copy / "lib" / "telemetry").mkdir(parents=True)
    shutil.copy(HOOK, copy / "hooks" / HOOK.name)
    (copy / "lib" / "__init__.py").write_text("")
    (copy / "lib" / "telemetry" / "__init__.py").write_text("")
    (copy / "lib" / "telemetry" / "hook.py").write_text("def broken(:\n")
    result = subprocess.run([PYTHON, *FLAGS, str(copy / "hooks" / HOOK.name)], input=b"{}",
                            capture_output=True, env=_env(tmp_path), timeout=60)
    assert result.returncode == 0
    assert b"SyntaxError" in result.stderr


def test_error_log_is_capped(repo: Path) -> None:
    log = state_dir(repo) / "hook-errors.log"
    log.write_text("x" * (300 * 1024))
    run_hook(repo, b"garbage")
    assert (state_dir(repo) / "hook-errors.log.1").stat().st_size == 300 * 1024
    assert log.stat().st_size < 1024
    assert "stdin is not JSON" in log.read_text()


# --------------------------------------------------------------------------- session id and root


def test_session_id_falls_back_to_the_environment_then_the_parent_pid(repo: Path) -> None:
    payload = tool(S1, "Read", 1)
    del payload["session_id"]
    run_hook(repo, payload, env={"CLAUDE_CODE_SESSION_ID": "from-env-1"})
    assert state(repo, "from-env-1")["tool_calls_count"] == 1
    run_hook(repo, payload)
    assert state(repo, f"ppid-{os.getpid()}")["tool_calls_count"] == 1
    assert "no session id" in errors(repo)


def test_an_unsafe_session_id_never_reaches_a_path(repo: Path) -> None:
    payload = tool("../../escape", "Read", 1)
    assert run_hook(repo, payload, env={"CLAUDE_CODE_SESSION_ID": "safe-2"}).returncode == 0
    assert state(repo, "safe-2")["tool_calls_count"] == 1
    assert not (repo / "escape.json").exists()
    assert not list(repo.parent.glob("*escape*"))
    assert "unsafe session id" in errors(repo)


def test_root_is_the_payload_cwd_without_project_dir(repo: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    payload = tool(S1, "Read", 1, cwd=str(repo))
    assert run_hook(None, payload, cwd=elsewhere).returncode == 0
    assert state(repo, S1)["tool_calls_count"] == 1
    del payload["cwd"]
    payload["tool_use_id"] = "toolu_other"
    assert run_hook(None, payload, cwd=elsewhere).returncode == 0
    assert state(elsewhere, S1)["tool_calls_count"] == 1


# --------------------------------------------------------------------------- folder scan


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_orphaned_temp_files_older_than_an_hour_are_swept(repo: Path) -> None:
    folder = state_dir(repo)
    old = folder / f"session-{S2}.json.4242.1700000000000000000.tmp"
    fresh = folder / f"session-{S2}.json.4343.1800000000000000000.tmp"
    foreign = folder / "unrelated.tmp"
    for path in (old, fresh, foreign):
        path.write_text("{")
        _age(path, 7200)
    _age(fresh, 60)
    assert run_hook(repo, {"session_id": S1, "hook_event_name": "SessionStart", "source": "startup"}).returncode == 0
    assert not old.exists()
    assert fresh.exists()
    assert foreign.exists()
    assert "orphaned temp" in errors(repo)


def test_the_folder_scan_is_skipped_on_the_common_path(repo: Path) -> None:
    folder = state_dir(repo)
    assert run_hook(repo, tool(S1, "Read", 1)).returncode == 0  # first call of a session scans
    orphan = folder / f"session-{S2}.json.1.2.tmp"
    orphan.write_text("{")
    _age(orphan, 7200)
    assert run_hook(repo, tool(S1, "Read", 2)).returncode == 0  # within SCAN_INTERVAL_S: no listing
    assert orphan.exists()
    assert run_hook(repo, {"session_id": S1, "hook_event_name": "SessionEnd", "reason": "other"}).returncode == 0
    assert not orphan.exists()


def test_parallel_terminals_count_other_sessions_active_within_the_hour(repo: Path) -> None:
    folder = state_dir(repo)
    for n in range(5):
        path = folder / f"session-other-{n}.json"
        path.write_text("{}")
        if n >= 3:
            _age(path, 7200)
    for name in ("session-other-0.usage.json", "session-x.json.corrupt-1", "session-other-0.lock", "other.json"):
        (folder / name).write_text("{}")
    assert run_hook(repo, tool(S1, "Read", 1)).returncode == 0
    assert state(repo, S1)["parallel_terminals_observed"] == 3
    for n in range(3):
        _age(folder / f"session-other-{n}.json", 7200)
    assert run_hook(repo, {"session_id": S1, "hook_event_name": "SessionStart", "source": "resume"}).returncode == 0
    assert state(repo, S1)["parallel_terminals_observed"] == 3  # the largest seen is kept


# --------------------------------------------------------------------------- failures


def test_failed_tool_calls_are_counted_even_without_a_classifier(repo: Path) -> None:
    pytest_failure = ("Exit code 1\nFAILED tests/test_math.py::test_add - assert 3 == 4\n"
                      "========================= 1 failed in 0.02s =========================")
    run_hook(repo, tool(S1, "Bash", 1, "PostToolUseFailure", error=pytest_failure, is_interrupt=False))
    run_hook(repo, tool(S1, "Bash", 2, tool_response={"stdout": "", "stderr": "fatal: not a git repository"}))
    run_hook(repo, tool(S1, "Bash", 3, tool_response={"stdout": "", "stderr": "Cloning into 'x'...\n"}))
    run_hook(repo, tool(S1, "Bash", 4, "PostToolUseFailure", error="", is_interrupt=True))
    doc = state(repo, S1)
    assert doc["tool_calls_count"] == 4
    assert doc["tool_failures_count"] == 2
    assert doc["tool_interrupts_count"] == 1
    # a failed call only records its output; classification waits for SessionEnd (or a reader)
    assert doc["failures_breakdown"] == {}
    pending = (repo / ".claude/state" / f"session-{S1}.failures.jsonl").read_text().splitlines()
    assert [json.loads(line)["text"] for line in pending] == [pytest_failure, "fatal: not a git repository"]
    run_hook(repo, {"session_id": S1, "hook_event_name": "SessionEnd", "reason": "other"})
    doc = state(repo, S1)
    has_classifier = (SCRIPTS / "lib" / "failures" / "classify.py").exists()
    assert sum(doc["failures_breakdown"].values()) == (2 if has_classifier else 0)
    if has_classifier:
        assert doc["failures_breakdown"] == {"test_fail": 1, "orchestration_error": 1}
    run_hook(repo, {"session_id": S1, "hook_event_name": "SessionEnd", "reason": "other"})
    assert state(repo, S1)["failures_breakdown"] == doc["failures_breakdown"]  # never counted twice


def _scripts_with_classifier(tmp_path: Path, body: str) -> Path:
    """A copy of the hook and its stdlib modules next to a stand-in lib/failures/classify.py."""
    copy = tmp_path / "scripts"
    (copy / "hooks").mkdir(parents=True)
    shutil.copy(HOOK, copy / "hooks" / HOOK.name)
    for name in ("__init__.py", "telemetry/__init__.py", "telemetry/hook.py", "telemetry/state.py", "telemetry/files.py",
                 "telemetry/ids.py", "telemetry/jsonc.py", "telemetry/usage.py",
                 "telemetry/pricing.json", "failures/__init__.py",
                 "security/__init__.py", "security/redact.py", "security/rules.py"):
        (copy / "lib" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SCRIPTS / "lib" / name, copy / "lib" / name)
    (copy / "lib" / "failures" / "classify.py").write_text(body)
    return copy / "hooks" / HOOK.name


@pytest.mark.parametrize(("body", "expected", "logged"), [
    ("class R:\n    failure_class = 'test_fail'\n\n"
     "def classify(text, *, tool=None, exit_code=None):\n"
     "    assert tool == 'Bash' and exit_code == 1 and 'assert' in text\n    return R()\n", {"test_fail": 1}, ""),
    ("def classify(text, *, tool=None, exit_code=None):\n    raise RuntimeError('classifier bug')\n", {},
     "classifier bug"),
    ("import not_a_module_anywhere\n", {}, "not_a_module_anywhere"),
    ("def classify(:\n", {}, "SyntaxError"),
], ids=["classified", "classifier-raises", "classifier-import-fails", "classifier-broken"])
def test_the_classifier_is_called_lazily_and_its_failures_never_lose_a_count(
        repo: Path, tmp_path: Path, body: str, expected: dict[str, int], logged: str) -> None:
    hook = _scripts_with_classifier(tmp_path, body)
    payload = tool(S1, "Bash", 1, "PostToolUseFailure", error="Exit code 1\nE   assert 3 == 4")
    end = {"session_id": S1, "hook_event_name": "SessionEnd", "reason": "other"}
    for event in (payload, end):
        result = subprocess.run([PYTHON, *FLAGS, str(hook)], input=_stdin(event), env=_env(repo),
                                capture_output=True, timeout=60)
        assert result.returncode == 0
    doc = state(repo, S1)
    assert doc["tool_failures_count"] == 1
    assert doc["failures_breakdown"] == expected
    assert logged in errors(repo)
    if not logged:  # nothing logged but the fixture's made-up transcript path, read at SessionEnd
        assert [line for line in errors(repo).splitlines() if "transcript not found" not in line] == []


# --------------------------------------------------------------------------- cost at SessionEnd


def test_session_end_records_tokens_and_cost_from_the_transcript(repo: Path, tmp_path: Path) -> None:
    transcript = tmp_path / "projects" / f"{S2}.jsonl"
    transcript.parent.mkdir()
    shutil.copy(CAPTURED / "transcript-two-blocks.jsonl", transcript)
    run_hook(repo, {"session_id": S2, "transcript_path": str(transcript), "cwd": str(repo),
                    "hook_event_name": "SessionStart", "source": "startup"})
    run_hook(repo, {"session_id": S2, "transcript_path": str(transcript), "cwd": str(repo),
                    "hook_event_name": "SessionEnd", "reason": "other"})
    doc = state(repo, S2)
    assert doc["tokens"] == {"input": 2400, "output": 84, "cache_creation": 0, "cache_read": 0}
    assert doc["cost_usd"] == pytest.approx(0.00846)
    assert doc["usage_complete"] is True
    assert (state_dir(repo) / f"session-{S2}.usage.json").exists()


# --------------------------------------------------------------------------- start-up contract

_DRIVER = """
import sys
before = set(sys.modules)
sys.argv = [{hook!r}]
sys.stdin = open({payload!r})
code = compile(open({hook!r}).read(), {hook!r}, "exec")
try:
    exec(code, {{"__name__": "__main__", "__file__": {hook!r}}})
except SystemExit as exc:
    assert exc.code == 0, exc.code
sys.stderr.write("MODULES " + " ".join(sorted(set(sys.modules) - before)) + "\\n")
"""


def _imported_by_hook(root: Path, tmp_path: Path, payload: Mapping[str, Any], flags: tuple[str, ...]) -> set[str]:
    data = tmp_path / f"payload-{len(list(tmp_path.iterdir()))}.json"
    data.write_text(json.dumps(payload))
    driver = _DRIVER.format(hook=str(HOOK), payload=str(data))
    result = subprocess.run([PYTHON, *flags, "-c", driver], env=_env(root), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    line = [ln for ln in result.stderr.splitlines() if ln.startswith("MODULES ")][-1]
    return set(line.split()[1:])


@pytest.mark.parametrize("flags", [FLAGS, ()], ids=["registered-flags", "plain-python"])
def test_the_hook_imports_nothing_outside_the_standard_library(
        repo: Path, tmp_path: Path, flags: tuple[str, ...]) -> None:
    transcript = tmp_path / f"{S1}.jsonl"
    transcript.write_text("")
    ours = {"lib", "lib.telemetry", "lib.telemetry.hook", "lib.telemetry.state", "lib.telemetry.files",
            "lib.telemetry.ids", "lib.telemetry.jsonc", "lib.telemetry.usage", "lib.failures", "lib.failures.classify",
            "lib.security", "lib.security.redact", "lib.security.rules"}
    seen: set[str] = set()
    for payload in (
        {"session_id": S1, "hook_event_name": "SessionStart", "source": "startup", "transcript_path": str(transcript)},
        tool(S1, "Bash", 1),
        tool(S1, "Bash", 2, "PostToolUseFailure", error="Exit code 1\nTraceback"),
        {"session_id": S1, "hook_event_name": "SessionEnd", "reason": "other", "transcript_path": str(transcript)},
    ):
        seen |= _imported_by_hook(repo, tmp_path, payload, flags)
    foreign = {m for m in seen if m.split(".")[0] not in sys.stdlib_module_names and m not in ours}
    assert foreign == set()
    assert not {m for m in seen if m.split(".")[0] in THIRD_PARTY}
    assert state(repo, S1)["tool_calls_count"] == 2


def test_the_success_path_compiles_no_regex_and_skips_heavy_modules(repo: Path, tmp_path: Path) -> None:
    run_hook(repo, tool(S1, "Read", 0))  # the session exists, as on every call but the first
    seen = _imported_by_hook(repo, tmp_path, tool(S1, "Bash", 1), FLAGS)
    assert not seen & {"re", "json", "typing", "datetime", "os", "enum", "lib.telemetry.usage", "lib.failures.classify"}
    assert state(repo, S1)["tool_calls_count"] == 2


@pytest.mark.parametrize("path", HOT_MODULES, ids=lambda p: p.name)
def test_hook_code_is_python_3_8_grammar(path: Path) -> None:
    ast.parse(path.read_text(), filename=str(path), feature_version=(3, 8))


def _python38() -> str | None:
    candidates = [shutil.which("python3.8") or ""]
    home = pwd.getpwuid(os.getuid()).pw_dir  # HOME is redirected in tests; pyenv lives in the real one
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path(home) / ".pyenv") / "versions"
    if pyenv.is_dir():
        candidates += [str(p) for p in sorted(pyenv.glob("3.8*/bin/python3.8"))]
    for cand in candidates:
        if not cand:
            continue
        try:
            out = subprocess.run([cand, "-c", "import sys; print(sys.version_info[:2] == (3, 8))"],
                                 capture_output=True, text=True, timeout=30)
        except OSError:
            continue
        if out.returncode == 0 and out.stdout.strip() == "True":
            return cand
    return None


def test_the_hook_runs_on_a_real_python_3_8(repo: Path, tmp_path: Path) -> None:
    python = _python38()
    if python is None:
        pytest.skip("no Python 3.8 interpreter on this machine")
    transcript = tmp_path / f"{S2}.jsonl"
    shutil.copy(CAPTURED / "transcript-two-blocks.jsonl", transcript)
    for payload in captured("hook-payloads.jsonl") + captured("hook-fail.jsonl"):
        assert run_hook(repo, payload, python=python).returncode == 0
    codes = run_hook(repo, {"session_id": S2, "transcript_path": str(transcript), "hook_event_name": "SessionEnd",
                            "reason": "other"}, python=python)
    assert codes.returncode == 0
    assert run_hook(repo, b"garbage", python=python).returncode == 0
    assert state(repo, S1)["tool_calls_count"] == 2
    assert state(repo, S2)["tokens"]["input"] == 2400
    assert "stdin is not JSON" in errors(repo)


# ------------------------------------------------------------------ symlinks in the state folder

VICTIM_TEXT = "someone else's file: must never change\n"


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "outside" / "victim.txt"
    victim.parent.mkdir(parents=True, exist_ok=True)
    victim.write_text(VICTIM_TEXT)
    return victim


def _outside_untouched(victim: Path) -> None:
    assert victim.read_text() == VICTIM_TEXT
    assert sorted(p.name for p in victim.parent.iterdir()) == ["victim.txt"]


FAILED_BASH = {"error": "Exit code 1\nE   assert 3 == 4", "is_interrupt": False}


@pytest.mark.parametrize("name", [
    "hook-errors.log", f"session-{S1}.failures.jsonl", f"session-{S1}.json", f"session-{S1}.lock",
])
def test_a_symlinked_file_in_the_state_folder_is_refused_not_followed(repo: Path, tmp_path: Path, name: str) -> None:
    victim = _victim(tmp_path)
    link = state_dir(repo) / name
    link.symlink_to(victim)
    results = [run_hook(repo, tool(S1, "Bash", 1, "PostToolUseFailure", **FAILED_BASH)),
               run_hook(repo, b"not json at all")]
    assert [r.returncode for r in results] == [0, 0]
    _outside_untouched(victim)
    assert link.is_symlink()
    said = b"".join(r.stderr for r in results).decode()
    assert f"{link} is a symlink" in said


def test_a_symlinked_failures_file_skips_the_event_and_counts_later_ones(repo: Path, tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    link = state_dir(repo) / f"session-{S1}.failures.jsonl"
    link.symlink_to(victim)
    refused = run_hook(repo, tool(S1, "Bash", 1, "PostToolUseFailure", **FAILED_BASH))
    assert b"event skipped" in refused.stderr
    assert "refused" in errors(repo)  # the log itself is safe, so it records the refusal too
    link.unlink()
    assert run_hook(repo, tool(S1, "Bash", 2, "PostToolUseFailure", **FAILED_BASH)).returncode == 0
    assert state(repo, S1)["tool_failures_count"] == 1
    _outside_untouched(victim)


@pytest.mark.parametrize("linked", [".claude/state", ".claude"])
def test_a_symlinked_state_folder_is_refused_and_nothing_is_created_outside(
        tmp_path: Path, linked: str) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    outside = tmp_path / "outside"
    (outside / "state").mkdir(parents=True)
    (root / linked).parent.mkdir(parents=True, exist_ok=True)
    (root / linked).symlink_to(outside / "state" if linked.endswith("state") else outside)
    before = sorted(p.relative_to(outside).as_posix() for p in outside.rglob("*"))
    for payload in (tool(S1, "Read", 1), tool(S1, "Bash", 2, "PostToolUseFailure", **FAILED_BASH), b"garbage",
                    {"session_id": S1, "hook_event_name": "SessionEnd", "reason": "other"}):
        result = run_hook(root, payload)
        assert result.returncode == 0
        assert b"is a symlink" in result.stderr
    assert sorted(p.relative_to(outside).as_posix() for p in outside.rglob("*")) == before


def test_symlinks_committed_to_the_repository_and_cloned_are_never_followed(tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    origin = tmp_path / "origin"
    (origin / ".claude" / "state").mkdir(parents=True)
    (origin / "elsewhere").mkdir()
    (origin / "elsewhere" / "README").write_text("a tracked folder of the repository\n")
    git(origin, "init", "-q")
    # One clone gets a symlinked state folder, the other symlinked files inside a real one.
    (origin / ".claude" / "state" / "hook-errors.log").symlink_to(victim)
    (origin / ".claude" / "state" / f"session-{S1}.failures.jsonl").symlink_to("../../../outside/victim.txt")
    (origin / ".claude" / "state" / f"session-{S1}.lock").symlink_to(victim)
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "state files")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    assert (clone / ".claude" / "state" / "hook-errors.log").is_symlink()
    for payload in (b"garbage", tool(S1, "Bash", 1, "PostToolUseFailure", **FAILED_BASH), tool(S1, "Read", 2)):
        result = run_hook(clone, payload)
        assert result.returncode == 0
        assert b"is a symlink" in result.stderr
    _outside_untouched(victim)

    git(origin, "rm", "-q", "-r", ".claude/state")
    (origin / ".claude").mkdir(exist_ok=True)
    (origin / ".claude" / "state").symlink_to("../elsewhere")
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "state folder")
    clone2 = tmp_path / "clone2"
    git(tmp_path, "clone", "-q", str(origin), str(clone2))
    assert (clone2 / ".claude" / "state").is_symlink()
    result = run_hook(clone2, tool(S1, "Read", 1))
    assert result.returncode == 0 and b"is a symlink" in result.stderr
    assert [p.name for p in (clone2 / "elsewhere").iterdir()] == ["README"]
    _outside_untouched(victim)


def test_readers_of_the_state_do_not_follow_symlinks(repo: Path, tmp_path: Path) -> None:
    from lib.telemetry import state as hookstate

    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps({"session_id": S1, "tool_calls_count": 99}))
    (state_dir(repo) / f"session-{S1}.json").symlink_to(outside)
    assert hookstate.read_state(str(state_dir(repo)), S1) is None
    (state_dir(repo) / f"session-{S1}.json").unlink()
    assert run_hook(repo, tool(S1, "Read", 1)).returncode == 0
    assert hookstate.read_state(str(state_dir(repo)), S1) is not None
    moved = tmp_path / "real-state"
    state_dir(repo).rename(moved)
    state_dir(repo).symlink_to(moved)
    assert hookstate.read_state(str(state_dir(repo)), S1) is None
