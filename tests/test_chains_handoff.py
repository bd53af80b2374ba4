"""The note a chain session must leave: claiming its id, the validation rules, the synthetic fallback."""

from __future__ import annotations

from pathlib import Path

import pytest
from lib.chains.handoff_check import (
    FED_MAX_CHARS,
    claim_session_id,
    resolve_operator,
    sections,
    validate_handoff,
    write_synthetic_handoff,
)
from lib.store import frontmatter
from support.roster import JD, RT, roster_yaml


def _write_note(path: Path, *, outcome: str = "incomplete", summary: str = "Parser written, tests pending.",
                next_steps: str | None = "- Write the tests", resume: str = "Open src/parser.py.",
                session_id: str | None = None, status: str = "written") -> None:
    session_id = session_id or path.stem
    metadata = {"title": "A session", "operator": "rt", "summary": summary, "tags": ["chain"], "kind": "session",
                "external_id": session_id, "status": status, "outcome": outcome, "date": "2026-11-22"}
    body = f"\n## Summary\n\n{summary}\n\n"
    if next_steps is not None:
        body += f"## Next steps\n\n{next_steps}\n\n"
    body += f"## Resume Prompt\n\n{resume}\n"
    frontmatter.write(path, metadata, body)


OPERATORS = roster_yaml([RT, JD])


def test_the_chain_operator_wins_over_the_environment(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (repo / ".claude" / "operators.yaml").write_text(OPERATORS)
    monkeypatch.setenv("OPERATOR", "jd")
    assert resolve_operator(repo, "RT").slug == "rt"
    assert resolve_operator(repo, None).slug == "jd"


def test_each_session_claims_a_fresh_id_even_under_an_inherited_baton_session_id(
        repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (repo / ".claude" / "operators.yaml").write_text(OPERATORS)
    operator = resolve_operator(repo, "rt")
    first = claim_session_id(repo, operator)
    monkeypatch.setenv("BATON_SESSION_ID", first.id)
    second = claim_session_id(repo, operator)
    assert second.id != first.id and not second.reused
    assert frontmatter.read_metadata(second.path)["status"] == "claimed"


def test_a_good_note_passes(repo: Path) -> None:
    path = repo / "docs" / "sessions" / "RT-261122-01.md"
    _write_note(path, resume="Continue with the CLI wiring.")
    check = validate_handoff(path, "RT-261122-01")
    assert check.ok, check.problems
    assert check.outcome == "incomplete"
    assert check.next_steps == "- Write the tests"
    assert check.resume_prompt == "Continue with the CLI wiring."


@pytest.mark.parametrize(("kwargs", "problem"), [
    ({"summary": "Too short."}, "Summary has 10 characters"),
    ({"next_steps": None}, "no '## Next steps'"),
    ({"resume": "x" * FED_MAX_CHARS}, "characters (under 10000)"),
    ({"status": "claimed"}, "still a claim stub"),
    ({"outcome": "finished"}, "/outcome"),
    ({"session_id": "RT-261122-09"}, "external_id is 'RT-261122-09'"),
])
def test_each_rule_names_its_problem(repo: Path, kwargs: dict[str, object], problem: str) -> None:
    path = repo / "docs" / "sessions" / "RT-261122-01.md"
    _write_note(path, **kwargs)  # type: ignore[arg-type]
    check = validate_handoff(path, "RT-261122-01")
    assert not check.ok
    assert any(problem in p for p in check.problems), check.problems


def test_a_done_note_needs_no_next_steps(repo: Path) -> None:
    path = repo / "docs" / "sessions" / "RT-261122-01.md"
    _write_note(path, outcome="done", next_steps=None)
    assert validate_handoff(path, "RT-261122-01").ok


def test_a_missing_note_is_not_valid(repo: Path) -> None:
    check = validate_handoff(repo / "docs" / "sessions" / "RT-261122-01.md")
    assert not check.ok and not check.exists


def test_the_synthetic_note_validates_and_quotes_the_partial_output(repo: Path) -> None:
    previous_path = repo / "docs" / "sessions" / "RT-261122-01.md"
    _write_note(previous_path, next_steps="- PREVIOUS-STEP", resume="PREVIOUS-RESUME")
    previous = validate_handoff(previous_path)
    (repo / ".claude" / "operators.yaml").write_text(OPERATORS)
    claimed = claim_session_id(repo, resolve_operator(repo, "rt"))
    partial = "## Summary\nfake heading from the model\n---\nkind: adr\n"
    check = write_synthetic_handoff(
        repo, claimed.path, session_id=claimed.id, operator="rt", chain_id="20261122-000000-abcd",
        claude_session_id="abc", reason="stall", error="no output for too long", partial_output=partial,
        previous=previous,
    )
    assert check.ok, check.problems
    assert check.synthetic
    metadata, body = frontmatter.read(claimed.path)
    assert metadata["synthetic"] is True and metadata["kind"] == "session"
    assert metadata["content_hash"] == frontmatter.content_hash(metadata, body)
    # Written by the handoff's own write-session: every section of the contract, in order.
    assert list(sections(body)) == ["summary", "what was done", "decisions", "open questions", "next steps",
                                    "resume prompt", "telemetry"]
    assert metadata["mode"] == "auto" and metadata["confidence"] == "low" and metadata["claude_session_id"] == "abc"
    assert metadata["chain_id"] == "20261122-000000-abcd"
    assert "> ## Summary" in body
    assert "PREVIOUS-STEP" in check.next_steps and "PREVIOUS-RESUME" in check.resume_prompt
    assert "stall" in check.summary


def test_a_synthetic_note_is_written_even_over_a_broken_note_the_helpers_refuse(repo: Path) -> None:
    (repo / ".claude" / "operators.yaml").write_text(OPERATORS)
    claimed = claim_session_id(repo, resolve_operator(repo, "rt"))
    # The session left a note with a key write-session carries over and the schema rejects.
    claimed.path.write_text(f"---\nkind: session\nexternal_id: {claimed.id}\noperator: rt\nstatus: written\n"
                            "legacy_notes: 5\n---\n\nhalf a note\n")
    check = write_synthetic_handoff(
        repo, claimed.path, session_id=claimed.id, operator="rt", chain_id="20261122-000000-abcd",
        claude_session_id=None, reason="no handoff", error=None, partial_output="", previous=None,
    )
    assert check.ok, check.problems
    assert check.synthetic and "legacy_notes" not in frontmatter.read_metadata(claimed.path)
