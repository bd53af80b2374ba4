"""/handoff's transcript, changelog and link steps under the real Claude Code CLI."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from lib.store import frontmatter

from . import standin as s
from .claude_cli import Claude, ProjectClone
from .standin import Request, StandIn

HELPER = "./scripts/py scripts/handoff_helpers.py"
WORKSTREAM = """\
---
title: Real client
owner: ada
summary: Exercising baton under the real CLI.
tags: [realclient]
kind: workstream
external_id: realclient
status: active
---
## Goal

## Session Log
"""


def _last_json(request: Request) -> dict[str, Any]:
    result = request.tool_results()[-1]
    assert result["is_error"] is False, result
    payload: dict[str, Any] = json.loads(s.flatten_text(result["content"]))
    return payload


def test_the_transcript_is_archived_redacted_and_the_vault_and_changelog_are_committed(
        claude: Claude, standin: StandIn, project_clone: ProjectClone) -> None:
    root = project_clone.path
    (root / ".venv").symlink_to(Path(sys.prefix))
    (root / "workstreams" / "realclient.md").write_text(WORKSTREAM)
    subprocess.run(["git", "add", "workstreams/realclient.md"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "A workstream to hand off into"], cwd=root, check=True)
    secret = "sk-" + "ant-api03-" + "Zq8Xw7Vu6Ts5Rq4Po3Nm2Lk1Ji0Hg9Fe8Dc7Ba6" + "-x"
    seen: dict[str, Any] = {}

    def write_note(request: Request) -> s.Reply:
        seen["id"] = _last_json(request)["id"]
        prompt = "  " + ("Continue from the real-client vault test. " * 12).strip()
        content = ("title: Real client vault\n"
                   "summary: |\n  Archived the transcript and linked the note.\n"
                   "outcome: done\nworkstream: realclient\nplan: null\ntags:\n  - realclient\n"
                   f"sections:\n  resume_prompt: |\n  {prompt}\n\n    Confidence: high\n")
        return s.bash(f"{HELPER} write-session --id {seen['id']} --json <<'EOF'\n{content}EOF")

    def step(command: str) -> Any:
        return lambda request: s.bash(f"{HELPER} {command.format(id=seen['id'])}")

    def archived(request: Request) -> s.Reply:
        seen["archive"] = _last_json(request)
        return s.bash(f"{HELPER} regen-index --id {seen['id']} --json")

    standin.add(
        s.bash(f"{HELPER} start --json --quick"),
        write_note,
        step("archive-transcript --id {id} --json"),
        archived,
        step("append-log --id {id} --line 'Archived and linked' --json"),
        step("changelog --id {id} --json"),
        step("link --id {id} --json"),
        step("stage --id {id} --json"),
        step("commit --id {id} --push --json"),
        s.text("Handoff done."),
    )

    run = claude.run(f"/handoff --quick my key is {secret}", cwd=root, env={"OPERATOR": "ada"})

    assert run.returncode == 0, run.describe()
    standin.assert_script_consumed()
    assert [r["is_error"] for r in run.tool_results()] == [False] * 9, run.tool_results()

    note_id = seen["id"]
    payload = seen["archive"]
    assert payload["status"] == "archived" and payload["source"].startswith(str(run.home))
    assert payload["redactions"].get("anthropic-key", 0) >= 1
    archive = root / ".claude" / "archive" / "transcripts" / f"{note_id}.jsonl.gz"
    text = gzip.decompress(archive.read_bytes())
    assert secret.encode() not in text and b"[REDACTED:anthropic-key]" in text
    for line in text.splitlines():
        json.loads(line)
    metadata, body = frontmatter.read(root / "docs" / "sessions" / f"{note_id}.md")
    assert metadata["transcript_sha256"] == hashlib.sha256(text).hexdigest()
    assert metadata["content_hash"] == frontmatter.content_hash(metadata, body)
    assert body.startswith("Workstream: [realclient](../../workstreams/realclient.md)\n\n")

    remote_log = subprocess.run(["git", "log", "-1", "--format=%s", "--name-only"], cwd=project_clone.remote,
                                capture_output=True, text=True, check=True).stdout.split("\n")
    committed = {line for line in remote_log[1:] if line}
    assert {f"docs/sessions/{note_id}.md", "workstreams/realclient.md", "CHANGELOG.md", "INDEX.md",
            "docs/maps/realclient.md"} <= committed
    assert not any(path.startswith(".claude/archive") for path in committed)
    log = (root / "workstreams" / "realclient.md").read_text()
    assert f"- [{note_id}](../docs/sessions/{note_id}.md) (" in log
