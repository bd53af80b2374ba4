"""The note each session must leave: claiming its id, validating it, and the synthetic fallback.

The runner claims the session id before it starts `claude` and exports it as
BATON_SESSION_ID; the session's `/handoff --auto` writes the note over the
claim stub. The runner's contact with the other pieces of baton is kept to
this module: `resolve_operator` and `claim_session_id` (lib.store.operators,
lib.store.ids), `write_synthetic_handoff` and `commit_note` (lib.handoff, the steps
behind `/handoff`).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lib.core import config
from lib.core.errors import BatonError
from lib.handoff import commit as handoff_commit
from lib.handoff import note as handoff_note
from lib.store import frontmatter, ids, markdown, operators, validate
from lib.store.operators import Operator

SUMMARY_MIN_CHARS = 20
FED_MAX_CHARS = 10_000



# ------------------------------------------------------------------ operator and id


def resolve_operator(project_dir: Path, operator: str | None) -> Operator:
    """Who runs the chain: `operator` (a slug or initials) if given, else the usual resolution chain
    (`$OPERATOR`, `$CLAUDE_USER_EMAIL`, `git config user.email`) against .claude/operators.yaml."""
    env = dict(os.environ)
    if operator:
        env["OPERATOR"] = operator
    return operators.resolve(project_dir, env=env).operator


def claim_session_id(project_dir: Path, operator: Operator, chain_id: str | None = None) -> ids.Claim:
    """Claim the next free `<INITIALS>-YYMMDD-NN` for the session about to start (its claim stub, which
    names the chain so the note `/handoff` writes over it keeps `chain_id`)."""
    # A BATON_SESSION_ID inherited by the runner itself must not make every session reuse one id.
    env = {k: v for k, v in os.environ.items() if k != "BATON_SESSION_ID"}
    return ids.claim(project_dir, operator, env=env, chain_id=chain_id)


# ------------------------------------------------------------------ validation


@dataclass
class HandoffCheck:
    path: Path
    ok: bool = False
    exists: bool = False
    problems: list[str] = field(default_factory=list)
    outcome: str | None = None
    summary: str = ""
    next_steps: str = ""
    resume_prompt: str = ""
    synthetic: bool = False

    @property
    def fed_text(self) -> str:
        return "\n\n".join(p for p in (self.summary, self.next_steps, self.resume_prompt) if p)


def sections(body: str) -> dict[str, str]:
    """`## Heading` -> text, keyed by `markdown.heading_key` (lower-cased)."""
    return markdown.sections(body)


def validate_handoff(note_path: Path, expected_id: str | None = None) -> HandoffCheck:
    """Whether the note a session left can carry the chain: schema, Summary, Next steps, size."""
    check = HandoffCheck(path=note_path)
    try:
        text = note_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        check.problems.append("no note")
        return check
    except OSError as exc:
        check.problems.append(f"cannot read: {exc.strerror}")
        return check
    check.exists = True
    try:
        metadata, body = frontmatter.loads(text, note_path)
    except frontmatter.FrontmatterError as exc:
        check.problems.append(str(exc))
        return check
    if metadata.get("status") == "claimed":
        check.problems.append("still a claim stub (the session wrote no handoff)")
        return check
    result = validate.check_text(note_path.name, text, kind_hint="session")
    check.problems.extend(str(p) for p in result.problems)
    if metadata.get("kind") != "session":
        check.problems.append(f"kind is {metadata.get('kind')!r}, not 'session'")
    if expected_id is not None and metadata.get("external_id") != expected_id:
        check.problems.append(f"external_id is {metadata.get('external_id')!r}, not {expected_id!r}")
    if metadata.get("status") != "written":
        check.problems.append(f"status is {metadata.get('status')!r}, not 'written'")
    parts = sections(body)
    fm_summary = metadata.get("summary")
    check.summary = parts.get("summary") or (fm_summary if isinstance(fm_summary, str) else "")
    check.next_steps = parts.get("next steps", "")
    check.resume_prompt = parts.get("resume prompt", "")
    outcome = metadata.get("outcome")
    check.outcome = outcome if isinstance(outcome, str) else None
    check.synthetic = metadata.get("synthetic") is True
    if len(check.summary.strip()) < SUMMARY_MIN_CHARS:
        check.problems.append(f"Summary has {len(check.summary.strip())} characters (at least {SUMMARY_MIN_CHARS})")
    if check.outcome == "incomplete" and not check.next_steps.strip():
        check.problems.append("outcome is incomplete but there is no '## Next steps'")
    if len(check.fed_text) >= FED_MAX_CHARS:
        check.problems.append(f"Summary + Next steps + Resume Prompt are {len(check.fed_text)} characters "
                              f"(under {FED_MAX_CHARS})")
    check.ok = not check.problems
    return check


# ------------------------------------------------------------------ synthetic handoff


def write_synthetic_handoff(
    root: Path,
    note_path: Path,
    *,
    session_id: str,
    operator: str,
    chain_id: str,
    claude_session_id: str | None,
    reason: str,
    error: str | None,
    partial_output: str,
    previous: HandoffCheck | None,
    model: str | None = None,
) -> HandoffCheck:
    """A note built from the session's partial output and error context, marked `synthetic: true`.

    Written over the claim stub (or an invalid note) so the next session has
    something to resume from; the previous valid note's Next steps are carried
    forward because the failed session may not have finished them. It is written
    by the handoff's own `write-session` (telemetry, git facts, content_hash); if
    that refuses (say, an invalid note left keys it keeps), by a plain writer, so
    a synthetic note is always there.
    """
    what = f"ended without a valid handoff ({reason})"
    summary = f"Synthetic handoff: session {session_id} of chain {chain_id} {what}."
    if error:
        summary += f" Error: {_one_line(error, 200)}"
    sections: dict[str, str] = {"summary": summary}
    if partial_output.strip():
        sections["what_was_done"] = ("Last output of the session (verbatim, quoted):\n\n"
                                     + _quote(partial_output.strip()[-3000:]))
    steps = ["- Check the working tree and the last commits: this session may have left work half done."]
    if previous is not None and previous.next_steps.strip():
        steps.append("- Then carry on with the Next steps of the last valid handoff:")
        steps.append(_indent(previous.next_steps.strip()[:3000]))
    sections["next_steps"] = "\n".join(steps)
    resume = (f"The previous session ({session_id}) stopped before writing its handoff ({reason}). "
              "Inspect `git status` and `git log` first, finish or revert any partial change, then continue "
              "the mission from the Next steps above.")
    if previous is not None and previous.resume_prompt.strip():
        resume += "\n\nResume Prompt of the last valid handoff:\n\n" + _quote(previous.resume_prompt.strip()[:3000])
    sections["resume_prompt"] = resume + "\n\nConfidence: low"
    content: dict[str, Any] = {
        "title": f"Synthetic handoff for {session_id}",
        "summary": summary,
        "outcome": "incomplete",
        "tags": ["chain", "synthetic"],
        "mode": "auto",
        "confidence": "low",
        "model": model,
        "sections": sections,
    }
    try:
        handoff_note.write_session(root, session_id, content, force=True, claude_id=claude_session_id, since=None,
                                   now=dt.datetime.now(dt.UTC))
        doc = frontmatter.load_document(note_path)
        doc.set("chain_id", chain_id)
        doc.set("synthetic", True)
        doc.stamp_content_hash()
        doc.save(note_path)
    except BatonError:  # ContentError included
        _write_plain(note_path, session_id, operator, chain_id, claude_session_id, content)
    return validate_handoff(note_path, session_id)


def _write_plain(note_path: Path, session_id: str, operator: str, chain_id: str, claude_session_id: str | None,
                 content: dict[str, Any]) -> None:
    headings = {"summary": "Summary", "what_was_done": "What was done", "next_steps": "Next steps",
                "resume_prompt": "Resume Prompt"}
    body = "\n".join(f"## {headings[key]}\n\n{text}\n" for key, text in content["sections"].items())
    metadata: dict[str, Any] = {
        "title": content["title"],
        "operator": operator,
        "summary": content["summary"],
        "tags": content["tags"],
        "kind": "session",
        "external_id": session_id,
        "status": "written",
        "outcome": content["outcome"],
        "confidence": content["confidence"],
        "date": dt.date.today().isoformat(),
        "written_at": _now_iso(),
        "mode": content["mode"],
        "model": content["model"],
        "claude_session_id": claude_session_id,
        "chain_id": chain_id,
        "synthetic": True,
        "sync_status": "pending",
    }
    doc = frontmatter.new_document(metadata, body, kind="session")
    doc.stamp_content_hash()
    doc.save(note_path)


def commit_note(root: Path, session_id: str) -> str | None:
    """Commit the note through the handoff's own commit step (exactly its files, serialised with
    other handoffs); the error text, or None."""
    try:
        result = handoff_commit.commit(root, session_id, push=False,
                                       settings=handoff_commit.Settings.from_config(config.load(root)))
    except BatonError as exc:
        return str(exc)
    return None if result.committed or result.commit else "nothing committed"


def _quote(text: str) -> str:
    # Quoted so the partial output can never open a section or close the frontmatter.
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.splitlines())


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" if line.strip() else "" for line in text.splitlines())


def _one_line(text: str, limit: int) -> str:
    return " ".join(text.split())[:limit]


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).astimezone().isoformat(timespec="seconds")
