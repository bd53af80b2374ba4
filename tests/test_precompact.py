"""The PreCompact hook answers with a systemMessage suggesting /handoff, and never fails."""

from __future__ import annotations

import ast
import json
import subprocess

import pytest
from support.paths import PYTHON, SCRIPTS

HOOK = SCRIPTS / "hooks" / "precompact.py"


def run(stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([PYTHON, "-I", "-S", str(HOOK)], input=stdin, capture_output=True, timeout=30)


@pytest.mark.parametrize(("trigger", "how"), [("auto", "the context window is full"), ("manual", "/compact")])
def test_the_answer_is_a_system_message_that_suggests_a_handoff(trigger: str, how: str) -> None:
    payload = {"session_id": "abc", "transcript_path": "/tmp/t.jsonl", "cwd": "/tmp", "hook_event_name": "PreCompact",
               "trigger": trigger, "custom_instructions": ""}
    result = run(json.dumps(payload).encode())
    assert result.returncode == 0 and result.stderr == b""
    answer = json.loads(result.stdout)
    assert list(answer) == ["systemMessage"]
    assert "/handoff" in answer["systemMessage"] and how in answer["systemMessage"]


@pytest.mark.parametrize("stdin", [b"", b"not json", b"[1, 2]", b"\xff\xfe"])
def test_garbage_input_still_gets_the_message_and_exit_0(stdin: bytes) -> None:
    result = run(stdin)
    assert result.returncode == 0
    assert "/handoff" in json.loads(result.stdout)["systemMessage"]


def test_the_hook_is_python_3_8_and_standard_library_only() -> None:
    tree = ast.parse(HOOK.read_text(), feature_version=(3, 8))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= {"__future__", "json", "sys"}
