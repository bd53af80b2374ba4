"""Transcript archive: redaction that keeps every other byte, deterministic gzip, the note's keys."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from pathlib import Path

import pytest
from lib.core.errors import BatonError
from lib.handoff import transcripts
from lib.security import redact, redact_json
from lib.store import frontmatter
from support.paths import run_script

SID = "AB-260101-01"
CLAUDE_ID = "0f4e2a9c-1111-4222-8333-444455556666"


# Fake secrets are assembled at run time so that no token-shaped string sits in the repository.
def fake_secrets() -> dict[str, tuple[str, str]]:
    """name -> (secret as it appears in text, kind it is reported as)."""
    alnum = "Q7xZ2pL9mN4vB8cK1rT6yW3eH5jD0fGa"
    return {
        "anthropic": ("sk-" + "ant-api03-" + alnum + "_" + alnum + "-AA", "anthropic-key"),
        "openai": ("sk-" + "proj-" + alnum + alnum[:12], "openai-key"),
        "github": ("gh" + "p_" + alnum + "Abcd", "github-token"),
        "github_pat": ("github" + "_pat_" + "11ABCDEFG0" + "_" + alnum, "github-token"),
        "aws": ("AK" + "IA" + "Z7QW3ERT5YUI8OPA", "aws-access-key-id"),
        "slack": ("xo" + "xb-" + "1234567890-0987654321-" + alnum[:24], "slack-token"),
        "notion": ("secr" + "et_" + alnum + alnum[:11], "notion-token"),
        "notion_ntn": ("nt" + "n_" + alnum + alnum[:14], "notion-token"),
        "google": ("AI" + "za" + "SyD" + alnum, "google-api-key"),
        "jwt": ("ey" + "JhbGciOiJIUzI1NiJ9" + "." + "ey" + "JzdWIiOiIxMjM0NTY3ODkwIn0" + "."
                + "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "jwt"),
        "bearer_token": ("Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA", "bearer"),
    }


PRIVATE_KEY = ("-----BEGIN " + "OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n"
               "QyNTUxOQAAACBq1v2yLwE7t0xS+/=\n-----END " + "OPENSSH PRIVATE KEY-----")


def transcript_lines() -> tuple[list[str], list[tuple[str, str]]]:
    """Raw JSON lines of a fake transcript, and (raw secret text, kind) for each secret in it."""
    s = fake_secrets()
    lines = [
        json.dumps({"type": "user", "message": {"role": "user", "content": f"my key is {s['anthropic'][0]}"}}),
        # a tool result: the secret follows an escaped newline, non-ASCII text around it stays as written
        json.dumps({"type": "user", "toolUseResult": {
            "stdout": f"OPENAI_API_KEY={s['openai'][0]}\n{s['github'][0]}\ncafé ☕ done", "stderr": ""}},
            ensure_ascii=False),
        # the same with \u escapes (ensure_ascii), plus AWS and Slack
        json.dumps({"type": "assistant", "message": {"content": [
            {"type": "text", "text": f"Found é {s['aws'][0]} and\t{s['slack'][0]}."}]}}),
        # a JSON string inside a JSON string: the header is escaped twice
        json.dumps({"type": "user", "toolUseResult": {"stdout": json.dumps(
            {"headers": {"Authorization": f"Bearer {s['bearer_token'][0]}"}, "note": f"\n{s['notion'][0]}"})}}),
        json.dumps({"type": "user", "toolUseResult": {"stdout": f"{PRIVATE_KEY}\nafter the key"}}),
        json.dumps({"k": [s["notion_ntn"][0], s["google"][0], s["github_pat"][0], {"jwt": s["jwt"][0]}]}),
        # look-alikes that are not secrets
        json.dumps({"text": "risk-assessment-framework-version-two; Bearer authentication; sk-learn; "
                            "task-0123456789abcdefghijklmnop; secret_key_for_the_application_layer; "
                            "AKIA_NOT_A_KEY; data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAIzaAAAAAA+/AIzaBBB"}),
        '{"type":"summary","summary":"no secrets here","leafUuid":"x"}',
        "this line is not JSON: " + s["aws"][0],
    ]
    found = [
        (s["anthropic"][0], "anthropic-key"), (s["openai"][0], "openai-key"), (s["github"][0], "github-token"),
        (s["aws"][0], "aws-access-key-id"), (s["slack"][0], "slack-token"),
        (s["bearer_token"][0], "bearer"), (s["notion"][0], "notion-token"),
        (json.dumps(PRIVATE_KEY)[1:-1], "private-key"),
        (s["notion_ntn"][0], "notion-token"), (s["google"][0], "google-api-key"),
        (s["github_pat"][0], "github-token"), (s["jwt"][0], "jwt"),
        (s["aws"][0], "aws-access-key-id"),
    ]
    return lines, found


def expected_redaction(lines: list[str], found: list[tuple[str, str]]) -> str:
    text = "\n".join(lines) + "\n"
    for raw, kind in found:
        text = text.replace(raw, f"[REDACTED:{kind}]", 1)
    return text


def make_note(root: Path, extra: str = "") -> Path:
    path = root / "docs/sessions" / f"{SID}.md"
    path.write_text(
        "---\ntitle: Archive test\noperator: ab\nsummary: Testing.\ntags: []\nkind: session\n"
        f"external_id: {SID}\nstatus: written\noutcome: done\ndate: 2026-01-01\n"
        f"claude_session_id: {CLAUDE_ID}\n{extra}content_hash: null\nsync_status: pending\n---\n"
        "## Summary\n\nDone.\n",
        encoding="utf-8",
    )
    doc = frontmatter.load_document(path)
    doc.stamp_content_hash()
    doc.save(path)
    return path


def make_transcript(root: Path, text: str) -> Path:
    projects = root.parent / "home" / ".claude" / "projects" / "-repo"
    projects.mkdir(parents=True, exist_ok=True)
    path = projects / f"{CLAUDE_ID}.jsonl"
    path.write_text(text, encoding="utf-8")
    state = root / ".claude/state" / f"session-{CLAUDE_ID}.json"
    state.write_text(json.dumps({"state_version": 1, "session_id": CLAUDE_ID, "transcript_path": str(path)}))
    return path


def unpacked(path: Path) -> str:
    return gzip.decompress(path.read_bytes()).decode("utf-8")


def test_redaction_removes_every_secret_shape_and_keeps_everything_else(repo: Path) -> None:
    lines, found = transcript_lines()
    make_note(repo)
    make_transcript(repo, "\n".join(lines) + "\n")
    result = transcripts.archive_transcript(repo, SID)
    archive = repo / ".claude/archive/transcripts" / f"{SID}.jsonl.gz"
    text = unpacked(archive)
    for name, (secret, _kind) in fake_secrets().items():
        assert secret not in text, name
    assert "PRIVATE KEY" not in text and "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ" not in text
    assert text == expected_redaction(lines, found)  # every other byte as it was
    for line in text.splitlines()[:-1]:
        json.loads(line)  # still valid JSON (the last line never was)
    assert json.loads(text.splitlines()[4])["toolUseResult"]["stdout"] == "[REDACTED:private-key]\nafter the key"
    assert result.transcript is not None
    assert result.transcript.redactions == {
        "anthropic-key": 1, "aws-access-key-id": 2, "bearer": 1, "github-token": 2, "google-api-key": 1, "jwt": 1,
        "notion-token": 2, "openai-key": 1, "private-key": 1, "slack-token": 1}


def test_archive_records_size_and_sha256_in_the_note_before_content_hash(repo: Path) -> None:
    note = make_note(repo)
    make_transcript(repo, '{"type":"user","message":"hello"}\n')
    result = transcripts.archive_transcript(repo, SID)
    assert result.status == "archived" and result.note_changed
    meta = frontmatter.read_metadata(note)
    clean = b'{"type":"user","message":"hello"}\n'
    assert meta["transcript_archive"] == f"{SID}.jsonl.gz"
    assert meta["transcript_bytes"] == len(clean)
    assert meta["transcript_sha256"] == hashlib.sha256(clean).hexdigest()
    assert "transcript_warning" not in meta
    assert meta["content_hash"] == frontmatter.file_content_hash(note)
    keys = list(meta)
    assert keys.index("transcript_sha256") < keys.index("content_hash") < keys.index("sync_status")
    assert run_script("validate_frontmatter.py", "--strict", cwd=repo).returncode == 0


def test_re_archiving_is_idempotent(repo: Path) -> None:
    lines, _ = transcript_lines()
    note = make_note(repo)
    make_transcript(repo, "\n".join(lines) + "\n")
    transcripts.archive_transcript(repo, SID)
    archive = repo / ".claude/archive/transcripts" / f"{SID}.jsonl.gz"
    first_archive, first_note = archive.read_bytes(), note.read_bytes()
    os.utime(archive, (1_000_000, 1_000_000))
    again = transcripts.archive_transcript(repo, SID)
    assert again.status == "unchanged" and not again.note_changed
    assert archive.read_bytes() == first_archive and note.read_bytes() == first_note
    assert archive.stat().st_mtime == 1_000_000  # not even rewritten
    assert gzip.decompress(first_archive)  # a valid gzip with mtime 0 and no file name
    assert first_archive[4:8] == b"\0\0\0\0" and first_archive[3] & 0x08 == 0


def test_missing_transcript_is_a_warning_in_the_note(repo: Path) -> None:
    note = make_note(repo)
    state = repo / ".claude/state" / f"session-{CLAUDE_ID}.json"
    state.write_text(json.dumps({"session_id": CLAUDE_ID, "transcript_path": str(repo / "gone.jsonl")}))
    result = transcripts.archive_transcript(repo, SID)
    assert result.status == "missing" and result.transcript is None
    meta = frontmatter.read_metadata(note)
    assert meta["transcript_warning"] == f"no transcript at {repo / 'gone.jsonl'}"
    assert "transcript_archive" not in meta
    assert meta["content_hash"] == frontmatter.file_content_hash(note)
    assert not (repo / ".claude/archive/transcripts" / f"{SID}.jsonl.gz").exists()
    assert transcripts.archive_transcript(repo, SID).note_changed is False


def test_no_telemetry_state_is_a_warning_too(repo: Path) -> None:
    note = make_note(repo)
    transcripts.archive_transcript(repo, SID)
    assert "has no transcript_path" in frontmatter.read_metadata(note)["transcript_warning"]


def test_transcript_deleted_after_archiving_keeps_the_archive_and_the_note(repo: Path) -> None:
    note = make_note(repo)
    source = make_transcript(repo, '{"a":1}\n')
    transcripts.archive_transcript(repo, SID)
    before = note.read_bytes()
    source.unlink()
    result = transcripts.archive_transcript(repo, SID)
    assert result.status == "kept" and not result.note_changed
    assert note.read_bytes() == before


def test_a_line_still_being_written_is_left_out(repo: Path) -> None:
    make_note(repo)
    make_transcript(repo, '{"a":1}\n{"b":2}\n{"c":')
    result = transcripts.archive_transcript(repo, SID)
    assert unpacked(repo / ".claude/archive/transcripts" / f"{SID}.jsonl.gz") == '{"a":1}\n{"b":2}\n'
    assert result.transcript is not None and result.transcript.dropped_tail_bytes == 5


def test_subagent_transcripts_are_archived_alongside(repo: Path) -> None:
    make_note(repo)
    source = make_transcript(repo, '{"main":1}\n')
    subagents = source.parent / CLAUDE_ID / "subagents"
    subagents.mkdir(parents=True)
    key = fake_secrets()["github"][0]
    (subagents / "agent-a1b2.jsonl").write_text(json.dumps({"out": key}) + "\n")
    (subagents / "agent-a1b2.meta.json").write_text("{}")
    result = transcripts.archive_transcript(repo, SID)
    assert [s.archive for s in result.subagents] == [f"{SID}.subagents/agent-a1b2.jsonl.gz"]
    text = unpacked(repo / ".claude/archive/transcripts" / f"{SID}.subagents/agent-a1b2.jsonl.gz")
    assert text == '{"out": "[REDACTED:github-token]"}\n'
    assert transcripts.total_redactions(result) == {"github-token": 1}


def test_archive_folder_from_settings(repo: Path, tmp_path: Path) -> None:
    make_note(repo)
    make_transcript(repo, '{"a":1}\n')
    elsewhere = tmp_path / "synced" / "transcripts"
    (repo / ".claude/baton.yaml").write_text(f"archive:\n  transcripts_dir: {elsewhere}\n")
    result = transcripts.archive_transcript(repo, SID)
    assert (elsewhere / f"{SID}.jsonl.gz").is_file()
    assert result.transcript is not None and result.transcript.archive == f"{SID}.jsonl.gz"
    assert (elsewhere / f"{SID}.jsonl.gz").stat().st_mode & 0o077 == 0  # transcripts are private


@pytest.mark.parametrize("bad", ["../../etc/passwd", "ab-260101-01", "AB-260101-01/..", ""])
def test_bad_session_id_is_refused(repo: Path, bad: str) -> None:
    with pytest.raises(BatonError, match="session id"):
        transcripts.archive_transcript(repo, bad)


def test_bad_claude_session_id_in_the_note_is_refused(repo: Path) -> None:
    make_note(repo)
    with pytest.raises(BatonError, match="claude session id"):
        transcripts.archive_transcript(repo, SID, claude_session_id="../x")


def test_redact_text_keeps_text_without_secrets_identical() -> None:
    text = 'plain {"a": "b\\n\\u00e9"} Bearer token-word and sk-short'
    assert redact_json.redact_json_text(text).text == text
    assert redact.redact_text(text).counts == {}


def test_redacted_line_is_json_with_the_same_structure() -> None:
    secret = fake_secrets()["anthropic"][0]
    value = {"a": f"x\\\"{secret}\"\n\u2028é", "n": 1.50, "list": [True, None]}
    line = json.dumps(value)
    out = json.loads(redact_json.redact_json_text(line).text)
    assert out == {"a": "x\\\"[REDACTED:anthropic-key]\"\n\u2028é", "n": 1.5, "list": [True, None]}


def test_a_captured_claude_code_transcript_comes_out_byte_for_byte(repo: Path) -> None:
    captured = (Path(__file__).parent / "fixtures/claude_code/transcript-two-blocks.jsonl").read_bytes()
    make_note(repo)
    make_transcript(repo, captured.decode("utf-8"))
    transcripts.archive_transcript(repo, SID)
    archive = repo / ".claude/archive/transcripts" / f"{SID}.jsonl.gz"
    assert gzip.decompress(archive.read_bytes()) == captured

    secret = fake_secrets()["slack"][0]
    lines = captured.decode("utf-8").splitlines(keepends=True)
    record = json.loads(lines[2])
    record["message"]["content"] = f"token {secret} — keep the rest"
    lines[2] = json.dumps(record, ensure_ascii=False) + "\n"
    make_transcript(repo, "".join(lines))
    transcripts.archive_transcript(repo, SID)
    out = gzip.decompress(archive.read_bytes()).decode("utf-8").splitlines(keepends=True)
    assert out[:2] == lines[:2] and out[3:] == lines[3:]
    assert json.loads(out[2])["message"]["content"] == "token [REDACTED:slack-token] — keep the rest"


def test_a_re_claimed_id_moves_the_archive(repo: Path) -> None:
    make_note(repo)
    source = make_transcript(repo, '{"a":1}\n')
    (source.parent / CLAUDE_ID / "subagents").mkdir(parents=True)
    (source.parent / CLAUDE_ID / "subagents" / "agent-1.jsonl").write_text('{"b":2}\n')
    transcripts.archive_transcript(repo, SID)
    folder = repo / ".claude/archive/transcripts"
    assert transcripts.rename_archive(repo, SID, "AB-260101-02") == "AB-260101-02.jsonl.gz"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.gz")) == [
        "AB-260101-02.jsonl.gz", "AB-260101-02.subagents/agent-1.jsonl.gz"]
    assert transcripts.rename_archive(repo, SID, "AB-260101-03") is None
