"""Benchmark of adopting baton: the installer, and one telemetry hook call as each layout registers it.

    .venv/bin/python bench/bench_adopt.py [--rounds 30]

In one run, in temporary repositories:

- `scripts/install.py TARGET --venv <this venv>` on a fresh repository, the same command again
  (nothing to change), `--upgrade`, and `--uninstall` (median whole-process wall time each);
- one PostToolUse hook call through `sh -c` as registered by the installer
  (`"$CLAUDE_PROJECT_DIR"/.baton/scripts/py ...`), as registered by the plugin's hooks/hooks.json
  with its venv present, and the plugin's fallback (`python3` on PATH, which may be a version
  manager's shim), each next to `sh -c '<the same python> -c pass'`.

Commands are interleaved round by round so machine noise hits them all alike.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
INSTALL = REPO / "scripts" / "install.py"
VENV = Path(sys.prefix)


def timed(args: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None, stdin: str = "") -> float:
    started = time.perf_counter()
    out = subprocess.run(list(args), cwd=cwd, env=env, input=stdin, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(f"bench: {' '.join(args)} failed: {out.stderr.strip()[-500:]}")
    return elapsed


def fresh_repo(base: Path, name: str) -> Path:
    root = base / name
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "config", "user.email", "bench@example.com"], check=True)
    subprocess.run(["git", "-C", str(root), "config", "user.name", "Bench Person"], check=True)
    return root


def plugin_command() -> str:
    hooks = json.loads((REPO / "hooks" / "hooks.json").read_text(encoding="utf-8"))
    return str(hooks["hooks"]["PostToolUse"][0]["hooks"][0]["command"])


def installed_command(target: Path) -> str:
    settings = json.loads((target / ".claude" / "settings.json").read_text(encoding="utf-8"))
    for group in settings["hooks"]["PostToolUse"]:
        for handler in group["hooks"]:
            if ".baton/scripts/hooks/session_state.py" in handler["command"]:
                return str(handler["command"])
    raise SystemExit("bench: the installer registered no PostToolUse hook")


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="hook calls per command (default 30)")
    parser.add_argument("--install-rounds", type=int, default=5, help="installer runs per step (default 5)")
    args = parser.parse_args(argv)
    python = sys.executable
    python3 = shutil.which("python3") or "python3"
    base = Path(tempfile.mkdtemp(prefix="bench-adopt-"))
    try:
        steps: dict[str, list[float]] = {"install": [], "again": [], "upgrade": [], "uninstall": []}
        for n in range(args.install_rounds):
            target = fresh_repo(base, f"t{n}")
            run = [python, str(INSTALL), str(target), "--venv", str(VENV)]
            steps["install"].append(timed(run, cwd=target))
            steps["again"].append(timed(run, cwd=target))
            steps["upgrade"].append(timed([*run, "--upgrade"], cwd=target))
            steps["uninstall"].append(timed([python, str(INSTALL), str(target), "--uninstall"], cwd=target))
        baseline = median_ms([timed([python, "-c", "pass"], cwd=base) for _ in range(args.install_rounds * 2)])
        print(f"installer, median of {args.install_rounds} (python -c pass: {baseline:.0f} ms):")
        for step, values in steps.items():
            print(f"  {step:<10} {median_ms(values):7.0f} ms  ({median_ms(values) / baseline:4.1f}x)")

        target = fresh_repo(base, "hooked")
        timed([python, str(INSTALL), str(target), "--venv", str(VENV)], cwd=target)
        data = base / "plugin-data"
        (data).mkdir()
        (data / "venv").symlink_to(VENV)
        env = {**os.environ, "CLAUDE_PROJECT_DIR": str(target), "CLAUDE_PLUGIN_ROOT": str(REPO),
               "CLAUDE_PLUGIN_DATA": str(data)}
        env.pop("BATON_PYTHON", None)
        no_venv = {**env, "CLAUDE_PLUGIN_DATA": str(base / "no-plugin-data")}
        commands = {
            "installed (.baton/scripts/py)": (installed_command(target), env),
            "plugin, its venv present": (plugin_command(), env),
            "plugin, python3 fallback": (plugin_command(), no_venv),
            f"sh -c '{python} -c pass'": (f"'{python}' -c pass", env),
            f"sh -c '{python3} -c pass'": (f"'{python3}' -c pass", env),
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for i in range(args.rounds):
            payload = json.dumps({"session_id": "bench-adopt", "hook_event_name": "PostToolUse",
                                  "tool_name": "Bash", "tool_use_id": f"toolu_{i}", "tool_input": {}})
            for name, (command, cmd_env) in commands.items():
                times[name].append(timed(["sh", "-c", command], cwd=target, env=cmd_env, stdin=payload))
        state = json.loads((target / ".claude/state/session-bench-adopt.json").read_text(encoding="utf-8"))
        base_ms = median_ms(times[f"sh -c '{python} -c pass'"])
        print(f"one PostToolUse hook call through sh -c, median of {args.rounds}:")
        for name, values in times.items():
            print(f"  {name:<44} {median_ms(values):6.1f} ms  ({median_ms(values) / base_ms:4.2f}x)")
        print(f"  calls counted: {state['tool_calls_count']} (expected {args.rounds}; each call ran as 3 "
              f"registrations, duplicates ignored: {state['duplicate_events_ignored']})")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
