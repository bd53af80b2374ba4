"""The one-shot sync end to end: the real CLI entry against the fake Notion server on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sync_to_notion_oneshot as cli_mod
from fakenotion import FakeNotion
from lib.store import frontmatter
from notionstore import (
    Workspace,
    is_synced,
    meta,
    page_text,
    repo_files_text,
    session_note,
    workspace,
    workstream_note,
    write_config,
)


@pytest.fixture
def fake() -> Iterator[FakeNotion]:
    with FakeNotion(token="ntn_SECRET_4f9a1c_do_not_print", rate=None) as server:
        yield server


@pytest.fixture
def ws(fake: FakeNotion, repo: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    space = workspace(fake)
    write_config(repo, space)
    for key, value in space.env().items():
        monkeypatch.setenv(key, value)
    return space


def sync(repo: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = cli_mod.main(["--root", str(repo), *args])
    out, err = capsys.readouterr()
    return code, out + err


def store(repo: Path) -> list[Path]:
    return [session_note(repo, f"RT-260511-0{i}") for i in range(1, 4)] + [workstream_note(repo, "store")]


def only_sync_keys_changed(before: str, after: str) -> bool:
    old_meta, old_body = frontmatter.loads(before)
    new_meta, new_body = frontmatter.loads(after)
    strip = set(frontmatter.SYNC_KEYS)
    removed = [line for line in before.splitlines() if line not in after.splitlines()]
    return (old_body == new_body
            and {k: v for k, v in old_meta.items() if k not in strip} == {k: v for k, v in new_meta.items()
                                                                         if k not in strip}
            and all(line.split(":")[0] in strip for line in removed))


def test_the_first_sync_creates_every_page_and_records_it_in_the_notes(
        repo: Path, ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    notes = store(repo)
    before = {p: p.read_text() for p in notes}
    code, out = sync(repo, capsys, "--apply")
    assert code == 0, out
    for path in notes:
        data = meta(path)
        kind = "workstream" if "workstreams" in str(path) else "session"
        assert ws.pages(data["external_id"], kind) == [data["notion_page_id"]]
        assert is_synced(path)
        assert data["synced_at"].endswith("Z")
        assert only_sync_keys_changed(before[path], path.read_text())
    assert "# a comment the sync must keep" in notes[-1].read_text()
    page = meta(notes[0])["notion_page_id"]
    assert ws.fake.prop_value(page, "Name") == "Session RT-260511-01"
    assert ws.fake.prop_value(page, "Status") == "done"
    assert ws.fake.prop_value(page, "Tags") == ["testing", "sync"]
    assert ws.fake.prop_value(page, "Date") == "2026-05-11"
    assert page_text(ws.fake, page) == [
        "Summary", "Work on RT-260511-01 with code and a link.", "Next steps", "one", "nested", "a task"]
    assert "4 created" in out


def test_a_second_sync_makes_no_request_at_all(
        repo: Path, ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    notes = store(repo)
    assert sync(repo, capsys, "--apply")[0] == 0
    after_first = {p: p.read_bytes() for p in notes}
    ws.fake.reset_requests()
    code, out = sync(repo, capsys, "--apply")
    assert code == 0
    assert ws.fake.requests == []
    assert {p: p.read_bytes() for p in notes} == after_first
    assert "4 unchanged" in out


def test_a_claim_stub_is_not_mirrored_until_its_handoff_is_written(
        repo: Path, ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    stub = repo / "docs/sessions/RT-260511-09.md"
    stub.write_text("---\nkind: session\nexternal_id: RT-260511-09\noperator: rt\n"
                    "claimed_at: 2026-05-11T09:00:00Z\nstatus: claimed\n---\n", encoding="utf-8")
    before = stub.read_bytes()
    code, out = sync(repo, capsys, "--apply")
    assert code == 0, out
    assert ws.fake.requests == []
    assert stub.read_bytes() == before
    assert ws.pages("RT-260511-09", "session") == []


def test_an_edit_syncs_as_an_update_of_the_same_page(
        repo: Path, ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    notes = store(repo)
    sync(repo, capsys, "--apply")
    page = meta(notes[1])["notion_page_id"]
    notes[1].write_text(notes[1].read_text().replace("- [ ] a task", "- [x] a task\n\nA closing line."))
    ws.fake.reset_requests()
    code, out = sync(repo, capsys, "--apply")
    assert code == 0, out
    assert meta(notes[1])["notion_page_id"] == page and is_synced(notes[1])
    assert ws.pages("RT-260511-02") == [page]
    assert page_text(ws.fake, page)[-2:] == ["a task", "A closing line."]
    assert ws.fake.tree(page)[-2]["checked"] is True
    # only the edited note cost requests: properties, one listing, the changed tail
    assert ws.fake.count("create_page") == 0
    assert ws.fake.count("update_page") == 1
    assert "1 updated, 3 unchanged" in out


def test_a_stale_stored_content_hash_does_not_hide_an_edit(
        repo: Path, ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    (note,) = [session_note(repo, "RT-260511-01")]
    sync(repo, capsys, "--apply")
    stale = frontmatter.load_document(note)
    stale.stamp_content_hash()
    stale.save()
    note.write_text(note.read_text().replace("## Next steps", "## Next steps (edited)"))
    code, out = sync(repo, capsys)
    assert "update" in out and code == 0


def test_a_page_someone_already_created_is_adopted(
        repo: Path, ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    existing = ws.fake.add_page(ws.sessions_ds, {"Name": "made by hand", "external_id": "RT-260511-01"},
                                [{"paragraph": {"rich_text": [{"text": {"content": "old text"}}]}}])
    note = session_note(repo, "RT-260511-01")
    code, out = sync(repo, capsys, "--apply")
    assert code == 0, out
    assert ws.pages("RT-260511-01") == [existing]
    assert meta(note)["notion_page_id"] == existing and is_synced(note)
    assert ws.fake.prop_value(existing, "Name") == "Session RT-260511-01"
    assert "old text" not in page_text(ws.fake, existing)
    assert "adopted" in out


def test_a_pending_reconcile_marker_is_resolved_by_external_id(
        repo: Path, ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    existing = ws.fake.add_page(ws.sessions_ds, {"Name": "x", "external_id": "LOCAL-2026-05-11-1"})
    note = session_note(repo, "LOCAL-2026-05-11-1", notion_page_id="pending-reconcile")
    code, out = sync(repo, capsys)
    assert code == 0 and "create" in out  # the plan cannot know yet; apply finds the page
    code, out = sync(repo, capsys, "--apply")
    assert code == 0, out
    assert meta(note)["notion_page_id"] == existing
    assert ws.pages("LOCAL-2026-05-11-1") == [existing]


def test_a_page_deleted_in_notion_is_created_again(
        repo: Path, ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    note = session_note(repo, "RT-260511-01")
    sync(repo, capsys, "--apply")
    old = meta(note)["notion_page_id"]
    ws.fake.pages[old].in_trash = True
    note.write_text(note.read_text() + "\nMore.\n")
    code, out = sync(repo, capsys, "--apply")
    assert code == 0, out
    new = meta(note)["notion_page_id"]
    assert new != old and ws.pages("RT-260511-01") == [new]


FAULTS = [
    pytest.param(dict(method="POST", path="^/v1/pages$", status=429, retry_after="0.05"), id="429-on-create"),
    pytest.param(dict(method="POST", path="^/v1/pages$", status=500), id="500-before-create"),
    pytest.param(dict(method="POST", path="^/v1/pages$", status=500, apply=True), id="create-succeeded-but-500"),
    pytest.param(dict(method="POST", path="^/v1/pages$", status=529, apply=True, retry_after="0.05"),
                 id="529-after-create"),
    pytest.param(dict(method="POST", path="^/v1/pages$", delay=1.5), id="timeout-on-create"),
    pytest.param(dict(method="PATCH", path="/children$", status=500, apply=True), id="append-landed-but-500"),
    pytest.param(dict(method="PATCH", path="/children$", delay=1.5), id="timeout-on-append"),
    pytest.param(dict(method="POST", path="/query$", status=503, retry_after="0.05"), id="503-on-query"),
    pytest.param(dict(method="GET", path="/children$", delay=1.5), id="timeout-on-list"),
    pytest.param(dict(method="PATCH", path="^/v1/pages/", status=529, retry_after="0.05"), id="529-on-update"),
    pytest.param(dict(method="DELETE", path="^/v1/blocks/", status=500, apply=True), id="delete-landed-but-500"),
    pytest.param(dict(method="PATCH", path="^/v1/blocks/[^/]+$", status=502), id="502-on-block-update"),
]


@pytest.mark.parametrize("fault", FAULTS)
def test_injected_faults_lose_nothing_and_duplicate_nothing(
        repo: Path, ws: Workspace, capsys: pytest.CaptureFixture[str], fault: dict[str, object]) -> None:
    write_config(repo, ws, timeout_s=0.5)  # the fake's slow answers take 1.5 s
    notes = [session_note(repo, f"RT-260511-0{i}", "\n\n".join(f"Paragraph {i}.{j}" for j in range(120)))
             for i in range(1, 4)]
    sync(repo, capsys, "--apply", "--limit", "1")  # one page exists, so updates and deletes happen too
    # an edit, a removal and an addition: a block update, a delete and an append
    text = notes[0].read_text().replace("Paragraph 1.5\n", "Paragraph 1.5 edited\n")
    notes[0].write_text(text.replace("Paragraph 1.7\n\n", "") + "\n\nParagraph 1.new\n")
    method, path = str(fault.pop("method")), str(fault.pop("path"))
    injected = ws.fake.inject(method, path, times=2, **fault)  # type: ignore[arg-type]
    code, out = sync(repo, capsys, "--apply")
    assert injected.fired >= 1
    if code != 0:  # a note may end in error when both attempts were hit: the next run repairs it
        assert "error" in out
        code, out = sync(repo, capsys, "--apply")
    assert code == 0, out
    for note in notes:
        data = meta(note)
        assert is_synced(note)
        assert ws.pages(data["external_id"]) == [data["notion_page_id"]]
        body = frontmatter.read(note)[1]
        assert page_text(ws.fake, data["notion_page_id"]) == body.strip().split("\n\n")


def test_a_note_that_keeps_failing_is_marked_error_and_the_run_goes_on(
        repo: Path, ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    notes = store(repo)
    ws.fake.inject("POST", "^/v1/pages$", status=500, times=3)  # every attempt for the first note
    code, out = sync(repo, capsys, "--apply")
    assert code == 1
    failed = meta(notes[0])
    assert failed["sync_status"] == "error" and "500" in failed["sync_error"]
    assert "\n" not in failed["sync_error"]
    assert all(is_synced(p) for p in notes[1:])
    assert ws.pages("RT-260511-01") == []
    code, out = sync(repo, capsys, "--apply")
    assert code == 0, out
    assert is_synced(notes[0]) and "sync_error" not in meta(notes[0])
    assert len(ws.pages("RT-260511-01")) == 1


def test_a_250_block_note_and_a_5000_character_code_block_arrive_whole(
        repo: Path, ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    code_text = "".join(f"print('line {i:04d}')\n" for i in range(260))[:5000]
    long_body = "\n\n".join(f"Block {i}" for i in range(249)) + f"\n\n```python\n{code_text}\n```\n"
    note = session_note(repo, "RT-260511-01", long_body)
    code, out = sync(repo, capsys, "--apply")
    assert code == 0, out
    tree = ws.fake.tree(meta(note)["notion_page_id"])
    assert len(tree) == 250
    assert [n["text"] for n in tree[:249]] == [f"Block {i}" for i in range(249)]
    assert (tree[-1]["type"], tree[-1]["language"], tree[-1]["text"]) == ("code", "python", code_text)


def test_the_request_rate_stays_within_the_limit_in_every_second(
        repo: Path, fake: FakeNotion, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    space = workspace(fake)
    write_config(repo, space, per_second=20, burst=3)
    for key, value in space.env().items():
        monkeypatch.setenv(key, value)
    for i in range(10):
        session_note(repo, f"RT-260512-{i:02d}", "\n\n".join(f"p{j}" for j in range(150)))
    assert sync(repo, capsys, "--apply")[0] == 0
    assert len(fake.requests) >= 30
    assert fake.max_in_window(1.0) <= 20 + 3
    span = fake.requests[-1].t - fake.requests[0].t
    assert (len(fake.requests) - 3) / span <= 20 * 1.02


def test_the_default_limit_of_3_per_second_is_kept_against_a_server_enforcing_it(
        repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeNotion(rate=3.0) as fake:
        space = workspace(fake)
        config = write_config(repo, space)
        text = config.read_text()
        config.write_text(text[: text.index("rate:")])  # no rate section: the defaults (3/s, burst 3)
        for key, value in space.env().items():
            monkeypatch.setenv(key, value)
        for i in range(5):
            session_note(repo, f"RT-260513-0{i}")
        assert sync(repo, capsys, "--apply")[0] == 0
        assert len(fake.requests) >= 10
        assert fake.count(status=429) == 0
        assert fake.max_in_window(1.0) <= 3 + 3


def test_the_token_never_appears_in_output_notes_or_the_audit_log(
        repo: Path, ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    store(repo)
    token = ws.fake.token
    ws.fake.inject("POST", "^/v1/pages$", status=400, code="validation_error",
                   message=f"Bearer {token} cannot create pages", times=10)
    code, out = sync(repo, capsys, "--apply", "--json")
    assert code == 1
    _code, out2 = sync(repo, capsys)
    everything = out + out2 + repo_files_text(repo)
    assert token not in everything
    assert "[redacted]" in (repo / "docs/sync/LAST_SYNC.md").read_text()


def test_dry_run_is_the_default_and_writes_nothing(
        repo: Path, ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    notes = store(repo)
    broken = repo / "docs" / "sessions" / "RT-260511-09.md"
    broken.write_text("---\ntitle: [unclosed\n---\nbody\n")
    sync(repo, capsys, "--apply", "--only", "workstream")
    notes[0].write_text(notes[0].read_text() + "\nedit\n")
    before = {p: p.read_bytes() for p in [*notes, broken]}
    ws.fake.reset_requests()
    code, out = sync(repo, capsys)
    assert code == 1  # the broken note is an error
    assert ws.fake.write_requests() == []
    assert {p: p.read_bytes() for p in before} == before
    lines = out.splitlines()
    assert any(line.startswith("create") and "RT-260511-01.md" in line for line in lines)
    assert any(line.startswith("skip (unchanged)") and "workstreams/store.md" in line for line in lines)
    assert any(line.startswith("error") and "RT-260511-09.md" in line for line in lines)
    assert lines[-1].startswith("dry run: 3 create, 1 skip (unchanged), 1 error")


def test_only_and_limit_pick_the_notes_and_a_rerun_takes_the_rest(
        repo: Path, ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    notes = store(repo)
    code, out = sync(repo, capsys, "--apply", "--only", "session", "--limit", "2")
    assert code == 0
    assert [is_synced(p) for p in notes] == [True, True, False, False]
    assert "1 deferred" in out
    sync(repo, capsys, "--apply")
    assert all(is_synced(p) for p in notes)


def test_json_output_and_the_audit_log(repo: Path, ws: Workspace, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPERATOR", "rt")
    store(repo)
    ws.fake.inject("GET", "^/v1/databases/", status=500)
    code, out = sync(repo, capsys, "--apply", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["version"] == 1 and report["mode"] == "apply"
    assert report["totals"] == {"created": 4}
    assert report["requests"]["retries"] == 1 and report["requests"]["total"] >= 9
    assert {f["path"] for f in report["files"]} == {
        "docs/sessions/RT-260511-01.md", "docs/sessions/RT-260511-02.md", "docs/sessions/RT-260511-03.md",
        "workstreams/store.md"}
    audit = (repo / "docs/sync/LAST_SYNC.md").read_text()
    for needle in ("- When: ", "- Who: rt", "- Mode: apply", "- Notes: 4 created", "- Duration: ",
                   f"- Requests: {report['requests']['total']} ", "1 retries",
                   "| docs/sessions/RT-260511-01.md | create | created |"):
        assert needle in audit


def test_a_database_with_several_data_sources_needs_one_named(
        repo: Path, fake: FakeNotion, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    space = workspace(fake)
    from notionstore import SESSION_PROPS

    db, (first, second) = fake.add_database("Multi", SESSION_PROPS, ["Old sessions", "Sessions 2026"])
    space.sessions_db, space.sessions_ds = db, second
    write_config(repo, space)
    for key, value in space.env().items():
        monkeypatch.setenv(key, value)
    session_note(repo, "RT-260511-01")
    code, out = sync(repo, capsys, "--apply")
    assert code == 2
    assert "2 data sources" in out and "'Old sessions'" in out and "notion.yaml" in out
    assert fake.write_requests() == []
    write_config(repo, space, extra_session="    data_source: Sessions 2026\n")
    assert sync(repo, capsys, "--apply")[0] == 0
    assert len(fake.live_pages(second)) == 1 and fake.live_pages(first) == []


def test_a_mapping_to_a_missing_property_stops_before_any_write(
        repo: Path, ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    config = repo / ".claude" / "notion.yaml"
    config.write_text(config.read_text().replace("summary: Summary\n      workstream", "summary: Sumary\n      workstream"))
    session_note(repo, "RT-260511-01")
    code, out = sync(repo, capsys, "--apply")
    assert code == 2
    assert "'Sumary'" in out and "kinds.session.properties.summary" in out
    assert ws.fake.write_requests() == []


NESTED = "## Plan\n\n- step one\n  - detail a\n  - detail b\n- step two\n  - detail c\n\nClosing paragraph.\n"


def test_a_frontmatter_only_edit_costs_one_request(
        repo: Path, ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    note = session_note(repo, "RT-260511-01", NESTED)
    sync(repo, capsys, "--apply")
    note.write_text(note.read_text().replace("tags: [testing, sync]", "tags: [testing, sync, later]"))
    ws.fake.reset_requests()
    assert sync(repo, capsys, "--apply")[0] == 0
    assert [r.route for r in ws.fake.requests] == ["get_database", "get_data_source", "update_page"]
    assert ws.fake.prop_value(meta(note)["notion_page_id"], "Tags") == ["testing", "sync", "later"]


def test_a_body_edit_reads_only_the_top_level_when_the_memo_holds(
        repo: Path, ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    note = session_note(repo, "RT-260511-01", NESTED)
    sync(repo, capsys, "--apply")
    note.write_text(note.read_text().replace("Closing paragraph.", "Closing paragraph, edited."))
    ws.fake.reset_requests()
    assert sync(repo, capsys, "--apply")[0] == 0
    routes = [r.route for r in ws.fake.requests][2:]
    assert routes == ["update_page", "list", "update_block"]
    assert page_text(ws.fake, meta(note)["notion_page_id"])[-1] == "Closing paragraph, edited."


def test_without_the_memo_an_update_compares_everything_and_ends_the_same(
        repo: Path, ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    note = session_note(repo, "RT-260511-01", NESTED)
    sync(repo, capsys, "--apply")
    for memo_file in (repo / ".claude" / "state" / "notion-pages").iterdir():
        memo_file.unlink()
    note.write_text(note.read_text().replace("tags: [testing, sync]", "tags: [x]"))
    ws.fake.reset_requests()
    assert sync(repo, capsys, "--apply")[0] == 0
    assert [r.route for r in ws.fake.requests].count("list") == 3  # the page and both nested items
    assert is_synced(note)


def test_a_memo_from_another_sync_state_is_not_trusted(
        repo: Path, ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    """Another machine synced this note since (its synced_hash differs): read the page again."""
    note = session_note(repo, "RT-260511-01", NESTED)
    sync(repo, capsys, "--apply")
    page = meta(note)["notion_page_id"]
    nested = ws.fake.tree(page)[1]["children"][0]["id"]
    ws.fake.blocks[nested].data["rich_text"][0]["plain_text"] = "changed elsewhere"
    ws.fake.blocks[nested].data["rich_text"][0]["text"]["content"] = "changed elsewhere"
    doc = frontmatter.load_document(note)
    doc.update({"synced_hash": "sha256:" + "1" * 64, "tags": ["other"]})
    doc.save()
    assert sync(repo, capsys, "--apply")[0] == 0
    assert "detail a" in page_text(ws.fake, page) and "changed elsewhere" not in page_text(ws.fake, page)


def test_a_memo_whose_top_level_no_longer_matches_the_page_is_not_trusted(
        repo: Path, ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    note = session_note(repo, "RT-260511-01", NESTED)
    sync(repo, capsys, "--apply")
    page = meta(note)["notion_page_id"]
    top = ws.fake.tree(page)[1]["id"]
    ws.fake.blocks[top].data["rich_text"][0]["text"]["content"] = "step one (hand edit)"
    ws.fake.blocks[top].data["rich_text"][0]["plain_text"] = "step one (hand edit)"
    nested = ws.fake.tree(page)[1]["children"][1]["id"]
    ws.fake.blocks[nested].in_trash = True
    note.write_text(note.read_text().replace("Closing paragraph.", "Closing paragraph, edited."))
    assert sync(repo, capsys, "--apply")[0] == 0
    assert page_text(ws.fake, page) == ["Plan", "step one", "detail a", "detail b", "step two", "detail c",
                                        "Closing paragraph, edited."]


def test_two_notes_with_one_external_id_are_both_refused(
        repo: Path, ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    first = session_note(repo, "RT-260511-01")
    copy = first.with_name("RT-260511-01-copy.md")
    copy.write_text(first.read_text())
    session_note(repo, "RT-260511-02")
    code, out = sync(repo, capsys, "--apply")
    assert code == 1
    assert "external_id RT-260511-01 is also used by docs/sessions/RT-260511-01-copy.md" in out
    assert ws.pages("RT-260511-01") == [] and len(ws.pages("RT-260511-02")) == 1


def test_the_audit_log_names_the_operator_from_the_roster(
        repo: Path, ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / ".claude" / "operators.yaml").write_text(
        "operators:\n  - slug: tess\n    initials: TA\n    name: Test Author\n    emails: [author@example.com]\n")
    session_note(repo, "RT-260511-01")
    assert sync(repo, capsys, "--apply")[0] == 0
    assert "- Who: tess" in (repo / "docs/sync/LAST_SYNC.md").read_text()


def test_a_secret_in_a_note_never_reaches_notion(repo: Path, ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    secret = "gh" + "p_" + "Q7xZ2pL9mN4vB8cK1rT6yW3eH5jD0fGaAbcd"  # assembled: no token-shaped text in the repository
    note = session_note(repo, "RT-260511-01", f"Deploy failed:\n\n```\nGITHUB_TOKEN={secret}\n```\n")
    code, out = sync(repo, capsys, "--apply")
    assert code == 0, out
    texts = [n["text"] for n in ws.fake.tree(meta(note)["notion_page_id"])]
    assert not any(secret in t for t in texts)
    assert any("[REDACTED:github-token]" in t for t in texts)
