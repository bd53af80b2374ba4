"""Step 0 of a handoff: who, which id, and how much to write.

- The id: the chain runner's pre-claimed `$BATON_SESSION_ID`, else the stub this Claude
  Code session already claimed (a re-run after an interruption), else a new claim.
- The operator: from the claim, else resolved; an operator inferred from an email is
  confirmed by the user before anything is claimed (unless `--auto`).
- The mode: `auto` (unattended, full note, no questions), `quick` (asked for), `trivial`
  (no commits and fewer than 5 tool calls, with telemetry to prove it) or `full`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lib.core import paths
from lib.core.paths import SKIPPED_NAMES
from lib.handoff import context, identity
from lib.handoff import manifest as manifests
from lib.handoff.context import SessionContext
from lib.store import frontmatter
from lib.store.schema import SESSION_ID

TRIVIAL_MAX_TOOL_CALLS = 5  # fewer than this, and no commits


@dataclass
class StartResult:
    id: str | None
    path: str | None
    operator: dict[str, Any]
    claim: str  # new | reused | preclaimed | none (waiting for the operator's confirmation)
    confirm_operator: bool
    first_handoff: bool
    hint: str | None
    note_written: bool
    mode: str
    trivial: bool
    trivial_reason: str
    tool_calls_count: int
    telemetry_found: bool
    claude_session_id: str | None
    since: str | None
    since_source: str
    commits: list[dict[str, Any]] = field(default_factory=list)
    telemetry: dict[str, Any] = field(default_factory=dict)
    git: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


GIT_KEYS = ("commits_count", "lines_added", "lines_removed", "files_changed")
TELEMETRY_KEYS = ("tool_calls_count", "tool_failures_count", "subagents_dispatched")


def telemetry_summary(ctx: SessionContext) -> dict[str, Any]:
    """What the model reports of the session's telemetry: counters, and the invariants it broke."""
    state = ctx.telemetry.state
    return {"found": ctx.telemetry.found, **{key: int(state.get(key) or 0) for key in TELEMETRY_KEYS},
            "invariant_violations": list(ctx.telemetry.violations)}


def is_trivial(ctx: SessionContext) -> tuple[bool, str]:
    calls, commits = ctx.telemetry.tool_calls_count, ctx.stats.commits_count
    if not ctx.telemetry.found:
        return False, "no telemetry state, so the session cannot be shown to be trivial"
    if commits == 0 and calls < TRIVIAL_MAX_TOOL_CALLS:
        return True, f"no commits and {calls} tool call(s) (fewer than {TRIVIAL_MAX_TOOL_CALLS})"
    return False, f"{commits} commit(s), {calls} tool call(s)"


def choose_mode(quick: bool, auto: bool, trivial: bool) -> str:
    if auto:
        return "auto"
    if quick:
        return "quick"
    return "trivial" if trivial else "full"


def _reusable_claim(root: Path, claude_id: str | None) -> identity.Claim | None:
    """A stub this Claude Code session claimed earlier and has not filled in yet."""
    if not claude_id:
        return None
    for record in manifests.all_manifests(root):
        if record.claude_session_id != claude_id or not record.operator or not SESSION_ID.match(record.id):
            continue
        path = identity.note_path(root, record.id)
        meta = identity.read_stub(path)
        if meta is not None and meta.get("status") == "claimed":
            return identity.Claim(record.id, path, record.operator, new=False)
    return None


def _written_by(path: Path, slug: str) -> bool:
    try:
        meta = frontmatter.read_metadata(path)
    except frontmatter.FrontmatterError:
        return False
    return meta.get("operator") == slug and meta.get("status") != "claimed"


def is_first_handoff(root: Path, slug: str, initials: str, current: str) -> bool:
    """Whether the operator has no earlier session note (claim stubs do not count)."""
    folder = identity.sessions_folder(root)
    if not folder.is_dir():
        return True
    for path in sorted(folder.glob(f"{initials}-*.md")):
        if path.stem != current and _written_by(path, slug):
            return False
    for path in sorted(folder.glob("*.md")):
        if path.name in SKIPPED_NAMES or SESSION_ID.match(path.stem):
            continue  # <INITIALS>-YYMMDD-NN files were looked at above
        if _written_by(path, slug):
            return False
    return True


def first_handoff_hint(slug: str, initials: str, session_id: str, root: Path | None = None) -> str:
    """What to do next time; the per-operator commands are named only once they exist in `root`."""
    short = initials.lower()
    lead = f"First handoff as {slug}: this note goes to docs/sessions/{session_id}.md and is committed with your code."
    commands = Path(root or ".") / ".claude" / "commands"
    if (commands / f"resume-{short}.md").is_file() and (commands / f"handoff-{short}.md").is_file():
        return (f"{lead} Next time, start with /resume (or /resume-{short}) to pick up from its Resume Prompt; "
                f"/handoff-{short} hands off as {slug} without asking.")
    return (f"{lead} Next time, start with /resume to pick up from its Resume Prompt. For /resume-{short} and "
            f"/handoff-{short} (no operator question), run `{paths.launcher_in(Path(root or '.'))}session.py wrappers` once.")


def start(root: Path, *, quick: bool, auto: bool, operator_confirmed: bool, claude_id: str | None,
          since: str | None, now: dt.datetime) -> StartResult:
    claude_id = context.claude_session_id(claude_id)
    ctx = context.gather(root, claude_id, since, now)
    trivial, reason = is_trivial(ctx)
    warnings = list(ctx.warnings)

    claim = identity.preclaimed(root)
    kind = "preclaimed"
    if claim is None:
        claim, kind = _reusable_claim(root, claude_id), "reused"
    if claim is not None:
        initials = claim.id.split("-", 1)[0]
        operator = identity.Operator(claim.operator, initials, "claim")
    else:
        operator = identity.resolve_operator(root)
        initials = operator.initials
        if not (operator.inferred and not (auto or operator_confirmed)):
            claim, kind = identity.claim(root, operator, now=now), "new"

    result = StartResult(
        id=claim.id if claim else None,
        path=claim.path.relative_to(root).as_posix() if claim else None,
        operator=operator.as_dict(),
        claim=kind if claim else "none",
        confirm_operator=claim is None,
        first_handoff=False,
        hint=None,
        note_written=False,
        mode=choose_mode(quick, auto, trivial),
        trivial=trivial,
        trivial_reason=reason,
        tool_calls_count=ctx.telemetry.tool_calls_count,
        telemetry_found=ctx.telemetry.found,
        claude_session_id=claude_id,
        since=ctx.stats.since,
        since_source=ctx.stats.since_source,
        commits=[{"sha": c.short, "subject": c.subject, "committed_at": c.committed_at} for c in ctx.stats.commits],
        telemetry=telemetry_summary(ctx),
        git={key: getattr(ctx.stats, key) for key in GIT_KEYS},
        warnings=warnings,
    )
    if claim is None:
        return result
    meta = identity.read_stub(claim.path) or {}
    result.note_written = meta.get("status") not in (None, "claimed")
    result.first_handoff = is_first_handoff(root, operator.slug, initials, claim.id)
    if result.first_handoff:
        result.hint = first_handoff_hint(operator.slug, initials, claim.id, root)
    with manifests.editing(root, claim.id) as record:
        record.operator, record.initials = operator.slug, initials
        record.claude_session_id = claude_id or record.claude_session_id
        record.mode, record.since, record.since_source = result.mode, ctx.stats.since, ctx.stats.since_source
    return result
