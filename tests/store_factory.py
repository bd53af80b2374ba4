"""Valid store notes for tests of the index and the resume tools (imported by those test modules)."""

from __future__ import annotations

from pathlib import Path


def session_text(ext_id: str, operator: str | None, date: str, *, title: str = "A session",
                 summary: str = "What happened.", outcome: str = "done", workstream: str | None = None,
                 confidence: str = "medium", resume_prompt: str = "Pick up where this left off.",
                 open_questions: str = "- none", status: str | None = "written", extra: str = "") -> str:
    """A written session note (a legacy note without `status` when status is None)."""
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
    lines += ["---", "## Summary", "", summary, "", "## Open questions", "", open_questions, "",
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
