"""Team benchmark: ten clones of one repository, five handoffs each into one workstream, pushed at once.

Measures, in one run, on fresh copies of the same team (three clones of one operator claiming offline,
seven more operators):
- baton: every handoff through its helpers, `commit --push` (fetch, re-check every unpushed note,
  replay on the upstream, jittered retry);
- plain git: the same files committed, then `git push` and `git pull --rebase` retries, without baton's
  checks or merge driver.
Prints the wall time, the push attempts and how many of the 50 notes the remote holds, and the ratio.

    .venv/bin/python bench/bench_team.py [--clones N] [--per-clone N] [--keep DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT / "tests")]
WORKER = ROOT / "tests" / "team_worker.py"
PY = sys.executable

from lib.adopt import mergedriver  # noqa: E402
from support.roster import member, write_roster  # noqa: E402

SLUGS = ["rita", "rita", "rita", "sam", "ana", "ben", "cyd", "dee", "eli", "fay"]
INITIALS = {"rita": "RT", "sam": "SK", "ana": "AN", "ben": "BN", "cyd": "CY", "dee": "DE", "eli": "EL", "fay": "FA"}
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


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "commit.gpgsign=false", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


def make_team(folder: Path, clones: int, driver: bool) -> tuple[Path, list[Path]]:
    seed = folder / "seed"
    for sub in ("docs/sessions", "workstreams", ".claude"):
        (seed / sub).mkdir(parents=True, exist_ok=True)
    git(seed, "init", "-q", "-b", "main")
    write_roster(seed, [member(slug, initials) for slug, initials in INITIALS.items()])
    (seed / ".claude/baton.yaml").write_text("handoff:\n  push_attempts: 400\n  push_retry_base_s: 0.05\n"
                                             "  push_retry_cap_s: 1.0\n")
    (seed / "workstreams/auth.md").write_text(WORKSTREAM)
    (seed / ".gitignore").write_text(".claude/state/*\n.claude/archive/\n")
    if driver:
        (seed / ".gitattributes").write_text(mergedriver.with_attributes(""))
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "init")
    remote = folder / "remote.git"
    git(folder, "clone", "-q", "--bare", str(seed), str(remote))
    paths = []
    for n in range(clones):
        clone = folder / f"clone{n}"
        git(folder, "clone", "-q", str(remote), str(clone))
        paths.append(clone)
    return remote, paths


def run(folder: Path, mode: str, clones: int, per_clone: int) -> dict[str, object]:
    remote, paths = make_team(folder, clones, driver=mode != "plain")
    slugs = [SLUGS[n % len(SLUGS)] for n in range(clones)]
    started = time.perf_counter()
    procs = [subprocess.Popen([PY, str(WORKER), str(clone), slug, str(per_clone), mode, f"{mode}{n}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for n, (clone, slug) in enumerate(zip(paths, slugs, strict=True))]
    lines = []
    for proc in procs:
        out, err = proc.communicate()
        lines += [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        if proc.returncode != 0 and mode != "plain":
            raise SystemExit(f"bench_team.py: a {mode} worker failed: {err.strip()[-500:]}")
    wall = time.perf_counter() - started
    tree = git(remote, "ls-tree", "--name-only", "main", "docs/sessions/").split()
    landed = len([t for t in tree if not t.endswith(("INDEX.md", "TEMPLATE.md"))])
    return {"wall_s": round(wall, 2), "push_attempts": sum(int(r.get("attempts") or 0) for r in lines),
            "landed": landed, "stranded": len([r for r in lines if not r.get("pushed")])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clones", type=int, default=10)
    parser.add_argument("--per-clone", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="build the teams here and keep them")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-team-"))
    env = {"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com", "GIT_COMMITTER_NAME": "Bench",
           "GIT_COMMITTER_EMAIL": "bench@example.com", "GIT_CONFIG_NOSYSTEM": "1"}
    os.environ.update(env)
    try:
        baton = run(folder / "baton", "push-each", args.clones, args.per_clone)
        plain = run(folder / "plain", "plain", args.clones, args.per_clone)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    total = args.clones * args.per_clone
    result = {"handoffs": total, "baton": baton, "plain_git": plain,
              "wall_ratio": round(float(baton["wall_s"]) / max(float(plain["wall_s"]), 1e-9), 2),  # type: ignore[arg-type]
              "cpus": os.cpu_count(), "load_1min": round(os.getloadavg()[0], 1)}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{total} handoffs from {args.clones} clones at once (3 clones of one operator claiming offline)")
        print(f"  baton      {baton['wall_s']:>7} s  {baton['push_attempts']:>4} push attempts  "
              f"{baton['landed']}/{total} notes on the remote, {baton['stranded']} stranded")
        print(f"  plain git  {plain['wall_s']:>7} s  {plain['push_attempts']:>4} push attempts  "
              f"{plain['landed']}/{total} notes on the remote, {plain['stranded']} stranded")
        print(f"  wall time ratio baton / plain git: {result['wall_ratio']}x "
              f"(load average {result['load_1min']} on {result['cpus']} CPUs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
