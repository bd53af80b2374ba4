"""Helpers for the Notion sync tests: a store of notes, a Notion workspace on the fake, the settings file."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lib.store import frontmatter

from support.fakenotion import FakeNotion

SESSION_PROPS = {"Name": "title", "external_id": "rich_text", "Status": "select", "Operator": "select",
                 "Date": "date", "Tags": "multi_select", "Summary": "rich_text", "Workstream": "rich_text"}
WORKSTREAM_PROPS = {"Name": "title", "external_id": "rich_text", "Status": "select", "Owner": "select",
                    "Tags": "multi_select", "Summary": "rich_text"}


@dataclass
class Workspace:
    fake: FakeNotion
    sessions_db: str
    sessions_ds: str
    workstreams_db: str
    workstreams_ds: str

    def env(self) -> dict[str, str]:
        return {"NOTION_TOKEN": self.fake.token, "NOTION_BASE_URL": self.fake.base_url}

    def pages(self, external_id: str, kind: str = "session") -> list[str]:
        ds = self.sessions_ds if kind == "session" else self.workstreams_ds
        return self.fake.pages_with(ds, "external_id", external_id)


def workspace(fake: FakeNotion) -> Workspace:
    s_db, (s_ds,) = fake.add_database("Sessions", SESSION_PROPS)
    w_db, (w_ds,) = fake.add_database("Workstreams", WORKSTREAM_PROPS)
    return Workspace(fake, s_db, s_ds, w_db, w_ds)


def write_config(root: Path, ws: Workspace, *, per_second: float = 1000, burst: float = 1000,
                 timeout_s: float = 5.0, max_attempts: int = 4, file_attempts: int = 3,
                 extra_session: str = "") -> Path:
    path = root / ".claude" / "notion.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"""\
# Notion mirror settings (test)
kinds:
  session:
    database_id: {ws.sessions_db}
{extra_session}    properties:
      title: Name
      external_id: external_id
      status: {{property: Status, from: outcome}}
      operator: Operator
      date: Date
      tags: Tags
      summary: Summary
      workstream: Workstream
  workstream:
    database_id: {ws.workstreams_db.replace('-', '')}
    properties:
      title: Name
      external_id: external_id
      status: Status
      owner: Owner
      tags: Tags
      summary: Summary
rate:
  per_second: {per_second}
  burst: {burst}
retry:
  max_attempts: {max_attempts}
  backoff_base_s: 0.01
  backoff_max_s: 0.05
  timeout_s: {timeout_s}
  file_attempts: {file_attempts}
""", encoding="utf-8")
    return path


def session_note(root: Path, external_id: str, body: str | None = None, **extra: Any) -> Path:
    path = root / "docs" / "sessions" / f"{external_id}.md"
    meta = {
        "title": f"Session {external_id}", "operator": "rt", "summary": f"What {external_id} did",
        "workstream": "store", "tags": ["testing", "sync"], "kind": "session", "external_id": external_id,
        "status": "written", "outcome": "done", "date": "2026-05-11", "sync_status": "pending",
    }
    meta.update(extra)
    lines = ["---"]
    for key, value in meta.items():
        if isinstance(value, list):
            lines.append(f"{key}: [{', '.join(value)}]")
        else:
            lines.append(f"{key}: {value}")
    lines += ["---", ""]
    text = "\n".join(lines) + (body if body is not None else
                                f"## Summary\n\nWork on **{external_id}** with `code` and a "
                                f"[link](https://example.com/{external_id}).\n\n## Next steps\n\n- one\n"
                                "  - nested\n- [ ] a task\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def workstream_note(root: Path, slug: str, body: str = "## Goal\n\nShip it.\n") -> Path:
    path = root / "workstreams" / f"{slug}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"""\
---
title: Workstream {slug}
owner: sk
summary: The {slug} work   # a comment the sync must keep
tags: [alpha]
kind: workstream
external_id: {slug}
status: active
---
{body}""", encoding="utf-8")
    return path


def meta(path: Path) -> dict[str, Any]:
    return frontmatter.read_metadata(path)


def is_synced(path: Path) -> bool:
    data, body = frontmatter.read(path)
    return data.get("sync_status") == "synced" and data.get("synced_hash") == frontmatter.content_hash(data, body)


def page_text(fake: FakeNotion, page_id: str) -> list[str]:
    from support.fakenotion import iter_tree

    return [n.get("text") or n["type"] for n in iter_tree(fake.tree(page_id))]


def repo_files_text(root: Path) -> str:
    chunks = []
    for folder, _dirs, files in os.walk(root):
        if "/.git" in folder or folder.endswith(".git"):
            continue
        for name in files:
            try:
                chunks.append((Path(folder) / name).read_text(encoding="utf-8", errors="replace"))
            except OSError:
                pass
    return "\n".join(chunks)
