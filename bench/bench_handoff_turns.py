"""/handoff --auto before and after: model requests, input tokens sent by the CLI, helper wall time.

One run measures both, under the real Claude Code CLI against the API stand-in, each in a fresh clone of this
repository with a bare remote:

- before: the one-call-per-step command file (`bench/fixtures/handoff_command_before.md`), which the scripted
  model follows call by call (start, write-learning, check-prompt, telemetry-read, git-stats, write-session,
  archive-transcript, regen-index, append-log, changelog, link, stage, commit --push, refresh-resume-cache,
  archive-state, then the closing message);
- after: `.claude/commands/handoff.md` (start pre-run, one `finish` call, the closing message).

Input tokens are estimated as the request's JSON size / 4 (the stand-in's count_tokens estimate), summed over
the model requests; `--history N` first runs a session of N Bash turns so the handoff re-reads a conversation.
Helper wall time is the same helper commands run directly (no CLI), each flow in a fresh clone, median of
`--repeat` runs.

    .venv/bin/python bench/bench_handoff_turns.py [--history N] [--repeat N]
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "scripts"))

from realclient import standin as s  # noqa: E402
from realclient.claude_cli import Claude, cache_root, claude_version, install_claude_code, missing_tools  # noqa: E402
from realclient.handoff_flow import HELPER, block_yaml, closing, finish_call, first_json, full_content  # noqa: E402

BEFORE = ROOT / "bench" / "fixtures" / "handoff_command_before.md"
OPERATOR = {"OPERATOR": "ada"}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=cwd, check=True,
                          capture_output=True, text=True).stdout


def clone(base: Path, name: str, command_file: Path | None) -> Path:
    """A clone of this repository's HEAD with a bare origin; `command_file` replaces /handoff's."""
    remote, path = base / f"{name}.git", base / name
    git(base, "clone", "-q", "--bare", str(ROOT), str(remote))
    git(base, "clone", "-q", str(remote), str(path))
    for key, value in (("user.name", "Bench"), ("user.email", "bench@example.com"), ("commit.gpgsign", "false")):
        git(path, "config", key, value)
    (path / ".venv").symlink_to(Path(sys.prefix))
    if command_file is not None:
        shutil.copyfile(command_file, path / ".claude" / "commands" / "handoff.md")
    return path


def content_parts() -> tuple[dict[str, Any], dict[str, Any], str]:
    data = full_content("benchmark")
    learning = data.pop("learnings")[0]
    line = data.pop("log_line")
    return data, learning, line


def before_commands(session_id: str) -> list[str]:
    """The calls the one-call-per-step command makes in `--auto`, after `start`."""
    data, learning, line = content_parts()
    prompt = data["sections"]["resume_prompt"]
    heredoc = "<<'EOF'\n{}EOF"
    return [
        f"{HELPER} write-learning --id {session_id} --json " + heredoc.format(block_yaml(learning)),
        f"{HELPER} check-prompt --json " + heredoc.format(prompt + "\n"),
        f"{HELPER} telemetry-read --id {session_id} --json",
        f"{HELPER} git-stats --id {session_id} --json",
        f"{HELPER} write-session --id {session_id} --json " + heredoc.format(block_yaml(data)),
        f"{HELPER} archive-transcript --id {session_id} --json",
        f"{HELPER} regen-index --id {session_id} --json",
        f"{HELPER} append-log --id {session_id} --line '{line}' --json",
        f"{HELPER} changelog --id {session_id} --json",
        f"{HELPER} link --id {session_id} --json",
        f"{HELPER} stage --id {session_id} --json",
        f"{HELPER} commit --id {session_id} --push --json",
        f"{HELPER} refresh-resume-cache --json",
        f"{HELPER} archive-state --id {session_id} --json",
    ]


def before_script() -> list[s.ScriptItem]:
    seen: dict[str, str] = {}

    def step(index: int) -> Callable[[s.Request], s.Reply]:
        def reply(request: s.Request) -> s.Reply:
            if index == 0:
                seen["id"] = first_json(s.flatten_text(request.tool_results()[-1]["content"]))["id"]
            return s.bash(before_commands(seen["id"])[index])
        return reply

    return [s.bash(f"{HELPER} start --json --auto"), *(step(i) for i in range(14)), s.text("Handoff done.")]


def after_script() -> list[s.ScriptItem]:
    seen: dict[str, Any] = {}
    return [finish_call(full_content("benchmark"), seen=seen), closing(seen)]


def estimated_tokens(request: s.Request) -> int:
    return max(len(json.dumps(request.body)) // 4, 1)


def cli_run(cli: Claude, server: s.StandIn, base: Path, name: str, command_file: Path | None,
            script: list[s.ScriptItem], history: int) -> dict[str, Any]:
    project = clone(base, name, command_file)
    resume: list[str] = []
    if history:
        server.replace_script([*(s.bash(f"echo turn {i}") for i in range(history)), s.text("Worked.")])
        work = cli.run("do the work", cwd=project, env=OPERATOR, allowed_tools="Bash", timeout=300)
        resume = ["--resume", work.session_id]
    server.replace_script(script)
    first = len(server.model_requests())
    run = cli.run("/handoff --auto", cwd=project, env=OPERATOR, args=resume, timeout=300)
    if run.returncode != 0 or run.result.get("is_error") or server.turns_left:
        raise SystemExit(f"bench run {name} failed: {run.describe()}; problems {server.problems}")
    requests = server.model_requests()[first:]
    errors = [r for r in run.tool_results() if r.get("is_error")]
    if errors:
        raise SystemExit(f"bench run {name}: a helper failed: {errors[0]}")
    return {"requests": len(requests), "input_tokens": sum(estimated_tokens(r) for r in requests),
            "cli_seconds": run.seconds}


def helper_seconds(base: Path, name: str, after: bool) -> float:
    """The flow's helper commands run directly, in order, in a fresh clone (no CLI, no model)."""
    project = clone(base, name, None)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE", "BATON_SESSION"))}, **OPERATOR,
           "CLAUDE_CODE_SESSION_ID": f"bench-{name}"}

    def sh(command: str) -> str:
        proc = subprocess.run(["bash", "-c", command], cwd=project, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"{command.splitlines()[0]} failed: {proc.stderr.strip()}")
        return proc.stdout

    started = time.perf_counter()
    session_id = first_json(sh(f"{HELPER} start --json --auto"))["id"]
    if after:
        sh(f"{HELPER} finish --id {session_id} --json <<'EOF'\n{block_yaml(full_content('benchmark'))}EOF")
    else:
        for command in before_commands(session_id):
            sh(command)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--history", type=int, default=10, help="Bash turns of work before the handoff")
    parser.add_argument("--repeat", type=int, default=3, help="helper-only runs per flow (median reported)")
    args = parser.parse_args()
    env = dict(os.environ)
    if missing_tools(env):
        print("bench_handoff_turns: node/npm not found; nothing to measure")
        return 0
    binary = install_claude_code(claude_version(env), cache_root(env), env)
    with tempfile.TemporaryDirectory(prefix="bench-handoff-turns-") as tmp, s.StandIn() as server:
        base = Path(tmp)
        cli = Claude(binary, server, base / "home")
        cli.home.mkdir()
        rows = {
            "before": cli_run(cli, server, base, "before", BEFORE, before_script(), args.history),
            "after": cli_run(cli, server, base, "after", None, after_script(), args.history),
        }
        for flow in rows:
            rows[flow]["helper_seconds"] = statistics.median(
                helper_seconds(base, f"{flow}-helpers-{i}", flow == "after") for i in range(args.repeat))
        server.problems.clear()
    print(f"/handoff --auto after {args.history} turns of work (Claude Code {claude_version(env)}):")
    print(f"{'':8}{'requests':>10}{'input tokens':>14}{'helper wall':>13}{'CLI wall':>10}")
    for flow, row in rows.items():
        print(f"{flow:8}{row['requests']:>10}{row['input_tokens']:>14,}{row['helper_seconds']:>12.2f}s"
              f"{row['cli_seconds']:>9.2f}s")
    b, a = rows["before"], rows["after"]
    print(f"{'after/before':8}{a['requests'] / b['requests']:>10.2f}{a['input_tokens'] / b['input_tokens']:>14.2f}"
          f"{a['helper_seconds'] / b['helper_seconds']:>13.2f}{a['cli_seconds'] / b['cli_seconds']:>10.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
