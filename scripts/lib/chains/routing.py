"""Routing from failure history: before each session, what model it runs on, what it is told, or whether to stop.

The policy (`chains.routing` in `.claude/baton.yaml`, docs/conventions/chain-routing.md):
- *refinement*: the next prompt carries the last failure's class and what the classifier named
  (failing tests, files with lines, first error line, missing module), quoted;
- *escalation*: after `escalate_after` failures of one class in a row on the current model, the next
  session runs on the next model of `ladder`; after a session that did not fail, back to the base model.
  When the team's record (the decision log of every chain of the project) shows that escalation resolved
  this class at least twice and at least half the time while refinement on one model resolved it less than
  half the time, the runner escalates after one failure;
- *stop early*: failures a session cannot fix end the chain `blocked` with the reason: a spent
  per-session budget (`budget_exceeded`), the same missing dependency `block_after` times in a row, or
  `block_after` contract violations in a row.

`plan` is a pure function of the chain's record, the policy and the team's history, so it is tested
without running a session; the runner logs every decision it returns with the inputs it was based on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lib.chains.prompt import Refinement
from lib.chains.registry import ChainRecord, SessionRecord

# Classes a better prompt or a stronger model cannot help with: the API's or the account's failures.
NOT_ROUTED = frozenset({"orchestration_error", "budget_exceeded"})
TEAM_MIN_RESOLVED = 2
TEAM_NOTES_READ = 50


@dataclass
class RoutingPolicy:
    enabled: bool = True
    refine: bool = True
    ladder: list[str] = field(default_factory=list)
    escalate_after: int = 2
    stop_early: bool = True
    block_after: int = 2
    team_history: bool = True

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> RoutingPolicy:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in (values or {}).items() if k in names and v is not None})


@dataclass
class ClassRecord:
    """The team's record for one failure class: decisions, and how many a later session resolved."""

    escalations: int = 0
    escalations_resolved: int = 0
    refinements: int = 0
    refinements_resolved: int = 0
    notes_with_class: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)

    def favours_escalation(self) -> bool:
        if self.escalations_resolved < TEAM_MIN_RESOLVED or self.escalations_resolved * 2 < self.escalations:
            return False
        return self.refinements == 0 or self.refinements_resolved * 2 < self.refinements


@dataclass
class TeamHistory:
    by_class: dict[str, ClassRecord] = field(default_factory=dict)

    def get(self, failure_class: str) -> ClassRecord:
        return self.by_class.get(failure_class) or ClassRecord()


@dataclass
class Decision:
    kind: str
    detail: dict[str, Any]


@dataclass
class Route:
    model: str | None
    rung: int
    refinement: Refinement | None = None
    block: str | None = None
    decisions: list[Decision] = field(default_factory=list)


def ladder_of(policy: RoutingPolicy, base_model: str | None) -> tuple[list[str | None], int]:
    """The models to climb and the base rung: `--model` first when it is not on the ladder."""
    ladder: list[str | None] = list(policy.ladder)
    if not ladder:
        return [base_model], 0
    if base_model is None:
        return ladder, 0
    if base_model in ladder:
        return ladder, ladder.index(base_model)
    return [base_model, *ladder], 0


def _finished(chain: ChainRecord) -> list[SessionRecord]:
    return [s for s in chain.sessions if s.status != "running"]


def _streak(sessions: list[SessionRecord], failure_class: str, model: str | None = None,
            missing: Any = None, same_missing: bool = False) -> int:
    """Sessions at the end of `sessions` that failed with `failure_class` (on `model`, naming `missing`)."""
    count = 0
    for session in reversed(sessions):
        if session.failure_class != failure_class:
            break
        if model is not None and session.requested_model != model:
            break
        if same_missing and (session.failure_context or {}).get("missing") != missing:
            break
        count += 1
    return count


def plan(chain: ChainRecord, policy: RoutingPolicy, base_model: str | None,
         team: TeamHistory | None = None) -> Route:
    ladder, base = ladder_of(policy, base_model)
    rung = chain.routing.get("rung", base) if isinstance(chain.routing.get("rung"), int) else base
    rung = min(max(rung, 0), len(ladder) - 1)
    if not policy.enabled:
        return Route(model=base_model, rung=base,
                     decisions=[Decision("routing", {"model": base_model or "default", "why": "routing off"})])
    done = _finished(chain)
    last = done[-1] if done else None
    route = Route(model=ladder[rung], rung=rung)
    why = "base model" if rung == base else "escalated"
    inputs: dict[str, Any] = {"rung": rung, "ladder": [m or "default" for m in ladder]}
    failure = last.failure_class if last is not None else None
    if last is not None and failure is None and rung != base and last.handoff.status in ("valid", "valid_after_retry"):
        route.decisions.append(Decision("routing", {
            "model": ladder[base] or "default", "why": "back down after a success", "after_session": last.id,
            "from": ladder[rung] or "default"}))
        route.rung, route.model = base, ladder[base]
        return route
    if last is None or failure is None:
        route.decisions.append(Decision("routing", {"model": route.model or "default", "why": why, **inputs}))
        return route

    context = dict(last.failure_context or {})
    if policy.stop_early:
        block = _block_reason(done, failure, context, policy)
        if block is not None:
            route.block = block
            route.decisions.append(Decision("abort", {
                "reason": "blocked", "what": block, "failure_class": failure, "after_session": last.id,
                "context": _context_summary(context)}))
            return route
    if failure in NOT_ROUTED:
        route.decisions.append(Decision("routing", {"model": route.model or "default", "why": why, **inputs,
                                                    "last_failure": failure}))
        return route

    streak = _streak(done, failure, model=last.requested_model)
    record = team.get(failure) if team is not None else ClassRecord()
    threshold = 1 if record.favours_escalation() else policy.escalate_after
    inputs.update(failure_class=failure, failures_on_model=streak, escalate_after=threshold)
    if team is not None:
        inputs["team"] = record.as_dict()
    if streak >= threshold and rung + 1 < len(ladder):
        route.rung, route.model = rung + 1, ladder[rung + 1]
        route.decisions.append(Decision("escalation", {
            "what": f"escalate to {route.model}", "model": route.model, "from": ladder[rung] or "default",
            "failure_class": failure, "after_session": last.id,
            "why": "team history favours escalation" if threshold < policy.escalate_after else "repeated failure",
            **inputs}))
    if policy.refine:
        route.refinement = Refinement(failure_class=failure, session=last.id, context=context)
        route.decisions.append(Decision("refinement_cycle", {
            "what": "prompt names the last failure", "failure_class": failure, "after_session": last.id,
            "context": _context_summary(context)}))
    route.decisions.append(Decision("routing", {
        "model": route.model or "default", "why": "escalated" if route.rung != base else why, **inputs}))
    return route


def _block_reason(done: list[SessionRecord], failure: str, context: Mapping[str, Any],
                  policy: RoutingPolicy) -> str | None:
    if failure == "budget_exceeded":
        return ("a session spent its whole per-session budget (budget_exceeded): raise --max-session-cost-usd "
                "or split the mission")
    if failure == "contract_violation" and _streak(done, failure) >= policy.block_after:
        return (f"{policy.block_after} sessions in a row broke a contract (contract_violation): a person has to "
                "decide whether the contract or the code changes")
    if failure == "dependency_missing":
        missing = context.get("missing")
        if _streak(done, failure, missing=missing, same_missing=True) >= policy.block_after:
            what = f"{missing} is still missing" if missing else "a dependency is still missing"
            return (f"{what} after {policy.block_after} sessions (dependency_missing): install it, or tell the "
                    "mission how to, then resume")
    return None


def _context_summary(context: Mapping[str, Any]) -> dict[str, Any]:
    keep = ("first_error_line", "tests", "files", "missing", "codes", "tool")
    return {k: context[k] for k in keep if context.get(k)}


# ------------------------------------------------------------------ the team's record


def team_history(root: Path, decisions: Iterable[Mapping[str, Any]], notes: Iterable[Mapping[str, Any]] = ()
                 ) -> TeamHistory:
    """Per failure class: escalations and refinements of every chain in the log, and how many resolved."""
    history = TeamHistory()
    by_class: dict[str, ClassRecord] = defaultdict(ClassRecord)
    resolved: set[str] = set()
    originals: dict[str, tuple[str, str]] = {}
    for record in decisions:
        kind = record.get("kind")
        failure = record.get("failure_class")
        if kind not in ("escalation", "refinement_cycle") or not isinstance(failure, str):
            continue
        origin = record.get("follow_up_of")
        if isinstance(origin, str):
            if record.get("resolved_by"):
                resolved.add(origin)
            continue
        decision_id = record.get("decision_id")
        if isinstance(decision_id, str):
            originals[decision_id] = (kind, failure)
    for decision_id, (kind, failure) in originals.items():
        entry = by_class[failure]
        if kind == "escalation":
            entry.escalations += 1
            entry.escalations_resolved += decision_id in resolved
        else:
            entry.refinements += 1
            entry.refinements_resolved += decision_id in resolved
    for meta in notes:
        summary = meta.get("failure_summary")
        if isinstance(summary, Mapping) and isinstance(summary.get("dominant_class"), str):
            by_class[summary["dominant_class"]].notes_with_class += 1
    history.by_class = dict(by_class)
    return history


def recent_notes(root: Path, limit: int = TEAM_NOTES_READ) -> list[dict[str, Any]]:
    """The frontmatter of the newest session notes (by the date in their id), at most `limit`."""
    from lib.store import frontmatter

    folder = root / "docs" / "sessions"
    try:
        names = [e.name for e in folder.iterdir() if e.name.endswith(".md") and e.is_file()]
    except OSError:
        return []

    def key(name: str) -> tuple[str, str]:
        parts = name[:-3].split("-")
        return (parts[1] if len(parts) == 3 else "", name)

    out: list[dict[str, Any]] = []
    for name in sorted(names, key=key, reverse=True)[:limit]:
        try:
            meta = frontmatter.read_metadata(folder / name)
        except Exception:  # a bad teammate's note must not stop the chain
            continue
        if isinstance(meta, dict) and meta.get("status") == "written":
            out.append(meta)
    return out
