"""Chain runner benchmark: what the runner adds to each session, against the sessions themselves.

Runs `chains.py run` for N sessions against the scripted fake `claude` of the tests
(each session prints a stream, writes and commits its note, and ends), and, in the
same run, the same N fake sessions started directly one after the other. The
difference, less the runner's start-up, is its own cost per session: claiming the
id, spawning the process group, reading the stream, validating the note, writing
the registry (with fsync) several times.

    .venv/bin/python bench/bench_chains.py [--sessions N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests")]

from support.roster import member, write_roster  # noqa: E402

FAKE = ROOT / "tests" / "fakeclaude" / "claude"
PYTHON = sys.executable


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "commit.gpgsign=false", *args], cwd=cwd, check=True, capture_output=True)


def make_project(base: Path) -> Path:
    project = base / "project"
    project.mkdir(parents=True)
    git(project, "init", "-q", "-b", "main")
    (project / "README.md").write_text("# bench\n")
    (project / ".claude").mkdir()
    (project / ".claude" / "baton.yaml").write_text("chains:\n  budget_usd: 1000\n")
    write_roster(project, [member("bn", "BN", "Bench", "bench@example.com")])
    git(project, "add", "README.md")
    git(project, "commit", "-q", "-m", "initial")
    return project


def scenario(path: Path, sessions: int) -> None:
    def one(outcome: str) -> dict[str, object]:
        return {"steps": [
            {"init": {}}, {"text": "Working."}, {"tool_use": "Edit"},
            {"write_note": {"outcome": outcome}}, {"result": {"total_cost_usd": 0.01}},
        ]}
    specs = [one("incomplete") for _ in range(sessions - 1)] + [one("done")]
    path.write_text(json.dumps({"invocations": specs}))
    Path(f"{path}.count").unlink(missing_ok=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=10, help="sessions per chain (default 10)")
    args = parser.parse_args()
    n = args.sessions
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        env = dict(os.environ)
        env.update({
            "HOME": str(base / "home"), "BATON_STATE_HOME": str(base / "state"),
            "CLAUDE_BIN": str(FAKE), "FAKECLAUDE_SCENARIO": str(base / "scenario.json"),
            "PATH": f"{Path(PYTHON).parent}{os.pathsep}{env.get('PATH', '')}",
            "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
            "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
        })
        env.pop("CLAUDECODE", None)

        started = time.perf_counter()
        subprocess.run([PYTHON, "-c", "pass"], check=True)
        bare_python = time.perf_counter() - started

        # The runner's fixed cost: starting chains.py (imports, registry read).
        started = time.perf_counter()
        subprocess.run([PYTHON, str(ROOT / "scripts" / "chains.py"), "list"], cwd=base, env=env, check=True,
                       capture_output=True)
        startup = time.perf_counter() - started

        # The sessions alone: the same fake, same notes and commits, started back to back.
        direct_project = make_project(base / "direct")
        scenario(base / "scenario.json", n)
        started = time.perf_counter()
        for i in range(n):
            run_env = {**env, "BATON_SESSION_ID": f"BN-260101-{i + 1:02d}", "OPERATOR": "bn"}
            # The prompt on standard input, as the runner passes it.
            subprocess.run([str(FAKE), "-p", "--output-format", "stream-json", "--verbose"], cwd=direct_project,
                           env=run_env, input=b"x", check=True, capture_output=True)
        direct = time.perf_counter() - started

        # The same sessions through the runner.
        chain_project = make_project(base / "chain")
        scenario(base / "scenario.json", n)
        started = time.perf_counter()
        proc = subprocess.run([PYTHON, str(ROOT / "scripts" / "chains.py"), "run", "--mission", "Bench.",
                               "--operator", "bn", "--max-sessions", str(n), "--json"],
                              cwd=chain_project, env=env, capture_output=True, text=True)
        chained = time.perf_counter() - started
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 1
        chain = json.loads(proc.stdout)
        assert chain["status"] == "done" and len(chain["sessions"]) == n, chain["status"]

    per_session = (chained - direct - startup) / n
    print(f"python3 -c pass:                 {bare_python * 1000:8.1f} ms")
    print(f"chains.py start-up (list):       {startup * 1000:8.1f} ms")
    print(f"{n} fake sessions, back to back:  {direct * 1000:8.1f} ms ({direct / n * 1000:.1f} ms each)")
    print(f"{n} sessions through chains.py:   {chained * 1000:8.1f} ms")
    print(f"runner overhead per session:     {per_session * 1000:8.1f} ms "
          f"({per_session / bare_python:.1f}x a bare python start-up); "
          f"chain total {chained / direct:.2f}x the sessions alone")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
