"""Ten clones, one bare remote, fifty handoffs into one workstream: every note lands, no id collides,
nobody merges by hand (lib.handoff.integrate, with real processes racing on a real remote)."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest
from lib import vault
from lib.adopt import mergedriver
from lib.handoff import integrate, replay
from lib.store import frontmatter
from lib.vault import merge
from support.git import git
from support.paths import PYTHON, SCRIPTS
from support.roster import member, write_roster

WORKER = Path(__file__).resolve().parent / "team_worker.py"
OPERATORS = [("rita", "RT"), ("sam", "SK"), ("ana", "AN"), ("ben", "BN"), ("cyd", "CY"), ("dee", "DE"),
             ("eli", "EL"), ("fay", "FA")]
# Rita works on three clones, each claiming offline: the same ids, again and again.
CLONES = ["rita", "rita", "rita", "sam", "ana", "ben", "cyd", "dee", "eli", "fay"]
PER_CLONE = 5
WORKSTREAM = """\
---
title: Sign-in
owner: rita
summary: Users sign in with their work account.
tags: [auth]
kind: workstream
external_id: auth
status: active
---
## Goal

Sign-in works.

## Session Log
"""
# Tiny backoff: the race is real, the waiting is not what is tested.
SETTINGS = "handoff:\n  push_attempts: 400\n  push_retry_base_s: 0.05\n  push_retry_cap_s: 1.0\n"


def make_team(tmp_path: Path, clones: list[str] = CLONES) -> tuple[Path, list[Path]]:
    seed = tmp_path / "seed"
    for folder in ("docs/sessions", "workstreams", ".claude"):
        (seed / folder).mkdir(parents=True, exist_ok=True)
    git(seed, "init", "-q")
    write_roster(seed, [member(slug, initials) for slug, initials in OPERATORS])
    (seed / ".claude" / "baton.yaml").write_text(SETTINGS)
    (seed / "workstreams" / "auth.md").write_text(WORKSTREAM)
    (seed / ".gitignore").write_text(".claude/state/*\n.claude/archive/\n")
    (seed / ".gitattributes").write_text(mergedriver.with_attributes(""))
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "init")
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(remote))
    paths = []
    for n, _ in enumerate(clones):
        clone = tmp_path / f"clone{n}"
        git(tmp_path, "clone", "-q", str(remote), str(clone))
        git(clone, "config", "commit.gpgsign", "false")
        mergedriver.register(clone, str(SCRIPTS))
        paths.append(clone)
    return remote, paths


def run_workers(clones: list[Path], operators: list[str], mode: str) -> list[list[dict[str, Any]]]:
    procs = [subprocess.Popen([PYTHON, str(WORKER), str(clone), operator, str(PER_CLONE), mode],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for clone, operator in zip(clones, operators, strict=True)]
    results = []
    for proc in procs:
        # Generous: on an idle machine the whole race takes well under a minute; a machine shared by many
        # test runs can stretch it several times over, which is not what this test is about.
        out, err = proc.communicate(timeout=1500)
        assert proc.returncode == 0, f"worker failed: {err.strip()[-2000:]} {out[-2000:]}"
        results.append([json.loads(line) for line in out.splitlines()])
    return results


def assert_remote_holds_every_handoff(remote: Path, tmp_path: Path, expected: int) -> None:
    check = tmp_path / "check"
    git(tmp_path, "clone", "-q", str(remote), str(check))
    notes = sorted(p for p in (check / "docs/sessions").glob("*.md") if p.name not in ("INDEX.md", "TEMPLATE.md"))
    ids = [p.stem for p in notes]
    assert len(ids) == expected and len(set(ids)) == expected
    for path in notes:
        metadata, body = frontmatter.loads(path.read_text())
        assert metadata["external_id"] == path.stem and metadata["status"] == "written"
        assert metadata["content_hash"] == frontmatter.content_hash(metadata, body), path.name
    strict = subprocess.run([PYTHON, str(SCRIPTS / "validate_frontmatter.py"), "--strict"], cwd=check,
                            capture_output=True, text=True)
    assert strict.returncode == 0, strict.stdout + strict.stderr

    log = (check / "workstreams/auth.md").read_text()
    entries = [m for m in (merge._LOG_ENTRY.match(line) for line in log.splitlines()) if m]
    logged = [m["linked"] or m["plain"] for m in entries]
    assert sorted(logged) == ids  # every line exactly once
    keys = [(merge._LOG_DATE.match(m["rest"]).group(1), m["linked"]) for m in entries]  # type: ignore[union-attr]
    assert keys == sorted(keys, reverse=True)  # newest first, by date then id

    index = (check / "docs/sessions/INDEX.md").read_text()
    assert sorted(line.split("]")[0][3:] for line in index.splitlines() if line.startswith("| [")) == ids
    changelog = (check / "CHANGELOG.md").read_text()
    assert sorted(line.split("[")[1].split("]")[0] for line in changelog.splitlines()
                  if line.startswith("## ")) == ids
    assert f"## Sessions ({expected})" in (check / "docs/maps/auth.md").read_text()
    for path in check.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            assert merge.conflict_lines(path.read_text(errors="replace")) == [], path
    problems = vault.check(check).problems
    assert [p for p in problems if p.kind in (vault.STALE, vault.BROKEN_LINK, vault.MISSING_BACKLINK)] == []


def assert_nothing_stranded(clones: list[Path]) -> None:
    for clone in clones:
        git(clone, "fetch", "-q")
        assert git(clone, "rev-list", "--count", "origin/main..HEAD").strip() == "0", clone
        assert git(clone, "status", "--porcelain", "--untracked-files=no") == "", clone


def test_ten_clones_pushing_fifty_handoffs_at_once_land_every_one(tmp_path: Path) -> None:
    remote, clones = make_team(tmp_path)
    results = run_workers(clones, CLONES, "push-each")
    assert all(r["pushed"] and r["code"] == 0 for rs in results for r in rs)
    assert_remote_holds_every_handoff(remote, tmp_path, len(CLONES) * PER_CLONE)
    assert_nothing_stranded(clones)
    rita = {r["claimed"] for rs in results[:3] for r in rs}
    assert len(rita) < 15  # the three clones did claim the same ids offline: the renames were needed


def test_fifty_handoffs_claimed_and_committed_offline_then_pushed_at_once_land_every_one(tmp_path: Path) -> None:
    remote, clones = make_team(tmp_path)
    results = run_workers(clones, CLONES, "commit-only")
    assert sum(len(rs) for rs in results) == 50
    procs = [subprocess.Popen([PYTHON, str(SCRIPTS / "handoff_helpers.py"), "commit", "--id", rs[-1]["id"], "--push",
                               "--json"], cwd=clone, env=_env(operator), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for clone, operator, rs in zip(clones, CLONES, results, strict=True)]
    for proc in procs:
        out, err = proc.communicate(timeout=1500)
        assert proc.returncode == 0, err
        assert json.loads(out)["pushed"]
    assert_remote_holds_every_handoff(remote, tmp_path, 50)
    assert_nothing_stranded(clones)


def _env(operator: str) -> dict[str, str]:
    import os

    return {**os.environ, "OPERATOR": operator, "CLAUDE_CODE_SESSION_ID": "pusher"}


def test_backoff_is_jittered_and_bounded() -> None:
    policy = integrate.Policy(attempts=5, base_s=0.5, cap_s=2.0)
    rng = random.Random(7)
    delays = [policy.delay(n, rng) for n in range(1, 20)]
    assert all(0 <= d <= 2.0 for d in delays) and len(set(delays)) == len(delays)
    assert all(policy.delay(1, rng) <= 0.5 for _ in range(50))


@pytest.mark.parametrize(("text", "old", "new", "expected"), [
    ("- [RT-261206-01](../docs/sessions/RT-261206-01.md) x", "RT-261206-01", "RT-261206-07",
     "- [RT-261206-07](../docs/sessions/RT-261206-07.md) x"),
    ("XRT-261206-01 RT-261206-011", "RT-261206-01", "RT-261206-07", "XRT-261206-01 RT-261206-011"),
])
def test_carrying_a_rename_replaces_whole_ids_only(text: str, old: str, new: str, expected: str) -> None:
    assert replay.carry_renames("x.txt", text, {old: new}) == expected


def test_the_backoff_base_grows_to_the_length_of_the_attempt_that_lost() -> None:
    policy = integrate.Policy(attempts=5, base_s=0.01, cap_s=10.0)
    rng = random.Random(3)
    assert max(policy.delay(1, rng) for _ in range(200)) <= 0.01
    assert max(policy.delay(1, rng, took_s=0.5) for _ in range(200)) > 0.25
