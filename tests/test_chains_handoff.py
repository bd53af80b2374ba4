"""The note a chain session must leave: claiming its id, the validation rules, the synthetic fallback."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from lib import frontmatter
from lib.chains.handoff_check import (
    FED_MAX_CHARS,
    claim_session_id,
    resolve_operator,
    sections,
    validate_handoff,
    write_synthetic_handoff,
)
from lib.errors import BatonError

TODAY = dt.date(2026, 11, 22)


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


def test_claims_are_sequential_stubs(repo: Path) -> None:
    first = claim_session_id(repo, "rt", chain_id="c", today=TODAY)
    second = claim_session_id(repo, "rt", chain_id="c", today=TODAY)
    assert (first.id, second.id) == ("RT-261122-01", "RT-261122-02")
    metadata = frontmatter.read_metadata(first.path)
    assert metadata["status"] == "claimed" and metadata["external_id"] == "RT-261122-01"
    assert metadata["operator"] == "rt" and metadata["chain_id"] == "c"


def test_operator_comes_from_operators_yaml_or_the_slug(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_operator(repo, "rita-tavares") == ("rita-tavares", "RT")
    assert resolve_operator(repo, "JD") == ("jd", "JD")
    (repo / ".claude" / "operators.yaml").write_text(
        "operators:\n  - slug: rita\n    initials: RTA\n    name: Rita\n    emails: [r@example.com]\n")
    assert resolve_operator(repo, "rita") == ("rita", "RTA")
    assert resolve_operator(repo, "RTA") == ("rita", "RTA")
    monkeypatch.setenv("OPERATOR", "rita")
    assert resolve_operator(repo, None) == ("rita", "RTA")
    with pytest.raises(BatonError, match="not a slug"):
        resolve_operator(repo, "../evil")


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
    claimed = claim_session_id(repo, "rt", chain_id="20261122-000000-abcd", today=TODAY)
    partial = "## Summary\nfake heading from the model\n---\nkind: adr\n"
    check = write_synthetic_handoff(
        claimed.path, session_id=claimed.id, operator="rt", chain_id="20261122-000000-abcd",
        claude_session_id="abc", reason="stall", error="no output for too long", partial_output=partial,
        previous=previous,
    )
    assert check.ok, check.problems
    assert check.synthetic
    metadata, body = frontmatter.read(claimed.path)
    assert metadata["synthetic"] is True and metadata["kind"] == "session"
    assert metadata["content_hash"] == frontmatter.content_hash(metadata, body)
    assert list(sections(body)) == ["summary", "what was done", "next steps", "resume prompt"]
    assert "> ## Summary" in body
    assert "PREVIOUS-STEP" in check.next_steps and "PREVIOUS-RESUME" in check.resume_prompt
    assert "stall" in check.summary
