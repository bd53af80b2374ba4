"""Valid store notes for tests of the index and the resume tools (imported by those test modules)."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path


def session_text(ext_id: str, operator: str | None, date: str, *, title: str = "A session",
                 summary: str = "What happened.", outcome: str = "done", workstream: str | None = None,
                 confidence: str = "medium", resume_prompt: str = "Pick up where this left off.",
                 open_questions: str = "- none", status: str | None = "written", extra: str = "",
                 decisions: str | None = None, body: str | None = None) -> str:
    """A written session note (a legacy note without `status` when status is None); `body`, when given,
    replaces the generated sections (a benchmark's own prose, lists, code and tables)."""
    lines = ["---", f"title: {title}"]
    if operator:
        lines.append(f"operator: {operator}")
    lines.append(f"summary: {summary}")
    lines.append(f"workstream: {workstream}" if workstream else "workstream: null")
    lines += ["tags: [test]", "kind: session", f"external_id: {ext_id}"]
    if status:
        lines.append(f"status: {status}")
    lines += [f"outcome: {outcome}", f"confidence: {confidence}", f"date: {date}"]
    if extra:
        lines.append(extra.rstrip("\n"))
    if body is not None:
        return "\n".join([*lines, "---", body])
    lines += ["---", "## Summary", "", summary, ""]
    if decisions is not None:
        lines += ["## Decisions", "", decisions, ""]
    lines += ["## Open questions", "", open_questions, "",
              "## Resume Prompt", "", resume_prompt, "", f"Confidence: {confidence}", ""]
    return "\n".join(lines)


def claim_text(ext_id: str, operator: str, claimed_at: str) -> str:
    return (f"---\nkind: session\nexternal_id: {ext_id}\noperator: {operator}\nclaimed_at: {claimed_at}\n"
            "status: claimed\n---\n")


def workstream_text(slug: str, owner: str | None, *, status: str = "active", title: str = "A workstream",
                    whats_next: str = "Ship the next step.", updated: str | None = None) -> str:
    lines = ["---", f"title: {title}"]
    if owner:
        lines.append(f"owner: {owner}")
    lines += ["summary: A stream of work.", "tags: [test]", "kind: workstream", f"external_id: {slug}",
              f"status: {status}"]
    if updated:
        lines.append(f"updated: {updated}")
    lines += ["---", "## Goal", "", "A goal.", "", "## What's Next", "", whats_next, "", "## Session Log", ""]
    return "\n".join(lines)


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def session(root: Path, ext_id: str, operator: str | None, date: str, **kwargs: object) -> Path:
    return write(root, f"docs/sessions/{ext_id}.md", session_text(ext_id, operator, date, **kwargs))  # type: ignore[arg-type]


# ---------------------------------------------------------------- a store the size of a busy team's year

BENCH_OPERATORS = (("ana", "AN"), ("bo", "BO"), ("cy", "CY"), ("dee", "DE"), ("eli", "EL"))
_TOPICS = ("parser", "alerts", "datum", "tides", "export", "billing", "login", "cache", "sync", "search",
           "migration", "charts", "webhook", "retry", "timezone", "offline", "import", "quota", "audit", "theme")
_WORDS = ("fixed", "tested", "measured", "reviewed", "split", "renamed", "documented", "guarded", "removed",
          "the", "edge", "cases", "fallback", "handler", "schema", "station", "batch", "queue", "table", "index",
          "client", "server", "config", "budget", "threshold", "rollout", "flag", "report", "page", "field")


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(n)).capitalize() + "."


def telemetry_fields(rng: random.Random, n: int, date: str) -> str:
    """The frontmatter a finished session carries from the telemetry hook (times, tools, tokens, cost, git)."""
    tools = {f"Tool{k}": rng.randint(0, 40) for k in range(5)}
    breakdown = ", ".join(f"{k}: {v}" for k, v in tools.items())
    return "\n".join([
        "plan: null", f"claimed_at: {date}T09:00:00Z", f"started_at: {date}T09:01:00Z", f"ended_at: {date}T11:00:00Z",
        "mode: full", f"claude_session_id: 8f4f9bf2-05f2-48ab-bc5c-{n:012d}",
        f"tool_calls_count: {sum(tools.values())}",
        f"tool_calls_breakdown: {{{breakdown}, mcp__notion_offplan: 0}}",
        f"tool_failures_count: {rng.randint(0, 5)}", "failures_breakdown: {}",
        f"subagents_dispatched: {rng.randint(0, 4)}", f"parallel_terminals_observed: {rng.randint(0, 3)}",
        f"tokens: {{input: {rng.randint(0, 10**6)}, output: {rng.randint(0, 10**5)}, cache_creation: 100, "
        "cache_read: 2000}",
        f"cost_usd: {rng.random() * 3:.4f}", f"commits_count: {rng.randint(0, 9)}",
        f"lines_added: {rng.randint(0, 900)}", f"lines_removed: {rng.randint(0, 300)}",
        "first_commit_at: null", "last_commit_at: null", f"active_min_estimate: {rng.randint(5, 200)}",
        "content_hash: null", "sync_status: pending",
    ])


FAILURE_CLASSES = ("test_fail", "compile_error", "lint_error", "timeout", "dependency_missing")
MODELS = ("claude-sonnet-4-5", "claude-opus-4-1")


def handoff_fields(rng: random.Random, date: str, workstream: str) -> str:
    """The frontmatter /handoff adds when it writes the note: when, with which model, the workstreams
    touched, the invariants checked, and the tool failures by class (none, or one or two classes)."""
    failures = {c: rng.randint(1, 4) for c in rng.sample(FAILURE_CLASSES, rng.randint(0, 2))}
    by_class = ", ".join(f"{k}: {v}" for k, v in failures.items())
    summary = f"{{total: {sum(failures.values())}, by_class: {{{by_class}}}}}" if failures else "null"
    return "\n".join([
        f"written_at: {date}T11:02:00Z", f"model: {rng.choice(MODELS)}", f"workstreams_touched: [{workstream}]",
        "invariants: {tool_calls_breakdown.mcp__notion_offplan: 0}", "invariant_violations: []",
        f"failure_summary: {summary}",
    ])


def bench_session(i: int, workstreams: int, rng: random.Random, *, telemetry_rng: random.Random | None = None,
                  handoff_rng: random.Random | None = None) -> tuple[str, str]:
    """The `i`-th session of a benchmark store (its path and text): operator `i % 5`, three a day per
    operator from 2024-01-01, text drawn from `rng`; with `telemetry_rng`, the hook's frontmatter; with
    `handoff_rng`, the keys /handoff adds. Each block draws from its own generator, so turning one on
    changes no other text. Past the store's last `i`, the next new note."""
    slug, initials = BENCH_OPERATORS[i % 5]
    n = i // 5
    day, month, year, seq = 1 + (n // 3) % 28, 1 + (n // 84) % 12, 24 + n // 1008, 1 + n % 3
    ext = f"{initials}-{year:02d}{month:02d}{day:02d}-{seq:02d}"
    date = f"20{year:02d}-{month:02d}-{day:02d}"
    ws = rng.randrange(workstreams)
    topic = _TOPICS[ws % len(_TOPICS)]
    title = f"{topic.capitalize()} - {_sentence(rng, 4)}"
    summary = f"Worked on the {topic} of stream-{ws}. {_sentence(rng, 14)}"
    outcome = rng.choice(("done", "done", "incomplete", "blocked"))
    decisions = f"- {_sentence(rng, 10)}\n- {_sentence(rng, 8)}"
    open_questions = f"- {_sentence(rng, 9)}"
    resume_prompt = f"Continue the {topic} work of stream-{ws}. " + " ".join(_sentence(rng, 12) for _ in range(6))
    confidence = rng.choice(("high", "medium", "low"))
    extra = [telemetry_fields(telemetry_rng, i, date)] if telemetry_rng else []
    if handoff_rng:
        extra.append(handoff_fields(handoff_rng, date, f"stream-{ws}"))
    text = session_text(ext, slug, date, title=title, summary=summary, workstream=f"stream-{ws}", outcome=outcome,
                        decisions=decisions, open_questions=open_questions, resume_prompt=resume_prompt,
                        confidence=confidence, extra="\n".join(extra))
    return f"docs/sessions/{ext}.md", text


def bench_store(root: Path, sessions: int = 10_000, workstreams: int = 300, seed: int = 11, *,
                telemetry: bool = False, handoff: bool = False) -> list[Path]:
    """A store of `sessions` written sessions by five operators over `workstreams` workstreams, with
    varied text (topics and words drawn at random), mtimes an hour back as in a real store; the notes'
    paths, workstreams first. With `telemetry`, each session also carries the hook's frontmatter
    (the realistic number of keys a parser meets); with `handoff`, the keys /handoff adds (model,
    failure summary, invariants: what the dashboards and insights read)."""
    rng = random.Random(seed)
    # Their own draws: the notes' text does not depend on `telemetry` or `handoff`.
    telemetry_rng = random.Random(seed + 1) if telemetry else None
    handoff_rng = random.Random(seed + 2) if handoff else None
    files: list[tuple[str, str]] = []
    for i in range(workstreams):
        topic = _TOPICS[i % len(_TOPICS)]
        files.append((f"workstreams/stream-{i}.md", workstream_text(
            f"stream-{i}", BENCH_OPERATORS[i % 5][0], title=f"{topic.capitalize()} stream {i}",
            whats_next=_sentence(rng, 12), status="done" if i % 7 == 0 else "active")))
    files += [bench_session(i, workstreams, rng, telemetry_rng=telemetry_rng, handoff_rng=handoff_rng)
              for i in range(sessions)]
    old = time.time() - 3600
    paths = []
    for rel, text in files:
        path = write(root, rel, text)
        os.utime(path, (old, old))
        paths.append(path)
    return paths
