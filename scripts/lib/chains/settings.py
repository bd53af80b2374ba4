"""The runner's settings: `.claude/baton.yaml` (section `chains`), then the command line.

A chain keeps the choices it was started with (budget, limits, model, tools) in
its record, so `run --resume` continues under the same terms unless a flag says
otherwise; the operational timings (backoff, stall, wall clock, cool-down) are
read afresh from the project's settings each time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from lib.core import config

DEFAULT_ALLOWED_TOOLS = ["Bash", "Read", "Edit", "Write", "MultiEdit", "Glob", "Grep", "TodoWrite"]

# Kept in the chain record and reused by `run --resume`.
CHAIN_LEVEL = (
    "max_sessions", "budget_usd", "session_cost_usd", "max_turns", "model", "allowed_tools",
    "permission_mode", "auto_push", "completion_signal", "completion_repeats", "routing",
)

_NULLABLE = ("session_cost_usd", "max_turns", "model", "permission_mode", "completion_signal")


@dataclass
class ChainSettings:
    budget_usd: float = 5.0
    session_cost_usd: float | None = None
    min_budget_usd: float = 0.05
    max_sessions: int = 10
    max_turns: int | None = None
    model: str | None = None
    allowed_tools: list[str] = field(default_factory=lambda: list(DEFAULT_ALLOWED_TOOLS))
    permission_mode: str | None = None
    auto_push: bool = False
    backoff_base_s: float = 1.0
    max_retries: int = 3
    stall_s: float = 600
    session_wall_clock_s: float = 3600
    kill_grace_s: float = 5
    breaker_threshold: int = 3
    breaker_cooldown_s: float = 900
    usage_limit_max_wait_s: float = 18000
    usage_limit_default_wait_s: float = 900
    usage_limit_max_waits: int = 3
    completion_signal: str | None = None
    completion_repeats: int = 2
    webhook_retry_delay_s: float = 2
    resume_wait_s: float = 30
    # environment variables (names or shell patterns) the sessions never see, besides baton's own secrets
    env_drop: list[str] = field(default_factory=list)
    # the routing policy (lib.chains.routing.RoutingPolicy); {"enabled": False} is `--routing off`
    routing: dict[str, Any] = field(default_factory=dict)
    # `run --detach`: restarts of a runner that ended abnormally, and the delay before each (x 4 each time)
    supervisor_max_restarts: int = 3
    supervisor_backoff_s: float = 2.0

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> ChainSettings:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names and (v is not None or k in _NULLABLE)})

    def chain_level(self) -> dict[str, Any]:
        data = asdict(self)
        return {k: data[k] for k in CHAIN_LEVEL}

    def restart_delay(self, restart: int) -> float:
        """Delay before the supervisor's restart number `restart` (1-based)."""
        return float(self.supervisor_backoff_s) * float(4 ** (restart - 1))

    def backoff_delay(self, retry: int) -> float:
        """Delay before retry number `retry` (1-based): base, 4 x base, 16 x base."""
        return float(self.backoff_base_s) * float(4 ** (retry - 1))

    def session_budget(self, spent: float) -> float:
        """What one session may spend: the smaller of what is left and the per-session cap."""
        left = max(self.budget_usd - spent, 0.0)
        if self.session_cost_usd is not None:
            left = min(left, self.session_cost_usd)
        return round(left, 4)


def load(project_dir: Path, stored: dict[str, Any] | None = None,
         overrides: dict[str, Any] | None = None) -> ChainSettings:
    """Settings for a chain: project config, then the chain's stored choices, then explicit flags."""
    values: dict[str, Any] = dict(config.load(project_dir).get("chains") or {})
    if stored:
        values.update({k: v for k, v in stored.items() if k in CHAIN_LEVEL})
    if overrides:
        for key, value in overrides.items():
            if value is None:
                continue
            if key == "routing" and isinstance(value, dict):
                value = {**(values.get("routing") or {}), **value}
            values[key] = value
    return ChainSettings.from_mapping(values)
