"""Resume benchmark: the /resume dashboard over 10,000 sessions by 5 operators and 300 workstreams.

Prints, from one run on one store built by tests/support/store.py (sessions with the telemetry
hook's and /handoff's frontmatter; whole-process wall times, medians of interleaved rounds, so
machine load hits every contender alike):
- a naive dashboard: python-frontmatter loads every note, then filters and sorts in Python;
- `resume_helpers.py dashboard --json` cold (no .claude/state: the index is built) and warm
  (index up to date: every note is stat'ed, none is read);
- warm after one note was edited, and the SessionStart hook (scripts/hooks/resume_context.py);
- `python -c pass` as the floor.
Targets: warm <= 0.5 s and >= 20x faster than the naive scan; cold no slower than the naive scan.

    .venv/bin/python bench/bench_resume.py [--sessions N] [--workstreams N] [--rounds N] [--warm N] [--keep DIR]

The generated files' mtimes are set an hour back, as in a real store, so no note counts as
"just written" (the index re-checks those by content; see lib/store/index.py).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests")]

from support import store as store_factory  # noqa: E402
from support.roster import member, write_roster  # noqa: E402

HELPERS = ROOT / "scripts" / "resume_helpers.py"
HOOK = ROOT / "scripts" / "hooks" / "resume_context.py"
NAMES = {"ana": "Ana Pires", "bo": "Bo Lindgren", "cy": "Cyrus Vahid", "dee": "Dee Okoro", "eli": "Eli Sato"}
TODAY = "2026-11-22"

NAIVE = r'''
import json, re, sys
from collections import defaultdict
from pathlib import Path
import frontmatter

root, me, today = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
sessions = []
for path in (root / "docs/sessions").glob("*.md"):
    post = frontmatter.load(str(path))
    meta = post.metadata
    if meta.get("status") == "claimed":
        continue
    match = re.match(r"^[A-Z]{2,4}-\d{6}-(\d{2})$", path.stem)
    sessions.append((str(meta.get("date")), int(match.group(1)) if match else 0, path.stem, meta, post.content))
sessions.sort(key=lambda s: (s[0], s[1], s[2]), reverse=True)
mine = [s for s in sessions if s[3].get("operator") == me]
last = mine[0] if mine else None
activity = {}
for date, _, ident, meta, _ in sessions:
    ws = meta.get("workstream")
    if ws and ws not in activity:
        activity[ws] = (date, ident)
groups = defaultdict(list)
for path in (root / "workstreams").glob("*.md"):
    meta = frontmatter.load(str(path)).metadata
    if meta.get("status") in ("done", "superseded", "archived"):
        continue
    group = "mine" if meta.get("owner") == me else "peers" if meta.get("owner") else "unowned"
    groups[group].append({"slug": path.stem, "last": activity.get(path.stem)})
peers = defaultdict(int)
for date, _, _, meta, _ in sessions:
    if meta.get("operator") != me and date >= "2026-11-15":
        peers[meta.get("operator")] += 1
prompt = last[4].split("## Resume Prompt", 1)[-1] if last else None
print(json.dumps({"last": last[2] if last else None, "prompt": prompt, "workstreams": groups, "peers": peers},
                 default=str)[:200])
'''


def generate(root: Path, sessions: int, workstreams: int) -> None:
    """The store factory's benchmark store, with the keys the hook and /handoff write (tests/support/store.py)."""
    for folder in ("plans", "docs/adr", "docs/learnings", ".claude"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    write_roster(root, [member(slug, initials, NAMES[slug], domain="example.org")
                        for slug, initials in store_factory.BENCH_OPERATORS])
    store_factory.bench_store(root, sessions, workstreams, seed=11, telemetry=True, handoff=True)


CPU: dict[str, list[float]] = {}


def run(cmd: list[str], label: str = "", env: dict[str, str] | None = None, stdin: str | None = None) -> float:
    """Wall time of a whole process; its CPU time (user + system, workers included) goes to CPU[label]."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{result.stderr}")
    if label:
        CPU.setdefault(label, []).append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=10_000, help="session notes to generate (default 10,000)")
    parser.add_argument("--workstreams", type=int, default=300, help="workstreams to generate (default 300)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of naive + cold + warm runs (default 3)")
    parser.add_argument("--warm", type=int, default=5, help="warm dashboard runs per round (default 5)")
    parser.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    args = parser.parse_args()

    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp) / "store"
        if root.exists():
            shutil.rmtree(root)
        generate(root, args.sessions, args.workstreams)
        print(f"generated {args.sessions:,} sessions by {len(NAMES)} operators and "
              f"{args.workstreams} workstreams in {root}")
        naive_script = Path(tmp) / "naive_dashboard.py"
        naive_script.write_text(NAIVE, encoding="utf-8")
        state = root / ".claude/state"
        dashboard = [py, str(HELPERS), "dashboard", "--json", "--root", str(root), "--operator", "ana",
                     "--today", TODAY]
        env_hook = dict(os.environ, CLAUDE_PROJECT_DIR=str(root), OPERATOR="ana")
        edited = root / "docs/sessions" / sorted(os.listdir(root / "docs/sessions"))[-1]

        times: dict[str, list[float]] = {k: [] for k in ("pass", "naive", "cold", "warm", "edit", "hook")}
        for f in (root / "docs/sessions").iterdir():
            f.read_bytes()  # every contender starts from a warm page cache
        for r in range(args.rounds):
            times["pass"].append(run([py, "-c", "pass"]))
            # The two long runs alternate which goes first, so a load that comes or goes hits both.
            for contender in (("naive", "cold") if r % 2 == 0 else ("cold", "naive")):
                if contender == "naive":
                    times["naive"].append(run([py, str(naive_script), str(root), "ana", TODAY], "naive"))
                else:
                    shutil.rmtree(state, ignore_errors=True)
                    times["cold"].append(run(dashboard, "cold"))
            for _ in range(args.warm):
                times["warm"].append(run(dashboard, "warm"))
            text = edited.read_text(encoding="utf-8")
            edited.write_text(text.replace("## Decisions\n\n", f"## Decisions\n\n- Edited in round {r}.\n", 1),
                              encoding="utf-8")
            times["edit"].append(run(dashboard, "edit"))
            times["hook"].append(run([py, "-I", str(HOOK)], "hook", env=env_hook, stdin='{"source": "startup"}'))
            print(f"  round {r + 1}: naive {times['naive'][-1]:.2f} s, cold {times['cold'][-1]:.2f} s, "
                  f"warm {statistics.median(times['warm'][-args.warm:]):.3f} s", flush=True)

    med = {k: statistics.median(v) for k, v in times.items()}
    n = args.sessions + args.workstreams
    print(f"\nmedians over {args.rounds} rounds ({args.warm} warm runs each), whole process, {n:,} notes:")
    print(f"  python -c pass                       {med['pass']:7.3f} s")
    print(f"  naive python-frontmatter dashboard   {med['naive']:7.3f} s")
    print(f"  dashboard --json, cold (builds index){med['cold']:7.3f} s   {med['cold'] / med['naive']:.2f}x the naive scan"
          "  (target <= 1.0x)")
    print(f"  dashboard --json, warm               {med['warm']:7.3f} s   {med['naive'] / med['warm']:.0f}x faster than "
          "naive  (targets <= 0.5 s, >= 20x)")
    print(f"  dashboard --json, one note edited    {med['edit']:7.3f} s")
    print(f"  SessionStart hook (resume_context)   {med['hook']:7.3f} s")
    cpu = {k: statistics.median(v) for k, v in CPU.items()}
    print(f"CPU time (user + system, all processes): naive {cpu['naive']:.2f} s, cold {cpu['cold']:.2f} s "
          f"({cpu['cold'] / cpu['naive']:.2f}x, spread over {os.cpu_count()} cores), warm {cpu['warm']:.3f} s")
    paired = statistics.median(c / n for c, n in zip(times["cold"], times["naive"], strict=True))
    print(f"cold / naive, median of the per-round ratios: {paired:.2f}x")
    ok = med["warm"] <= 0.5 and med["naive"] / med["warm"] >= 20 and med["cold"] <= med["naive"]
    print("targets met" if ok else "targets NOT met on this run (machine load?)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
