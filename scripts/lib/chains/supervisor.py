"""`run --detach`: the runner under a small supervisor that resumes it after an abnormal exit.

The supervisor runs `chains.py run --resume CHAIN` and waits. When the runner ends
and the chain is no longer `running`, that was a normal end (done, stopped, failed,
blocked...): the supervisor ends too. When the runner is gone but the chain is still
`running` (kill -9, out of memory, a crash), it starts `run --resume CHAIN` again
after a delay (`chains.supervisor_backoff_s`, times four at each restart), at most
`chains.supervisor_max_restarts` times. Resuming is what makes this safe: a session
that left a valid note is never run again. Every start, exit and restart is logged
in the chain's `supervisor.log` and counted in the chain's record.

People who prefer their own supervisor get a systemd user unit or a launchd agent
from `service_unit`, which restarts the runner on a crash and on nothing else.
"""

from __future__ import annotations

import os
import plistlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lib.chains.registry import Registry, chain_dir, now_iso, stop_file
from lib.chains.settings import ChainSettings
from lib.core import process

CHAINS_SCRIPT = Path(__file__).resolve().parents[2] / "chains.py"
_POLL_S = 0.05


def log_path(registry: Registry, chain_id: str) -> Path:
    return chain_dir(registry, chain_id) / "supervisor.log"


def spawn(registry: Registry, chain_id: str, *, env: dict[str, str] | None = None) -> int:
    """Start the supervisor of `chain_id` detached from this terminal (its own session); its pid."""
    folder = chain_dir(registry, chain_id)
    folder.mkdir(parents=True, mode=0o700, exist_ok=True)
    with open(log_path(registry, chain_id), "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, str(CHAINS_SCRIPT), "supervise", chain_id], cwd=folder,
            env={**os.environ, **(env or {}), "BATON_STATE_HOME": str(registry.home)},
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        )
    return proc.pid


class Supervisor:
    def __init__(self, registry: Registry, chain_id: str, settings: ChainSettings,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.registry = registry
        self.chain_id = chain_id
        self.settings = settings
        self._sleep = sleep
        self._child: subprocess.Popen[bytes] | None = None
        self._stopping = False

    def log(self, message: str) -> None:
        path = log_path(self.registry, self.chain_id)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"{now_iso()} supervisor {os.getpid()}: {message}\n")

    def request_stop(self) -> None:
        """Pass a stop on to the runner (which ends its session and the chain `stopped`)."""
        self._stopping = True
        if self._child is not None and self._child.poll() is None:
            self._child.send_signal(signal.SIGTERM)

    def _record(self, **info: Any) -> None:
        with self.registry.transaction() as data:
            chain = data.find(self.chain_id)
            if chain is not None:
                chain.supervisor = {**(chain.supervisor or {}), **info}

    def run(self) -> int:
        """Supervise until the chain ends or the restarts run out; 0 when it ended normally."""
        limit = self.settings.supervisor_max_restarts
        restarts = 0
        self._record(pid=os.getpid(), host=socket.gethostname(), proc_start=process.proc_start_time(os.getpid()),
                     started_at=now_iso(), restarts=0, max_restarts=limit, state="running")
        while True:
            argv = [sys.executable, str(CHAINS_SCRIPT), "run", "--resume", self.chain_id]
            with open(log_path(self.registry, self.chain_id), "ab") as out:
                self._child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
            self.log(f"runner started (pid {self._child.pid})")
            code = self._child.wait()
            self.log(f"runner exited ({_describe(code)})")
            chain = self.registry.get(self.chain_id, archived=False)
            if chain is None:
                self.log("the chain is gone from the registry: nothing to supervise")
                self._record(state="ended")
                return 1
            if chain.status != "running":
                self.log(f"chain ended {chain.status}: supervision ends")
                self._record(state="ended")
                return 0
            if self._stopping or stop_file(self.registry, self.chain_id).exists():
                self.log("stop requested: no restart")
                self._record(state="ended")
                return 0
            from lib.chains.lifecycle import runner_alive

            if runner_alive(self.registry, chain):
                self.log("another runner is at work on this chain: supervision ends")
                self._record(state="ended")
                return 0
            if restarts >= limit:
                self.log(f"the runner ended abnormally {restarts + 1} times; giving up after {limit} restarts "
                         f"(continue with: chains.py run --resume {self.chain_id})")
                self._record(state="gave_up")
                return 1
            restarts += 1
            delay = self.settings.restart_delay(restarts)
            self.log(f"the runner ended abnormally with the chain still running: restart {restarts}/{limit} "
                     f"in {delay:g} s")
            self._record(restarts=restarts, last_restart_at=now_iso())
            self._sleep(delay)


def _describe(code: int) -> str:
    return f"signal {-code}" if code < 0 else f"exit code {code}"


# ------------------------------------------------------------------ service units


def service_unit(kind: str, project_dir: Path, chain_id: str | None, settings: ChainSettings,
                 state_home: Path | None = None) -> str:
    """A systemd user unit or a launchd agent that runs `run --resume` and restarts it after a crash only."""
    argv = [sys.executable, str(CHAINS_SCRIPT), "run", "--resume"] + ([chain_id] if chain_id else [])
    argv += ["--project-dir", str(project_dir)]
    name = f"baton-chain-{chain_id}" if chain_id else "baton-chain"
    if kind == "systemd":
        env = f"Environment={_systemd_quote('BATON_STATE_HOME=' + str(state_home))}\n" if state_home else ""
        return (
            f"# {name}.service: save as ~/.config/systemd/user/{name}.service, then\n"
            f"#   systemctl --user daemon-reload && systemctl --user start {name}\n"
            "# Secrets the runner needs (a webhook URL) go in the EnvironmentFile, not here.\n"
            "[Unit]\n"
            f"Description=baton chain runner ({chain_id or project_dir.name})\n"
            "StartLimitIntervalSec=3600\n"
            f"StartLimitBurst={settings.supervisor_max_restarts + 1}\n\n"
            "[Service]\n"
            "Type=simple\n"
            f"WorkingDirectory={_systemd_quote(str(project_dir))}\n"
            f"ExecStart={' '.join(_systemd_quote(a) for a in argv)}\n"
            f"{env}"
            "EnvironmentFile=-%h/.config/baton/chains.env\n"
            "# A crash (a signal) restarts the runner; its own exit codes (done, failed, blocked) do not.\n"
            "Restart=on-abnormal\n"
            f"RestartSec={max(1, round(settings.supervisor_backoff_s))}\n"
            "KillSignal=SIGTERM\n"
            f"TimeoutStopSec={max(10, round(settings.kill_grace_s) + 10)}\n\n"
            "[Install]\n"
            "WantedBy=default.target\n"
        )
    if kind == "launchd":
        label = f"dev.baton.{name}"
        plist: dict[str, Any] = {
            "Label": label,
            "ProgramArguments": argv,
            "WorkingDirectory": str(project_dir),
            # Restart after a crash only: a clean exit (whatever the chain's outcome) stays stopped.
            "KeepAlive": {"Crashed": True},
            "RunAtLoad": True,
            "ThrottleInterval": max(1, round(settings.supervisor_backoff_s)),
            "StandardOutPath": str(Path.home() / "Library" / "Logs" / f"{name}.log"),
            "StandardErrorPath": str(Path.home() / "Library" / "Logs" / f"{name}.log"),
        }
        if state_home:
            plist["EnvironmentVariables"] = {"BATON_STATE_HOME": str(state_home)}
        header = (f"<!-- {label}.plist: save in ~/Library/LaunchAgents/, then "
                  f"launchctl load ~/Library/LaunchAgents/{label}.plist -->\n")
        text = plistlib.dumps(plist).decode("utf-8")
        first, _, rest = text.partition("\n")
        return f"{first}\n{header}{rest}"
    raise ValueError(f"unknown service kind {kind!r}")


def _systemd_quote(value: str) -> str:
    if value and all(c.isalnum() or c in "/._-=:,+@" for c in value):
        return value.replace("%", "%%")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'"{escaped}"'
