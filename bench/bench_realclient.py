"""Real Claude Code CLI benchmark: what one headless run costs, and what a project hook adds.

Prints median wall times (and ratios against bare `python3 -c pass`, measured in the same run) for:
`claude --version`; a one-turn text run against the API stand-in; a five-turn run with four Bash
calls and no hooks; the same with a PreToolUse+PostToolUse shell hook (`true`); and the same with
a `python3 -c pass` hook (eight hook processes per run). Uses the same pinned, cached install as
the realclient tests.

    .venv/bin/python bench/bench_realclient.py [--repeat N]
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
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from realclient import standin as s  # noqa: E402
from realclient.claude_cli import (  # noqa: E402
    Claude,
    cache_root,
    claude_version,
    install_claude_code,
    missing_tools,
)


def median_seconds(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def project_with_hook(base: Path, command: str | None) -> Path:
    path = Path(tempfile.mkdtemp(dir=base, prefix="project-"))
    if command is not None:
        (path / ".claude").mkdir()
        hooks = {event: [{"matcher": "*", "hooks": [{"type": "command", "command": command}]}]
                 for event in ("PreToolUse", "PostToolUse")}
        (path / ".claude" / "settings.json").write_text(json.dumps({"hooks": hooks}))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement (median reported)")
    args = parser.parse_args()
    env = dict(os.environ)
    missing = missing_tools(env)
    if missing:
        print(f"bench_realclient: {' and '.join(missing)} not found; nothing to measure")
        return 0
    version = claude_version(env)
    started = time.perf_counter()
    binary = install_claude_code(version, cache_root(env), env)
    print(f"Claude Code {version} at {binary} (install or cache check {time.perf_counter() - started:.1f}s)")

    baseline = median_seconds(lambda: subprocess.run(["python3", "-c", "pass"], check=True), args.repeat)
    rows: list[tuple[str, float]] = [("python3 -c pass (baseline)", baseline)]
    rows.append(("claude --version", median_seconds(
        lambda: subprocess.run([str(binary), "--version"], capture_output=True, check=True), args.repeat)))

    with tempfile.TemporaryDirectory(prefix="bench-realclient-") as tmp, s.StandIn() as server:
        base = Path(tmp)
        cli = Claude(binary, server, base / "home")
        cli.home.mkdir()

        def one_run(script: list[s.ScriptItem], project: Path) -> None:
            server.replace_script(script)
            run = cli.run("go", cwd=project, allowed_tools="Bash", timeout=120)
            if run.returncode != 0 or run.result.get("is_error"):
                raise SystemExit(f"bench run failed: {run.describe()}")

        def four_bash() -> list[s.ScriptItem]:
            return [s.bash("echo 1"), s.bash("echo 2"), s.bash("echo 3"), s.bash("echo 4"), s.text("Done.")]

        plain = project_with_hook(base, None)
        rows.append(("one-turn text run", median_seconds(lambda: one_run([s.text("Hi.")], plain), args.repeat)))
        rows.append(("4 Bash calls, no hooks", median_seconds(lambda: one_run(four_bash(), plain), args.repeat)))
        shell_hook = project_with_hook(base, "true")
        rows.append(("4 Bash calls, 8 `true` hooks",
                     median_seconds(lambda: one_run(four_bash(), shell_hook), args.repeat)))
        python_hook = project_with_hook(base, "python3 -c pass")
        rows.append(("4 Bash calls, 8 `python3 -c pass` hooks",
                     median_seconds(lambda: one_run(four_bash(), python_hook), args.repeat)))
        server.problems.clear()

    width = max(len(name) for name, _ in rows)
    for name, seconds in rows:
        print(f"{name:<{width}}  {seconds:7.3f}s  {seconds / baseline:6.1f}x baseline")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
