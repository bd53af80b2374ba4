"""Search benchmark: `scripts/search.py` over 10,000 sessions by 5 operators and 300 workstreams.

Prints, from one run on one store built by tests/support/store.py (whole-process wall
times, medians of interleaved rounds, so machine load hits every contender alike):
- the floor: a Python start plus a stat of every note;
- `git grep -i -l WORD` over the same store (committed, so git knows every file);
- the warm `/resume` dashboard (`resume_helpers.py dashboard --json`);
- a warm `search.py WORD` (index up to date: every note is stat'ed, none is read);
- the cold index build (`resume_helpers.py dashboard --json` with no .claude/state) with this code
  and with the code before full-text search (`--baseline REV`, default: the parent of the commit
  that added lib/store/fulltext.py), both run on the same store.
Targets: warm search <= 1.5x the warm dashboard and <= git grep; cold build <= 1.3x the baseline's.

    .venv/bin/python bench/bench_search.py [--sessions N] [--workstreams N] [--rounds N] [--warm N]
                                          [--query WORD] [--baseline REV]
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support import store as store_factory  # noqa: E402

TODAY = "2026-11-22"
FLOOR = r'''
import os, sys
root = sys.argv[1]
for folder in ("docs/sessions", "workstreams", "plans", "docs/adr", "docs/learnings"):
    try:
        with os.scandir(os.path.join(root, folder)) as it:
            for entry in it:
                if entry.name.endswith(".md"):
                    entry.stat()
    except OSError:
        pass
'''


CPU: dict[str, list[float]] = {}


def run(cmd: list[str], cwd: Path | None = None, ok: tuple[int, ...] = (0,), label: str = "") -> float:
    """Wall time of a whole process; its CPU time (user + system, workers included) goes to CPU[label]."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode not in ok:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{result.stderr}")
    if label:
        CPU.setdefault(label, []).append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return elapsed


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", *args],
                   cwd=root, check=True, capture_output=True)


def baseline_rev() -> str:
    added = subprocess.run(["git", "log", "-1", "--format=%H", "--diff-filter=A", "--",
                            "scripts/lib/store/fulltext.py"], cwd=ROOT, capture_output=True, text=True)
    first = added.stdout.strip()
    return f"{first}^" if first else "HEAD"


def extract_scripts(rev: str, into: Path) -> Path:
    """The `scripts/` folder of a revision of this repository, unpacked under `into`."""
    data = subprocess.run(["git", "archive", "--format=tar", rev, "scripts"], cwd=ROOT, capture_output=True,
                          check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into / "scripts"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=10_000, help="session notes to generate (default 10,000)")
    parser.add_argument("--workstreams", type=int, default=300, help="workstreams to generate (default 300)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--warm", type=int, default=5, help="warm runs of each contender per round (default 5)")
    parser.add_argument("--query", default="timezone", help="the word searched for (default: timezone)")
    parser.add_argument("--baseline", help="revision whose index build is today's (default: before full text)")
    args = parser.parse_args()

    py = sys.executable
    rev = args.baseline or baseline_rev()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "store"
        started = time.perf_counter()
        store_factory.bench_store(root, args.sessions, args.workstreams)
        git(root, "init", "-q")
        git(root, "add", "-A")
        git(root, "commit", "-qm", "store")
        print(f"generated {args.sessions:,} sessions and {args.workstreams} workstreams in "
              f"{time.perf_counter() - started:.1f} s; baseline for the cold build: {rev}")
        old_scripts = extract_scripts(rev, Path(tmp) / "baseline")
        for scripts in (ROOT / "scripts", old_scripts):
            # Bytecode for both codes: where PYTHONDONTWRITEBYTECODE is set, every run would compile them.
            subprocess.run([py, "-m", "compileall", "-q", str(scripts)], check=True, capture_output=True)
        floor_script = Path(tmp) / "floor.py"
        floor_script.write_text(FLOOR, encoding="utf-8")
        state = root / ".claude/state"

        def dashboard(scripts: Path) -> list[str]:
            return [py, str(scripts / "resume_helpers.py"), "dashboard", "--json", "--root", str(root),
                    "--operator", "ana", "--today", TODAY]

        search = [py, str(ROOT / "scripts/search.py"), args.query, "--root", str(root)]
        warm = {
            "floor": [py, str(floor_script), str(root)],
            "git grep": ["git", "grep", "-i", "-l", args.query],
            "dashboard": dashboard(ROOT / "scripts"),
            "search": search,
        }
        times: dict[str, list[float]] = {k: [] for k in (*warm, "cold", "cold baseline")}
        for f in (root / "docs/sessions").iterdir():
            f.read_bytes()  # every contender starts from a warm page cache
        for r in range(args.rounds):
            for contender in (("cold", "cold baseline") if r % 2 == 0 else ("cold baseline", "cold")):
                shutil.rmtree(state, ignore_errors=True)
                scripts = ROOT / "scripts" if contender == "cold" else old_scripts
                times[contender].append(run(dashboard(scripts), label=contender))
            shutil.rmtree(state, ignore_errors=True)
            run(dashboard(ROOT / "scripts"))  # the index as this code keeps it
            run(search)
            for _ in range(args.warm):
                for name, cmd in warm.items():
                    times[name].append(run(cmd, cwd=root, ok=(0, 1), label=name))
            print(f"  round {r + 1}: cold {times['cold'][-1]:.2f} s (baseline {times['cold baseline'][-1]:.2f} s), "
                  f"warm search {statistics.median(times['search'][-args.warm:]):.3f} s", flush=True)
        hits = subprocess.run([*search, "--json", "--limit", "500"], capture_output=True, text=True).stdout
        grep = subprocess.run(warm["git grep"], cwd=root, capture_output=True, text=True).stdout

    med = {k: statistics.median(v) for k, v in times.items()}
    shown = hits.count('"path"')
    n = args.sessions + args.workstreams
    print(f"\nmedians over {args.rounds} rounds ({args.warm} warm runs each), whole process, {n:,} notes, "
          f"query {args.query!r} ({shown} hits shown of at most 500; git grep lists "
          f"{len(grep.splitlines())} files):")
    print(f"  floor: python + stat of every note   {med['floor']:7.3f} s")
    print(f"  git grep -i -l                       {med['git grep']:7.3f} s")
    print(f"  /resume dashboard, warm              {med['dashboard']:7.3f} s")
    print(f"  search.py, warm                      {med['search']:7.3f} s   {med['search'] / med['dashboard']:.2f}x "
          f"the dashboard (target <= 1.5x), {med['search'] / med['git grep']:.2f}x git grep (target <= 1.0x)")
    print(f"  cold index build (dashboard), now    {med['cold']:7.3f} s   "
          f"{med['cold'] / med['cold baseline']:.2f}x the baseline's (target <= 1.3x)")
    print(f"  cold index build, baseline           {med['cold baseline']:7.3f} s")
    cpu = {k: statistics.median(v) for k, v in CPU.items()}
    print(f"CPU time (user + system, all processes), medians: cold build {cpu['cold']:.2f} s vs baseline "
          f"{cpu['cold baseline']:.2f} s ({cpu['cold'] / cpu['cold baseline']:.2f}x); warm search "
          f"{cpu['search'] * 1000:.0f} ms, git grep {cpu['git grep'] * 1000:.0f} ms, dashboard "
          f"{cpu['dashboard'] * 1000:.0f} ms, floor {cpu['floor'] * 1000:.0f} ms")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    ok = (med["search"] <= 1.5 * med["dashboard"] and med["search"] <= med["git grep"]
          and med["cold"] <= 1.3 * med["cold baseline"])
    print("targets met" if ok else "targets NOT met on this run (machine load?)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
