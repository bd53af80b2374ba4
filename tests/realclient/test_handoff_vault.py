"""/handoff's transcript, changelog and link steps, run by its one `finish` call under the real Claude Code CLI."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from lib.store import frontmatter

from .claude_cli import Claude, ProjectClone
from .handoff_flow import closing, finish_call, quick_content
from .standin import StandIn

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


def test_the_transcript_is_archived_redacted_and_the_vault_and_changelog_are_committed(
        claude: Claude, standin: StandIn, project_clone: ProjectClone) -> None:
    root = project_clone.path
    (root / ".venv").symlink_to(Path(sys.prefix))
    (root / "workstreams" / "realclient.md").write_text(WORKSTREAM)
    subprocess.run(["git", "add", "workstreams/realclient.md"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "A workstream to hand off into"], cwd=root, check=True)
    secret = "sk-" + "ant-api03-" + "Zq8Xw7Vu6Ts5Rq4Po3Nm2Lk1Ji0Hg9Fe8Dc7Ba6" + "-x"
    seen: dict[str, Any] = {}
    data = {**quick_content("vault"), "workstream": "realclient", "log_line": "Archived and linked"}
    standin.add(finish_call(data, seen=seen), closing(seen))

    run = claude.run(f"/handoff --quick my key is {secret}", cwd=root, env={"OPERATOR": "ada"})

    assert run.returncode == 0, run.describe()
    standin.assert_script_consumed()
    assert len(standin.model_requests()) == 2
    report = seen["finish"]
    assert report["ok"], report
    note_id = report["id"]
    steps = {step["step"]: step for step in report["steps"]}
    archived = steps["archive-transcript"]["result"]
    assert archived["status"] == "archived" and archived["redactions"].get("anthropic-key", 0) >= 1
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
    assert f"- [{note_id}](../docs/sessions/{note_id}.md) (" in log and "Archived and linked" in log
