"""resume_helpers.py: sessions of both naming schemes, workstream partition, peers, cache, the dashboard."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO_ROOT, SCRIPTS, run_script
from lib.store.index import index_path
from store_factory import claim_text, session, session_text, workstream_text, write

TODAY = "2026-11-22"
OPERATORS_YAML = """operators:
  - slug: rt
    initials: RT
    name: Rosa Tamm
    emails: [rosa@example.org]
  - slug: sk
    initials: SK
    name: Sami Kallio
    emails: [sami@example.org]
"""


def helpers(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_script("resume_helpers.py", *args, "--root", str(root), "--today", TODAY, cwd=root, env=env)


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def store(repo: Path) -> Path:
    write(repo, ".claude/operators.yaml", OPERATORS_YAML)
    session(repo, "RT-261118-01", "rt", "2026-11-18", title="Old one", workstream="store")
    session(repo, "RT-261120-01", "rt", "2026-11-20", title="Morning", workstream="store")
    session(repo, "RT-261120-02", "rt", "2026-11-20", title="Afternoon", workstream="store",
            resume_prompt="Continue with the index invalidation tests.", open_questions="- Is WAL enough?")
    write(repo, "docs/sessions/CONV-7.md", session_text("CONV-7", "rt", "2026-11-19", title="Legacy", status=None))
    write(repo, "docs/sessions/LOCAL-2026-11-19-2.md",
          session_text("LOCAL-2026-11-19-2", "rt", "2026-11-19", title="Local legacy", status=None))
    write(repo, "docs/sessions/RT-261121-01.md", claim_text("RT-261121-01", "rt", "2026-11-21T08:00:00Z"))
    session(repo, "SK-261121-01", "sk", "2026-11-21", title="Peer work", workstream="sync")
    session(repo, "SK-261101-01", "sk", "2026-11-01", title="Peer long ago", workstream="sync")
    write(repo, "workstreams/store.md", workstream_text("store", "rt"))
    write(repo, "workstreams/sync.md", workstream_text("sync", "sk", status="blocked"))
    write(repo, "workstreams/old.md", workstream_text("old", "rt", status="done"))
    return repo


def test_scan_sessions_merges_both_naming_schemes_newest_first_and_skips_claims(store: Path) -> None:
    data = as_json(helpers(store, "scan-sessions", "--operator", "rt", "--json"))
    assert [s["id"] for s in data["sessions"]] == [
        "RT-261120-02", "RT-261120-01", "CONV-7", "LOCAL-2026-11-19-2", "RT-261118-01"]
    assert data["message"] is None
    limited = as_json(helpers(store, "scan-sessions", "--operator", "rt", "--limit", "2", "--json"))
    assert [s["id"] for s in limited["sessions"]] == ["RT-261120-02", "RT-261120-01"]


def test_scan_sessions_filters_by_the_frontmatter_operator_not_the_file_name(store: Path) -> None:
    # A note filed under RT's initials but written by SK belongs to SK.
    session(store, "RT-261122-01", "sk", "2026-11-22", title="Written by sk under rt's id")
    rt = as_json(helpers(store, "scan-sessions", "--operator", "rt", "--json"))
    sk = as_json(helpers(store, "scan-sessions", "--operator", "sk", "--json"))
    assert "RT-261122-01" not in [s["id"] for s in rt["sessions"]]
    assert sk["sessions"][0]["id"] == "RT-261122-01"


def test_operator_comes_from_initials_and_the_environment(store: Path) -> None:
    by_initials = as_json(helpers(store, "scan-sessions", "--operator", "SK", "--json"))
    by_env = as_json(helpers(store, "scan-sessions", "--json", env={"OPERATOR": "sk"}))
    assert by_initials["operator"] == by_env["operator"] == "sk"


def test_no_sessions_gives_the_explicit_message(store: Path) -> None:
    text = helpers(store, "scan-sessions", "--operator", "zz")
    assert text.returncode == 0 and text.stdout.strip() == "no prior sessions for zz"
    data = as_json(helpers(store, "dashboard", "--operator", "zz", "--json"))
    assert data["last_session"] is None and data["message"] == "no prior sessions for zz"
    plain = helpers(store, "dashboard", "--operator", "zz")
    assert "no prior sessions for zz" in plain.stdout


def test_only_claim_stubs_count_as_no_sessions(repo: Path) -> None:
    write(repo, "docs/sessions/RT-261121-01.md", claim_text("RT-261121-01", "rt", "2026-11-21T08:00:00Z"))
    assert helpers(repo, "scan-sessions", "--operator", "rt").stdout.strip() == "no prior sessions for rt"


def test_partition_splits_live_workstreams_by_owner_with_last_activity(store: Path) -> None:
    data = as_json(helpers(store, "partition-workstreams", "--operator", "rt", "--json"))
    assert [w["slug"] for w in data["mine"]] == ["store"]
    assert data["mine"][0]["last_activity"] == "2026-11-20"
    assert data["mine"][0]["last_session"]["id"] == "RT-261120-02"
    assert [(w["slug"], w["status"], w["owner"]) for w in data["peers"]] == [("sync", "blocked", "sk")]
    assert data["unowned"] == []


def test_a_workstream_without_owner_is_unowned(store: Path) -> None:
    write(store, "workstreams/orphan.md", workstream_text("orphan", None))
    data = as_json(helpers(store, "partition-workstreams", "--operator", "rt", "--json"))
    assert [w["slug"] for w in data["unowned"]] == ["orphan"]


def test_peers_counts_recent_sessions_and_shows_each_peers_last(store: Path) -> None:
    data = as_json(helpers(store, "peers", "--operator", "rt", "--days", "7", "--json"))
    assert [(o["operator"], o["sessions_in_window"], o["last_session"]["id"]) for o in data["operators"]] == [
        ("sk", 1, "SK-261121-01")]
    assert [r["id"] for r in data["recent"]] == ["SK-261121-01"]
    wide = as_json(helpers(store, "peers", "--operator", "rt", "--days", "30", "--json"))
    assert wide["operators"][0]["sessions_in_window"] == 2


def test_dashboard_json_has_every_part(store: Path) -> None:
    data = as_json(helpers(store, "dashboard", "--operator", "RT", "--json"))
    assert data["operator"] == {"slug": "rt", "initials": "RT", "name": "Rosa Tamm", "source": "--operator"}
    last = data["last_session"]
    assert last["id"] == "RT-261120-02" and last["confidence"] == "medium"
    assert last["resume_prompt"].startswith("Continue with the index invalidation tests.")
    assert last["open_questions"] == "- Is WAL enough?"
    assert [w["slug"] for w in data["workstreams"]["mine"]] == ["store"]
    assert data["peers"]["operators"][0]["operator"] == "sk"
    assert [c["id"] for c in data["stale_claims"]] == ["RT-261121-01"]
    assert data["validation"] == {"problems": 0, "files": 0, "notes": 11}


def test_dashboard_shows_up_to_three_notes_related_to_the_workstream_being_resumed(store: Path) -> None:
    write(store, "docs/adr/ADR-0007-index.md", "---\ntitle: Store index in SQLite\nkind: adr\nexternal_id: ADR-0007\n"
          "status: accepted\ndate: 2026-11-10\n---\n## Decision\n\nThe store keeps its index in SQLite.\n")
    for i in range(1, 5):
        write(store, f"docs/learnings/store-lesson-{i}.md", f"---\ntitle: Store lesson {i}\nkind: learning\n"
              f"external_id: store-lesson-{i}\nsummary: About the store.\ntags: [store]\n---\nbody\n")
    data = as_json(helpers(store, "dashboard", "--operator", "RT", "--json"))
    related = data["related"]
    assert len(related) == 3 and {r["id"] for r in related} <= {"ADR-0007", *(f"store-lesson-{i}" for i in range(1, 5))}
    # Not the workstream itself, nor its own sessions: the dashboard shows those already.
    assert not {r["id"] for r in related} & {"store", "RT-261118-01", "RT-261120-01", "RT-261120-02"}
    assert all(r["path"] and r["kind"] in ("adr", "learning") for r in related)
    text = helpers(store, "dashboard", "--operator", "RT", "--plain").stdout
    assert "Related notes (store):" in text and related[0]["id"] in text


def test_dashboard_without_a_workstream_has_no_related_notes(repo: Path) -> None:
    session(repo, "RT-261120-01", "rt", "2026-11-20", title="Loose end")
    assert as_json(helpers(repo, "dashboard", "--operator", "rt", "--json"))["related"] == []


def test_dashboard_counts_validation_problems(store: Path) -> None:
    write(store, "docs/sessions/RT-261119-01.md", session_text("RT-261119-01", "Not A Slug", "2026-11-19"))
    data = as_json(helpers(store, "dashboard", "--operator", "rt", "--json"))
    assert data["validation"]["problems"] == 1 and data["validation"]["files"] == 1


def test_plain_output_when_stdout_is_not_a_terminal(store: Path) -> None:
    result = helpers(store, "dashboard", "--operator", "rt")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "\x1b[" not in out and "╭" not in out
    assert "Last session: RT-261120-02 (2026-11-20, done, confidence medium)" in out
    assert "Continue with the index invalidation tests." in out
    assert "My live workstreams (1)" in out and "Stale claims (1)" in out
    assert "Validation: 11 notes, no problems" in out


def test_rich_output_on_a_terminal(store: Path) -> None:
    pty = pytest.importorskip("pty")
    import select

    leader, follower = pty.openpty()
    env = dict(os.environ, COLUMNS="100", TERM="xterm-256color")
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPTS / "resume_helpers.py"), "dashboard", "--root", str(store), "--today", TODAY,
         "--operator", "rt"], stdout=follower, stderr=subprocess.PIPE, env=env)
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert proc.wait(timeout=60) == 0
    os.close(leader)
    out = b"".join(chunks).decode("utf-8", "replace")
    assert "Last session" in out and "RT-261120-02" in out
    assert "╭" in out and "\x1b[" in out  # a rich panel with styling


def test_the_very_next_dashboard_sees_a_plain_edit(store: Path) -> None:
    first = as_json(helpers(store, "dashboard", "--operator", "rt", "--json"))
    assert first["last_session"]["title"] == "Afternoon"
    path = store / "docs/sessions/RT-261120-02.md"
    path.write_text(path.read_text().replace("title: Afternoon", "title: Evening"), encoding="utf-8")
    second = as_json(helpers(store, "dashboard", "--operator", "rt", "--json"))
    assert second["last_session"]["title"] == "Evening"
    session(store, "RT-261122-01", "rt", "2026-11-22", title="Added")
    third = as_json(helpers(store, "dashboard", "--operator", "rt", "--json"))
    assert third["last_session"]["id"] == "RT-261122-01"
    (store / "docs/sessions/RT-261122-01.md").unlink()
    fourth = as_json(helpers(store, "dashboard", "--operator", "rt", "--json"))
    assert fourth["last_session"]["title"] == "Evening"


def test_a_corrupt_index_does_not_stop_the_dashboard(store: Path) -> None:
    as_json(helpers(store, "dashboard", "--operator", "rt", "--json"))
    for suffix in ("-wal", "-shm"):
        Path(f"{index_path(store)}{suffix}").unlink(missing_ok=True)
    index_path(store).write_bytes(b"\x00garbage" * 512)
    data = as_json(helpers(store, "dashboard", "--operator", "rt", "--json"))
    assert data["last_session"]["id"] == "RT-261120-02"


def test_resume_cache_is_served_until_the_store_changes(store: Path) -> None:
    assert helpers(store, "read-resume-cache", "--operator", "rt").returncode == 1
    written = as_json(helpers(store, "write-resume-cache", "--operator", "rt", "--json"))
    assert Path(written["written"]) == store / ".claude/state/resume-cache.json"
    cached = as_json(helpers(store, "read-resume-cache", "--operator", "rt", "--json"))
    assert cached["last_session"]["id"] == "RT-261120-02"
    session(store, "RT-261122-01", "rt", "2026-11-22")
    stale = helpers(store, "read-resume-cache", "--operator", "rt", "--json")
    assert stale.returncode == 1
    assert json.loads(stale.stdout) == {"version": 1, "fresh": False,
                                        "reason": "the store changed since the cache was written"}
    other = helpers(store, "read-resume-cache", "--operator", "sk")
    assert other.returncode == 1 and "no resume cache for sk" in other.stderr


def test_an_unknown_operator_value_is_an_error_except_on_the_dashboard(store: Path) -> None:
    bad = helpers(store, "scan-sessions", "--operator", "Not/A Slug")
    assert bad.returncode == 1 and "neither an operator slug nor initials" in bad.stderr
    data = as_json(helpers(store, "dashboard", "--operator", "Not/A Slug", "--json"))
    assert data["view"] == "team" and "neither an operator slug" in data["operator_error"]


def test_setup_banner_shows_the_example_store_while_the_repo_store_is_empty(repo: Path) -> None:
    shutil.copytree(REPO_ROOT / "examples/store", repo / "examples/store",
                    ignore=shutil.ignore_patterns("state"))
    result = helpers(repo, "dashboard", "--setup-banner", env={"OPERATOR": "rt"})
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert "example store" in first and "examples/store/" in first
    assert "team view" in result.stdout  # the example's operators are fictional: no operator picked


def test_setup_banner_shows_the_repo_store_once_it_has_notes(store: Path) -> None:
    shutil.copytree(REPO_ROOT / "examples/store", store / "examples/store",
                    ignore=shutil.ignore_patterns("state"))
    result = helpers(store, "dashboard", "--setup-banner")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "Dashboard of this repository's store (11 notes)."


def test_setup_banner_does_not_fail_without_any_operator(repo: Path) -> None:
    session(repo, "RT-261120-01", "rt", "2026-11-20")
    result = helpers(repo, "dashboard", "--setup-banner", env={"OPERATOR": "Not/A Slug"})
    assert result.returncode == 0, result.stderr
    assert "team view" in result.stdout


def test_the_example_store_is_valid_and_has_three_operators(tmp_path: Path) -> None:
    store = tmp_path / "store"
    shutil.copytree(REPO_ROOT / "examples/store", store, ignore=shutil.ignore_patterns("state"))
    check = run_script("validate_frontmatter.py", "--root", str(store), "--strict", "--json", cwd=REPO_ROOT)
    assert check.returncode == 0, check.stdout
    report = json.loads(check.stdout)
    assert report["ok"] and report["files_checked"] >= 30
    data = as_json(run_script("resume_helpers.py", "peers", "--root", str(store), "--json", cwd=REPO_ROOT))
    assert sorted(o["operator"] for o in data["operators"]) == ["ines", "mara", "theo"]
    names = sorted(p.name for p in (store / "docs/sessions").glob("*.md"))
    assert any(n.startswith("CONV-") for n in names) and any(n.startswith("LOCAL-") for n in names)


def test_every_subcommand_has_help() -> None:
    for command in ("scan-sessions", "partition-workstreams", "peers", "write-resume-cache", "read-resume-cache",
                    "dashboard"):
        result = run_script("resume_helpers.py", command, "--help", cwd=REPO_ROOT)
        assert result.returncode == 0 and "--json" in result.stdout


def test_without_a_name_the_operator_comes_from_the_git_email(store: Path) -> None:
    write(store, ".claude/operators.yaml", OPERATORS_YAML.replace("rosa@example.org", "author@example.com"))
    data = as_json(helpers(store, "dashboard", "--json"))
    assert data["operator"]["slug"] == "rt" and data["operator"]["source"] == "git config user.email"
    by_env = as_json(helpers(store, "dashboard", "--json", env={"CLAUDE_USER_EMAIL": "sami@example.org"}))
    assert by_env["operator"]["slug"] == "sk"


def test_an_unknown_git_email_gives_the_team_view_and_the_entry_to_add(store: Path) -> None:
    data = as_json(helpers(store, "dashboard", "--json"))  # the repo's git email is in nobody's entry
    assert data["view"] == "team" and data["operator"] is None
    assert "author@example.com" in data["operator_error"] and "initials:" in data["operator_error"]
    assert data["last_session"]["id"] == "SK-261121-01"
    scan = helpers(store, "scan-sessions")
    assert scan.returncode == 0 and "showing everyone" in scan.stderr


def test_the_resume_command_runs_only_the_helpers_it_allows() -> None:
    import re

    from lib.adopt import wrappers
    from lib.store import frontmatter

    metadata, body = frontmatter.read(REPO_ROOT / ".claude/commands/resume.md")
    assert metadata["description"]
    allowed = wrappers.split_tools(metadata["allowed-tools"])
    prefixes = [re.fullmatch(r"Bash\((.*):\*\)", entry).group(1) for entry in allowed]  # type: ignore[union-attr]
    assert sorted(prefixes) == ["./scripts/py scripts/resume_helpers.py dashboard",
                                "./scripts/py scripts/session.py whoami"]
    used = re.findall(r"!`([^`]+)`", body) + re.findall(r"^ {7}(\./scripts/py [^\n]+)$", body, re.M)
    assert used, "the command runs nothing?"
    for command in used:
        assert any(command.startswith(prefix) for prefix in prefixes), command
        assert (REPO_ROOT / command.split()[1]).exists()


def test_a_hard_wrapped_resume_prompt_is_rewrapped_evenly() -> None:
    import resume_helpers

    words = [f"word{i:03d}" for i in range(60)]
    # Written the way notes are: broken at about 70 characters, one list and a code block kept as they are.
    hard = "\n".join(" ".join(words[i:i + 9]) for i in range(0, 60, 9))
    text = f"{hard}\n\n- first item that goes on\n  and continues here\n- second\n\n```\nkeep   this\nas is\n```"
    lines = resume_helpers._indent(text)
    body = lines[: lines.index("")]
    assert " ".join(line.strip() for line in body) == " ".join(words)
    assert all(len(line) > resume_helpers.WRAP - 12 for line in body[:-1])  # no ragged short lines
    assert "    - first item that goes on and continues here" in lines
    assert "    keep   this" in lines and "    as is" in lines
