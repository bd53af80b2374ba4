"""ids: atomic claims of <INITIALS>-YYMMDD-NN, numbers never reused, the stub, BATON_SESSION_ID, stale claims."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

import pytest
from lib.core.errors import BatonError
from lib.store import frontmatter, ids, validate
from lib.store.operators import Operator
from support.git import git
from support.paths import PYTHON, SCRIPTS
from support.roster import AUTHOR_EMAIL, member, write_roster

ADA = Operator("ada", "AL", "Ada Example", ("author@example.com",))
GRACE = Operator("grace", "GH", "Grace Example", ("grace@example.com",))
XX = Operator("xavier", "XX", "Xavier Example", ("xavier@example.com",))
DAY = dt.date(2026, 5, 11)
NOW = dt.datetime(2026, 5, 11, 9, 30, tzinfo=dt.UTC)


def claim(root: Path, op: Operator = ADA, **kwargs: object) -> ids.Claim:
    kwargs.setdefault("day", DAY)
    kwargs.setdefault("env", {})
    return ids.claim(root, op, **kwargs)  # type: ignore[arg-type]


def sessions(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "docs/sessions").iterdir())


def commit_all(root: Path, message: str = "notes") -> None:
    git(root, "add", "-A")
    git(root, "-c", "commit.gpgsign=false", "commit", "-q", "-m", message)


# ------------------------------------------------------------------ the stub

def test_stub_is_the_canonical_writers_bytes_and_a_valid_claim(repo: Path) -> None:
    claimed = claim(repo, now=NOW)
    assert claimed.id == "AL-260511-01"
    text = claimed.path.read_text(encoding="utf-8")
    metadata = ids.stub_metadata(ADA, "AL-260511-01", NOW)
    assert text == frontmatter.new_document(metadata, ids.STUB_BODY).render()
    assert text.startswith(
        "---\noperator: ada\nkind: session\nexternal_id: AL-260511-01\nstatus: claimed\n"
        "claimed_at: 2026-05-11T09:30:00Z\n---\n"
    )
    result = validate.check_text("docs/sessions/AL-260511-01.md", text, "session")
    assert result.problems == []
    assert claimed.claimed_at == "2026-05-11T09:30:00Z"


@pytest.mark.parametrize("slug", ["007", "null", "true", "1e3", "on", "a-b"])
def test_stub_quotes_slugs_that_would_not_read_back_as_strings(slug: str) -> None:
    op = Operator(slug, "AL", "x", ("x@example.com",))
    metadata = ids.stub_metadata(op, "AL-260511-01", NOW)
    text = ids.render_stub(metadata)
    assert text == frontmatter.new_document(metadata, ids.STUB_BODY).render()
    assert frontmatter.loads(text)[0]["operator"] == slug


# ------------------------------------------------------------------ numbering

def test_numbers_count_up_from_01_per_operator_and_day(repo: Path) -> None:
    assert [claim(repo).id for _ in range(3)] == ["AL-260511-01", "AL-260511-02", "AL-260511-03"]
    assert claim(repo, GRACE).id == "GH-260511-01"
    assert claim(repo, day=dt.date(2026, 5, 12)).id == "AL-260512-01"


def test_a_gap_in_the_working_tree_is_filled_first(repo: Path) -> None:
    folder = repo / "docs/sessions"
    (folder / "AL-260511-01.md").write_text("x", encoding="utf-8")
    (folder / "AL-260511-03.md").write_text("x", encoding="utf-8")
    assert claim(repo).id == "AL-260511-02"
    assert claim(repo).id == "AL-260511-04"


def test_any_file_named_after_the_id_holds_its_number(repo: Path) -> None:
    (repo / "docs/sessions/AL-260511-01.html").write_text("x", encoding="utf-8")
    (repo / "docs/sessions/AL-260511-020.md").write_text("x", encoding="utf-8")  # not NN: ignored
    assert claim(repo).id == "AL-260511-02"


def test_sessions_folder_is_created_when_missing(repo: Path) -> None:
    (repo / "docs/sessions").rmdir()
    assert claim(repo).path == repo / "docs/sessions/AL-260511-01.md"


def test_a_number_deleted_locally_but_in_head_is_not_reused(repo: Path) -> None:
    claim(repo)
    claim(repo)
    commit_all(repo)
    (repo / "docs/sessions/AL-260511-02.md").unlink()
    assert claim(repo).id == "AL-260511-03"


def test_a_number_on_a_remote_tracking_branch_is_not_reused(tmp_path: Path, repo: Path) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(remote), str(other))
    for n in (1, 2, 3):
        path = other / f"docs/sessions/XX-260511-{n:02d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("---\nkind: session\n---\n", encoding="utf-8")
    commit_all(other, "three sessions from another clone")
    git(other, "push", "-q", "origin", "HEAD:main")
    git(repo, "fetch", "-q", "origin")
    assert sessions(repo) == []  # nothing checked out: the numbers come from refs/remotes/origin/main
    assert claim(repo, XX).id == "XX-260511-04"


def test_every_remote_branch_counts(tmp_path: Path, repo: Path) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    claim(repo)
    commit_all(repo)
    git(repo, "push", "-q", "origin", "HEAD:main")
    git(repo, "checkout", "-q", "-b", "feature")
    claim(repo)
    commit_all(repo)
    git(repo, "push", "-q", "origin", "feature")
    git(repo, "checkout", "-q", "main")
    git(repo, "reset", "-q", "--hard", "HEAD")
    git(repo, "branch", "-q", "-D", "feature")
    assert sessions(repo) == ["AL-260511-01.md"]
    assert claim(repo).id == "AL-260511-03"


def test_tree_reader_handles_sha256_repositories(tmp_path: Path) -> None:
    root = tmp_path / "sha256"
    probe = subprocess.run(["git", "init", "-q", "--object-format=sha256", str(root)], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("this git cannot create SHA-256 repositories")
    git(root, "config", "user.email", "author@example.com")
    git(root, "config", "user.name", "Test Author")
    (root / "docs/sessions").mkdir(parents=True)
    for name in ("AL-260511-01.md", "AL-260511-02.md", "README.md"):
        (root / "docs/sessions" / name).write_text("x\n", encoding="utf-8")
    commit_all(root)
    assert ids.git_tree_names(root) == {"AL-260511-01.md", "AL-260511-02.md", "README.md"}


def test_outside_a_git_repository_the_working_tree_is_enough(tmp_path: Path) -> None:
    assert claim(tmp_path).id == "AL-260511-01"
    assert claim(tmp_path).id == "AL-260511-02"


def test_past_99_is_a_clear_error_not_a_wrap_around(repo: Path) -> None:
    folder = repo / "docs/sessions"
    for n in range(1, 99):
        (folder / f"AL-260511-{n:02d}.md").write_text("x", encoding="utf-8")
    assert claim(repo).id == "AL-260511-99"
    before = sessions(repo)
    with pytest.raises(BatonError, match=r"no session number left for AL on 2026-05-11: AL-260511-01 to -99"):
        claim(repo)
    assert sessions(repo) == before


def test_bad_initials_never_reach_the_file_system(repo: Path) -> None:
    for bad in (Operator("ada", "../X", "x", ("x@e.com",)), Operator("ada", "al", "x", ("x@e.com",)),
                Operator("../ada", "AL", "x", ("x@e.com",))):
        with pytest.raises(BatonError, match="must be"):
            claim(repo, bad)
    assert sessions(repo) == []
    assert not (repo / "docs/X").exists()


def test_a_failed_write_leaves_no_half_written_stub(repo: Path) -> None:
    # A real write failure: the claiming process may not grow any file (RLIMIT_FSIZE 0; Python ignores
    # SIGXFSZ, so the write fails with EFBIG after O_EXCL created the file).
    resource = pytest.importorskip("resource")
    write_roster(repo, [member("ada", "AL", "A", AUTHOR_EMAIL)])

    def no_file_growth() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))

    result = subprocess.run(
        [PYTHON, str(SCRIPTS / "session.py"), "claim", "--date", "2026-05-11"],
        cwd=repo, env={**os.environ, "OPERATOR": "ada"}, capture_output=True, text=True,
        preexec_fn=no_file_growth, timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert "docs/sessions/AL-260511-01.md: cannot write the claim stub: File too large" in result.stderr
    assert sessions(repo) == []


# ------------------------------------------------------------------ file providers

@pytest.mark.parametrize("provider", ["Library/Mobile Documents/com~apple~CloudDocs", "Library/CloudStorage/Dropbox"])
def test_icloud_and_cloudstorage_folders_get_a_warning(tmp_path: Path, provider: str) -> None:
    root = tmp_path / provider / "project"
    root.mkdir(parents=True)
    claimed = claim(root)
    assert claimed.id == "AL-260511-01"
    assert len(claimed.warnings) == 1
    assert "file-provider folder" in claimed.warnings[0]
    assert "not reliable" in claimed.warnings[0]


def test_ordinary_folders_get_no_warning(repo: Path) -> None:
    assert claim(repo).warnings == ()


# ------------------------------------------------------------------ BATON_SESSION_ID

def test_preclaimed_id_of_this_operator_is_returned(repo: Path) -> None:
    first = claim(repo, now=NOW)
    again = claim(repo, env={"BATON_SESSION_ID": first.id})
    assert (again.id, again.reused, again.claimed_at) == (first.id, True, "2026-05-11T09:30:00Z")
    assert sessions(repo) == ["AL-260511-01.md"]


def test_preclaimed_id_of_another_operator_is_refused(repo: Path) -> None:
    theirs = claim(repo, GRACE)
    with pytest.raises(BatonError, match=r"BATON_SESSION_ID=GH-260511-01 belongs to operator 'grace', not 'ada'"):
        claim(repo, env={"BATON_SESSION_ID": theirs.id})
    assert sessions(repo) == ["GH-260511-01.md"]


def test_preclaimed_id_that_does_not_exist_claims_afresh_with_a_warning(repo: Path) -> None:
    claimed = claim(repo, env={"BATON_SESSION_ID": "AL-260101-07"})
    assert (claimed.id, claimed.reused) == ("AL-260511-01", False)
    assert "BATON_SESSION_ID=AL-260101-07 is not claimed" in claimed.warnings[0]


@pytest.mark.parametrize("bad", ["../../etc/passwd", "al-260511-01", "AL-2605-01"])
def test_preclaimed_value_that_is_not_an_id_is_refused(repo: Path, bad: str) -> None:
    with pytest.raises(BatonError, match="is not a session id"):
        claim(repo, env={"BATON_SESSION_ID": bad})
    assert sessions(repo) == []


# ------------------------------------------------------------------ stale claims

def test_claims_lists_stubs_oldest_first_and_filters_by_age(repo: Path) -> None:
    old = claim(repo, now=NOW - dt.timedelta(hours=30))
    young = claim(repo, now=NOW - dt.timedelta(hours=2))
    written = claim(repo, now=NOW - dt.timedelta(hours=50))
    frontmatter.write(written.path, {
        "title": "t", "operator": "ada", "summary": "s", "tags": [], "kind": "session",
        "external_id": written.id, "status": "written", "outcome": "done", "date": "2026-05-11",
    }, "## Summary\n")
    listed = ids.claims(repo, now=NOW)
    assert [(s.id, s.operator, round(s.age_hours)) for s in listed] == [(old.id, "ada", 30), (young.id, "ada", 2)]
    assert [s.id for s in ids.claims(repo, stale_hours=24, now=NOW)] == [old.id]
    assert ids.claims(repo, stale_hours=31, now=NOW) == []


def test_an_interrupted_claim_left_as_an_empty_file_is_listed(repo: Path) -> None:
    (repo / "docs/sessions/AL-260511-05.md").touch()
    (listed,) = ids.claims(repo, stale_hours=0)
    assert (listed.id, listed.empty, listed.operator) == ("AL-260511-05", True, None)


def test_a_sessions_path_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs/sessions").write_text("not a folder", encoding="utf-8")
    with pytest.raises(BatonError, match="cannot create the sessions folder"):
        claim(tmp_path)
