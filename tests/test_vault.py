"""vault check / fix: links between notes, back-links, maps of content, INDEX.md, templates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lib import vault
from lib.store import frontmatter
from support.paths import run_script

SESSION_KEYS = "operator: ab\ntags: []\nkind: session\nstatus: written\noutcome: done\n"


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


def session(root: Path, sid: str, date: str, extra: str = "", body: str = "## Summary\n\nDid things.\n",
            title: str | None = None) -> Path:
    title = title or f"Session {sid}"
    text = (f"---\ntitle: {title}\n{SESSION_KEYS}summary: Work of {sid}.\nexternal_id: {sid}\n"
            f"date: {date}\n{extra}---\n{body}")
    return write(root, f"docs/sessions/{sid}.md", text)


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.parts and ".claude" not in p.parts}


def build_store(root: Path) -> None:
    """A store with one of each kind of link problem."""
    write(root, "workstreams/alpha.md", (
        "---\ntitle: Alpha\nowner: ab\nsummary: The alpha stream.\ntags: []\nkind: workstream\n"
        "external_id: alpha\nstatus: active\nplan: roadmap\n---\n"
        "## Goal\n\nShip alpha.\n\n## Session Log\n\n"
        "- [AB-260102-01](../sessions/AB-260102-01.md) (2026-01-02): second, linked to the wrong folder\n"
        "- AB-260101-01 (2026-01-01): first, written by append-log\n"
        "- ZZ-250101-01 (2025-01-01): a session nobody wrote down\n"
    ))
    write(root, "workstreams/beta.md", (
        "---\ntitle: Beta\nowner: ab\nsummary: The beta stream.\ntags: []\nkind: workstream\n"
        "external_id: beta\nstatus: active\n---\r\n## Goal\r\n\r\nShip beta.\r\n"
    ).replace("\n", "\r\n").replace("\r\r\n", "\r\n"))
    write(root, "workstreams/lonely.md", (
        "---\ntitle: Lonely\nowner: ab\nsummary: Nobody works here.\ntags: []\nkind: workstream\n"
        "external_id: lonely\nstatus: paused\n---\n## Goal\n"
    ))
    write(root, "plans/roadmap.md", (
        "---\ntitle: Roadmap\nowner: ab\nsummary: The plan.\ntags: []\nkind: plan\nexternal_id: roadmap\n"
        "status: active\nworkstreams: []  # filled in by vault fix\n---\n## Context\n"
    ))
    write(root, "docs/adr/ADR-0001-use-git.md", (
        "---\ntitle: Use git\nsummary: Git is the store.\ntags: []\nkind: adr\nexternal_id: ADR-0001\n"
        "status: accepted\nsessions: []\n---\n## Context\n\nSee [[AB-260101-01]] and [[ADR-0001-use-git#Context]].\n"
    ))
    write(root, "docs/adr/ADR-0002-ghost.md", (
        "---\ntitle: Ghost decision\nsummary: Decided in a session that is gone.\ntags: []\nkind: adr\n"
        "external_id: ADR-0002\nstatus: proposed\nsessions: [QQ-250101-01]\n---\n## Context\n"
    ))
    session(root, "AB-260101-01", "2026-01-01", "workstream: alpha\nplan: roadmap\n", body=(
        "## Summary\n\nFollowed [the plan](../plans/roadmap.md) and [[ADR-0001]]; "
        "see [gone](../../nowhere.md), [out](../../../up.md), `[code](nope.md)` and [web](https://example.com).\n\n"
        "```\n[fenced](nope.md)\n```\n"
    ))
    session(root, "AB-260102-01", "2026-01-02", "workstream: alpha\nadrs_touched: [ADR-0001]\n",
            body="Workstream: [beta](../../workstreams/beta.md)\n\n## Summary\n\nDecided ADR-0001.\n")
    path = session(root, "AB-260103-01", "2026-01-03", "workstream: alpha\ncontent_hash: null\n")
    doc = frontmatter.load_document(path)
    doc.stamp_content_hash()
    doc.save(path)
    session(root, "AB-260104-01", "2026-01-04", "workstream: beta\n")
    session(root, "AB-260105-01", "2026-01-05", "workstream: ghost\n")
    write(root, "docs/sessions/AB-260106-01.md", (
        "---\nkind: session\nexternal_id: AB-260106-01\noperator: ab\nclaimed_at: 2026-01-06T09:00:00Z\n"
        "status: claimed\n---\n"
    ))
    write(root, "docs/learnings/git-lesson.md", (
        "---\ntitle: Git lesson\noperator: ab\nsummary: Commit often.\nworkstream: alpha\ntags: []\n"
        "kind: learning\nexternal_id: git-lesson\nsession: AB-260101-01\ndate: 2026-01-01\n---\n"
        "## What happened\n"
    ))
    write(root, "docs/sessions/TEMPLATE.md", "---\nkind: session\nexternal_id: XX-YYMMDD-NN\ndate: 2026-01-01\n---\n")
    write(root, "workstreams/TEMPLATE.md", (
        "---\ntitle: A workstream\nkind: workstream\nexternal_id: file-slug\ncreated: 2026-01-01\n---\n## Goal\n"
    ))
    write(root, "docs/maps/old.md", vault.GENERATED_MARK + "\n# old\n")
    write(root, "docs/maps/notes.md", "# My own notes about maps\n")


def keyed(problems: list[vault.Problem]) -> set[tuple[str, str, str]]:
    return {(p.path, p.kind, p.message) for p in problems}


def test_check_finds_each_kind_of_problem(repo: Path) -> None:
    build_store(repo)
    problems = vault.check(repo).problems
    found = {(p.kind, p.fixable) for p in problems}
    for kind in (vault.BROKEN_LINK, vault.MISSING_LINK, vault.MISSING_BACKLINK, vault.WIKILINK, vault.STALE):
        assert (kind, True) in found, kind
    for kind in (vault.BROKEN_LINK, vault.DANGLING, vault.ORPHAN, vault.WIKILINK):
        assert (kind, False) in found, kind

    def has(path: str, kind: str, text: str, fixable: bool) -> bool:
        return any(p.path == path and p.kind == kind and text in p.message and p.fixable == fixable
                   for p in problems)

    alpha = "workstreams/alpha.md"
    assert has(alpha, vault.BROKEN_LINK, "links AB-260102-01 to ../sessions/AB-260102-01.md", True)
    assert has(alpha, vault.MISSING_LINK, "Session Log entry AB-260101-01 is not a link", True)
    assert has(alpha, vault.MISSING_BACKLINK, "does not list AB-260103-01", True)
    assert has(alpha, vault.DANGLING, "ZZ-250101-01, which has no note", False)
    assert has("workstreams/beta.md", vault.MISSING_BACKLINK, "does not list AB-260104-01", True)
    assert has("plans/roadmap.md", vault.MISSING_BACKLINK, "workstreams lacks alpha", True)
    assert has("docs/adr/ADR-0001-use-git.md", vault.MISSING_BACKLINK, "sessions lacks AB-260102-01", True)
    assert has("docs/adr/ADR-0002-ghost.md", vault.DANGLING, "QQ-250101-01", False)
    first = "docs/sessions/AB-260101-01.md"
    assert has(first, vault.MISSING_LINK, "no links line", True)
    assert has(first, vault.BROKEN_LINK, "../plans/roadmap.md leads nowhere; plans/roadmap.md", True)
    assert has(first, vault.BROKEN_LINK, "../../nowhere.md leads nowhere (no such file)", False)
    assert has(first, vault.BROKEN_LINK, "../../../up.md leads outside the repository", False)
    assert has(first, vault.WIKILINK, "[[ADR-0001]]", True)
    assert has("docs/adr/ADR-0001-use-git.md", vault.WIKILINK, "#Context", False)
    assert has("docs/sessions/AB-260102-01.md", vault.MISSING_LINK, "out of date", True)
    assert has("docs/sessions/AB-260105-01.md", vault.DANGLING, "workstream: ghost", False)
    assert has("docs/sessions/AB-260105-01.md", vault.ORPHAN, "", False)
    assert has("workstreams/lonely.md", vault.ORPHAN, "", False)
    assert has("docs/maps/old.md", vault.STALE, "no longer exists", True)
    assert has("docs/maps/alpha.md", vault.STALE, "missing", True)
    assert has("INDEX.md", vault.STALE, "missing", True)
    assert has("docs/templates/session.md", vault.STALE, "missing", True)
    # links in code are not links; external links are not checked; the claim stub is not an orphan
    assert not any("nope.md" in p.message or "example.com" in p.message for p in problems)
    assert not any(p.path == "docs/sessions/AB-260106-01.md" for p in problems)


def test_fix_repairs_what_check_marks_fixable_and_a_second_fix_changes_nothing(repo: Path) -> None:
    build_store(repo)
    before = vault.check(repo).problems
    report = vault.fix(repo)
    assert report.changed and report.created and report.deleted == ["docs/maps/old.md"]
    assert keyed(report.problems) == keyed([p for p in before if not p.fixable])
    assert not any(p.fixable for p in vault.check(repo).problems)

    files = snapshot(repo)
    again = vault.fix(repo)
    assert (again.changed, again.created, again.deleted) == ([], [], [])
    assert snapshot(repo) == files
    assert keyed(again.problems) == keyed(report.problems)
    assert (repo / "docs/maps/notes.md").read_text() == "# My own notes about maps\n"


def test_fixed_store_validates_strictly(repo: Path) -> None:
    build_store(repo)
    vault.fix(repo)
    result = run_script("validate_frontmatter.py", "--strict", cwd=repo)
    assert result.returncode == 0, result.stdout + result.stderr


def test_fix_writes_links_lines_session_log_and_backlinks(repo: Path) -> None:
    build_store(repo)
    vault.fix(repo)
    first = (repo / "docs/sessions/AB-260101-01.md").read_text()
    assert ("---\nWorkstream: [alpha](../../workstreams/alpha.md) · Plan: [roadmap](../../plans/roadmap.md)\n\n"
            "## Summary\n") in first
    assert "[the plan](../../plans/roadmap.md)" in first
    assert "[ADR-0001](../adr/ADR-0001-use-git.md)" in first
    assert "[gone](../../nowhere.md)" in first  # nothing to repair it with: left as it is
    assert "`[code](nope.md)`" in first and "[fenced](nope.md)" in first

    second = (repo / "docs/sessions/AB-260102-01.md").read_text()
    assert ("Workstream: [alpha](../../workstreams/alpha.md) · ADRs: [ADR-0001](../adr/ADR-0001-use-git.md)\n\n"
            "## Summary") in second
    assert "beta" not in second

    alpha = (repo / "workstreams/alpha.md").read_text()
    log = alpha.split("## Session Log\n\n", 1)[1].splitlines()
    assert log == [
        "- [AB-260103-01](../docs/sessions/AB-260103-01.md) (2026-01-03): Session AB-260103-01",
        "- [AB-260102-01](../docs/sessions/AB-260102-01.md) (2026-01-02): second, linked to the wrong folder",
        "- [AB-260101-01](../docs/sessions/AB-260101-01.md) (2026-01-01): first, written by append-log",
        "- ZZ-250101-01 (2025-01-01): a session nobody wrote down",
    ]
    assert alpha.startswith("---\ntitle: Alpha\n")
    assert "---\nPlan: [roadmap](../plans/roadmap.md) · Map: [alpha](../docs/maps/alpha.md)\n\n## Goal\n" in alpha

    beta = (repo / "workstreams/beta.md").read_bytes()
    assert b"\n" not in beta.replace(b"\r\n", b"")  # CRLF kept everywhere
    assert beta.endswith(b"Ship beta.\r\n\r\n## Session Log\r\n\r\n"
                         b"- [AB-260104-01](../docs/sessions/AB-260104-01.md) (2026-01-04): Session AB-260104-01\r\n")

    roadmap = (repo / "plans/roadmap.md").read_text()
    assert "workstreams: [alpha] # filled in by vault fix\n" in roadmap
    assert "---\nWorkstreams: [alpha](../workstreams/alpha.md)\n\n## Context\n" in roadmap
    adr = (repo / "docs/adr/ADR-0001-use-git.md").read_text()
    assert "sessions: [AB-260102-01]\n" in adr
    assert "See [AB-260101-01](../sessions/AB-260101-01.md) and [[ADR-0001-use-git#Context]]." in adr
    lesson = (repo / "docs/learnings/git-lesson.md").read_text()
    assert ("Workstream: [alpha](../../workstreams/alpha.md) · Session: [AB-260101-01](../sessions/AB-260101-01.md)"
            in lesson)


def test_fix_recomputes_content_hash_of_notes_that_carry_one(repo: Path) -> None:
    build_store(repo)
    path = repo / "docs/sessions/AB-260103-01.md"
    old = frontmatter.read_metadata(path)["content_hash"]
    vault.fix(repo)
    meta = frontmatter.read_metadata(path)
    assert meta["content_hash"] != old
    assert meta["content_hash"] == frontmatter.file_content_hash(path)
    assert "content_hash" not in frontmatter.read_metadata(repo / "docs/sessions/AB-260101-01.md")


def test_generated_map_index_and_templates(repo: Path) -> None:
    build_store(repo)
    vault.fix(repo)
    alpha_map = (repo / "docs/maps/alpha.md").read_text()
    assert alpha_map.startswith(vault.GENERATED_MARK + "\n# alpha: Alpha\n")
    sessions = [line for line in alpha_map.splitlines() if line.startswith("| [AB-")]
    assert [line.split("]")[0][3:] for line in sessions] == ["AB-260103-01", "AB-260102-01", "AB-260101-01"]
    assert "- [roadmap](../../plans/roadmap.md): Roadmap (active)" in alpha_map
    assert "- [ADR-0001](../adr/ADR-0001-use-git.md): Use git (accepted)" in alpha_map
    assert "- [git-lesson](../learnings/git-lesson.md): Git lesson" in alpha_map
    index = (repo / "INDEX.md").read_text()
    assert "| [alpha](workstreams/alpha.md) | active | ab | [roadmap](plans/roadmap.md) | [map](docs/maps/alpha.md)" \
        in index
    assert "| [roadmap](plans/roadmap.md) | active | [alpha](workstreams/alpha.md) | Roadmap |" in index
    template = (repo / "docs/templates/workstream.md").read_text()
    assert 'external_id: "{{title}}"\n' in template and 'created: "{{date}}"\n' in template
    assert template.endswith("---\n## Goal\n")
    # every link in the generated files leads somewhere
    assert not [p for p in vault.check(repo).problems if p.path.startswith(("docs/maps/", "INDEX.md"))]


def test_generated_files_are_deterministic(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    for root in (one, two):
        build_store(root)
        vault.fix(root)
    assert snapshot(one) == snapshot(two)


def test_a_hand_written_index_is_never_overwritten(repo: Path) -> None:
    build_store(repo)
    write(repo, "INDEX.md", "# Our own index\n")
    report = vault.fix(repo)
    assert (repo / "INDEX.md").read_text() == "# Our own index\n"
    assert [(p.kind, p.fixable) for p in report.problems if p.path == "INDEX.md"] == [(vault.STALE, False)]
    assert "INDEX.md" not in report.changed


def test_editing_a_template_makes_its_obsidian_copy_stale(repo: Path) -> None:
    build_store(repo)
    vault.fix(repo)
    source = repo / "workstreams/TEMPLATE.md"
    source.write_text(source.read_text() + "\n## Tasks\n")
    stale = [p for p in vault.check(repo).problems if p.kind == vault.STALE]
    assert [(p.path, p.message) for p in stale] == [("docs/templates/workstream.md",
                                                     "out of date with workstreams/TEMPLATE.md")]
    vault.fix(repo)
    assert (repo / "docs/templates/workstream.md").read_text().endswith("## Tasks\n")


def test_session_log_line_from_append_log_is_linked(repo: Path) -> None:
    assert vault.link_log_line("- AB-260101-01 (2026-01-01): did it") == \
        "- [AB-260101-01](../docs/sessions/AB-260101-01.md) (2026-01-01): did it"
    assert vault.link_log_line("- [AB-260101-01](x.md) (2026-01-01): did it") == \
        "- [AB-260101-01](x.md) (2026-01-01): did it"
    assert vault.session_log_line("AB-260101-01", "2026-01-01", "did\n it") == \
        "- [AB-260101-01](../docs/sessions/AB-260101-01.md) (2026-01-01): did it"


def test_fix_session_touches_only_the_session_scope(repo: Path) -> None:
    build_store(repo)
    before = snapshot(repo)
    report = vault.fix_session(repo, "AB-260104-01")
    after = snapshot(repo)
    changed = {rel for rel in after if before.get(rel) != after[rel]}
    assert changed == {"docs/sessions/AB-260104-01.md", "workstreams/beta.md", "docs/maps/beta.md", "INDEX.md"}
    assert sorted(report.created + report.changed) == sorted(changed)


def test_cli_check_strict_and_json(repo: Path) -> None:
    build_store(repo)
    result = run_script("vault.py", "check", "--json", "--strict", cwd=repo)
    assert result.returncode == 1, result.stderr
    payload = json.loads(result.stdout)
    assert payload["ok"] is False and payload["fixable_count"] > 0
    assert payload["counts"][vault.MISSING_BACKLINK] == 4
    assert run_script("vault.py", "check", cwd=repo).returncode == 0

    fixed = run_script("vault.py", "fix", cwd=repo)
    assert fixed.returncode == 0, fixed.stderr
    assert "changed workstreams/alpha.md" in fixed.stdout and "created INDEX.md" in fixed.stdout
    assert "problems left that need a person" in fixed.stdout
    again = run_script("vault.py", "fix", "--json", cwd=repo)
    payload = json.loads(again.stdout)
    assert (payload["changed"], payload["created"], payload["deleted"]) == ([], [], [])
    assert payload["fixable_count"] == 0


def test_clean_store_passes_strict_check_after_fix(repo: Path) -> None:
    write(repo, "workstreams/alpha.md", (
        "---\ntitle: Alpha\nowner: ab\nsummary: The alpha stream.\ntags: []\nkind: workstream\n"
        "external_id: alpha\n---\n## Goal\n\n## Session Log\n\n- AB-260101-01 (2026-01-01): first\n"
    ))
    session(repo, "AB-260101-01", "2026-01-01", "workstream: alpha\n")
    assert run_script("vault.py", "check", "--strict", cwd=repo).returncode == 1
    assert run_script("vault.py", "fix", "--strict", cwd=repo).returncode == 0
    result = run_script("vault.py", "check", "--strict", cwd=repo)
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip() == "vault: no problems"


@pytest.mark.parametrize("body", ["", "Just prose, no headings.\n", "# Title\n\nIntro.\n## Summary\n"])
def test_links_line_placement(body: str) -> None:
    line = "Workstream: [a](../../workstreams/a.md)"
    placed = vault.set_links_line(body, line)
    assert vault.find_links_line(placed) is not None
    assert vault.set_links_line(placed, line) == placed
    removed = vault.set_links_line(placed, None)
    assert vault.find_links_line(removed) is None
    assert removed.split() == body.split()


def test_a_re_claimed_session_id_is_renamed_in_adr_sessions(repo: Path) -> None:
    build_store(repo)
    vault.fix(repo)
    adr = "docs/adr/ADR-0001-use-git.md"
    assert vault.rename_session_references(repo, "AB-260102-01", "AB-260102-09", [adr, "INDEX.md"]) == [adr]
    assert "sessions: [AB-260102-09]\n" in (repo / adr).read_text()
