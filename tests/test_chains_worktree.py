"""`run --worktree`: a chain on branch baton/<chain id> in a worktree of its own, beside a person at work."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from chains_harness import Harness, api_error, make_harness, note, result
from conftest import git


@pytest.fixture
def h(repo: Path, tmp_path: Path) -> Harness:
    harness = make_harness(repo, tmp_path)
    # As in a team's repository, the operators and settings are committed, so a worktree has them.
    (repo / ".gitignore").write_text(".claude/state/\n")
    git(repo, "add", ".claude", ".gitignore")
    git(repo, "commit", "-q", "-m", "baton settings")
    return harness


def _wait_invocations(h: Harness, n: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while len(h.invocations()) < n:
        if time.monotonic() > deadline:
            raise AssertionError(f"{n} sessions never started: {h.invocations()}")
        time.sleep(0.02)


def test_two_worktree_chains_and_a_person_in_the_main_checkout_do_not_touch_each_others_files(h: Harness) -> None:
    gate = h.tmp / "gate"
    h.scenario(default={"steps": [
        {"init": {}},
        {"wait_for_file": str(gate), "timeout": 30},
        note("done", work_file="work.txt"),
        result(total_cost_usd=0.1),
    ]})
    runners = [h.start("run", "--worktree", "--mission", f"Mission {name}.", "--operator", "rt", "--json")
               for name in ("A", "B")]
    try:
        _wait_invocations(h, 2)
        # A person works in the main checkout meanwhile.
        (h.root / "person.txt").write_text("mine\n")
        git(h.root, "add", "person.txt")
        git(h.root, "commit", "-q", "-m", "person's work")
        gate.touch()
        outs = [r.communicate(timeout=60) for r in runners]
    finally:
        for r in runners:
            if r.poll() is None:
                r.kill()
                r.communicate()
    assert [r.returncode for r in runners] == [0, 0], [err for _, err in outs]
    chains = [json.loads(out) for out, _ in outs]
    assert [c["status"] for c in chains] == ["done", "done"]
    runs = h.invocations()
    assert {r["cwd"] for r in runs} == {c["worktree"]["path"] for c in chains}
    # Ids claimed in two worktrees at once are distinct.
    assert len({c["sessions"][0]["id"] for c in chains}) == 2
    for chain in chains:
        tree = chain["worktree"]
        assert tree["branch"] == f"baton/{chain['id']}"
        # Not pushed (no --auto-push): the worktree stays, with the branch's work committed in it.
        assert "not pushed" in tree["kept"] and Path(tree["path"], "work.txt").read_text().count("work of") == 1
        log = git(h.root, "log", "--format=%s", tree["branch"]).splitlines()
        assert log[0].startswith("handoff: ") and "person's work" not in log
        assert git(Path(tree["path"]), "status", "--porcelain") == ""
    # The main checkout has the person's work only, and nothing uncommitted.
    assert not (h.root / "work.txt").exists()
    assert git(h.root, "status", "--porcelain") == ""
    assert git(h.root, "log", "-1", "--format=%s").strip() == "person's work"
    assert git(h.root, "symbolic-ref", "--short", "HEAD").strip() == "main"
    status = h.chains("status", chains[0]["id"])
    assert f"branch   baton/{chains[0]['id']}" in status.stdout


def test_a_done_worktree_chain_pushes_its_branch_then_removes_the_worktree(h: Harness) -> None:
    h.scenario({"steps": [{"init": {}}, note("done", work_file="work.txt"), result()]})
    chain = json.loads(h.run("--worktree", "--auto-push").stdout)
    tree = chain["worktree"]
    assert chain["status"] == "done" and chain["push"]["ok"] is True
    assert tree["removed"] is True and not Path(tree["path"]).exists()
    assert git(h.remote, "log", "-1", "--format=%s", tree["branch"]).startswith("handoff: ")
    assert tree["path"] not in git(h.root, "worktree", "list")


def test_a_worktree_holding_uncommitted_work_is_never_removed(h: Harness) -> None:
    h.scenario({"steps": [{"init": {}}, {"touch": "scratch.txt"}, note("done"), result()]})
    chain = json.loads(h.run("--worktree", "--auto-push").stdout)
    tree = chain["worktree"]
    assert chain["status"] == "done" and "uncommitted" in tree["kept"]
    assert (Path(tree["path"]) / "scratch.txt").exists()


def test_resume_reuses_the_worktree_and_re_adds_it_when_its_folder_is_gone(h: Harness) -> None:
    h.scenario(api_error(401, "authentication_failed", "Invalid API key · Fix external API key"),
               {"steps": [{"init": {}}, note("done"), result()]})
    first = json.loads(h.run("--worktree").stdout)
    assert first["status"] == "failed" and "kept" in first["worktree"]
    path = Path(first["worktree"]["path"])
    subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=h.root, check=True)
    proc = h.chains("run", "--resume", first["id"], "--json", "--max-sessions", "2")
    assert proc.returncode == 0, proc.stderr
    resumed = json.loads(proc.stdout)
    # Re-added for its branch, and kept at the end: done, but the branch is not pushed.
    assert (path / ".git").exists() and "not pushed" in resumed["worktree"]["kept"]
    assert resumed["status"] == "done" and resumed["worktree"]["branch"] == first["worktree"]["branch"]
    assert [r["cwd"] for r in h.invocations()] == [str(path), str(path)]
