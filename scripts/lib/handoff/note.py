"""The session note: content in, a validated note with its content_hash out, over the claim stub.

Content arrives as JSON (docs/conventions/handoff.md, "write-session input"); telemetry and
git stats are read here, not passed in, so the note states what the hook and git saw.
Learnings (`docs/learnings/<slug>.md`) are written the same way.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lib.core.errors import BatonError
from lib.handoff import manifest as manifests
from lib.handoff.gitstats import GitStats
from lib.handoff.state import Telemetry
from lib.security import redact
from lib.store import frontmatter, schema, sessionid, validate

MODES = ("full", "quick", "trivial", "auto")
SHORT_MODES = ("quick", "trivial")
OUTCOMES = ("done", "incomplete", "blocked")
CONFIDENCES = ("high", "medium", "low")
PROMPT_MIN_WORDS, PROMPT_MAX_WORDS = 80, 150

# content key -> section heading, in the contract's order; Telemetry is generated.
SECTION_KEYS: dict[str, str] = {
    heading.lower().replace(" ", "_"): heading for heading in schema.SESSION_SECTIONS if heading != "Telemetry"
}
SHORT_SECTION_KEYS = tuple(h.lower().replace(" ", "_") for h in schema.QUICK_SESSION_SECTIONS)
TOP_KEYS = ("title", "summary", "outcome", "workstream", "plan", "tags", "mode", "confidence", "model", "sections")
EMPTY_SECTION = "None."
SKIPPED_PROMPT = "Skipped."

_CONFIDENCE_LINE = re.compile(r"^confidence\s*:\s*(high|medium|low)\s*\.?$", re.I)


class ContentError(BatonError):
    """Content that cannot become a valid note; `problems` lists every one."""

    def __init__(self, what: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{what}: {len(problems)} problem(s): " + "; ".join(problems))


# ----------------------------------------------------------------- Resume Prompt

@dataclass
class PromptCheck:
    words: int
    confidence: str | None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "words": self.words, "confidence": self.confidence, "problems": self.problems,
                "min_words": PROMPT_MIN_WORDS, "max_words": PROMPT_MAX_WORDS}


def _split_confidence(text: str) -> tuple[str, str | None]:
    """(prompt without its closing confidence line, the confidence or None)."""
    lines = text.rstrip().splitlines()
    if lines:
        last = lines[-1].strip().strip("*_`").strip()
        match = _CONFIDENCE_LINE.match(last)
        if match:
            return "\n".join(lines[:-1]).rstrip(), match.group(1).lower()
    return text.rstrip(), None


def check_resume_prompt(text: str) -> PromptCheck:
    """80-150 words, ending with a line `Confidence: high|medium|low`."""
    prose, confidence = _split_confidence(text)
    words = len(prose.split())
    check = PromptCheck(words, confidence)
    if confidence is None:
        check.problems.append("does not end with a line 'Confidence: high|medium|low'")
    if words < PROMPT_MIN_WORDS:
        check.problems.append(f"{words} words: write at least {PROMPT_MIN_WORDS}")
    elif words > PROMPT_MAX_WORDS:
        check.problems.append(f"{words} words: keep it to {PROMPT_MAX_WORDS}")
    return check


# ----------------------------------------------------------------- content

@dataclass
class Content:
    title: str
    summary: str
    outcome: str
    workstream: str | None
    plan: str | None
    tags: list[str]
    mode: str
    confidence: str | None
    model: str | None
    sections: dict[str, str]
    warnings: list[str] = field(default_factory=list)


def text_field(data: Mapping[str, Any], key: str, problems: list[str], *, required: bool, one_line: bool = False,
          where: str = "") -> str | None:
    value = data.get(key)
    name = f"{where}{key}"
    if value is None:
        if required:
            problems.append(f"{name}: required")
        return None
    if not isinstance(value, str):
        problems.append(f"{name}: must be a string, not {type(value).__name__}")
        return None
    if required and not value.strip():
        problems.append(f"{name}: must not be empty")
        return None
    if one_line and "\n" in value.strip():
        problems.append(f"{name}: must be one line")
        return None
    return value.strip()


def slug_field(data: Mapping[str, Any], key: str, problems: list[str]) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not schema.SLUG.match(value):
        problems.append(f"{key}: {value!r} is not a slug (lowercase letters, digits, '-', '_')")
        return None
    return value


def parse_content(data: Any, default_mode: str | None) -> Content:
    """Check write-session's input; raises ContentError listing every problem."""
    if not isinstance(data, Mapping):
        raise ContentError("content", ["must be a JSON object"])
    problems: list[str] = []
    warnings: list[str] = []
    unknown = sorted(set(data) - set(TOP_KEYS))
    if unknown:
        problems.append(f"unknown key(s): {', '.join(unknown)} (allowed: {', '.join(TOP_KEYS)})")
    title = text_field(data, "title", problems, required=True, one_line=True)
    summary = text_field(data, "summary", problems, required=True)
    outcome = data.get("outcome")
    if outcome not in OUTCOMES:
        problems.append(f"outcome: {outcome!r} is not one of: {', '.join(OUTCOMES)}")
    workstream = slug_field(data, "workstream", problems)
    plan = slug_field(data, "plan", problems)
    tags = data.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and t.strip() for t in tags):
        problems.append("tags: must be a list of non-empty strings")
        tags = []
    mode = data.get("mode") or default_mode or "full"
    if mode not in MODES:
        problems.append(f"mode: {mode!r} is not one of: {', '.join(MODES)}")
    confidence = data.get("confidence")
    if confidence is not None and confidence not in CONFIDENCES:
        problems.append(f"confidence: {confidence!r} is not one of: {', '.join(CONFIDENCES)}")
        confidence = None
    model = text_field(data, "model", problems, required=False, one_line=True)

    raw_sections = data.get("sections", {})
    sections: dict[str, str] = {}
    if not isinstance(raw_sections, Mapping):
        problems.append("sections: must be an object of section texts")
        raw_sections = {}
    unknown_sections = sorted(set(raw_sections) - set(SECTION_KEYS))
    if unknown_sections:
        problems.append(f"sections: unknown section(s): {', '.join(unknown_sections)} "
                        f"(allowed: {', '.join(SECTION_KEYS)})")
    for key in SECTION_KEYS:
        text = text_field(raw_sections, key, problems, required=False, where="sections.")
        if text:
            sections[key] = text
    if mode in SHORT_MODES:
        extra = [k for k in sections if k not in SHORT_SECTION_KEYS]
        if extra:
            problems.append(f"sections: a {mode} note has only summary and resume_prompt; "
                            f"drop {', '.join(extra)} or use mode full")

    prompt = sections.get("resume_prompt")
    if prompt:
        prose, tagged = _split_confidence(prompt)
        if tagged and confidence and tagged != confidence:
            problems.append(f"confidence: {confidence!r} disagrees with the Resume Prompt's 'Confidence: {tagged}'")
        elif tagged is None and confidence is None:
            problems.append("sections.resume_prompt: must end with a line 'Confidence: high|medium|low' "
                            "(or give confidence)")
        elif tagged is None:
            sections["resume_prompt"] = f"{prose}\n\nConfidence: {confidence}"
        confidence = tagged or confidence
        words = len(prose.split())
        if not PROMPT_MIN_WORDS <= words <= PROMPT_MAX_WORDS:
            warnings.append(f"Resume Prompt has {words} words (aim for {PROMPT_MIN_WORDS}-{PROMPT_MAX_WORDS})")

    if problems:
        raise ContentError("content", problems)
    assert title is not None and summary is not None
    return Content(title, summary, str(outcome), workstream, plan, list(tags), str(mode), confidence, model,
                   sections, warnings)


# ----------------------------------------------------------------- body

def _fmt_int(value: Any) -> str:
    return f"{int(value or 0):,}"


def telemetry_section(telemetry: Telemetry, stats: GitStats) -> str:
    state = telemetry.state
    lines = []
    if not telemetry.found:
        lines.append("- Telemetry state: not found; counters are written as zero.")
    lines.append(
        f"- Tool calls: {_fmt_int(state.get('tool_calls_count'))} "
        f"(failed {_fmt_int(state.get('tool_failures_count'))}, "
        f"subagents {_fmt_int(state.get('subagents_dispatched'))}, "
        f"parallel terminals {_fmt_int(state.get('parallel_terminals_observed'))})"
    )
    breakdown = state.get("tool_calls_breakdown") or {}
    if breakdown:
        ordered = sorted(breakdown.items(), key=lambda kv: (-int(kv[1] or 0), kv[0]))
        lines.append("- By tool: " + ", ".join(f"{name} {_fmt_int(n)}" for name, n in ordered))
    tokens = state.get("tokens") if telemetry.found else None
    if isinstance(tokens, Mapping):
        cost = state.get("cost_usd")
        cost_text = f"; cost ${cost:,.2f}" if isinstance(cost, (int, float)) else ""
        lines.append(
            f"- Tokens: input {_fmt_int(tokens.get('input'))}, output {_fmt_int(tokens.get('output'))}, "
            f"cache write {_fmt_int(tokens.get('cache_creation'))}, "
            f"cache read {_fmt_int(tokens.get('cache_read'))}{cost_text}"
        )
    git_line = (f"- Git: {stats.commits_count} commit(s), +{_fmt_int(stats.lines_added)} / "
                f"-{_fmt_int(stats.lines_removed)} lines in {stats.files_changed} file(s)")
    if stats.since:
        git_line += f" since {stats.since} ({stats.since_source})"
    lines.append(git_line)
    if telemetry.violations:
        lines.append("- **Invariants broken**: " + "; ".join(telemetry.violations))
    elif telemetry.invariants:
        lines.append("- Invariants: all zero (" + ", ".join(sorted(telemetry.invariants)) + ")")
    return "\n".join(lines)


def render_body(content: Content, telemetry: Telemetry, stats: GitStats) -> str:
    short = content.mode in SHORT_MODES
    parts = []
    for key, heading in SECTION_KEYS.items():
        if short and key not in SHORT_SECTION_KEYS:
            continue
        if key == "summary":
            text = content.sections.get("summary") or content.summary
        elif key == "resume_prompt":
            text = content.sections.get("resume_prompt") or SKIPPED_PROMPT
        else:
            text = content.sections.get(key) or EMPTY_SECTION
        parts.append(f"## {heading}\n\n{text.strip()}\n")
    if not short:
        parts.append(f"## Telemetry\n\n{telemetry_section(telemetry, stats)}\n")
    return "\n".join(parts)


# ----------------------------------------------------------------- metadata

TELEMETRY_KEYS = (
    "tool_calls_count", "tool_calls_breakdown", "tool_calls_breakdown_methods", "tool_failures_count",
    "failures_breakdown", "subagents_dispatched", "parallel_terminals_observed",
)


def _utc_now(now: dt.datetime) -> dt.datetime:
    return now.astimezone(dt.UTC).replace(microsecond=0)


def _as_datetime(value: Any) -> dt.datetime | None:
    from lib.handoff.state import parse_time

    if isinstance(value, dt.datetime):
        return value
    return parse_time(value) if isinstance(value, str) else None


def note_date(session_id: str, now: dt.datetime) -> dt.date:
    """The day in the id (`XX-YYMMDD-NN`), else today."""
    return sessionid.day_of(session_id) or now.astimezone().date()


def _dominant_model(state: Mapping[str, Any]) -> str | None:
    by_model = state.get("tokens_by_model")
    if not isinstance(by_model, Mapping) or not by_model:
        return None

    def weight(item: tuple[Any, Any]) -> tuple[int, str]:
        usage = item[1] if isinstance(item[1], Mapping) else {}
        total = sum(int(v) for v in usage.values() if isinstance(v, int) and not isinstance(v, bool))
        return (total, str(item[0]))

    return str(max(by_model.items(), key=weight)[0])


def build_metadata(session_id: str, operator: str, content: Content, telemetry: Telemetry, stats: GitStats,
                   existing: Mapping[str, Any], now: dt.datetime) -> dict[str, Any]:
    state = telemetry.state
    written_at = _utc_now(now)
    meta: dict[str, Any] = {k: v for k, v in existing.items() if k != "content_hash"}
    meta.update({
        "title": content.title,
        "operator": operator,
        "summary": content.summary,
        "workstream": content.workstream,
        "plan": content.plan,
        "tags": content.tags,
        "kind": "session",
        "external_id": session_id,
        "status": "written",
        "outcome": content.outcome,
        "confidence": content.confidence,
        "date": note_date(session_id, now),
        "claimed_at": _as_datetime(existing.get("claimed_at")) or written_at,
        "started_at": _as_datetime(state.get("started_at")),
        "ended_at": _as_datetime(state.get("ended_at")) or written_at,
        "written_at": written_at,
        "mode": content.mode,
        "model": content.model or _dominant_model(state),
        "claude_session_id": telemetry.session_id,
    })
    for key in TELEMETRY_KEYS:
        meta[key] = state.get(key)
    meta["tokens"] = state.get("tokens") if telemetry.found else None
    meta["cost_usd"] = state.get("cost_usd") if telemetry.found else None
    meta["unpriced_models"] = list(state.get("unpriced_models") or [])
    meta["failure_summary"] = telemetry.failure_summary
    meta["invariants"] = dict(telemetry.invariants)
    meta["invariant_violations"] = list(telemetry.violations)
    meta["active_min_estimate"] = existing.get("active_min_estimate")
    git_fields = stats.note_fields()
    for key in ("first_commit_at", "last_commit_at"):
        git_fields[key] = _as_datetime(git_fields[key])
    meta.update(git_fields)
    meta.setdefault("sync_status", "pending")
    return meta


# ----------------------------------------------------------------- writing

@dataclass
class WriteResult:
    id: str
    path: str
    mode: str
    content_hash: str
    outcome: str
    confidence: str | None
    workstream: str | None
    sections: list[str]
    warnings: list[str]
    invariant_violations: list[str]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def check_overwrite(path: Path, rel: str, force: bool) -> dict[str, Any]:
    """The metadata of the file being replaced: a claim stub, or anything with --force."""
    if not path.exists():
        raise BatonError(f"{rel}: no claim stub; run `handoff_helpers.py start` (or session.py claim) first")
    try:
        existing = frontmatter.read_metadata(path)
    except frontmatter.FrontmatterError as exc:
        if not force:
            raise BatonError(f"{exc}; not overwriting it without --force") from None
        return {}
    if existing.get("status") != "claimed" and not force:
        status = existing.get("status")
        raise BatonError(f"{rel}: already a written note (status: {status}); not overwriting it without --force")
    return existing


def render_note(session_id: str, operator: str, content: Content, telemetry: Telemetry, stats: GitStats,
                existing: Mapping[str, Any], now: dt.datetime) -> frontmatter.Document:
    # The note is committed and pushed: every field (the model's text, failure contexts quoted from
    # tool output) goes through the redactor first.
    meta = redact.redact_data(build_metadata(session_id, operator, content, telemetry, stats, existing, now))
    doc = frontmatter.new_document(meta, redact.redact(render_body(content, telemetry, stats)), kind="session")
    doc.stamp_content_hash()
    return doc


def validate_document(rel: str, doc: frontmatter.Document, kind: str) -> list[str]:
    result = validate.check_text(rel, doc.render(), kind_hint=kind)
    return [str(p) for p in result.problems]


def record(root: Path, session_id: str, rel: str, *, learning: str | None = None) -> None:
    with manifests.editing(root, session_id) as manifest:
        manifest.add(rel)
        if learning and learning not in manifest.learnings:
            manifest.learnings.append(learning)


# ----------------------------------------------------------------- the two write steps

@dataclass
class PreparedNote:
    """A note rendered and validated, not yet written."""

    id: str
    rel: str
    doc: frontmatter.Document
    content: Content
    warnings: list[str]
    invariant_violations: list[str]


def prepare_session(root: Path, session_id: str, data: Any, *, force: bool, claude_id: str | None,
                    since: str | None, now: dt.datetime) -> PreparedNote:
    """Build and validate the note over its claim stub; raises (ContentError listing every problem) and writes
    nothing when anything is wrong."""
    from lib.handoff import context, identity

    path = identity.note_path(root, session_id)
    rel = path.relative_to(root).as_posix()
    existing = check_overwrite(path, rel, force)
    record_ = manifests.load(root, session_id)
    content = parse_content(data, record_.mode)
    operator = existing.get("operator") or record_.operator
    if not isinstance(operator, str) or not operator:
        raise BatonError(f"{rel}: the claim stub has no operator")
    ctx = context.gather(root, context.claude_session_id(claude_id, session_id, root), since, now, refresh=True,
                         recorded=(record_.since, record_.since_source))
    doc = render_note(session_id, operator, content, ctx.telemetry, ctx.stats, existing, now)
    problems = validate_document(rel, doc, "session")
    if problems:
        raise ContentError(rel, problems)
    return PreparedNote(session_id, rel, doc, content, [*ctx.warnings, *content.warnings],
                        list(ctx.telemetry.violations))


def save_session(root: Path, prepared: PreparedNote) -> WriteResult:
    prepared.doc.save(root / prepared.rel)  # validated by prepare_session
    digest = str(prepared.doc.get("content_hash"))
    record(root, prepared.id, prepared.rel)
    content = prepared.content
    return WriteResult(
        id=prepared.id, path=prepared.rel, mode=content.mode, content_hash=digest, outcome=content.outcome,
        confidence=content.confidence, workstream=content.workstream,
        sections=re.findall(r"^## (.+)$", prepared.doc.body, flags=re.M),
        warnings=prepared.warnings, invariant_violations=prepared.invariant_violations,
    )


def write_session(root: Path, session_id: str, data: Any, *, force: bool, claude_id: str | None,
                  since: str | None, now: dt.datetime) -> WriteResult:
    """Build, validate and write the note over its claim stub; nothing is written when anything is wrong."""
    prepared = prepare_session(root, session_id, data, force=force, claude_id=claude_id, since=since, now=now)
    return save_session(root, prepared)
