"""Every step of a handoff after `start`, in one call: the model writes the prose once, the helpers do the rest.

The input is one mapping (block-style YAML): the note's content (docs/conventions/handoff.md, "write-session
input"), plus `learnings` (a list of write-learning inputs) and `log_line` (the workstream's Session Log line).
Everything is checked before the first write, and every problem is listed at once, so one retry fixes all:
the content, each learning, the log line, the Resume Prompt (80-150 words, ending with its confidence), the
note and learnings against their schemas, a note already written (needs `force`). Then the steps run in the
contract's order. A step that fails before the commit stops the run (the files written so far stay and are
re-written by a run with `force`); after the commit, a failure (a refused push) is reported and the remaining
steps still run: the commit stays.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lib.core.errors import BatonError
from lib.handoff import commit as commits
from lib.handoff import context, learning, note, plan, steps

EXTRA_KEYS = ("learnings", "log_line")
PLACEHOLDER_ID = "XX-000101-01"  # for checking a learning's fields before the id is known

# The contract's steps (docs/conventions/handoff.md) that `finish` runs, in order.
STEP_NAMES = (
    "check-prompt", "validate", "write-learnings", "write-session", "archive-transcript", "regen-index",
    "append-log", "changelog", "link", "stage", "commit", "push", "refresh-resume-cache", "archive-state",
)


@dataclass
class StepReport:
    step: str
    status: str  # ok | warning | skipped | failed | not_run
    result: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"step": self.step, "status": self.status}
        if self.result:
            out["result"] = self.result
        if self.warnings:
            out["warnings"] = self.warnings
        if self.error:
            out["error"] = self.error
        return out


@dataclass
class FinishReport:
    ok: bool = False
    id: str | None = None
    path: str | None = None
    title: str | None = None
    mode: str | None = None
    outcome: str | None = None
    confidence: str | None = None
    workstream: str | None = None
    learnings: list[str] = field(default_factory=list)
    commit: str | None = None
    committed: bool = False
    pushed: bool = False
    remote: str | None = None
    branch: str | None = None
    renamed_from: list[str] = field(default_factory=list)
    push_error: dict[str, str] | None = None
    invariant_violations: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    failed_step: str | None = None
    error: str | None = None
    steps: list[StepReport] = field(default_factory=list)

    def warnings(self) -> list[str]:
        return [w for s in self.steps for w in s.warnings]

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "steps"}
        out["warnings"] = self.warnings()
        out["steps"] = [s.as_dict() for s in self.steps]
        return out


@dataclass
class Options:
    session_id: str | None = None
    operator_confirmed: bool = False
    force: bool = False
    keep_prompt: bool = False  # the user's own Resume Prompt: a length outside 80-150 words is only a warning
    push: bool = True
    claude_id: str | None = None
    since: str | None = None
    transcript: str | None = None


# ----------------------------------------------------------------- checks (nothing written)

def _split_input(data: Any, problems: list[str]) -> tuple[dict[str, Any], list[Any], str | None]:
    if not isinstance(data, Mapping):
        problems.append("content: must be a mapping (block-style YAML: `key: value` lines)")
        return {}, [], None
    content = {k: v for k, v in data.items() if k not in EXTRA_KEYS}
    learnings = data.get("learnings") or []
    if not isinstance(learnings, list):
        problems.append("learnings: must be a list of learnings (`- slug: ...` items)")
        learnings = []
    line = data.get("log_line")
    if line is not None and (not isinstance(line, str) or not line.strip() or "\n" in line.strip()):
        problems.append("log_line: must be one line of text")
        line = None
    return content, learnings, line.strip() if isinstance(line, str) else None


def _prompt_check(content: Mapping[str, Any], keep_prompt: bool) -> tuple[StepReport, list[str]]:
    sections = content.get("sections")
    prompt = sections.get("resume_prompt") if isinstance(sections, Mapping) else None
    if not isinstance(prompt, str) or not prompt.strip():
        return StepReport("check-prompt", "skipped", warnings=["no Resume Prompt: the note says it was skipped"]), []
    check = note.check_resume_prompt(prompt)
    problems = [f"sections.resume_prompt: {p}" for p in check.problems]
    if keep_prompt:
        # The user's own words: only a missing confidence line is still refused (write-session needs it).
        kept = [p for p in problems if "Confidence" in p and not content.get("confidence")]
        warnings = [p for p in problems if p not in kept]
        problems = kept
    else:
        warnings = []
    status = "failed" if problems else ("warning" if warnings else "ok")
    return StepReport("check-prompt", status, check.as_dict(), warnings), problems


def _learning_problems(items: list[Any], session_id: str | None, now: dt.datetime) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        try:
            slug, _ = learning.build_learning(item, session_id or PLACEHOLDER_ID, "checking", now)
        except note.ContentError as exc:
            problems += [f"learnings[{i}]: {p}" for p in exc.problems]
            continue
        if slug in seen:
            problems.append(f"learnings[{i}]: slug {slug!r} is given twice")
        seen.add(slug)
    return problems


def _content_problems(content: dict[str, Any], mode: str | None) -> list[str]:
    try:
        note.parse_content(content, mode)
    except note.ContentError as exc:
        return list(exc.problems)
    return []


def _resolve_id(root: Path, options: Options, mode: str | None, now: dt.datetime) -> str:
    """The id `start` claimed (or the chain runner's): given, reused from this Claude session's stub, or
    claimed now for an operator the user just confirmed."""
    if options.session_id:
        return options.session_id
    started = plan.start(root, quick=mode == "quick", auto=mode == "auto",
                         operator_confirmed=options.operator_confirmed, claude_id=options.claude_id,
                         since=options.since, now=now)
    if started.id is None:
        op = started.operator
        raise BatonError(f"the operator {op['slug']} was inferred from {op['source']} {op['email']}: "
                         "ask the user, then run finish with --operator-confirmed")
    return started.id


# ----------------------------------------------------------------- the run

def finish(root: Path, data: Any, options: Options, *, now: dt.datetime) -> FinishReport:
    report = FinishReport()
    problems: list[str] = []
    content, learning_items, log_line = _split_input(data, problems)
    prompt_step, prompt_problems = _prompt_check(content, options.keep_prompt)
    report.steps.append(prompt_step)
    mode = content.get("mode") if isinstance(content.get("mode"), str) else None
    problems += _content_problems(content, mode) if content else []
    problems += prompt_problems
    problems += _learning_problems(learning_items, options.session_id, now)
    if problems:
        return _refused(report, problems)

    try:
        session_id = _resolve_id(root, options, mode, now)
        prepared = note.prepare_session(root, session_id, content, force=options.force, claude_id=options.claude_id,
                                        since=options.since, now=now)
    except note.ContentError as exc:
        return _refused(report, list(exc.problems))
    except BatonError as exc:
        return _refused(report, [str(exc)])
    report.id = session_id
    learnings, problems = _prepare_learnings(root, session_id, learning_items, options.force, now)
    if problems:
        return _refused(report, problems)
    report.steps.append(StepReport("validate", "ok", {"id": session_id, "note": prepared.rel,
                                                       "learnings": [p.rel for p in learnings]}))
    _fill_from_note(report, prepared)
    _run_steps(root, report, prepared, learnings, log_line, options, now)
    return report


def _refused(report: FinishReport, problems: list[str]) -> FinishReport:
    report.problems = problems
    report.steps.append(StepReport("validate", "failed", error=f"{len(problems)} problem(s); nothing was written"))
    report.failed_step = "validate"
    return report


def _prepare_learnings(root: Path, session_id: str, items: list[Any], force: bool,
                       now: dt.datetime) -> tuple[list[learning.PreparedLearning], list[str]]:
    if not items:
        return [], []
    prepared, problems = [], []
    operator = learning.learning_operator(root, session_id)
    for i, item in enumerate(items):
        try:
            prepared.append(learning.prepare_learning(root, session_id, operator, item, force=force, now=now))
        except note.ContentError as exc:
            problems += [f"learnings[{i}]: {p}" for p in exc.problems]
        except BatonError as exc:
            problems.append(f"learnings[{i}]: {exc}")
    return prepared, problems


def _fill_from_note(report: FinishReport, prepared: note.PreparedNote) -> None:
    c = prepared.content
    report.path, report.title, report.mode, report.outcome = prepared.rel, c.title, c.mode, c.outcome
    report.confidence, report.workstream = c.confidence, c.workstream
    report.invariant_violations = list(prepared.invariant_violations)


def _step(report: FinishReport, name: str, action: Callable[[], dict[str, Any]]) -> bool:
    """Run one step into the report; False when it failed."""
    try:
        result = action()
    except BatonError as exc:
        report.steps.append(StepReport(name, "failed", error=str(exc)))
        report.failed_step, report.error = report.failed_step or name, report.error or f"{name}: {exc}"
        return False
    warnings = [str(w) for w in result.pop("warnings", []) or []]
    status = "skipped" if result.pop("skipped", False) else ("warning" if warnings else "ok")
    report.steps.append(StepReport(name, status, result, warnings))
    return True


def _run_steps(root: Path, report: FinishReport, prepared: note.PreparedNote,
               learnings: list[learning.PreparedLearning], log_line: str | None, options: Options,
               now: dt.datetime) -> None:
    session_id = prepared.id

    def write_learnings() -> dict[str, Any]:
        written = [learning.save_learning(root, session_id, p) for p in learnings]
        report.learnings = [w["slug"] for w in written]
        return {"written": written, "skipped": not written}

    def write_session() -> dict[str, Any]:
        result = note.save_session(root, prepared).as_dict()
        return {"path": result["path"], "content_hash": result["content_hash"], "sections": result["sections"],
                "invariant_violations": result["invariant_violations"], "warnings": result["warnings"]}

    def append_log() -> dict[str, Any]:
        result = steps.append_log(root, session_id, line=log_line, workstream=None, now=now)
        return {**result, "skipped": not result.get("written")}

    before_commit: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("write-learnings", write_learnings),
        ("write-session", write_session),
        ("archive-transcript", lambda: _compact_transcript(steps.archive_transcript(
            root, session_id, claude_id=options.claude_id, transcript=options.transcript))),
        ("regen-index", lambda: steps.regen_index(root, session_id)),
        ("append-log", append_log),
        ("changelog", lambda: _compact_changelog(steps.changelog(root, session_id))),
        ("link", lambda: steps.link(root, session_id)),
        ("stage", lambda: steps.stage(root, session_id)),
    ]
    for name, action in before_commit:
        if not _step(report, name, action):
            _not_run(report)
            return
    if not _commit(root, report, session_id, options.push):
        _not_run(report)
        return
    session_id = report.id or session_id  # a rename on the remote gives a new id
    _step(report, "refresh-resume-cache", lambda: steps.refresh_resume_cache(root))
    _step(report, "archive-state", lambda: _archive_state(root, session_id, options.claude_id))
    report.ok = report.failed_step is None


def _commit(root: Path, report: FinishReport, session_id: str, push: bool) -> bool:
    try:
        result = steps.commit(root, session_id, push=push)
    except BatonError as exc:
        report.steps.append(StepReport("commit", "failed", error=str(exc)))
        report.failed_step, report.error = "commit", f"commit: {exc}"
        return False
    report.id, report.commit, report.committed = result.id, result.commit, result.committed
    report.remote, report.branch, report.renamed_from = result.remote, result.branch, list(result.renamed_from)
    report.path = f"{Path(report.path or '').parent.as_posix()}/{result.id}.md"
    report.steps.append(StepReport("commit", "ok", {"commit": result.commit, "committed": result.committed,
                                                    "files": result.files, "renamed_from": result.renamed_from},
                                   list(result.warnings)))
    _push_step(report, result, push)
    return True


def _push_step(report: FinishReport, result: commits.CommitResult, push: bool) -> None:
    if not push:
        report.steps.append(StepReport("push", "skipped", warnings=["not pushed (--no-push)"]))
        return
    if result.push_error:
        report.push_error = result.push_error.as_dict()
        report.steps.append(StepReport("push", "failed", {"remote": result.remote, "branch": result.branch},
                                       error=result.push_error.message))
        report.failed_step, report.error = "push", result.push_error.message
        return
    report.pushed = result.pushed
    report.steps.append(StepReport("push", "ok", {"remote": result.remote, "branch": result.branch}))


def _archive_state(root: Path, session_id: str, claude_id: str | None) -> dict[str, Any]:
    if not context.claude_session_id(claude_id, session_id, root):
        return {"skipped": True, "warnings": ["no Claude Code session id: no telemetry state to archive"]}
    return steps.archive_state(root, session_id, claude_id)


def _compact_transcript(result: dict[str, Any]) -> dict[str, Any]:
    transcript = result.get("transcript") or {}
    return {"status": result.get("status"), "archive_dir": result.get("archive_dir"),
            "archive": transcript.get("archive"), "bytes": transcript.get("bytes"),
            "subagents": len(result.get("subagents") or []), "redactions": result.get("redactions") or {},
            "warnings": result.get("warnings") or [], "skipped": result.get("transcript") is None}


def _compact_changelog(result: dict[str, Any]) -> dict[str, Any]:
    entry = result.get("entry") or {}
    return {"status": result.get("status"), "path": result.get("path"),
            "commits": len(entry.get("commits") or []), "warnings": result.get("warnings") or []}


def _not_run(report: FinishReport) -> None:
    done = {s.step for s in report.steps}
    report.steps += [StepReport(name, "not_run") for name in STEP_NAMES if name not in done]
