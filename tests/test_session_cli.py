"""session.py: concurrent claims from real processes, the CLI's output and exit codes, the wrappers."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
from conftest import PYTHON, REPO_ROOT, SCRIPTS, git, run_script
from lib.adopt import wrappers
from lib.store import frontmatter, validate

ROSTER = """\
operators:
  - slug: ada
    initials: AL
    name: Ada Example
    emails: [author@example.com]
  - slug: grace
    initials: GH
    name: Grace Example
    emails: [grace@example.com]
"""


@pytest.fixture
def team(repo: Path) -> Path:
    (repo / ".claude/operators.yaml").write_text(ROSTER, encoding="utf-8")
    (repo / "README.md").write_text("project\n", encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "start")
    return repo


def session(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_script("session.py", *args, cwd=root, env=env)


# ------------------------------------------------------------------ claim

def test_fifty_claims_at_once_get_fifty_distinct_ids_with_no_gap(team: Path) -> None:
    # Each process imports session.py, says it is ready, then blocks on stdin; closing every stdin
    # releases all fifty into the claim together.
    child = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(SCRIPTS)!r})
        import session
        print("ready", flush=True)
        sys.stdin.read()
        raise SystemExit(session.main(["claim", "--date", "2026-05-11", "--json"]))
    """)
    env = {k: v for k, v in os.environ.items() if k != "OPERATOR"}
    assert session(team, "whoami").stdout == "ada AL\n"  # warm the operator cache, as any earlier command would
    procs = [
        subprocess.Popen([PYTHON, "-c", child], cwd=team, env=env, text=True,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(50)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline() == "ready\n"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.close()
        results = []
        for proc in procs:
            assert proc.stdout is not None and proc.stderr is not None
            out, err = proc.stdout.read(), proc.stderr.read()
            results.append((proc.wait(timeout=120), out, err))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    assert [rc for rc, _, _ in results] == [0] * 50, [err for _, _, err in results if err]
    claimed = [json.loads(out)["id"] for _, out, _ in results]
    expected = {f"AL-260511-{n:02d}" for n in range(1, 51)}
    assert len(set(claimed)) == 50
    assert set(claimed) == expected
    files = sorted(p.name for p in (team / "docs/sessions").iterdir())
    assert files == sorted(f"{sid}.md" for sid in expected)
    for name in files:
        text = (team / "docs/sessions" / name).read_text(encoding="utf-8")
        assert validate.check_text(f"docs/sessions/{name}", text, "session").problems == []
        assert frontmatter.loads(text)[0]["operator"] == "ada"


def test_claim_prints_the_id_or_json(team: Path) -> None:
    text = session(team, "claim", "--date", "2026-05-11")
    assert (text.returncode, text.stdout, text.stderr) == (0, "AL-260511-01\n", "")
    payload = json.loads(session(team, "claim", "--date", "2026-05-11", "--json", OPERATOR="gh").stdout)
    assert payload["id"] == "GH-260511-01"
    assert payload["path"] == "docs/sessions/GH-260511-01.md"
    assert payload["operator"] == "grace"
    assert payload["operator_source"] == "$OPERATOR"
    assert payload["reused"] is False
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", payload["claimed_at"])


def test_claim_defaults_to_todays_local_date(team: Path) -> None:
    before = dt.date.today()
    out = session(team, "claim").stdout.strip()
    after = dt.date.today()
    assert out in {f"AL-{day:%y%m%d}-01" for day in (before, after)}


def test_claim_after_a_remote_branch_holds_01_to_03_gets_04(tmp_path: Path, team: Path) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(team, "remote", "add", "origin", str(remote))
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(remote), str(other))
    (other / "docs/sessions").mkdir(parents=True)
    for n in (1, 2, 3):
        (other / f"docs/sessions/AL-260511-{n:02d}.md").write_text("x\n", encoding="utf-8")
    git(other, "add", "-A")
    git(other, "commit", "-q", "-m", "sessions")
    git(other, "push", "-q", "origin", "HEAD:elsewhere")
    git(team, "fetch", "-q", "origin")
    assert session(team, "claim", "--date", "2026-05-11").stdout == "AL-260511-04\n"


def test_bad_date_is_an_argument_error(team: Path) -> None:
    result = session(team, "claim", "--date", "11/05/2026")
    assert result.returncode == 2
    assert "not a date (YYYY-MM-DD)" in result.stderr


def test_the_99_limit_is_one_line_and_exit_1(team: Path) -> None:
    for n in range(1, 100):
        (team / f"docs/sessions/AL-260511-{n:02d}.md").write_text("x", encoding="utf-8")
    result = session(team, "claim", "--date", "2026-05-11")
    assert result.returncode == 1
    assert result.stderr.startswith("session.py: error: no session number left for AL on 2026-05-11")
    assert result.stderr.count("\n") == 1


def test_icloud_warning_goes_to_stderr(tmp_path: Path) -> None:
    root = tmp_path / "Library/Mobile Documents/com~apple~CloudDocs/project"
    root.mkdir(parents=True)
    git(root, "init", "-q")
    (root / ".claude").mkdir()
    (root / ".claude/operators.yaml").write_text(ROSTER, encoding="utf-8")
    result = session(root, "claim", "--date", "2026-05-11", OPERATOR="ada")
    assert result.returncode == 0
    assert result.stdout == "AL-260511-01\n"
    assert result.stderr.startswith("session.py: warning: ")
    assert "Library/Mobile Documents" in result.stderr


def test_baton_session_id_of_this_operator_is_reused(team: Path) -> None:
    first = session(team, "claim", "--date", "2026-05-11").stdout.strip()
    again = session(team, "claim", "--json", BATON_SESSION_ID=first)
    payload = json.loads(again.stdout)
    assert (payload["id"], payload["reused"]) == (first, True)
    assert sorted(p.name for p in (team / "docs/sessions").iterdir()) == [f"{first}.md"]
    refused = session(team, "claim", OPERATOR="grace", BATON_SESSION_ID=first)
    assert refused.returncode == 1
    assert "belongs to operator 'ada', not 'grace'" in refused.stderr


def test_claims_lists_stale_stubs(team: Path) -> None:
    old = team / "docs/sessions/AL-260101-01.md"
    old.write_text(
        "---\noperator: ada\nkind: session\nexternal_id: AL-260101-01\nstatus: claimed\n"
        "claimed_at: 2026-01-01T09:00:00Z\n---\n",
        encoding="utf-8",
    )
    fresh = session(team, "claim").stdout.strip()
    listing = json.loads(session(team, "claims", "--json").stdout)
    assert [c["id"] for c in listing["claims"]] == ["AL-260101-01", fresh]
    stale = json.loads(session(team, "claims", "--stale", "24", "--json").stdout)
    assert [(c["id"], c["operator"], c["claimed_at"]) for c in stale["claims"]] == [
        ("AL-260101-01", "ada", "2026-01-01T09:00:00Z")
    ]
    text = session(team, "claims", "--stale", "24")
    assert text.stdout.startswith("AL-260101-01  ada  ")
    assert "docs/sessions/AL-260101-01.md" in text.stdout
    old.unlink()
    assert session(team, "claims", "--stale", "24").stdout == "no claim stubs older than 24 h\n"


def test_claims_refuses_negative_hours(team: Path) -> None:
    result = session(team, "claims", "--stale", "-1")
    assert result.returncode == 2
    assert "hours must be 0 or more" in result.stderr


def test_every_command_and_option_has_help(team: Path) -> None:
    top = session(team, "--help")
    assert top.returncode == 0
    for command in ("whoami", "claim", "claims", "wrappers"):
        assert command in top.stdout
        result = session(team, command, "--help")
        assert result.returncode == 0
        options = re.findall(r"^  (--[a-z-]+)", result.stdout, flags=re.M)
        assert options, command
        for line in result.stdout.split("options:", 1)[1].splitlines():
            if line.startswith("  -"):
                assert len(line.split("  ")) > 2 or line.strip().startswith("-h"), f"{command}: {line}"


# ------------------------------------------------------------------ wrappers

BASE_HANDOFF = """\
---
description: End the session with a note
argument-hint: "[--quick | --auto] [notes]"
allowed-tools: Bash(./scripts/py scripts/handoff_helpers.py:*), Bash(./scripts/py scripts/session.py:*), Bash(git status:*), Bash(git branch:*)
---
Branch: !`git branch --show-current`
Telemetry: !`./scripts/py scripts/handoff_helpers.py telemetry-read --json`

Step 0: run `./scripts/py scripts/session.py claim --json`.
"""


def wrapper_commands(text: str) -> list[str]:
    """Every command line a wrapper runs or shows: !`...` pre-runs and indented command examples."""
    commands = re.findall(r"!`([^`]+)`", text)
    commands += [line.strip().removesuffix(" ...") for line in text.splitlines() if line.startswith("    ")]
    return commands


def allowed(command: str, tools: list[str]) -> bool:
    for entry in tools:
        match = re.fullmatch(r"Bash\((.*)\)", entry)
        if not match:
            continue
        pattern = match.group(1)
        if pattern.endswith(":*") and (command == pattern[:-2] or command.startswith(pattern[:-2] + " ")):
            return True
        if command == pattern:
            return True
    return False


def test_wrappers_prefix_every_helper_call_and_grant_exactly_those(team: Path) -> None:
    commands_dir = team / ".claude/commands"
    commands_dir.mkdir(parents=True)
    (commands_dir / "handoff.md").write_text(BASE_HANDOFF, encoding="utf-8")
    result = session(team, "wrappers")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in commands_dir.iterdir()) == [
        "handoff-al.md", "handoff-gh.md", "handoff.md", "resume-al.md", "resume-gh.md",
    ]
    for initials, slug in (("al", "ada"), ("gh", "grace")):
        for base in ("handoff", "resume"):
            text = (commands_dir / f"{base}-{initials}.md").read_text(encoding="utf-8")
            metadata, body = frontmatter.loads(text)
            tools = wrappers.split_tools(metadata["allowed-tools"])
            helper_tools = [t for t in tools if "scripts/py" in t]
            assert helper_tools and all(t.startswith(f"Bash(OPERATOR={slug} ./scripts/py scripts/") for t in helper_tools)
            assert f".claude/commands/{base}.md" in body
            commands = wrapper_commands(body)
            assert commands
            for command in commands:
                if "./scripts/py" in command:
                    assert command.startswith(f"OPERATOR={slug} ./scripts/py scripts/"), command
                assert allowed(command, tools), (command, tools)
    handoff = (commands_dir / "handoff-al.md").read_text(encoding="utf-8")
    metadata, _ = frontmatter.loads(handoff)
    assert metadata["argument-hint"] == "[--quick | --auto] [notes]"
    assert wrappers.split_tools(metadata["allowed-tools"]) == [
        "Bash(OPERATOR=ada ./scripts/py scripts/handoff_helpers.py:*)",
        "Bash(OPERATOR=ada ./scripts/py scripts/session.py:*)",
        "Bash(git status:*)",
        "Bash(git branch:*)",
    ]
    assert "!`OPERATOR=ada ./scripts/py scripts/handoff_helpers.py telemetry-read --json`" in handoff
    assert "!`git branch --show-current`" in handoff
    assert "!`OPERATOR=ada ./scripts/py scripts/session.py whoami`" in handoff


def test_wrappers_are_idempotent_and_check_detects_drift(team: Path) -> None:
    assert session(team, "wrappers", "--check").returncode == 1  # none written yet
    assert session(team, "wrappers").returncode == 0
    folder = team / ".claude/commands"
    snapshot = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}
    again = session(team, "wrappers")
    assert again.stdout == "wrappers up to date (4 files)\n"
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()} == snapshot
    check = session(team, "wrappers", "--check")
    assert (check.returncode, check.stdout) == (0, "")

    # A new operator: their wrappers are missing.
    (team / ".claude/operators.yaml").write_text(
        ROSTER + "  - slug: linus\n    initials: LT\n    name: Linus Example\n    emails: [linus@example.com]\n",
        encoding="utf-8",
    )
    stale = session(team, "wrappers", "--check", "--json")
    assert stale.returncode == 1
    assert json.loads(stale.stdout)["out_of_date"] == [
        ".claude/commands/handoff-lt.md", ".claude/commands/resume-lt.md",
    ]
    assert not (folder / "handoff-lt.md").exists()  # --check changes nothing
    assert session(team, "wrappers").returncode == 0
    assert session(team, "wrappers", "--check").returncode == 0

    # A hand edit is drift too.
    edited = folder / "resume-al.md"
    edited.write_text(edited.read_text(encoding="utf-8") + "extra\n", encoding="utf-8")
    assert session(team, "wrappers", "--check").stdout == "out of date: .claude/commands/resume-al.md\n"

    # An operator who left: their wrappers go.
    (team / ".claude/operators.yaml").write_text(ROSTER.split("  - slug: grace")[0], encoding="utf-8")
    check = session(team, "wrappers", "--check")
    assert "no longer an operator's: .claude/commands/handoff-gh.md" in check.stdout
    session(team, "wrappers")
    assert sorted(p.name for p in folder.iterdir()) == ["handoff-al.md", "resume-al.md"]


def test_a_base_command_change_makes_wrappers_out_of_date(team: Path) -> None:
    folder = team / ".claude/commands"
    session(team, "wrappers")
    assert session(team, "wrappers", "--check").returncode == 0
    folder.joinpath("handoff.md").write_text(BASE_HANDOFF, encoding="utf-8")
    check = session(team, "wrappers", "--check")
    assert check.returncode == 1
    assert check.stdout == "out of date: .claude/commands/handoff-al.md\nout of date: .claude/commands/handoff-gh.md\n"


def test_wrappers_never_overwrite_a_hand_written_command(team: Path) -> None:
    folder = team / ".claude/commands"
    folder.mkdir(parents=True)
    (folder / "resume-gh.md").write_text("my own command\n", encoding="utf-8")
    result = session(team, "wrappers")
    assert result.returncode == 1
    assert "resume-gh.md: exists and was not generated by `session.py wrappers`" in result.stderr
    assert (folder / "resume-gh.md").read_text(encoding="utf-8") == "my own command\n"


def test_committed_wrappers_match_the_shipped_operators(tmp_path: Path) -> None:
    # A copy of the committed .claude/ folder: reading the roster caches it under .claude/state/, which must not
    # happen in the checkout.
    copy = tmp_path / "checkout"
    shutil.copytree(REPO_ROOT / ".claude", copy / ".claude", ignore=shutil.ignore_patterns("state"))
    result = run_script("session.py", "--root", str(copy), "wrappers", "--check", cwd=copy)
    assert (result.returncode, result.stdout) == (0, ""), result.stderr
