"""sync_to_notion_oneshot.py as a user runs it: a real process, exit codes, one-line errors, kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PYTHON, SCRIPTS, run_script
from fakenotion import FakeNotion
from lib.store import frontmatter
from notionstore import is_synced, meta, page_text, session_note, workspace, write_config

SCRIPT = "sync_to_notion_oneshot.py"


@pytest.fixture
def fake() -> Iterator[FakeNotion]:
    with FakeNotion(rate=None) as server:
        yield server


def test_every_option_has_help() -> None:
    result = run_script(SCRIPT, "--help", cwd=SCRIPTS)
    assert result.returncode == 0
    for option in ("--dry-run", "--apply", "--only", "--limit", "--json", "--root"):
        assert option in result.stdout
    assert "NOTION_TOKEN" in result.stdout


def test_a_missing_token_is_one_line_exit_2_and_no_request(repo: Path, fake: FakeNotion) -> None:
    write_config(repo, workspace(fake))
    session_note(repo, "RT-260511-01")
    result = run_script(SCRIPT, "--apply", cwd=repo, env={"NOTION_BASE_URL": fake.base_url})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "NOTION_TOKEN" in result.stderr
    assert fake.requests == []


@pytest.mark.parametrize("pasted", [
    "{token}\u2026",        # the ellipsis a chat app put at the end
    "\u201c{token}\u201d",  # curly quotes around it
    "secr\u00e9t_{token}",  # a letter from another keyboard
    "{token}\x07",         # a control character
    "{tok} {en}",           # a space inside
])
def test_a_token_that_cannot_be_sent_is_one_line_exit_2_and_never_echoed(
        repo: Path, fake: FakeNotion, pasted: str) -> None:
    write_config(repo, workspace(fake))
    session_note(repo, "RT-260511-01")
    half = len(fake.token) // 2
    token = pasted.format(token=fake.token, tok=fake.token[:half], en=fake.token[half:])
    for args in ((), ("--apply",)):
        result = run_script(SCRIPT, *args, cwd=repo, env={"NOTION_TOKEN": token, "NOTION_BASE_URL": fake.base_url})
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and "NOTION_TOKEN" in result.stderr
        assert "Traceback" not in result.stderr
        for secret in (token, token.strip(), fake.token, fake.token[:8], fake.token[-8:]):
            assert secret not in result.stderr and secret not in result.stdout
    assert fake.requests == []
    logged = [p for p in (repo / ".claude").rglob("*") if p.is_file()]
    for path in logged:
        assert fake.token[:8] not in path.read_text(errors="replace")


def test_a_missing_config_is_one_line_exit_2_and_no_request(repo: Path, fake: FakeNotion) -> None:
    session_note(repo, "RT-260511-01")
    result = run_script(SCRIPT, cwd=repo, env={"NOTION_TOKEN": fake.token, "NOTION_BASE_URL": fake.base_url})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and ".claude/notion.yaml" in result.stderr
    assert fake.requests == []


def test_an_invalid_config_names_the_file_and_line(repo: Path, fake: FakeNotion) -> None:
    config = write_config(repo, workspace(fake))
    lines = config.read_text().splitlines()
    bad = next(i for i, line in enumerate(lines) if "database_id" in line)
    lines[bad] = "    database_id: not-an-id"
    config.write_text("\n".join(lines) + "\n")
    result = run_script(SCRIPT, cwd=repo, env={"NOTION_TOKEN": fake.token, "NOTION_BASE_URL": fake.base_url})
    assert result.returncode == 2
    assert f"notion.yaml:{bad + 1}: /kinds/session/database_id:" in result.stderr
    assert fake.requests == []


def test_a_rejected_token_stops_the_run_with_exit_2(repo: Path, fake: FakeNotion) -> None:
    write_config(repo, workspace(fake))
    note = session_note(repo, "RT-260511-01")
    before = note.read_bytes()
    result = run_script(SCRIPT, "--apply", cwd=repo,
                        env={"NOTION_TOKEN": "ntn_not_the_right_one", "NOTION_BASE_URL": fake.base_url})
    assert result.returncode == 2
    assert "ntn_not_the_right_one" not in result.stdout + result.stderr
    assert note.read_bytes() == before
    audit = (repo / "docs/sync/LAST_SYNC.md").read_text()
    assert "- Stopped early: Notion refused the token (401 unauthorized)" in audit
    assert "ntn_not_the_right_one" not in audit


def test_kill_9_mid_run_then_rerun_ends_fully_synced(repo: Path, fake: FakeNotion) -> None:
    ws = workspace(fake)
    write_config(repo, ws, per_second=150, burst=5)
    notes = [session_note(repo, f"RT-2605{i // 99 + 11}-{i % 99 + 1:02d}",
                          "\n\n".join(f"Note {i} paragraph {j}" for j in range(130)))
             for i in range(40)]
    env = dict(os.environ, NOTION_TOKEN=fake.token, NOTION_BASE_URL=fake.base_url)
    proc = subprocess.Popen([PYTHON, str(SCRIPTS / SCRIPT), "--apply"], cwd=repo, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while fake.count("append") < 12 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    synced_before = sum(is_synced(n) for n in notes)
    assert 0 < synced_before < len(notes), "the kill should land mid-run"

    result = run_script(SCRIPT, "--apply", cwd=repo, env={"NOTION_TOKEN": fake.token,
                                                          "NOTION_BASE_URL": fake.base_url})
    assert result.returncode == 0, result.stdout + result.stderr
    for note in notes:
        data = meta(note)
        assert is_synced(note)
        assert ws.pages(data["external_id"]) == [data["notion_page_id"]]
        assert page_text(fake, data["notion_page_id"]) == frontmatter.read(note)[1].strip().split("\n\n")
    assert len(fake.live_pages(ws.sessions_ds)) == len(notes)
    again = run_script(SCRIPT, cwd=repo, env={"NOTION_TOKEN": fake.token, "NOTION_BASE_URL": fake.base_url})
    assert again.stdout.splitlines()[-1].startswith(f"dry run: {len(notes)} skip (unchanged)")
