"""Benchmark of the telemetry hook (scripts/hooks/session_state.py), one run, all ratios in-run.

    .venv/bin/python bench/bench_hook.py [--rounds 60] [--concurrent 200] [--siblings 60]

In a temporary repository with a realistic state folder (dozens of sibling session files and
a session that has already seen hundreds of tool calls), it measures the median whole-process
wall time of:

- `python -c pass` (the baseline, same interpreter the hook command runs) and `python -I -S -c pass`;
- one hook invocation for a successful tool call (`python -I -S session_state.py`);
- one hook invocation for a failed Bash call (PostToolUseFailure): the call records the output
  for classification, which the hook does in one batch at SessionEnd (measured too, per failure;
  lib/failures/classify.py must be present, the output says so when it is absent);
- the exact command registered in .claude/settings.json, run through `sh -c` (launcher included),
  next to `sh -c 'python -c pass'` (Claude Code runs every hook command through a shell);

then starts N hook processes at once for one session and checks the count is exactly N.
Commands are interleaved round by round so machine noise hits them all alike.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = REPO / "scripts"
HOOK = SCRIPTS / "hooks" / "session_state.py"
SESSION = "0b5e7c1a-2f4d-4c3b-9a8e-6d1f2e3a4b5c"
TARGET_RATIO = 1.1

sys.path.insert(0, str(SCRIPTS))


def interpreter() -> str:
    venv = REPO / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def registered_command() -> str:
    settings = json.loads((REPO / ".claude" / "settings.json").read_text(encoding="utf-8"))
    for group in settings["hooks"]["PostToolUse"]:
        for handler in group["hooks"]:
            if "session_state.py" in handler.get("command", ""):
                return str(handler["command"])
    raise SystemExit("bench: no session_state.py hook registered for PostToolUse in .claude/settings.json")


def make_repo(base: Path, siblings: int) -> Path:
    """A repository root whose scripts/ and .venv point at ours, with a lived-in state folder."""
    root = base / "repo"
    state = root / ".claude" / "state"
    state.mkdir(parents=True)
    (root / "scripts").symlink_to(SCRIPTS)
    if (REPO / ".venv").exists():
        (root / ".venv").symlink_to(REPO / ".venv")
    from lib.telemetry import state as hookstate
    from lib.telemetry.jsonc import dumps

    tools = ["Bash", "Read", "Edit", "Write", "Grep", "Glob", "Agent", "TodoWrite", "WebFetch"]
    for n in range(siblings):
        sid = f"{n:08d}-1111-4222-8333-444455556666"
        doc = hookstate.new_state(sid, time.time())
        doc["tool_calls_count"] = 300 + n
        doc["tool_calls_breakdown"] = {t: 30 + n for t in tools}
        doc["tool_calls_breakdown"]["mcp__notion_offplan"] = 0
        doc["recent_tool_use_ids"] = [f"toolu_{n}_{i:04d}" for i in range(hookstate.RECENT_IDS_MAX)]
        (state / f"session-{sid}.json").write_text(dumps(doc), encoding="ascii")
        (state / f"session-{sid}.lock").touch()
        if n % 3 == 0:  # some were active in the last hour, most not
            old = time.time() - 7200
            os.utime(state / f"session-{sid}.json", (old, old))
    own = hookstate.new_state(SESSION, time.time())
    own["tool_calls_count"] = 480
    own["tool_calls_breakdown"] = {t: 50 for t in tools}
    own["tool_calls_breakdown"]["mcp__github"] = 30
    own["tool_calls_breakdown_methods"] = {"mcp__github": {"get_issue": 10, "list_prs": 20}}
    own["recent_tool_use_ids"] = [f"toolu_own_{i:04d}" for i in range(hookstate.RECENT_IDS_MAX)]
    (state / f"session-{SESSION}.json").write_text(dumps(own), encoding="ascii")
    return root


def payload(root: Path, n: int, *, failed: bool = False, session: str = SESSION) -> bytes:
    doc: dict[str, object] = {
        "session_id": session,
        "transcript_path": f"/home/user/.claude/projects/-repo/{session}.jsonl",
        "cwd": str(root),
        "permission_mode": "default",
        "tool_name": "Bash",
        "tool_input": {"command": "pytest -q tests/test_x.py", "description": "run tests"},
        "tool_use_id": f"toolu_bench_{os.getpid()}_{n}",
        "duration_ms": 1200,
    }
    if failed:
        doc["hook_event_name"] = "PostToolUseFailure"
        doc["error"] = (
            "Exit code 1\n============================= test session starts ==============================\n"
            "tests/test_x.py F\n\n=================================== FAILURES ===================================\n"
            "___________________________________ test_add ___________________________________\n"
            "    def test_add():\n>       assert add(1, 2) == 4\nE       assert 3 == 4\n\n"
            "tests/test_x.py:5: AssertionError\n=========================== short test summary info ============================\n"
            "FAILED tests/test_x.py::test_add - assert 3 == 4\n============================== 1 failed in 0.03s ==============================="
        )
        doc["is_interrupt"] = False
    else:
        doc["hook_event_name"] = "PostToolUse"
        doc["tool_response"] = {"stdout": "1 passed in 0.01s", "stderr": "", "interrupted": False,
                                "isImage": False, "noOutputExpected": False}
    return json.dumps(doc).encode()


def timed(cmd: list[str], data: bytes | None, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds user+system) of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, input=data, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def read_count(root: Path, session: str = SESSION) -> int:
    doc = json.loads((root / ".claude" / "state" / f"session-{session}.json").read_text())
    return int(doc["tool_calls_count"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60, help="timed runs per command (default 60)")
    parser.add_argument("--concurrent", type=int, default=200, help="hook processes started at once (default 200)")
    parser.add_argument("--siblings", type=int, default=60, help="other sessions in the state folder (default 60)")
    args = parser.parse_args(argv)

    py = interpreter()
    has_classifier = (SCRIPTS / "lib" / "failures" / "classify.py").exists()
    command = registered_command()
    with tempfile.TemporaryDirectory(prefix="bench-hook-") as tmp:
        root = make_repo(Path(tmp), args.siblings)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUDE_")}
        env["CLAUDE_PROJECT_DIR"] = str(root)
        hook_cmd = [py, "-I", "-S", str(HOOK)]
        # Warm-up: byte-code caches for lib/telemetry (and lib/failures) get written once.
        for n in range(3):
            timed(hook_cmd, payload(root, -1 - n), env)
            timed(hook_cmd, payload(root, -10 - n, failed=True), env)
        cases: dict[str, tuple[list[str], object]] = {
            "python -c pass (baseline)": ([py, "-c", "pass"], None),
            "python -I -S -c pass": ([py, "-I", "-S", "-c", "pass"], None),
            "hook, successful tool call": (hook_cmd, "ok"),
            "hook, failed call (recorded)": (hook_cmd, "fail"),
            "sh -c 'python -c pass'": (["sh", "-c", f"'{py}' -c pass"], None),
            "registered command via sh -c": (["sh", "-c", command], "ok"),
        }
        samples: dict[str, list[float]] = {name: [] for name in cases}
        cpu: dict[str, list[float]] = {name: [] for name in cases}
        n = 0
        for _ in range(args.rounds):
            for name, (cmd, kind) in cases.items():
                n += 1
                data = None if kind is None else payload(root, n, failed=kind == "fail")
                wall, used = timed(cmd, data, env)
                samples[name].append(wall)
                cpu[name].append(used)
        before = read_count(root)

        # SessionEnd classifies every failure the timed rounds recorded, in one batch.
        pending = root / ".claude" / "state" / f"session-{SESSION}.failures.jsonl"
        recorded = pending.read_text().count("\n") if pending.exists() else 0
        end = json.dumps({"session_id": SESSION, "hook_event_name": "SessionEnd", "reason": "other",
                          "cwd": str(root)}).encode()
        end_wall, _ = timed(hook_cmd, end, env)
        state_doc = json.loads((root / ".claude" / "state" / f"session-{SESSION}.json").read_text())
        classified = sum(state_doc.get("failures_breakdown", {}).values())

        # Concurrency: N processes for one fresh session, all started before any is waited on. Errors are
        # counted from here on (the SessionEnd above logs that its made-up transcript is not there).
        errors_log = root / ".claude" / "state" / "hook-errors.log"
        logged_before = errors_log.read_text().count("\n") if errors_log.exists() else 0
        conc_session = "c0ffee00-0000-4000-8000-000000000200"
        procs = []
        start = time.perf_counter()
        for i in range(args.concurrent):
            p = subprocess.Popen(hook_cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, env=env)
            procs.append(p)
            assert p.stdin is not None
            p.stdin.write(payload(root, 100000 + i, session=conc_session))
            p.stdin.close()
        codes = [p.wait() for p in procs]
        elapsed = time.perf_counter() - start
        got = read_count(root, conc_session)
        errors = (errors_log.read_text().count("\n") if errors_log.exists() else 0) - logged_before

    base = statistics.median(samples["python -c pass (baseline)"])
    base_cpu = statistics.median(cpu["python -c pass (baseline)"])
    print(f"interpreter: {py} (Python {sys.version.split()[0]})")
    print(f"state folder: {args.siblings} sibling sessions; rounds: {args.rounds}")
    print(f"failure classifier: {'lib/failures/classify.py present' if has_classifier else 'lib/failures/classify.py ABSENT (failures counted, not classified)'}")
    print(f"registered command: {command}")
    print()
    print(f"{'case':40s} {'wall median ms':>14s} {'p90 ms':>8s} {'ratio':>7s} {'cpu median ms':>14s} {'ratio':>7s}")
    for name, values in samples.items():
        med = statistics.median(values)
        p90 = sorted(values)[int(len(values) * 0.9) - 1]
        used = statistics.median(cpu[name])
        print(f"{name:40s} {med * 1000:14.2f} {p90 * 1000:8.2f} {med / base:6.2f}x "
              f"{used * 1000:14.2f} {used / base_cpu:6.2f}x")
    for name in ("hook, successful tool call", "hook, failed call (recorded)"):
        ratio = statistics.median(samples[name]) / base
        verdict = "within" if ratio <= TARGET_RATIO else "OVER"
        print(f"target {TARGET_RATIO}x for '{name}': {verdict} ({ratio:.2f}x)")
    print(f"SessionEnd classifying {recorded} recorded failures in one batch: {end_wall * 1000:.1f} ms "
          f"({(end_wall - base) * 1000 / max(recorded, 1):.2f} ms per failure over the baseline); "
          f"classified {classified}: {dict(state_doc.get('failures_breakdown', {}))}")
    print()
    ok = got == args.concurrent and not any(codes)
    print(f"concurrent: {args.concurrent} processes -> tool_calls_count {got} "
          f"({'exact' if got == args.concurrent else 'LOST UPDATES'}), exit codes all 0: {not any(codes)}, "
          f"{args.concurrent / elapsed:.0f} invocations/s ({elapsed:.2f} s), errors logged by them: {errors}")
    print(f"(sequential timed runs counted {before} on the lived-in session)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
