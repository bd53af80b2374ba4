"""A whole /handoff through its helpers in a real repository with a bare remote: commit, push, failures."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from lib.store import frontmatter, validate
from support.handoff import (
    CLAUDE_ID,
    PYTHON,
    SCRIPTS,
    add_remote,
    commit_files,
    content,
    git,
    handoff,
    helper,
    helper_json,
    hook,
    start,
    tool_calls,
    write,
)
from support.httpserver import serving


def test_end_to_end_the_remote_gets_one_commit_with_exactly_the_handoff_files(store: Path, remote: Path) -> None:
    # The session: telemetry through the real hook, two commits of work, a file the user staged and keeps staged.
    transcript = store.parent / "transcript.jsonl"
    line = {"type": "assistant", "requestId": "req_1", "message": {
        "id": "msg_1", "model": "claude-sonnet-4-6",
        "usage": {"input_tokens": 10, "output_tokens": 5, "cache_creation_input_tokens": 0,
                  "cache_read_input_tokens": 100}}}
    transcript.write_text((json.dumps(line) + "\n") * 2)  # one message, two content blocks: counted once
    hook(store, {"hook_event_name": "SessionStart", "source": "startup", "transcript_path": str(transcript)})
    tool_calls(store, "Bash", 4)
    tool_calls(store, "Edit", 3)
    (store / "app.py").write_text("print('hi')\n")
    git(store, "add", "app.py")
    git(store, "commit", "-q", "-m", "feat: app")
    (store / "app.py").write_text("print('hi')\nprint('bye')\n")
    git(store, "commit", "-q", "-am", "feat: bye")
    git(store, "push", "-q")
    (store / "wip.txt").write_text("not ready\n")
    git(store, "add", "wip.txt")
    remote_before = git(remote, "rev-parse", "main").strip()

    started = helper_json(store, "start", process=True)
    assert started["claim"] == "new" and started["mode"] == "full" and not started["confirm_operator"]
    assert [c["subject"] for c in started["commits"]] == ["feat: app", "feat: bye"]
    session_id = started["id"]
    written = helper_json(store, "write-session", "--id", session_id, input=json.dumps(content()), process=True)
    assert written["ok"] and written["invariant_violations"] == []
    helper(store, "append-log", "--id", session_id, "--line", "Sign-in form", process=True)
    helper(store, "regen-index", "--id", session_id, process=True)
    staged = helper_json(store, "stage", "--id", session_id, process=True)
    assert staged["staged_by_user"] == ["wip.txt"]
    result = helper_json(store, "commit", "--id", session_id, "--push", process=True)
    assert result["pushed"] and result["committed"]

    note = f"docs/sessions/{session_id}.md"
    handoff_files = sorted([note, "workstreams/auth.md", "docs/sessions/INDEX.md", "workstreams/INDEX.md"])
    assert git(remote, "rev-list", "--count", f"{remote_before}..main").strip() == "1"
    assert commit_files(remote, "main") == handoff_files
    assert git(remote, "log", "-1", "--format=%s", "main").strip() == f"handoff: {session_id} {content()['title']}"
    assert "wip.txt" not in git(remote, "ls-tree", "-r", "--name-only", "main")
    assert git(store, "diff", "--cached", "--name-only").split() == ["wip.txt"]  # still staged

    text = git(remote, "show", f"main:{note}")
    assert validate.check_text(note, text, "session").problems == []
    metadata, body = frontmatter.loads(text)
    assert metadata["content_hash"] == frontmatter.content_hash(metadata, body)
    assert metadata["status"] == "written" and metadata["claude_session_id"] == CLAUDE_ID
    assert metadata["tool_calls_count"] == 7
    assert metadata["tool_calls_breakdown"] == {"Bash": 4, "Edit": 3, "mcp__notion_offplan": 0}
    assert metadata["invariants"] == {"tool_calls_breakdown.mcp__notion_offplan": 0}
    assert metadata["commits_count"] == 2 and metadata["lines_added"] == 2
    assert metadata["tokens"] == {"input": 10, "output": 5, "cache_creation": 0, "cache_read": 100}
    assert metadata["cost_usd"] > 0 and metadata["model"] == "claude-sonnet-4-6"
    assert f"- [{session_id}](../docs/sessions/{session_id}.md) (" in git(remote, "show", "main:workstreams/auth.md")
    assert f"[{session_id}]({session_id}.md)" in git(remote, "show", "main:docs/sessions/INDEX.md")


def test_a_learning_is_committed_with_the_note(store: Path) -> None:
    session_id = start(store)["id"]
    learning = {"slug": "cookies-over-storage", "title": "Cookies over local storage",
                "summary": "Keep tokens in an HttpOnly cookie.", "tags": ["auth"], "lesson": "Scripts cannot read it."}
    helper(store, "write-learning", "--id", session_id, input=json.dumps(learning))
    write(store, session_id, content())
    helper(store, "commit", "--id", session_id)
    assert commit_files(store) == sorted([f"docs/sessions/{session_id}.md", "docs/learnings/cookies-over-storage.md"])
    text = (store / "docs/learnings/cookies-over-storage.md").read_text()
    assert validate.check_text("docs/learnings/cookies-over-storage.md", text, "learning").problems == []
    assert frontmatter.loads(text)[0]["session"] == session_id


def test_commit_again_changes_nothing(store: Path) -> None:
    session_id, first = handoff(store)
    head = git(store, "rev-parse", "HEAD")
    again = helper_json(store, "commit", "--id", session_id)
    assert not again["committed"] and git(store, "rev-parse", "HEAD") == head
    assert again["commit"] == json.loads(first.stdout)["commit"]


def test_committing_a_claim_stub_is_refused(store: Path) -> None:
    session_id = start(store)["id"]
    result = helper(store, "commit", "--id", session_id, ok=False)
    assert "write-session first" in result.stderr


# ----------------------------------------------------------------- push failures

def _assert_kept(store: Path, session_id: str) -> None:
    assert git(store, "log", "-1", "--format=%s").startswith(f"handoff: {session_id} ")


def test_push_without_a_remote_names_it_and_keeps_the_commit(store: Path) -> None:
    session_id, result = handoff(store, push=True)
    assert result.returncode == 1
    payload = json.loads(result.stdout)
    assert payload["push_error"]["kind"] == "no_remote"
    assert "no remote to push main to" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    _assert_kept(store, session_id)


def test_push_from_a_detached_head_names_it_and_keeps_the_commit(store: Path, remote: Path) -> None:
    git(store, "checkout", "-q", "--detach")
    session_id, result = handoff(store, push=True)
    assert result.returncode == 1
    assert json.loads(result.stdout)["push_error"]["kind"] == "detached_head"
    assert "HEAD is detached" in result.stderr
    _assert_kept(store, session_id)


def _peer_pushes(remote: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(remote), str(other))
    (other / "peer.txt").write_text("peer\n")
    git(other, "add", "peer.txt")
    git(other, "-c", "user.email=p@example.com", "-c", "user.name=P", "commit", "-q", "-m", "peer work")
    git(other, "push", "-q")


def test_a_handoff_behind_the_remote_is_replayed_on_it_and_pushed_keeping_uncommitted_work(
        store: Path, remote: Path, tmp_path: Path) -> None:
    _peer_pushes(remote, tmp_path)
    (store / "wip.txt").write_text("not ready\n")
    (store / "workstreams" / "notes.txt").write_text("scratch\n")
    session_id, result = handoff(store, push=True)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["pushed"] and payload["push_attempts"] == 1
    assert git(remote, "log", "--format=%s", "main").splitlines()[:2] == [
        f"handoff: {session_id} {content()['title']}", "peer work"]
    assert git(store, "rev-parse", "HEAD") == git(remote, "rev-parse", "main")  # the local branch followed
    assert (store / "peer.txt").read_text() == "peer\n"
    assert (store / "wip.txt").read_text() == "not ready\n" and (store / "workstreams/notes.txt").is_file()
    assert payload["commit"] == git(store, "rev-parse", "HEAD").strip()


def test_own_commits_behind_a_moved_remote_stop_the_push_with_one_line_and_are_kept(store: Path, remote: Path,
                                                                                  tmp_path: Path) -> None:
    _peer_pushes(remote, tmp_path)
    (store / "app.py").write_text("print('hi')\n")
    git(store, "add", "app.py")
    git(store, "commit", "-q", "-m", "feat: app")
    session_id, result = handoff(store, push=True)
    assert result.returncode == 1
    payload = json.loads(result.stdout)
    assert payload["push_error"]["kind"] == "needs_pull" and not payload["pushed"]
    assert len(result.stderr.strip().splitlines()) == 1
    assert "git pull --rebase" in result.stderr and "feat: app" in result.stderr
    _assert_kept(store, session_id)
    assert git(store, "log", "--format=%s", "-2").splitlines()[1] == "feat: app"
    assert git(remote, "log", "-1", "--format=%s", "main").strip() == "peer work"


class _GitOverHttp(BaseHTTPRequestHandler):
    """Smart HTTP through `git http-backend`: fetching works, pushing asks for credentials (401)."""

    project_root = ""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _handle(self) -> None:
        if "git-receive-pack" in self.path:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        env = {"GIT_PROJECT_ROOT": self.project_root, "GIT_HTTP_EXPORT_ALL": "1", "PATH_INFO": path,
               "QUERY_STRING": query, "REQUEST_METHOD": self.command,
               "CONTENT_TYPE": self.headers.get("Content-Type", ""), "PATH": "/usr/bin:/bin"}
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        headers = [line.split(":", 1) for line in head.decode().split("\r\n") if ":" in line]
        status = next((v.strip() for k, v in headers if k.lower() == "status"), "200 OK")
        self.send_response(int(status.split()[0]))
        for key, value in headers:
            if key.lower() != "status":
                self.send_header(key, value.strip())
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _handle


@pytest.fixture
def http_remote(store: Path, tmp_path: Path) -> Iterator[str]:
    bare = tmp_path / "served.git"
    add_remote(store, bare)
    handler = type("Handler", (_GitOverHttp,), {"project_root": str(tmp_path)})
    with serving(handler) as base:
        url = f"{base}/served.git"
        git(store, "remote", "set-url", "origin", url)
        yield url


def test_push_refused_for_credentials_names_authentication_and_keeps_the_commit(store: Path,
                                                                                 http_remote: str) -> None:
    git(store, "fetch", "-q")  # the server is really serving the repository: fetching works
    session_id, result = handoff(store, push=True)
    assert result.returncode == 1
    assert json.loads(result.stdout)["push_error"]["kind"] == "authentication"
    assert result.stderr.strip().startswith("handoff_helpers.py: error: authentication to origin failed")
    _assert_kept(store, session_id)


# ----------------------------------------------------------------- remote id collision

def _other_clone_claims(remote: Path, tmp_path: Path, branch: str) -> str:
    """Another clone of the same operator, offline until now, hands off first and pushes."""
    other = tmp_path / "laptop"
    git(tmp_path, "clone", "-q", str(remote), str(other))
    if branch != "main":
        git(other, "checkout", "-q", "-b", branch)
    (other / ".claude" / "state").mkdir(parents=True, exist_ok=True)
    session_id, result = handoff(other, env={"CLAUDE_CODE_SESSION_ID": "other-clone"})
    assert result.returncode == 0, result.stderr
    git(other, "push", "-q", "origin", branch)
    return session_id


def test_an_id_the_remote_already_holds_is_reclaimed_renamed_and_pushed(store: Path, remote: Path,
                                                                         tmp_path: Path) -> None:
    taken = _other_clone_claims(remote, tmp_path, "laptop-work")
    started = start(store)
    assert started["id"] == taken  # the remote-tracking refs were stale: the same id was claimed here
    write(store, taken, content())
    helper(store, "append-log", "--id", taken, "--line", "Did it")
    helper(store, "regen-index", "--id", taken)
    result = helper_json(store, "commit", "--id", taken, "--push")

    new_id = result["id"]
    assert result["renamed_from"] == [taken] and new_id != taken and result["pushed"]
    assert new_id.endswith("-02") and new_id[:-3] == taken[:-3]
    assert not (store / f"docs/sessions/{taken}.md").exists()
    assert git(store, "rev-list", "--count", "origin/main..HEAD").strip() == "0"
    assert git(store, "log", "-1", "--format=%s").startswith(f"handoff: {new_id} ")  # amended, not a 2nd commit
    assert commit_files(remote, "main") == sorted([f"docs/sessions/{new_id}.md", "workstreams/auth.md",
                                                   "docs/sessions/INDEX.md", "workstreams/INDEX.md"])
    note = git(remote, "show", f"main:docs/sessions/{new_id}.md")
    metadata, body = frontmatter.loads(note)
    assert metadata["external_id"] == new_id
    assert metadata["content_hash"] == frontmatter.content_hash(metadata, body)
    assert validate.check_text(f"docs/sessions/{new_id}.md", note, "session").problems == []
    log = git(remote, "show", "main:workstreams/auth.md")
    assert f"- [{new_id}](../docs/sessions/{new_id}.md) (" in log and taken not in log
    index = git(remote, "show", "main:docs/sessions/INDEX.md")
    assert f"[{new_id}]({new_id}.md)" in index and taken not in index


def test_a_collision_on_the_same_branch_is_renamed_replayed_on_the_remote_and_pushed(
        store: Path, remote: Path, tmp_path: Path) -> None:
    taken = _other_clone_claims(remote, tmp_path, "main")
    assert start(store)["id"] == taken
    write(store, taken, content())
    helper(store, "append-log", "--id", taken, "--line", "Did it")
    helper(store, "regen-index", "--id", taken)
    payload = helper_json(store, "commit", "--id", taken, "--push")
    new_id = payload["id"]
    assert payload["renamed_from"] == [taken] and payload["pushed"] and new_id != taken
    tree = git(remote, "ls-tree", "-r", "--name-only", "main")
    assert f"docs/sessions/{taken}.md" in tree and f"docs/sessions/{new_id}.md" in tree
    log = git(remote, "show", "main:workstreams/auth.md")
    assert log.count(f"[{taken}]") == 1 and log.count(f"[{new_id}]") == 1
    index = git(remote, "show", "main:docs/sessions/INDEX.md")
    assert f"[{taken}]({taken}.md)" in index and f"[{new_id}]({new_id}.md)" in index
    # The local clone follows: the other clone's note is here, this one's under its new id.
    assert (store / f"docs/sessions/{taken}.md").is_file() and (store / f"docs/sessions/{new_id}.md").is_file()
    assert git(store, "status", "--porcelain", "--", "docs", "workstreams") == ""


def test_a_note_this_clone_pushed_before_is_not_a_collision(store: Path, remote: Path) -> None:
    session_id, result = handoff(store, push=True)
    assert result.returncode == 0, result.stderr
    write(store, session_id, content(title="Sign-in, revised"), "--force")
    again = helper_json(store, "commit", "--id", session_id, "--push")
    assert again["renamed_from"] == [] and again["pushed"] and again["id"] == session_id


# ----------------------------------------------------------------- two handoffs at once

def test_concurrent_handoffs_in_one_repository_take_turns(store: Path, remote: Path) -> None:
    ids = []
    for n in range(3):
        claude_id = f"parallel-{n}"
        env = {"CLAUDE_CODE_SESSION_ID": claude_id}
        session_id = start(store, env=env)["id"]
        write(store, session_id, content(title=f"Parallel {n}", workstream=None), env=env)
        helper(store, "regen-index", "--id", session_id, env=env)
        ids.append(session_id)
    procs = [
        subprocess.Popen([PYTHON, str(SCRIPTS / "handoff_helpers.py"), "commit", "--id", sid, "--push", "--json"],
                         cwd=store, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for sid in ids
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0], [err for _, err in outputs]
    subjects = git(remote, "log", "--format=%s", "main").splitlines()
    for n, sid in enumerate(ids):
        assert f"handoff: {sid} Parallel {n}" in subjects
        rev = git(remote, "log", "--format=%H", f"--grep=^handoff: {sid} ", "main").strip()
        files = commit_files(remote, rev)
        assert f"docs/sessions/{sid}.md" in files
        assert not [f for f in files if f.startswith("docs/sessions/") and f.endswith(".md")
                    and f not in (f"docs/sessions/{sid}.md", "docs/sessions/INDEX.md")]
    index = git(remote, "show", "main:docs/sessions/INDEX.md")
    assert all(f"[{sid}]" in index for sid in ids)
    assert git(store, "status", "--porcelain", "--", "docs", "workstreams") == ""


def test_a_handoff_waits_on_the_lock_another_handoff_holds(store: Path) -> None:
    from filelock import FileLock

    session_id = start(store)["id"]
    write(store, session_id, content())
    (store / ".claude" / "baton.yaml").write_text("handoff:\n  lock_timeout_s: 0.2\n")
    head = git(store, "rev-parse", "HEAD")
    with FileLock(str(store / ".git" / "baton-handoff.lock")):
        blocked = helper(store, "commit", "--id", session_id, ok=False, process=True)
    assert "another handoff has held" in blocked.stderr and git(store, "rev-parse", "HEAD") == head
    helper(store, "commit", "--id", session_id)
    assert git(store, "rev-parse", "HEAD") != head


def test_a_recorded_file_the_user_removed_is_left_out_of_the_commit(store: Path) -> None:
    session_id = start(store)["id"]
    learning = {"slug": "gone", "title": "Gone", "summary": "Removed before the commit.", "tags": [],
                "lesson": "x"}
    helper(store, "write-learning", "--id", session_id, input=json.dumps(learning))
    write(store, session_id, content())
    (store / "docs" / "learnings" / "gone.md").unlink()
    helper(store, "stage", "--id", session_id)
    helper(store, "commit", "--id", session_id)
    assert commit_files(store) == [f"docs/sessions/{session_id}.md"]


def test_uncommitted_edits_in_a_file_the_remote_changed_stop_the_push_and_stay_untouched(
        store: Path, remote: Path, tmp_path: Path) -> None:
    _other_clone_claims(remote, tmp_path, "main")  # the remote's Session Log gained a line
    remote_head = git(remote, "rev-parse", "main")
    session_id = start(store)["id"]
    write(store, session_id, content(workstream=None))
    helper(store, "commit", "--id", session_id)
    head = git(store, "rev-parse", "HEAD")
    edited = (store / "workstreams" / "auth.md").read_text() + "\nMy own notes, not committed.\n"
    (store / "workstreams" / "auth.md").write_text(edited)
    result = helper(store, "commit", "--id", session_id, "--push", "--json", ok=False)
    payload = json.loads(result.stdout)
    assert payload["push_error"]["kind"] == "local_changes" and not payload["pushed"]
    assert "workstreams/auth.md" in result.stderr and "commit or stash" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert git(store, "rev-parse", "HEAD") == head
    assert (store / "workstreams" / "auth.md").read_text() == edited
    assert git(remote, "rev-parse", "main") == remote_head  # nothing was pushed
