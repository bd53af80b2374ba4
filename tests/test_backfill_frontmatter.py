"""Backfill: dry run lists exactly the intended changes; apply is all-or-nothing, idempotent, lossless."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SCRIPTS, git, run_script
from lib.store import frontmatter, validate

OPERATORS = """operators:
  - slug: ada
    initials: AL
    name: Ada Example
    emails: [ada@example.com]
  - slug: grace
    initials: GH
    name: Grace Example
    emails: [grace@example.com, grace@old.example.com]
"""

LEGACY = {
    # three sessions whose names share a prefix: three distinct ids
    "docs/sessions/CONV-30.md": "---\ntitle: 'Buyer call'   # kept\ndate_started: 2025-01-02\n---\nBody of CONV-30.\n",
    "docs/sessions/CONV-30-buyer-journey.md": '---\ntitle: "Buyer journey"\nfilename_note: shares a prefix\n---\nJourney.\n',
    "docs/sessions/CONV-30-cloudflare.md": "---\r\ntitle: Cloudflare\r\ntags: workers, dns\r\n---\r\nCRLF body.\r\n",
    "docs/sessions/LOCAL-2026-05-11-1.md": (
        "\ufeff---\n# a comment before everything\nnotion_page_id: pending-reconcile\nsummary: Local note\n---\nBOM body.\n"
    ),
    "docs/sessions/LOCAL-2026-05-11-2.md": "# No frontmatter at all\n\nJust text.\n",
    "workstreams/store-flip.md": "---\ntitle: Store flip\nstatus: active\ncustom_key: {a: 1}\n---\n## Goal\n",
    "workstreams/vault.md": "---\ntitle: Vault   # aligned comment\nstatus: paused\n---\n## Goal\n",
    "plans/repo-store.md": "---\ntitle: Repo as store\nstatus: ratified\n---\nPlan.\n",
    "docs/adr/ADR-0003-use-flock.md": "---\ntitle: Use flock\nstatus: accepted\n---\nDecision.\n",
    "docs/learnings/flock-not-rename.md": "---\ntitle: flock, not rename\nsummary: null\n---\nLesson.\n",
}


def commit_as(repo: Path, email: str, paths: list[str], message: str) -> None:
    env = dict(os.environ, GIT_AUTHOR_EMAIL=email, GIT_COMMITTER_EMAIL=email)
    subprocess.run(["git", "add", "--", *paths], cwd=repo, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "--no-gpg-sign", "-m", message], cwd=repo, check=True, env=env)


@pytest.fixture
def legacy(repo: Path) -> Path:
    (repo / ".claude").mkdir(exist_ok=True)
    (repo / ".claude/operators.yaml").write_text(OPERATORS, encoding="utf-8")
    (repo / ".gitignore").write_text(".claude/state/\n", encoding="utf-8")  # machine-local, as in any baton repo
    for rel, text in LEGACY.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    others = [rel for rel in LEGACY if rel != "workstreams/vault.md"]
    commit_as(repo, "ada@example.com", [".gitignore", ".claude/operators.yaml", *others], "legacy notes")
    commit_as(repo, "GRACE@old.example.com", ["workstreams/vault.md"], "vault workstream")
    return repo


def backfill(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_script("backfill_frontmatter.py", *args, cwd=repo)


def test_dry_run_lists_exactly_the_intended_changes_and_writes_nothing(legacy: Path) -> None:
    before = {rel: (legacy / rel).read_bytes() for rel in LEGACY}
    result = backfill(legacy, "--json")
    assert result.returncode == 0, result.stdout
    report = json.loads(result.stdout)
    changes = {c["path"]: c for c in report["changes"]}
    assert set(changes["docs/sessions/CONV-30.md"]["added"]) == {
        "kind", "external_id", "summary", "tags", "sync_status", "legacy_notes", "content_hash"}
    ids = {rel: changes[rel]["added"]["external_id"] for rel in (
        "docs/sessions/CONV-30.md", "docs/sessions/CONV-30-buyer-journey.md", "docs/sessions/CONV-30-cloudflare.md")}
    assert ids == {
        "docs/sessions/CONV-30.md": "CONV-30",
        "docs/sessions/CONV-30-buyer-journey.md": "CONV-30-buyer-journey",
        "docs/sessions/CONV-30-cloudflare.md": "CONV-30-cloudflare",
    }
    assert changes["docs/sessions/CONV-30-cloudflare.md"]["normalised"] == {"tags": ["workers, dns", ["workers", "dns"]]}
    assert changes["workstreams/store-flip.md"]["added"]["owner"] == "ada"
    assert changes["workstreams/vault.md"]["added"]["owner"] == "grace"
    assert changes["docs/adr/ADR-0003-use-flock.md"]["added"]["external_id"] == "ADR-0003"
    assert changes["docs/learnings/flock-not-rename.md"]["normalised"] == {"summary": [None, ""]}
    assert set(changes["docs/sessions/LOCAL-2026-05-11-2.md"]["added"]) >= {"kind", "external_id"}
    assert report["problems"] == [] and report["files_to_change"] == len(LEGACY)
    assert {rel: (legacy / rel).read_bytes() for rel in LEGACY} == before


def test_apply_is_all_or_nothing(legacy: Path) -> None:
    # a session whose file name cannot be an id: the whole backfill must refuse
    (legacy / "docs/sessions/notes from monday.md").write_text("---\ntitle: x\n---\n", encoding="utf-8")
    before = {rel: (legacy / rel).read_bytes() for rel in LEGACY}
    result = backfill(legacy, "--apply")
    assert result.returncode == 1
    assert "docs/sessions/notes from monday.md:" in result.stdout and "/external_id" in result.stdout
    assert "nothing was written" in result.stderr
    assert {rel: (legacy / rel).read_bytes() for rel in LEGACY} == before
    assert not (legacy / "BACKFILL_LOCK").exists()


def test_apply_then_reapply_changes_nothing_and_keeps_every_byte_of_meaning(legacy: Path) -> None:
    result = backfill(legacy, "--apply", "--commit")
    assert result.returncode == 0, result.stdout + result.stderr
    log = git(legacy, "log", "--format=%s", "-1")
    assert log.strip() == f"backfill: {len(LEGACY)} files"
    assert git(legacy, "status", "--porcelain").strip() == ""

    again = backfill(legacy, "--apply", "--commit")
    assert again.returncode == 0
    assert "0 changed" in again.stdout
    assert subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=legacy).returncode == 0
    assert git(legacy, "log", "--format=%s", "-1").strip() == f"backfill: {len(LEGACY)} files"

    # unknown keys, comments, quoting, BOM, CRLF and bodies survive verbatim
    crlf = (legacy / "docs/sessions/CONV-30-cloudflare.md").read_bytes()
    assert crlf.startswith(b"---\r\ntitle: Cloudflare\r\n") and crlf.endswith(b"---\r\nCRLF body.\r\n")
    bare = (legacy / "docs/sessions/LOCAL-2026-05-11-2.md").read_text(encoding="utf-8")
    assert bare.startswith("---\nsummary: ''\ntags: []\nkind: session\nexternal_id: LOCAL-2026-05-11-2\n")
    assert bare.endswith("---\n# No frontmatter at all\n\nJust text.\n")
    bom = (legacy / "docs/sessions/LOCAL-2026-05-11-1.md").read_text(encoding="utf-8")
    assert bom.startswith("\ufeff---\n# a comment before everything\nnotion_page_id: pending-reconcile\nsummary: Local note\n")
    assert "title: 'Buyer call'   # kept\n" in (legacy / "docs/sessions/CONV-30.md").read_text(encoding="utf-8")
    assert "custom_key: {a: 1}" in (legacy / "workstreams/store-flip.md").read_text(encoding="utf-8")
    meta, body = frontmatter.read(legacy / "docs/sessions/CONV-30.md")
    assert meta["date_started"].isoformat() == "2025-01-02" and body == "Body of CONV-30.\n"
    assert meta["legacy_notes"] == ["kind: derived from the folder docs/sessions/", "external_id: derived from the file name"]
    assert meta["content_hash"] == frontmatter.content_hash(meta, body)
    learning, _ = frontmatter.read(legacy / "docs/learnings/flock-not-rename.md")
    assert "summary: empty string instead of null" in learning["legacy_notes"]
    # the result validates strictly
    report = validate.check_paths(sorted((legacy / rel) for rel in LEGACY), legacy)
    assert report.problems == []


def test_a_note_with_nothing_to_derive_gets_an_empty_legacy_notes(legacy: Path) -> None:
    path = legacy / "docs/learnings/complete.md"
    path.write_text("---\nkind: learning\nexternal_id: complete\nsummary: s\ntags: []\nsync_status: pending\n---\n",
                    encoding="utf-8")
    assert backfill(legacy, "--apply").returncode == 0
    meta, _ = frontmatter.read(path)
    assert meta["legacy_notes"] == []


def test_unmapped_author_is_a_problem_with_a_hint(legacy: Path) -> None:
    (legacy / "workstreams/orphan.md").write_text("---\ntitle: Orphan\n---\n", encoding="utf-8")
    commit_as(legacy, "stranger@example.com", ["workstreams/orphan.md"], "orphan")
    result = backfill(legacy, "--apply")
    assert result.returncode == 1
    assert ("workstreams/orphan.md:1: /owner: cannot derive owner: add stranger@example.com to an operator "
            "in .claude/operators.yaml") in result.stdout


def test_lock_refuses_a_second_run_and_reports_a_stale_one(legacy: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (legacy / "BACKFILL_LOCK").write_text(f"pid={holder.pid}\nhost={os.uname().nodename}\n", encoding="utf-8")
        busy = backfill(legacy, "--apply")
        assert busy.returncode == 1 and "another backfill is running" in busy.stderr
    finally:
        holder.kill()
        holder.wait()
    stale = backfill(legacy, "--apply")
    assert stale.returncode == 1
    assert "no longer running" in stale.stderr and "--break-stale-lock" in stale.stderr
    ok = backfill(legacy, "--apply", "--break-stale-lock")
    assert ok.returncode == 0, ok.stderr
    assert not (legacy / "BACKFILL_LOCK").exists()


def test_kill_mid_run_leaves_files_old_or_new_and_a_rerun_completes(legacy: Path) -> None:
    expected = json.loads(backfill(legacy, "--json").stdout)
    targets = {c["path"] for c in expected["changes"]}
    # Slow the writer down (a real process, killed with SIGKILL part-way through).
    code = (
        "import sys, time; sys.path.insert(0, sys.argv[1]);"
        "from lib.store import backfill; real = backfill.apply;"
        "backfill.apply = lambda root, plan, on_write=None: real(root, plan, lambda c: time.sleep(0.3));"
        "import backfill_frontmatter; backfill_frontmatter.main(['--apply'])"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(SCRIPTS)], cwd=legacy,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        written = [p for p in targets if "legacy_notes" in (legacy / p).read_text(encoding="utf-8")]
        if len(written) >= 2:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = [p for p in targets if "legacy_notes" in (legacy / p).read_text(encoding="utf-8")]
    assert 2 <= len(done) < len(targets)
    for rel in targets:  # every file parses: old or new, never torn
        frontmatter.read(legacy / rel)
    rerun = backfill(legacy, "--apply", "--break-stale-lock")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert json.loads(backfill(legacy, "--json").stdout)["files_to_change"] == 0


# A backfill that stops for good in the fsync of its third temp file: two notes are rewritten, the third
# is a temp file beside its note. It says so on stdout, so the test kills it at exactly that point.
_STALL_IN_THIRD_WRITE = """
import os, sys, time
sys.path.insert(0, sys.argv[1])
real_fsync = os.fsync
seen = []
def stalling_fsync(fd):
    name = os.readlink(f"/proc/self/fd/{fd}")
    if name.endswith(".tmp"):
        seen.append(name)
        if len(seen) == 3:
            print("STALLED", name, flush=True)
            time.sleep(600)
    return real_fsync(fd)
os.fsync = stalling_fsync
import backfill_frontmatter
backfill_frontmatter.main(sys.argv[2:])
"""


def test_commit_after_a_kill_mid_write_includes_every_changed_file_and_sweeps_temp_files(legacy: Path) -> None:
    expected = json.loads(backfill(legacy, "--json").stdout)
    targets = sorted(c["path"] for c in expected["changes"])
    head_before = git(legacy, "rev-parse", "HEAD").strip()
    proc = subprocess.Popen([sys.executable, "-c", _STALL_IN_THIRD_WRITE, str(SCRIPTS), "--apply", "--commit"],
                            cwd=legacy, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("STALLED ") and line.strip().endswith(".tmp")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stranded = Path(line.split(" ", 1)[1].strip())
    assert stranded.exists() and ".backfill-" in stranded.name
    rewritten = [p for p in targets if "legacy_notes" in (legacy / p).read_text(encoding="utf-8")]
    assert len(rewritten) == 2
    assert git(legacy, "rev-parse", "HEAD").strip() == head_before  # killed before its commit
    lock = (legacy / "BACKFILL_LOCK").read_text(encoding="utf-8")
    assert sorted(line[len("changed="):] for line in lock.splitlines() if line.startswith("changed=")) == targets

    rerun = backfill(legacy, "--apply", "--commit", "--break-stale-lock", "--json")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    report = json.loads(rerun.stdout)
    assert sorted(report["committed"]) == targets  # the two written before the kill too
    assert set(report["carried_over"]) == set(targets)
    assert report["temp_files_removed"] == [stranded.relative_to(legacy).as_posix()]
    assert not stranded.exists()
    assert not [p for p in legacy.rglob("*.tmp") if ".git" not in p.parts]
    assert git(legacy, "status", "--porcelain", "--", *targets) == ""
    assert sorted(git(legacy, "show", "--name-only", "--format=", "HEAD").split()) == targets
    assert not (legacy / "BACKFILL_LOCK").exists()


def test_a_committed_lock_file_cannot_make_backfill_commit_outside_the_store(legacy: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", "pass"])
    holder.wait()  # a pid that is surely not running
    (legacy / "README.md").write_text("changed by hand, not by backfill\n", encoding="utf-8")
    (legacy / "BACKFILL_LOCK").write_text(
        f"pid={holder.pid}\nhost={os.uname().nodename}\nchanged=README.md\nchanged=../outside.md\n"
        "changed=docs/sessions/../../README.md\n", encoding="utf-8")
    result = backfill(legacy, "--apply", "--commit", "--break-stale-lock", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert "carried_over" not in report
    assert "README.md" not in report["committed"]
    assert git(legacy, "status", "--porcelain", "--", "README.md").strip() == "?? README.md"
