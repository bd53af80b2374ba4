"""Claim benchmark: `session.py claim` latency (whole process) against `python -c pass`, in one run.

Builds a git repository with a team of operators, a history of session notes in
HEAD and on a remote-tracking branch, then times (median of N runs each):
- `python -c pass` (the baseline: interpreter start-up);
- `session.py claim` with $OPERATOR set (what the wrappers run), warm operator cache;
- `session.py claim` resolved through `git config user.email`, warm cache;
- `session.py claim` with a cold cache (operators.yaml parsed and validated);
- reading the session trees of HEAD and the remote branches in a fresh process:
  git plumbing (what lib.store.ids does) against GitPython (`import git`; Repo; tree walk).

    .venv/bin/python bench/bench_claim.py [--runs N] [--sessions N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests")]

from support import store  # noqa: E402
from support.roster import member, write_roster  # noqa: E402

SESSION = ROOT / "scripts" / "session.py"
PY = sys.executable

OPERATORS = [member("ada", "AL"), member("grace", "GH"), member("linus", "LT"), member("barbara", "BL"),
             member("edsger", "EWD")]

GITPYTHON_READER = """
import sys
import git
repo = git.Repo(sys.argv[1])
trees = []
try:
    trees.append(repo.head.commit.tree)
except ValueError:
    pass
trees += [ref.commit.tree for ref in repo.refs if ref.path.startswith("refs/remotes/")]
names = set()
for tree in trees:
    try:
        names.update(b.name for b in tree / "docs/sessions")
    except KeyError:
        pass
print(len(names))
"""

PLUMBING_READER = f"""
import sys
sys.path.insert(0, {str(ROOT / "scripts")!r})
from lib.store import ids
print(len(ids.git_tree_names(__import__("pathlib").Path(sys.argv[1]))))
"""


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", *args],
                   cwd=cwd, check=True, capture_output=True)


def build(base: Path, sessions: int) -> Path:
    remote = base / "remote.git"
    git(base, "init", "-q", "--bare", str(remote))
    repo = base / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "ada@example.com")
    git(repo, "config", "user.name", "Ada Example")
    (repo / ".claude").mkdir()
    write_roster(repo, OPERATORS)
    folder = repo / "docs/sessions"
    folder.mkdir(parents=True)
    initials = ["AL", "GH", "LT", "BL", "EWD"]
    for i in range(sessions):
        sid = f"{initials[i % 5]}-26{1 + i // 2800 % 12:02d}{1 + i // 100 % 28:02d}-{1 + i % 99:02d}"
        (folder / f"{sid}.md").write_text(store.claim_text(sid, "al", "2026-01-01T09:00:00Z"), encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "history")
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "HEAD:main", "HEAD:feature-a", "HEAD:feature-b")
    git(repo, "fetch", "-q", "origin")
    return repo


def timed(command: list[str], cwd: Path, env: dict[str, str], after: Callable[[], None] | None = None) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {result.stderr}")
    if after:
        after()
    return elapsed


def interleaved(runs: int, measurements: dict[str, Callable[[], float]]) -> dict[str, float]:
    """Median of `runs` timings each; one round runs every measurement once, so a load spike from
    elsewhere on the machine lands on all of them rather than on one."""
    for fn in measurements.values():
        fn()  # warm the OS caches and write .pyc files first
    samples: dict[str, list[float]] = {name: [] for name in measurements}
    for _ in range(runs):
        for name, fn in measurements.items():
            samples[name].append(fn())
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="runs per measurement (median reported)")
    parser.add_argument("--sessions", type=int, default=2000, help="session notes in the generated history")
    parser.add_argument("--keep", type=Path, help="build the repository here and keep it")
    args = parser.parse_args()

    base = args.keep or Path(tempfile.mkdtemp(prefix="bench-claim-"))
    base.mkdir(parents=True, exist_ok=True)
    try:
        repo = build(base, args.sessions)
        # PYTHONDONTWRITEBYTECODE would make every run recompile scripts/lib: users run with .pyc files.
        env = {k: v for k, v in os.environ.items()
               if k not in ("OPERATOR", "CLAUDE_USER_EMAIL", "BATON_SESSION_ID", "PYTHONDONTWRITEBYTECODE")}
        folder = repo / "docs/sessions"
        cache = repo / ".claude/state/operator.cache"

        def clean_claims() -> None:
            for path in folder.glob("*-991231-*.md"):
                path.unlink()

        claim = [PY, str(SESSION), "claim", "--date", "2099-12-31"]
        whoami = [PY, str(SESSION), "whoami"]
        as_ada = {**env, "OPERATOR": "ada"}

        def cold() -> float:
            cache.unlink(missing_ok=True)
            return timed(claim, repo, env, clean_claims)

        timed(whoami, repo, env)  # warm the operator cache
        medians = interleaved(args.runs, {
            "python -c pass": lambda: timed([PY, "-c", "pass"], repo, env),
            "claim, $OPERATOR (warm cache)": lambda: timed(claim, repo, as_ada, clean_claims),
            "claim, git email (warm cache)": lambda: timed(claim, repo, env, clean_claims),
            "whoami, $OPERATOR": lambda: timed(whoami, repo, as_ada),
            "claim, cold cache (parse + validate)": cold,
            "read trees: git plumbing (lib.store.ids)": lambda: timed([PY, "-c", PLUMBING_READER, str(repo)], repo, env),
            "read trees: GitPython": lambda: timed([PY, "-c", GITPYTHON_READER, str(repo)], repo, env),
        })
        results = list(medians.items())
        baseline = results[0][1]
        print(f"claim benchmark: {args.sessions} notes in HEAD and 3 remote branches, median of {args.runs} runs")
        print(f"{'measurement':40} {'ms':>8} {'x pass':>8}")
        for name, seconds in results:
            print(f"{name:40} {seconds * 1000:8.1f} {seconds / baseline:8.2f}")
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
