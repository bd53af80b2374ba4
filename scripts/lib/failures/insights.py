"""Failure and cost figures from the record: pure functions, data in, data out.

`compute(sessions, chains=..., decisions=...)` takes
- `sessions`: the frontmatter of session notes (mappings as the store holds them; claim stubs are the
  caller's to leave out),
- `chains`: chain records of the registry (`ChainRecord.to_dict()` shapes),
- `decisions`: records of the decision log (`lib.failures.decisions.read_decisions`),

and returns plain JSON-ready data. Nothing here reads a file, so the console, `insights.py` and tests
feed it whatever they loaded.

Definitions (the figures mean exactly this):
- a session *had failures* when its `failure_summary.total` (else `tool_failures_count`, else the sum of
  `failures_breakdown`) is above zero; its failures by class come from `failure_summary.by_class`, else
  `failures_breakdown`;
- a *failed session* is a note whose `outcome` is `blocked`, or a chain session the registry marks
  `failed` (matched by id; a failed chain session without a note still counts, with the registry's cost);
- *cost lost* is the cost of failed sessions (the note's `cost_usd`, else the registry's);
- a *retry* is a `retry` decision about a session: of a chain (the registry's `decisions`) or of the
  decision log (records of chains the registry knows are taken from the registry only, so nothing
  counts twice). Of several retries of one session, all but the last failed (another followed); the last
  *succeeded* when the session ended `ok` (a handoff retry: when the note was valid after it), or the log
  record's `outcome` says ok/success/succeeded/done; it *failed* when the session ended failed/stopped/
  interrupted (the handoff went synthetic) or the record says so; otherwise it is pending. Retries are
  this machine's record: the registry and the log are machine-local.
- a *routing decision* is a chain runner's `refinement_cycle` or `escalation` about a failure class
  (lib.chains.routing). It *resolved* the failure when a later session of its chain ended with a valid
  note of its own and without that class (`resolved_by`); its *cost* is what the sessions run under it
  cost until then (or until the chain ended); *cost per resolved failure* is the cost of all decisions
  of a type and class over the number that resolved. Read from the registry's decisions, and from the
  decision log (original records and their `follow_up_of` records) for chains the registry no longer has.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

FAILED_OUTCOMES = frozenset({"blocked"})
_OK_WORDS = frozenset({"ok", "success", "succeeded", "done", "passed"})
_BAD_WORDS = frozenset({"failed", "failure", "error", "stopped", "interrupted", "aborted"})
UNKNOWN = "(none)"


@dataclass(frozen=True)
class Filters:
    since: dt.date | None = None
    until: dt.date | None = None
    operator: str | None = None
    workstream: str | None = None

    def date_ok(self, day: dt.date | None) -> bool:
        if day is None:
            return self.since is None and self.until is None
        if self.since is not None and day < self.since:
            return False
        return not (self.until is not None and day > self.until)


def as_date(value: Any) -> dt.date | None:
    """A date from a date, a datetime or an ISO 8601 string; None otherwise."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _num(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    if value != value or value in (float("inf"), float("-inf")):
        return 0.0
    return float(value)


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    return max(int(value), 0) if value == value and abs(value) != float("inf") else 0


def failures_by_class(meta: Mapping[str, Any]) -> dict[str, int]:
    """A note's failures by class: `failure_summary.by_class`, else `failures_breakdown`."""
    summary = meta.get("failure_summary")
    source: Any = None
    if isinstance(summary, Mapping) and isinstance(summary.get("by_class"), Mapping):
        source = summary["by_class"]
    elif isinstance(meta.get("failures_breakdown"), Mapping):
        source = meta["failures_breakdown"]
    if not source:
        return {}
    return {str(k): _count(v) for k, v in source.items() if _count(v) > 0}


def failure_total(meta: Mapping[str, Any]) -> int:
    summary = meta.get("failure_summary")
    if isinstance(summary, Mapping) and _count(summary.get("total")) > 0:
        return _count(summary.get("total"))
    if _count(meta.get("tool_failures_count")) > 0:
        return _count(meta.get("tool_failures_count"))
    return sum(failures_by_class(meta).values())


@dataclass
class _Group:
    sessions: int = 0
    with_failures: int = 0
    failed: int = 0
    tool_calls: int = 0
    tool_failures: int = 0
    cost_usd: float = 0.0
    cost_lost_usd: float = 0.0

    def add(self, *, failures: int, failed: bool, tool_calls: int, cost: float) -> None:
        self.sessions += 1
        self.with_failures += failures > 0
        self.failed += failed
        self.tool_calls += tool_calls
        self.tool_failures += failures
        self.cost_usd += cost
        if failed:
            self.cost_lost_usd += cost

    def row(self, key: str) -> dict[str, Any]:
        return {
            "key": key,
            "sessions": self.sessions,
            "sessions_with_failures": self.with_failures,
            "failed_sessions": self.failed,
            "failure_rate": round(self.failed / self.sessions, 4) if self.sessions else 0.0,
            "tool_calls": self.tool_calls,
            "tool_failures": self.tool_failures,
            "cost_usd": round(self.cost_usd, 6),
            "cost_lost_usd": round(self.cost_lost_usd, 6),
        }


def _rows(groups: Mapping[str, _Group]) -> list[dict[str, Any]]:
    return sorted((g.row(k) for k, g in groups.items()), key=lambda r: (-r["sessions"], r["key"]))


def _chain_sessions(chains: Iterable[Mapping[str, Any]]) -> dict[str, tuple[Mapping[str, Any], Mapping[str, Any]]]:
    found: dict[str, tuple[Mapping[str, Any], Mapping[str, Any]]] = {}
    for chain in chains:
        for session in chain.get("sessions") or []:
            if isinstance(session, Mapping) and isinstance(session.get("id"), str):
                found[session["id"]] = (chain, session)
    return found


def _key(value: Any) -> str:
    return value if isinstance(value, str) and value else UNKNOWN


def compute(sessions: Iterable[Mapping[str, Any]], *, chains: Iterable[Mapping[str, Any]] = (),
            decisions: Iterable[Mapping[str, Any]] = (), filters: Filters | None = None,
            top_contexts: int = 10) -> dict[str, Any]:
    """Every figure the console and `insights.py` show; see the module docstring for the definitions."""
    filters = filters or Filters()
    chain_list = [c for c in chains if isinstance(c, Mapping)]
    decisions_list = [d for d in decisions if isinstance(d, Mapping)]
    by_chain_session = _chain_sessions(chain_list)
    total = _Group()
    by_operator: dict[str, _Group] = defaultdict(_Group)
    by_workstream: dict[str, _Group] = defaultdict(_Group)
    by_model: dict[str, _Group] = defaultdict(_Group)
    by_class: Counter[str] = Counter()
    sessions_by_class: Counter[str] = Counter()
    cost_per_day: dict[dt.date, list[float]] = defaultdict(lambda: [0.0, 0.0])
    failures_per_day: dict[dt.date, Counter[str]] = defaultdict(Counter)
    contexts: Counter[str] = Counter()
    seen_ids: set[str] = set()

    for meta in sessions:
        day = as_date(meta.get("date"))
        if not filters.date_ok(day):
            continue
        operator = _key(meta.get("operator"))
        if filters.operator and operator != filters.operator:
            continue
        workstream = _key(meta.get("workstream"))
        if filters.workstream and workstream != filters.workstream:
            continue
        sid = meta.get("external_id")
        chained = by_chain_session.get(sid) if isinstance(sid, str) else None
        if isinstance(sid, str):
            seen_ids.add(sid)
        classes = failures_by_class(meta)
        failures = failure_total(meta)
        failed = meta.get("outcome") in FAILED_OUTCOMES or bool(chained and chained[1].get("status") == "failed")
        cost = _num(meta.get("cost_usd"))
        if not cost and chained:
            cost = _num(chained[1].get("cost_usd"))
        model = meta.get("model") or (chained[1].get("model") if chained else None)
        tool_calls = _count(meta.get("tool_calls_count"))
        for group in (total, by_operator[operator], by_workstream[workstream], by_model[_key(model)]):
            group.add(failures=failures, failed=failed, tool_calls=tool_calls, cost=cost)
        by_class.update(classes)
        sessions_by_class.update(classes.keys())
        if day is not None:
            cost_per_day[day][0] += cost
            cost_per_day[day][1] += 1
            failures_per_day[day].update(classes)
        summary = meta.get("failure_summary")
        if isinstance(summary, Mapping):
            for ctx in summary.get("contexts") or []:
                label = _context_label(ctx)
                if label:
                    contexts[label] += 1

    # Failed chain sessions that left no note (the runner's record is all there is).
    chain_failures: Counter[str] = Counter()
    for sid, (chain, session) in by_chain_session.items():
        if session.get("status") != "failed":
            continue
        day = as_date(session.get("started_at"))
        if not filters.date_ok(day):
            continue
        if filters.operator and _key(chain.get("operator")) != filters.operator:
            continue
        chain_failures[_key(session.get("failure_class"))] += 1
        if sid in seen_ids or filters.workstream:
            continue
        cost = _num(session.get("cost_usd"))
        for group in (total, by_operator[_key(chain.get("operator"))], by_workstream[UNKNOWN],
                      by_model[_key(session.get("model"))]):
            group.add(failures=0, failed=True, tool_calls=0, cost=cost)
        if day is not None:
            cost_per_day[day][0] += cost
            cost_per_day[day][1] += 1

    classes_seen = sorted(set(by_class) | set(chain_failures))
    total_failures = sum(by_class.values())
    return {
        "filters": {
            "since": filters.since.isoformat() if filters.since else None,
            "until": filters.until.isoformat() if filters.until else None,
            "operator": filters.operator,
            "workstream": filters.workstream,
        },
        "totals": total.row("all"),
        "by_class": [
            {
                "failure_class": cls,
                "failures": by_class.get(cls, 0),
                "sessions": sessions_by_class.get(cls, 0),
                "share": round(by_class.get(cls, 0) / total_failures, 4) if total_failures else 0.0,
                "chain_sessions_failed": chain_failures.get(cls, 0),
            }
            for cls in sorted(classes_seen, key=lambda c: (-by_class.get(c, 0), -chain_failures.get(c, 0), c))
        ],
        "by_operator": _rows(by_operator),
        "by_workstream": _rows(by_workstream),
        "by_model": _rows(by_model),
        "cost_per_day": [
            {"date": day.isoformat(), "cost_usd": round(v[0], 6), "sessions": int(v[1])}
            for day, v in sorted(cost_per_day.items())
        ],
        "failures_per_day": [
            {"date": day.isoformat(), "by_class": dict(sorted(counts.items()))}
            for day, counts in sorted(failures_per_day.items()) if counts
        ],
        "top_contexts": [{"context": c, "count": n} for c, n in contexts.most_common(top_contexts)],
        "retries": retries(chain_list, decisions_list, filters=filters),
        "routing": routing_outcomes(chain_list, decisions_list, filters=filters),
    }


ROUTING_TYPES = ("refinement_cycle", "escalation")


def _operators_chains(chains: Iterable[Any], filters: Filters,
                      known: set[str]) -> Iterator[Mapping[str, Any]]:
    """The chains of the filtered operator; the id of every chain, filtered out or not, goes into `known`
    (the decision log's records of those chains are then not counted twice)."""
    for chain in chains:
        if not isinstance(chain, Mapping):
            continue
        if isinstance(chain.get("id"), str):
            known.add(chain["id"])
        if filters.operator and _key(chain.get("operator")) != filters.operator:
            continue
        yield chain


def routing_outcomes(chains: Iterable[Mapping[str, Any]], decisions: Iterable[Mapping[str, Any]], *,
                     filters: Filters | None = None) -> dict[str, Any]:
    """Per decision type and failure class: decisions, how many resolved the failure, cost per resolution."""
    filters = filters or Filters()
    items: dict[str, tuple[str, str, bool, float]] = {}  # decision id -> (type, class, resolved, cost)
    known_chains: set[str] = set()
    for chain in _operators_chains(chains, filters, known_chains):
        for n, decision in enumerate(chain.get("decisions") or []):
            if not isinstance(decision, Mapping) or decision.get("type") not in ROUTING_TYPES:
                continue
            failure = decision.get("failure_class")
            if not isinstance(failure, str) or not filters.date_ok(as_date(decision.get("at"))):
                continue
            key = str(decision.get("id") or f"{chain.get('id')}#{n}")
            items[key] = (str(decision["type"]), failure, bool(decision.get("resolved_by")),
                          _num(decision.get("cost_usd")))
    originals: dict[str, tuple[str, str]] = {}
    follow: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for record in decisions:
        if not isinstance(record, Mapping) or record.get("kind") not in ROUTING_TYPES:
            continue
        if record.get("chain") in known_chains or not isinstance(record.get("failure_class"), str):
            continue
        if filters.operator and record.get("operator") not in (None, filters.operator):
            continue
        origin = record.get("follow_up_of")
        if isinstance(origin, str):
            follow[origin].append(record)
        elif isinstance(record.get("decision_id"), str) and filters.date_ok(as_date(record.get("ts"))):
            originals[record["decision_id"]] = (str(record["kind"]), record["failure_class"])
    for decision_id, (kind, failure) in originals.items():
        ups = follow.get(decision_id, [])
        items.setdefault(decision_id, (kind, failure, any(u.get("resolved_by") for u in ups),
                                       sum(_num(u.get("cost_usd")) for u in ups)))
    groups: dict[tuple[str, str], list[tuple[bool, float]]] = defaultdict(list)
    for kind, failure, resolved, cost in items.values():
        groups[(kind, failure)].append((resolved, cost))
    rows = []
    for (kind, failure), group in sorted(groups.items()):
        resolved_count = sum(1 for r, _ in group if r)
        cost = sum(c for _, c in group)
        rows.append({
            "type": kind, "failure_class": failure, "decisions": len(group), "resolved": resolved_count,
            "resolution_rate": round(resolved_count / len(group), 4) if group else None,
            "cost_usd": round(cost, 6),
            "cost_per_resolved_usd": round(cost / resolved_count, 6) if resolved_count else None,
        })
    return {"source": "this machine's chain registry and decision log", "rows": rows}


def _context_label(ctx: Any) -> str | None:
    if isinstance(ctx, str):
        return ctx[:200] or None
    if not isinstance(ctx, Mapping):
        return None
    for key in ("first_error_line", "missing", "tool"):
        value = ctx.get(key)
        if isinstance(value, str) and value:
            return value[:200]
    return None


def _verdict(status: Any) -> str:
    word = str(status or "").lower()
    if word in _OK_WORDS:
        return "succeeded"
    if word in _BAD_WORDS:
        return "failed"
    return "pending"


def retries(chains: Iterable[Mapping[str, Any]], decisions: Iterable[Mapping[str, Any]], *,
            filters: Filters | None = None) -> dict[str, Any]:
    """Retry decisions and how the retried sessions ended (this machine's record)."""
    filters = filters or Filters()
    items: list[tuple[dt.date | None, str, str]] = []  # (day, reason, verdict)
    known_chains: set[str] = set()
    for chain in _operators_chains(chains, filters, known_chains):
        by_id = {s.get("id"): s for s in chain.get("sessions") or [] if isinstance(s, Mapping)}
        groups: dict[tuple[Any, Any], list[Mapping[str, Any]]] = defaultdict(list)
        for decision in chain.get("decisions") or []:
            # A retry with no session (a circuit reset) retried nothing that can succeed or fail.
            if isinstance(decision, Mapping) and decision.get("type") == "retry" and decision.get("session"):
                groups[(decision.get("session"), decision.get("what"))].append(decision)
        for (sid, what), group in groups.items():
            session = by_id.get(sid) or {}
            if what == "handoff":
                handoff = session.get("handoff")
                status = handoff.get("status") if isinstance(handoff, Mapping) else None
                last = ("succeeded" if status == "valid_after_retry"
                        else "failed" if status in ("synthetic", "missing") else "pending")
            else:
                last = _verdict(session.get("status"))
            for i, decision in enumerate(group):
                day = as_date(decision.get("at"))
                if not filters.date_ok(day):
                    continue
                # Every retry but the last was followed by another: it did not succeed.
                verdict = last if i == len(group) - 1 else "failed"
                reason = _key(decision.get("reason") or decision.get("what"))
                items.append((day, reason, verdict))
    for record in decisions:
        if not isinstance(record, Mapping) or record.get("kind") != "retry":
            continue
        if record.get("chain") in known_chains:
            continue
        if filters.operator and record.get("operator") not in (None, filters.operator):
            continue
        day = as_date(record.get("ts"))
        if not filters.date_ok(day):
            continue
        reason = _key(record.get("failure_class") or record.get("reason"))
        items.append((day, reason, _verdict(record.get("outcome"))))

    by_reason: dict[str, Counter[str]] = defaultdict(Counter)
    per_day: dict[dt.date, Counter[str]] = defaultdict(Counter)
    verdicts: Counter[str] = Counter()
    for day, reason, verdict in items:
        verdicts[verdict] += 1
        by_reason[reason][verdict] += 1
        if day is not None:
            per_day[day][verdict] += 1
    decided = verdicts["succeeded"] + verdicts["failed"]
    return {
        "source": "this machine's chain registry and decision log",
        "total": len(items),
        "succeeded": verdicts["succeeded"],
        "failed": verdicts["failed"],
        "pending": verdicts["pending"],
        "success_rate": round(verdicts["succeeded"] / decided, 4) if decided else None,
        "by_reason": [
            {"reason": r, "total": sum(c.values()), "succeeded": c["succeeded"], "failed": c["failed"],
             "pending": c["pending"]}
            for r, c in sorted(by_reason.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
        ],
        "per_day": [
            {"date": d.isoformat(), "succeeded": c["succeeded"], "failed": c["failed"], "pending": c["pending"]}
            for d, c in sorted(per_day.items())
        ],
    }
