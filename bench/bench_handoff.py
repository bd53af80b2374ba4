"""Handoff benchmark: the helper steps of /handoff, whole process, in a repository with a large store.

Prints, from one run: the median wall time of each step (`start`, `write-session`, `append-log`,
`regen-index`, `commit`) and of the whole sequence, against a bare `python -c pass` of the same
interpreter measured in the same run.

    .venv/bin/python bench/bench_handoff.py [--sessions N] [--workstreams N] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests")]

from support import store  # noqa: E402
from support.roster import member, write_roster  # noqa: E402

HELPERS = ROOT / "scripts" / "handoff_helpers.py"
PROMPT = " ".join(f"word{i}" for i in range(90)) + "\n\nConfidence: medium"


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "commit.gpgsign=false", *args], cwd=root, check=True, capture_output=True)


def build(root: Path, sessions: int, workstreams: int) -> None:
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "bench@example.com")
    git(root, "config", "user.name", "Bench")
    write_roster(root, [member("bench", "BE", "Bench", "bench@example.com")])
    (root / ".gitignore").write_text(".claude/state/*\n")
    for i in range(sessions):
        ext = f"AB-{20 + i // (99 * 28):02d}{1 + (i // 99 // 28) % 12:02d}{1 + (i // 99) % 28:02d}-{1 + i % 99:02d}"
        store.session(root, ext, "ab", "2026-01-01", title=f"Session {i}", summary=f"Generated session {i}.",
                      workstream=f"ws-{i % workstreams}")
    for i in range(workstreams):
        store.write(root, f"workstreams/ws-{i}.md", store.workstream_text(f"ws-{i}", "ab", title=f"Stream {i}"))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "store")


def timed(cmd: list[str], root: Path, env: dict[str, str], stdin: str | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, env=env, input=stdin, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[1:3])} failed: {proc.stderr.strip()}")
    return elapsed, proc.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10_000, help="session notes in the store")
    parser.add_argument("--workstreams", type=int, default=300, help="workstreams in the store")
    parser.add_argument("--runs", type=int, default=3, help="handoffs to time (medians are reported)")
    args = parser.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build(root, args.sessions, args.workstreams)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE_", "BATON_", "OPERATOR"))}
        env["OPERATOR"] = "bench"
        baseline = statistics.median(timed([py, "-c", "pass"], root, env)[0] for _ in range(5))
        steps: dict[str, list[float]] = {}
        for run in range(args.runs):
            env["CLAUDE_CODE_SESSION_ID"] = f"bench-{run}"
            t, out = timed([py, str(HELPERS), "start", "--json"], root, env)
            steps.setdefault("start", []).append(t)
            sid = json.loads(out)["id"]
            content = json.dumps({"title": f"Bench {run}", "summary": "Benchmark.", "outcome": "done",
                                  "workstream": "ws-1", "sections": {"resume_prompt": PROMPT}})
            for name, cmd, stdin in (
                ("write-session", ["write-session", "--id", sid], content),
                ("append-log", ["append-log", "--id", sid, "--line", "bench"], None),
                ("regen-index", ["regen-index", "--id", sid], None),
                ("commit", ["commit", "--id", sid], None),
            ):
                steps.setdefault(name, []).append(timed([py, str(HELPERS), *cmd], root, env, stdin)[0])
        print(f"store: {args.sessions} sessions, {args.workstreams} workstreams; {args.runs} handoffs")
        print(f"baseline python -c pass: {baseline * 1000:.0f} ms")
        total = 0.0
        for name, times in steps.items():
            median = statistics.median(times)
            total += median
            print(f"{name:<14} {median * 1000:7.0f} ms  {median / baseline:6.1f}x baseline")
        print(f"{'whole handoff':<14} {total * 1000:7.0f} ms  {total / baseline:6.1f}x baseline")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
