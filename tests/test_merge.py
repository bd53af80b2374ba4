"""lib.vault.merge and scripts/merge_driver.py: Session Logs, the changelog and the generated files merge
without a hand merge, in real `git merge`, `git pull` and `git pull --rebase`; a clone without the driver
gets markers git explains, which the validator names and `vault.py fix` repairs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from lib import vault
from lib.adopt import mergedriver
from lib.store import frontmatter
from lib.vault import merge
from support.git import git
from support.handoff import content, helper, helper_json, start, write
from support.paths import PYTHON, SCRIPTS

LOG = """\
---
title: Sign-in
kind: workstream
external_id: auth
status: active
---
## Goal

Sign-in works.

## Session Log

{entries}
## After

Notes.
"""


def log(*ids: str) -> str:
    lines = "".join(f"- [{sid}](../docs/sessions/{sid}.md) (20{sid[3:5]}-{sid[5:7]}-{sid[7:9]}): {sid}\n"
                    for sid in ids)
    return LOG.format(entries=lines + ("\n" if ids else ""))


def test_session_logs_merge_as_an_ordered_union_each_line_once() -> None:
    base = log("RT-250101-01")
    ours = log("RT-250103-01", "RT-250101-01")
    theirs = log("SK-250103-02", "SK-250102-01", "RT-250101-01")
    merged = merge.merge("workstreams/auth.md", base, ours, theirs)
    assert merged.clean
    assert merged.text == log("SK-250103-02", "RT-250103-01", "SK-250102-01", "RT-250101-01")
    again = merge.merge("workstreams/auth.md", base, merged.text, theirs)
    assert again.text == merged.text  # each line once, however often it is merged


def test_a_line_removed_on_one_side_stays_removed_and_the_rest_of_the_file_merges_like_git() -> None:
    base = log("RT-250102-01", "RT-250101-01")
    ours = log("RT-250102-01").replace("Sign-in works.", "Sign-in works for everyone.")
    theirs = log("SK-250103-01", "RT-250102-01", "RT-250101-01").replace("Notes.", "More notes.")
    merged = merge.merge("workstreams/auth.md", base, ours, theirs)
    assert merged.clean
    expected = log("SK-250103-01", "RT-250102-01").replace("Sign-in works.", "Sign-in works for everyone.")
    assert merged.text == expected.replace("Notes.", "More notes.")


def test_both_sides_changing_the_same_prose_is_a_conflict_outside_the_frontmatter() -> None:
    base = log()
    merged = merge.merge("workstreams/auth.md", base, base.replace("Notes.", "Mine."),
                         base.replace("Notes.", "Theirs."))
    assert not merged.clean
    head, _ = merged.text.split("## Goal", 1)
    assert frontmatter.loads(merged.text.split("## After")[0])[0]["external_id"] == "auth"
    assert "<<<<<<<" not in head


def entry(sid: str, date: str) -> str:
    return f"## {date} · [{sid}](docs/sessions/{sid}.md) · {sid}\n\n- no commits\n"


HEADER = "# Changelog\n\nOne entry per handoff.\n"


def test_changelog_entries_merge_newest_first_each_once() -> None:
    base = HEADER + "\n" + entry("RT-250101-01", "2025-01-01")
    ours = HEADER + "\n" + entry("RT-250102-01", "2025-01-02") + "\n" + entry("RT-250101-01", "2025-01-01")
    theirs = HEADER + "\n" + entry("SK-250103-01", "2025-01-03") + "\n" + entry("RT-250101-01", "2025-01-01")
    merged = merge.merge("CHANGELOG.md", base, ours, theirs)
    assert merged.clean
    assert merged.text == (HEADER + "\n" + entry("SK-250103-01", "2025-01-03") + "\n"
                           + entry("RT-250102-01", "2025-01-02") + "\n" + entry("RT-250101-01", "2025-01-01"))


def index(*rows: tuple[str, str]) -> str:
    lines = ["# Sessions", "", "Generated.", "", "| id | date | operator | summary |", "|---|---|---|---|"]
    lines += [f"| [{sid}]({sid}.md) | {day} | rita | {sid} |" for sid, day in rows]
    return "\n".join(lines) + "\n"


def test_generated_rows_merge_in_the_generators_order() -> None:
    base = index(("RT-250101-01", "2025-01-01"))
    ours = index(("RT-250102-01", "2025-01-02"), ("RT-250101-01", "2025-01-01"))
    theirs = index(("SK-250102-02", "2025-01-02"), ("RT-250101-01", "2025-01-01"))
    merged = merge.merge("docs/sessions/INDEX.md", base, ours, theirs)
    assert merged.text == index(("SK-250102-02", "2025-01-02"), ("RT-250102-01", "2025-01-02"),
                                ("RT-250101-01", "2025-01-01"))


def test_a_count_in_a_heading_follows_the_merged_rows() -> None:
    def page(*ids: str) -> str:
        rows = [f"- [{i}](../x/{i}.md): {i}" for i in ids] or ["None."]
        return "\n".join(["# auth", "", f"## Learnings ({len(ids)})", "", *rows, ""]) + "\n"
    merged = merge.merge("docs/maps/auth.md", page(), page("b"), page("a"))
    assert merged.text == page("a", "b")


def test_conflict_markers_of_a_log_resolve_to_the_union() -> None:
    base, ours, theirs = log("RT-250101-01"), log("RT-250102-01", "RT-250101-01"), log("SK-250102-01",
                                                                                        "RT-250101-01")
    raw = merge.merge_file(base, ours, theirs)
    assert not raw.clean and merge.conflict_lines(raw.text)
    assert merge.resolve_conflicts("workstreams/auth.md", raw.text) == log("SK-250102-01", "RT-250102-01",
                                                                           "RT-250101-01")
    assert merge.resolve_conflicts("docs/sessions/RT-250101-01.md", raw.text) is None  # a note: the user's call


# ----------------------------------------------------------------- in real clones

@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A remote and two clones of a store, the merge driver registered in both."""
    from support.handoff import make_store

    seed = tmp_path / "seed"
    for folder in ("docs/sessions", "workstreams", ".claude/state"):
        (seed / folder).mkdir(parents=True, exist_ok=True)
    git(seed, "init", "-q")
    make_store(seed)
    (seed / ".gitattributes").write_text(mergedriver.with_attributes(""))
    git(seed, "add", ".gitattributes")
    git(seed, "commit", "-q", "-m", "attributes")
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(remote))
    clones = []
    for name in ("a", "b"):
        clone = tmp_path / name
        git(tmp_path, "clone", "-q", str(remote), str(clone))
        git(clone, "config", "commit.gpgsign", "false")
        git(clone, "config", "pull.rebase", "false")
        (clone / ".claude" / "state").mkdir(parents=True, exist_ok=True)
        clones.append(clone)
    return remote, clones[0], clones[1]


def _handoff(clone: Path, operator: str) -> str:
    env = {"OPERATOR": operator, "CLAUDE_CODE_SESSION_ID": f"{clone.name}-{operator}"}
    sid = start(clone, env=env)["id"]
    write(clone, sid, content(title=f"Work of {operator}"), env=env)
    for step in (("append-log", "--line", f"{operator} did it"), ("changelog",), ("regen-index",), ("link",),
                 ("stage",)):
        helper(clone, step[0], "--id", sid, *step[1:], env=env)
    assert not helper_json(clone, "commit", "--id", sid, env=env).get("push_error")
    return str(sid)


def _register(clone: Path) -> None:
    mergedriver.register(clone, str(SCRIPTS))


def _assert_both_in(clone: Path, ids: list[str]) -> None:
    ws = (clone / "workstreams/auth.md").read_text()
    for sid in ids:
        assert ws.count(f"[{sid}]") == 1
        assert (clone / "CHANGELOG.md").read_text().count(f"[{sid}]") == 1
        assert f"[{sid}]({sid}.md)" in (clone / "docs/sessions/INDEX.md").read_text()
        assert f"[{sid}]" in (clone / "docs/maps/auth.md").read_text()
    for rel in ("workstreams/auth.md", "CHANGELOG.md", "docs/sessions/INDEX.md", "INDEX.md", "docs/maps/auth.md"):
        assert merge.conflict_lines((clone / rel).read_text()) == [], rel


@pytest.mark.parametrize("how", [("pull", "--no-rebase"), ("pull", "--rebase"), ("merge", "origin/main")])
def test_a_users_own_pull_or_merge_of_a_teammates_handoff_stops_on_nothing(
        pair: tuple[Path, Path, Path], how: tuple[str, str]) -> None:
    _, a, b = pair
    _register(a)
    _register(b)
    first = _handoff(a, "rita")
    git(a, "push", "-q")
    second = _handoff(b, "sam")
    if how[0] == "merge":
        git(b, "fetch", "-q")
    result = subprocess.run(["git", "-c", "user.name=B", "-c", "user.email=b@example.com", *how,
                             *(["--no-edit"] if how[0] != "pull" or how[1] == "--no-rebase" else [])],
                            cwd=b, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    _assert_both_in(b, [first, second])
    assert git(b, "status", "--porcelain", "--untracked-files=no") == ""
    problems = [p for p in vault.check(b).problems if p.kind in (vault.STALE, vault.MERGE_CONFLICT)]
    assert problems == []


def test_without_the_driver_the_conflict_is_explained_named_and_fixed(pair: tuple[Path, Path, Path]) -> None:
    _, a, b = pair
    first = _handoff(a, "rita")
    git(a, "push", "-q")
    second = _handoff(b, "sam")
    pulled = subprocess.run(["git", "-c", "user.name=B", "-c", "user.email=b@example.com", "pull", "--no-rebase"],
                            cwd=b, capture_output=True, text=True)
    assert pulled.returncode != 0 and "CONFLICT (content): Merge conflict in workstreams/auth.md" in pulled.stdout
    ws = (b / "workstreams/auth.md").read_text()
    assert frontmatter.loads(ws)[0]["external_id"] == "auth"  # the frontmatter is whole
    checked = subprocess.run([PYTHON, str(SCRIPTS / "validate_frontmatter.py"), "--strict", "--json"], cwd=b,
                             capture_output=True, text=True)
    assert checked.returncode == 1
    named = {p["path"] for p in json.loads(checked.stdout)["problems"] if "merge conflict" in p["message"]}
    assert "workstreams/auth.md" in named
    fixed = subprocess.run([PYTHON, str(SCRIPTS / "vault.py"), "fix"], cwd=b, capture_output=True, text=True)
    assert fixed.returncode in (0, 1), fixed.stderr
    _assert_both_in(b, [first, second])
    git(b, "add", "-A")
    git(b, "-c", "user.name=B", "-c", "user.email=b@example.com", "commit", "-q", "--no-edit")
    again = subprocess.run([PYTHON, str(SCRIPTS / "validate_frontmatter.py"), "--strict"], cwd=b,
                           capture_output=True, text=True)
    assert again.returncode == 0, again.stdout


def test_register_is_idempotent_and_replaces_the_old_union_line(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / ".gitattributes").write_text("*.png binary\nCHANGELOG.md merge=union\n")
    first = mergedriver.register(tmp_path)
    assert (first.attributes, first.config) == ("added", "set")
    text = (tmp_path / ".gitattributes").read_text()
    assert text.startswith("*.png binary\n") and "merge=union" not in text
    assert "/workstreams/*.md merge=baton" in text
    second = mergedriver.register(tmp_path)
    assert (second.attributes, second.config) == ("unchanged", "unchanged")
    assert git(tmp_path, "config", "merge.baton.driver").strip() == mergedriver.driver_command()


def test_the_driver_cli_writes_the_merge_and_says_when_it_is_not_clean(tmp_path: Path) -> None:
    files = {}
    for name, text in (("base", log("RT-250101-01")), ("ours", log("RT-250102-01", "RT-250101-01")),
                       ("theirs", log("SK-250102-01", "RT-250101-01"))):
        files[name] = tmp_path / name
        files[name].write_text(text)
    run = [PYTHON, str(SCRIPTS / "merge_driver.py"), "merge", str(files["base"]), str(files["ours"]),
           str(files["theirs"])]
    assert subprocess.run([*run, "workstreams/auth.md"], capture_output=True).returncode == 0
    assert files["ours"].read_text() == log("SK-250102-01", "RT-250102-01", "RT-250101-01")
    files["ours"].write_text("mine\n")
    files["theirs"].write_text("theirs\n")
    files["base"].write_text("base\n")
    failed = subprocess.run([*run, "notes.txt"], capture_output=True, text=True)
    assert failed.returncode == 1 and "notes.txt" in failed.stderr and "<<<<<<<" in files["ours"].read_text()
