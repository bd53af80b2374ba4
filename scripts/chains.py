#!/usr/bin/env python3
"""Unattended chains of headless Claude Code sessions toward a mission.

    chains.py run --mission FILE|TEXT [options]   start a chain and run it to its end
    chains.py run --resume [CHAIN]                continue the newest incomplete chain (or CHAIN)
    chains.py run ... --detach                    run it in the background under a supervisor
    chains.py run ... --worktree                  run it in its own git worktree on branch baton/<chain id>
    chains.py status [CHAIN] [--json]             one chain in detail (default: the newest of this project)
    chains.py list [--project-dir PATH] [--json]  chains of every project, or of one
    chains.py stop CHAIN                          stop its running session cleanly; resumable later
    chains.py service [CHAIN] --format systemd|launchd   a unit for your own supervisor

Exit status of `run`: 0 when the chain ends done, max_sessions, budget_exhausted
or stopped; 1 when it ends failed, circuit_open or blocked; 2 for bad settings.
"""

from __future__ import annotations

import _project_python  # noqa: F401  (first: re-executes with baton's Python when needed)

import argparse
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lib.chains import lifecycle, supervisor
from lib.chains import registry as reg
from lib.chains.registry import ChainRecord, Registry
from lib.chains.settings import load as load_settings
from lib.chains.summary import last_summary
from lib.core import cli
from lib.core.errors import BatonError
from lib.core.paths import find_root

PROG = "chains.py"
OK_STATUSES = ("done", "max_sessions", "budget_exhausted", "stopped")


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {text}")
    return value


def _chain_id(text: str) -> str:
    if not reg.is_chain_id(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a chain id (YYYYMMDD-HHMMSS-xxxx)")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="start a chain (or resume one) and run it to its end",
                         description="Run a chain of headless Claude Code sessions toward a mission.")
    what = run.add_mutually_exclusive_group(required=True)
    what.add_argument("--mission", metavar="FILE|TEXT", help="the mission: a file to read, or the text itself")
    what.add_argument("--resume", nargs="?", const="", metavar="CHAIN", type=lambda t: t if t == "" else _chain_id(t),
                      help="continue the newest incomplete chain of the project, or CHAIN")
    run.add_argument("--project-dir", type=Path, metavar="PATH",
                     help="the project the sessions work in (default: the current repository)")
    run.add_argument("--operator", metavar="SLUG",
                     help="who runs the chain: a slug or initials from .claude/operators.yaml "
                          "(default: $OPERATOR, else your git email, as `session.py whoami` resolves it)")
    run.add_argument("--max-sessions", type=_positive_int, metavar="N", help="at most N sessions (default 10)")
    run.add_argument("--max-budget-usd", type=_positive_float, metavar="X",
                     help="the chain's budget in USD (default 5, or chains.budget_usd in .claude/baton.yaml)")
    run.add_argument("--max-session-cost-usd", type=_positive_float, metavar="X",
                     help="at most X USD per session (passed to claude as --max-budget-usd with what is left)")
    run.add_argument("--max-turns", type=_positive_int, metavar="N",
                     help="passed to claude; not a hard stop, the wall-clock limit is")
    run.add_argument("--model", metavar="M", help="the model of every session (default: Claude Code's)")
    run.add_argument("--allowed-tools", metavar="LIST",
                     help="comma-separated tools granted with --allowedTools (bypass modes are refused as root)")
    run.add_argument("--auto-push", action="store_true", default=None,
                     help="push when the chain ends done or max_sessions (or BATON_AUTO_PUSH=1)")
    run.add_argument("--notify-webhook", metavar="URL",
                     help="POST a JSON summary here when the chain ends (or BATON_NOTIFY_WEBHOOK)")
    run.add_argument("--routing", choices=("on", "off"),
                     help="route from failure history (chains.routing in .claude/baton.yaml; default on): "
                          "refine the prompt, escalate the model, stop early")
    run.add_argument("--worktree", action="store_true",
                     help="work in a git worktree of its own on branch baton/<chain id> (reused on resume, "
                          "removed when the chain ends done and the branch is pushed)")
    run.add_argument("--detach", action="store_true",
                     help="run in the background under a supervisor that resumes the runner after a crash "
                          "(chains.supervisor_max_restarts); prints the chain id and returns")
    run.add_argument("--json", action="store_true", help="print the chain record as JSON at the end")

    status = sub.add_parser("status", help="show one chain: sessions, cost, breaker, last summary",
                            description="Show one chain in detail.")
    status.add_argument("chain", nargs="?", type=_chain_id, metavar="CHAIN",
                        help="the chain id (default: the newest chain of the project)")
    status.add_argument("--project-dir", type=Path, metavar="PATH",
                        help="the project whose newest chain to show (default: the current repository)")
    status.add_argument("--json", action="store_true", help="print the chain record as JSON")

    lst = sub.add_parser("list", help="list chains, newest last", description="List chains, newest last.")
    lst.add_argument("--project-dir", type=Path, metavar="PATH", help="only the chains of this project")
    lst.add_argument("--all", action="store_true", help="include chains moved to registry-archive.json")
    lst.add_argument("--json", action="store_true", help="print the chains as JSON")

    stop = sub.add_parser("stop", help="stop a chain's running session cleanly; the chain stays resumable",
                          description="Stop a running chain: its session is ended and the chain marked stopped.")
    stop.add_argument("chain", type=_chain_id, metavar="CHAIN", help="the chain id")
    stop.add_argument("--timeout", type=float, default=30.0, metavar="S",
                      help="how long to wait for the runner to stop (default 30)")
    stop.add_argument("--json", action="store_true", help="print the chain record as JSON")

    service = sub.add_parser("service", help="print a systemd user unit or a launchd agent that runs a chain",
                             description="Print a unit that runs `run --resume` and restarts it after a crash.")
    service.add_argument("chain", nargs="?", type=_chain_id, metavar="CHAIN",
                         help="the chain to run (default: the newest resumable chain of the project)")
    service.add_argument("--format", choices=("systemd", "launchd"),
                         default="launchd" if sys.platform == "darwin" else "systemd",
                         help="systemd (Linux, the default there) or launchd (macOS, the default there)")
    service.add_argument("--project-dir", type=Path, metavar="PATH",
                         help="the project (default: the current repository)")
    service.add_argument("--json", action="store_true", help="print {format, name, unit} as JSON")

    supervise = sub.add_parser("supervise", help="(internal) supervise the runner of CHAIN; see run --detach",
                               description="Run `run --resume CHAIN`, restarting it after an abnormal exit.")
    supervise.add_argument("chain", type=_chain_id, metavar="CHAIN", help="the chain id")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return cli.run(lambda: _dispatch(args), PROG)


def _dispatch(args: argparse.Namespace) -> int:
    registry = Registry()
    if args.command == "run":
        return _run(args, registry)
    if args.command == "status":
        return _status(args, registry)
    if args.command == "list":
        return _list(args, registry)
    if args.command == "service":
        return _service(args, registry)
    if args.command == "supervise":
        return _supervise(args, registry)
    return _stop(args, registry)


# ------------------------------------------------------------------ run


def _project(args: argparse.Namespace) -> Path:
    return (args.project_dir or find_root()).resolve()


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    auto_push = args.auto_push
    if auto_push is None and os.environ.get("BATON_AUTO_PUSH", "").strip().lower() in ("1", "true", "yes"):
        auto_push = True
    tools = None
    if args.allowed_tools is not None:
        tools = [t.strip() for t in args.allowed_tools.split(",") if t.strip()]
    return {
        "max_sessions": args.max_sessions,
        "budget_usd": args.max_budget_usd,
        "session_cost_usd": args.max_session_cost_usd,
        "max_turns": args.max_turns,
        "model": args.model,
        "allowed_tools": tools,
        "auto_push": auto_push,
        "routing": None if args.routing is None else {"enabled": args.routing == "on"},
    }


def _mission(text: str) -> tuple[str, str | None]:
    path = Path(text).expanduser()
    if len(text) < 4096 and "\n" not in text and path.is_file():
        try:
            return path.read_text(encoding="utf-8"), str(path.resolve())
        except (OSError, UnicodeDecodeError) as exc:
            raise BatonError(f"{path}: cannot read the mission: {exc}") from None
    return text, None


def _progress(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def _run(args: argparse.Namespace, registry: Registry) -> int:
    webhook = args.notify_webhook or os.environ.get("BATON_NOTIFY_WEBHOOK") or None
    overrides = _overrides(args)
    if args.resume is not None:
        if args.worktree:
            raise BatonError("--worktree starts a chain; a resumed chain keeps the worktree it started in")
        if args.detach:
            return _detach(args, registry, _resumable(args, registry), webhook)
        runner = lifecycle.resume_chain(
            _project(args), args.resume or None, overrides=overrides, webhook_url=webhook,
            registry=registry, on_event=_progress,
        )
    else:
        mission, mission_file = _mission(args.mission)
        runner = lifecycle.start_chain(
            lifecycle.StartRequest(project_dir=_project(args), mission=mission, mission_file=mission_file,
                                   operator=args.operator, overrides=overrides, webhook_url=webhook,
                                   worktree=args.worktree),
            registry=registry, on_event=None if args.detach else _progress,
        )
        if args.detach:
            # The supervisor's runner takes the lock again with `run --resume`.
            runner.lock.release()
            return _detach(args, registry, runner.chain, webhook)
    where = f" (worktree {runner.chain.worktree['path']}, branch {runner.chain.worktree['branch']})" \
        if runner.chain.worktree else ""
    _progress(f"chain {runner.chain.id} in {runner.chain.project_dir}{where}")

    def on_signal(signum: int, frame: object) -> None:
        runner.request_stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        chain = runner.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if args.json:
        cli.print_json(chain.to_dict())
    else:
        _print_chain(chain, registry)
    return 0 if chain.status in OK_STATUSES else 1


def _resumable(args: argparse.Namespace, registry: Registry) -> ChainRecord:
    if args.resume:
        chain = registry.get(args.resume, archived=False)
        if chain is None:
            raise BatonError(f"no chain {args.resume} in {registry.path}")
    else:
        candidates = [c for c in registry.chains(_project(args)) if c.status in reg.RESUMABLE]
        if not candidates:
            raise BatonError(f"no chain to resume in {_project(args)} (`chains.py list` shows them)")
        chain = candidates[-1]
    if chain.status not in reg.RESUMABLE:
        raise BatonError(f"chain {chain.id} is {chain.status}: nothing to resume")
    if chain.status == "running" and lifecycle.runner_alive(registry, chain):
        raise BatonError(f"chain {chain.id}: a runner is already at work on it")
    return chain


def _detach(args: argparse.Namespace, registry: Registry, chain: ChainRecord, webhook: str | None) -> int:
    # The webhook URL may carry a token: it travels in the environment, never on a command line.
    pid = supervisor.spawn(registry, chain.id, env={"BATON_NOTIFY_WEBHOOK": webhook} if webhook else None)
    log = supervisor.log_path(registry, chain.id)
    if args.json:
        cli.print_json({"id": chain.id, "supervisor_pid": pid, "log": str(log), "worktree": chain.worktree})
    else:
        print(f"chain {chain.id} runs in the background (supervisor pid {pid})")
        print(f"  follow it:  chains.py status {chain.id}   (log: {log})")
        print(f"  stop it:    chains.py stop {chain.id}")
    return 0


def _supervise(args: argparse.Namespace, registry: Registry) -> int:
    chain = registry.get(args.chain, archived=False)
    if chain is None:
        raise BatonError(f"no chain {args.chain} in {registry.path}")
    settings = load_settings(Path(chain.project_dir), stored=chain.settings)
    boss = supervisor.Supervisor(registry, chain.id, settings)

    def on_signal(signum: int, frame: object) -> None:
        boss.request_stop()

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    return boss.run()


def _service(args: argparse.Namespace, registry: Registry) -> int:
    project = _project(args)
    chain_id = args.chain
    if chain_id:
        chain = registry.get(chain_id)
        if chain is None:
            raise BatonError(f"no chain {chain_id} in {registry.path}")
        project = Path(chain.project_dir)
    settings = load_settings(project)
    home = registry.home if os.environ.get("BATON_STATE_HOME") else None
    unit = supervisor.service_unit(args.format, project, chain_id, settings, home)
    if args.json:
        name = f"baton-chain-{chain_id}" if chain_id else "baton-chain"
        cli.print_json({"format": args.format, "name": name, "unit": unit})
    else:
        print(unit, end="")
    return 0


# ------------------------------------------------------------------ status, list, stop


def _status(args: argparse.Namespace, registry: Registry) -> int:
    if args.chain:
        chain = registry.get(args.chain)
        if chain is None:
            raise BatonError(f"no chain {args.chain} in {registry.path}")
    else:
        chains = registry.chains(_project(args))
        if not chains:
            raise BatonError(f"no chain for {_project(args)} in {registry.path}")
        chain = chains[-1]
    alive = chain.status == "running" and lifecycle.runner_alive(registry, chain)
    if args.json:
        cli.print_json({**chain.to_dict(), "runner_alive": alive, "resumable": chain.status in reg.RESUMABLE})
    else:
        _print_chain(chain, registry, alive=alive)
    return 0


def _list(args: argparse.Namespace, registry: Registry) -> int:
    project = args.project_dir.resolve() if args.project_dir else None
    chains = registry.chains(project, archived=args.all)
    if args.json:
        cli.print_json([_row(c) for c in chains])
        return 0
    if not chains:
        print("no chains")
        return 0
    for chain in chains:
        row = _row(chain)
        print(f"{row['id']}  {row['status']:<16} {row['sessions']:>3} sessions  ${row['cost_usd']:.4f}  "
              f"{row['project_dir']}  {row['mission']}")
    return 0


def _row(chain: ChainRecord) -> dict[str, Any]:
    return {
        "id": chain.id,
        "status": chain.status,
        "project_dir": chain.project_dir,
        "mission": (chain.mission.strip().splitlines() or [""])[0][:60],
        "sessions": len(chain.sessions),
        "cost_usd": chain.cost_usd,
        "created_at": chain.created_at,
        "ended_at": chain.ended_at,
        "breaker": chain.breaker.state,
        "branch": (chain.worktree or {}).get("branch"),
    }


def _stop(args: argparse.Namespace, registry: Registry) -> int:
    chain = lifecycle.request_stop(registry, args.chain, timeout_s=args.timeout)
    if args.json:
        cli.print_json(chain.to_dict())
    elif chain.status == "stopped":
        print(f"chain {chain.id} stopped; continue it with: chains.py run --resume {chain.id}")
    else:
        print(f"chain {chain.id} is {chain.status}: nothing to stop")
    return 0


def _print_chain(chain: ChainRecord, registry: Registry, *, alive: bool | None = None) -> None:
    settings = chain.settings or {}
    state = chain.status
    if chain.status == "running" and alive is not None:
        state += " (runner at work)" if alive else " (runner gone: chains.py run --resume " + chain.id + ")"
    print(f"chain    {chain.id}  {state}")
    print(f"project  {chain.project_dir}")
    if chain.worktree:
        tree = chain.worktree
        state = "removed" if tree.get("removed") else tree.get("kept") or "in use"
        print(f"branch   {tree.get('branch')}  worktree {tree.get('path')} ({state})")
    if chain.supervisor:
        sup = chain.supervisor
        print(f"detached supervisor pid {sup.get('pid')}, {sup.get('restarts', 0)}/{sup.get('max_restarts')} "
              f"restarts ({sup.get('state')})")
    print(f"mission  {(chain.mission.strip().splitlines() or [''])[0][:100]}")
    budget = settings.get("budget_usd")
    budget_text = f" of ${budget:.2f}" if isinstance(budget, (int, float)) else ""
    print(f"sessions {len(chain.sessions)}/{settings.get('max_sessions', '?')}   "
          f"cost ${chain.cost_usd:.4f}{budget_text}")
    breaker = chain.breaker
    line = f"breaker  {breaker.state} ({breaker.consecutive_failures} failed in a row)"
    if breaker.state == "open" and breaker.opened_at:
        line += f", opened {breaker.opened_at}"
    print(line)
    if chain.ended_at:
        print(f"ended    {chain.ended_at}: {chain.end_reason}")
    if chain.push:
        print(f"push     {'ok' if chain.push.get('ok') else chain.push.get('detail')}")
    if chain.notification:
        note = chain.notification
        print(f"webhook  {'ok' if note.get('ok') else 'failed: ' + str(note.get('error'))} "
              f"({note.get('attempts')} attempts)")
    if chain.sessions:
        print(f"  {'#':>2}  {'session':<14} {'status':<11} {'cost':>9} {'turns':>5}  {'handoff':<17} reason")
        for s in chain.sessions:
            cost = f"${s.cost_usd:.4f}"
            print(f"  {s.index:>2}  {s.id:<14} {s.status:<11} {cost:>9} {s.turns:>5}  "
                  f"{s.handoff.status:<17} {s.reason or ''}")
    last = last_summary(chain)
    if last:
        print(f"last     {' '.join(last.split())[:300]}")
    log = reg.chain_dir(registry, chain.id) / "runner.log"
    print(f"log      {log}")


if __name__ == "__main__":
    raise SystemExit(main())
