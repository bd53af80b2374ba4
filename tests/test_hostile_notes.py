"""Every reader of the store, given hostile notes: one line per bad note, the rest read, bounded time.

Each test puts every hostile note of hostile_notes.HOSTILE (nested aliases, a 5000-digit
integer, refused tags, deep nesting, a frontmatter past the size cap, non-finite numbers)
next to good notes in a real repository and runs a real reader on it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import REPO_ROOT, SCRIPTS, git, run_script
from hostile_notes import GOOD_ID, HOSTILE, HOSTILE_IDS, good_session, hostile_session
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_factory import workstream_text, write

VENV = Path(sys.executable).parent.parent
# generous for a loaded 2-core machine; unbounded parsing took 90 s and more
BOUND_S = 30


@pytest.fixture
def store(repo: Path) -> Path:
    good_session(repo)
    good_session(repo, "RT-261203-01", "2026-12-03")
    write(repo, "workstreams/store.md", workstream_text("store", "rt"))
    for name in HOSTILE:
        hostile_session(repo, name)
    return repo


def no_traceback(*streams: str) -> None:
    for stream in streams:
        assert "Traceback" not in stream and "ValueError" not in stream, stream[-2000:]


def lines_naming(output: str, name: str) -> list[str]:
    return [line for line in output.splitlines() if f"{HOSTILE_IDS[name]}.md" in line]


def timed(fn: object, *args: object, **kwargs: object) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = fn(*args, **kwargs)  # type: ignore[operator]
    return result, time.monotonic() - started


# ------------------------------------------------------------------ validate_frontmatter.py


def test_validate_reports_each_hostile_note_on_one_line_and_checks_the_rest(store: Path) -> None:
    result, took = timed(run_script, "validate_frontmatter.py", cwd=store, timeout=BOUND_S * 4)
    assert took < BOUND_S
    no_traceback(result.stdout, result.stderr)
    assert result.returncode == 0  # warn mode
    for name, (_, words) in HOSTILE.items():
        found = lines_naming(result.stdout, name)
        assert found, f"{name}: not reported\n{result.stdout[-3000:]}"
        assert any(words in line for line in found), (name, found)
        assert all(len(line) < 400 for line in found), (name, found)
    assert f"{GOOD_ID}.md" not in result.stdout


def test_validate_strict_fails_non_finite_numbers(repo: Path) -> None:
    good_session(repo)
    hostile_session(repo, "inf")
    hostile_session(repo, "nan")
    result = run_script("validate_frontmatter.py", "--strict", cwd=repo)
    no_traceback(result.stdout, result.stderr)
    assert result.returncode == 1
    assert lines_naming(result.stdout, "inf") and lines_naming(result.stdout, "nan")
    assert all("/cost_usd" in line for name in ("inf", "nan") for line in lines_naming(result.stdout, name))


def test_validate_json_report_counts_every_hostile_note(store: Path) -> None:
    result = run_script("validate_frontmatter.py", "--json", cwd=store)
    no_traceback(result.stdout, result.stderr)
    report = json.loads(result.stdout)
    bad = {Path(p["path"]).stem for p in report["problems"]}
    assert bad == set(HOSTILE_IDS.values())


def test_the_size_cap_can_be_raised(repo: Path) -> None:
    hostile_session(repo, "huge")
    result = run_script("validate_frontmatter.py", cwd=repo, env={"BATON_MAX_FRONTMATTER_BYTES": str(4 << 20)})
    assert "larger than" not in result.stdout and result.returncode == 0


# ------------------------------------------------------------------ the pre-commit hook


@pytest.fixture
def hooked(store: Path) -> Path:
    (store / "scripts").symlink_to(REPO_ROOT / "scripts")
    (store / ".venv").symlink_to(VENV)
    (store / ".gitignore").write_text("scripts\n.venv\n", encoding="utf-8")
    git(store, "add", ".gitignore")
    git(store, "commit", "-qm", "init")
    result = run_script("install_git_hook.py", cwd=store)
    assert result.returncode == 0, result.stderr
    git(store, "add", "docs", "workstreams")
    return store


def commit(repo: Path, strict: bool) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if strict:
        env["BATON_STRICT"] = "1"
    return subprocess.run(["git", "commit", "-q", "--no-gpg-sign", "-m", "notes"], cwd=repo, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=BOUND_S * 4)


def test_pre_commit_warn_mode_reports_and_lets_the_commit_through(hooked: Path) -> None:
    result, took = timed(commit, hooked, False)
    assert took < BOUND_S
    no_traceback(result.stdout)
    assert result.returncode == 0, result.stdout[-3000:]
    for name in HOSTILE:
        assert len(lines_naming(result.stdout, name)) >= 1, name
    assert "warning only" in result.stdout


def test_pre_commit_strict_blocks_with_one_line_per_problem(hooked: Path) -> None:
    result = commit(hooked, True)
    no_traceback(result.stdout)
    assert result.returncode != 0
    assert "blocking the commit" in result.stdout
    for name in HOSTILE:
        assert len(lines_naming(result.stdout, name)) == 1, (name, lines_naming(result.stdout, name))
    assert git(hooked, "log", "--oneline").count("\n") == 1  # only the init commit


# ------------------------------------------------------------------ /resume and SessionStart


def test_resume_dashboard_shows_the_good_notes_and_counts_the_bad(store: Path) -> None:
    result, took = timed(run_script, "resume_helpers.py", "dashboard", "--json", "--root", str(store),
                         "--operator", "rt", cwd=store, timeout=BOUND_S * 4)
    assert took < BOUND_S
    no_traceback(result.stdout, result.stderr)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert "RT-261203-01" in json.dumps(data)
    assert data["validation"]["problems"] >= len(HOSTILE), data["validation"]


def test_session_start_context_exits_zero_with_the_good_notes(store: Path) -> None:
    from lib.store.index import Index

    with Index(store) as index:
        index.refresh()
    payload = json.dumps({"session_id": "0b7c", "hook_event_name": "SessionStart", "source": "startup"})
    env = dict(os.environ, CLAUDE_PROJECT_DIR=str(store), OPERATOR="rt")
    result, took = timed(subprocess.run, [sys.executable, "-I", str(SCRIPTS / "hooks" / "resume_context.py")],
                         input=payload, capture_output=True, text=True, env=env, cwd=store, timeout=BOUND_S * 4)
    assert took < BOUND_S
    no_traceback(result.stdout, result.stderr)
    assert result.returncode == 0
    assert "RT-261203-01" in result.stdout


# ------------------------------------------------------------------ vault, insights, backfill


def test_vault_check_reports_each_bad_note_and_checks_the_rest(store: Path) -> None:
    result, took = timed(run_script, "vault.py", "check", "--json", cwd=store, timeout=BOUND_S * 4)
    assert took < BOUND_S
    no_traceback(result.stdout, result.stderr)
    assert result.returncode in (0, 1), result.stderr
    for name in HOSTILE:
        if name in ("inf", "nan"):
            continue  # a valid YAML number: a schema problem, not a link problem
        assert HOSTILE_IDS[name] in result.stdout + result.stderr, name


def test_insights_counts_the_good_notes_and_names_the_bad(store: Path) -> None:
    result, took = timed(run_script, "insights.py", "--json", "--root", str(store), cwd=store,
                         timeout=BOUND_S * 4)
    assert took < BOUND_S
    no_traceback(result.stdout, result.stderr)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["totals"]["sessions"] >= 2
    unreadable = [name for name in HOSTILE if name not in ("inf", "nan")]
    for name in unreadable:
        assert HOSTILE_IDS[name] in result.stderr, name
        assert len(lines_naming(result.stderr, name)) == 1


def test_backfill_reports_each_bad_note_and_plans_the_rest(store: Path) -> None:
    git(store, "add", "-A")
    git(store, "commit", "-qm", "notes")
    result, took = timed(run_script, "backfill_frontmatter.py", "--json", cwd=store, timeout=BOUND_S * 4)
    assert took < BOUND_S
    no_traceback(result.stdout, result.stderr)
    plan = json.loads(result.stdout)
    text = json.dumps(plan)
    for name in HOSTILE:
        assert HOSTILE_IDS[name] in text, name


def test_backfill_apply_skips_the_bad_notes_and_writes_the_rest(store: Path) -> None:
    git(store, "add", "-A")
    git(store, "commit", "-qm", "notes")
    before = {name: (store / f"docs/sessions/{HOSTILE_IDS[name]}.md").read_bytes() for name in HOSTILE}
    result = run_script("backfill_frontmatter.py", "--apply", cwd=store, timeout=BOUND_S * 4)
    no_traceback(result.stdout, result.stderr)
    for name in HOSTILE:
        assert (store / f"docs/sessions/{HOSTILE_IDS[name]}.md").read_bytes() == before[name], name


# ------------------------------------------------------------------ Notion sync


@pytest.fixture
def fake() -> Iterator[object]:
    from fakenotion import FakeNotion

    with FakeNotion(rate=None) as server:
        yield server


def test_notion_sync_reports_each_bad_note_and_syncs_the_rest(store: Path, fake: object) -> None:
    from notionstore import workspace, write_config

    ws = workspace(fake)  # type: ignore[arg-type]
    write_config(store, ws)
    result, took = timed(run_script, "sync_to_notion_oneshot.py", "--apply", "--only", "session", cwd=store,
                         env=ws.env(), timeout=BOUND_S * 4)
    assert took < BOUND_S
    no_traceback(result.stdout, result.stderr)
    assert ws.pages(GOOD_ID) and ws.pages("RT-261203-01"), result.stdout + result.stderr
    for name in HOSTILE:
        assert not ws.pages(HOSTILE_IDS[name]) or name in ("inf", "nan"), name
        assert HOSTILE_IDS[name] in result.stdout + result.stderr, name


# ------------------------------------------------------------------ the console's watcher


def test_console_watcher_logs_what_it_cannot_read_and_keeps_seeing_new_notes(
        repo: Path, caplog: pytest.LogCaptureFixture) -> None:
    from lib.console.data import Console
    from lib.console.events import Watcher

    good_session(repo)
    watcher = Watcher(Console([repo]))
    watcher.look()
    for name in HOSTILE:
        hostile_session(repo, name)
    with caplog.at_level("WARNING"):
        started = time.monotonic()
        watcher.look()
        assert time.monotonic() - started < BOUND_S
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for name in HOSTILE:
        if name not in ("inf", "nan"):
            assert HOSTILE_IDS[name] in logged, (name, logged)
    good_session(repo, "RT-261203-01", "2026-12-03")
    changes = watcher.look()
    assert ("handoff_written", "RT-261203-01") in [(k, p.get("session")) for k, p in changes]


# ------------------------------------------------------------------ the console's API


def test_console_api_answers_with_non_finite_and_unreadable_notes_in_the_store(store: Path) -> None:
    import httpx
    from console_server import serve

    with serve([store]) as running:
        for path in ("/api/sessions", "/api/sessions?limit=50", f"/api/sessions/{HOSTILE_IDS['inf']}",
                     f"/api/sessions/{HOSTILE_IDS['nan']}", f"/api/sessions/{HOSTILE_IDS['bigint']}"):
            response = httpx.get(running.url + path, timeout=BOUND_S)
            assert response.status_code in (200, 404), (path, response.status_code, response.text[:300])
            json.loads(response.text)  # strict JSON: no NaN or Infinity tokens
            assert "NaN" not in response.text and "Infinity" not in response.text
        listed = httpx.get(running.url + "/api/sessions?limit=50", timeout=BOUND_S).json()
        assert "RT-261203-01" in json.dumps(listed)


# ------------------------------------------------------------------ generated hostile frontmatter


def _laughs_of(levels: int, width: int) -> str:
    lines = ["l0: &l0 [" + ",".join(["lol"] * width) + "]"]
    lines += [f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * width) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines)


def _deep(depth: int, flow: bool) -> str:
    if flow:
        return "nest: " + "[" * depth + "]" * depth
    return "nest:\n" + "".join("  " * i + "-\n" for i in range(1, depth)) + "  " * depth + "- x"


_ODD_TAGS = ["!!set {a, b}", "!!binary aGVsbG8=", "!!omap [{a: 1}]", "!!pairs [{a: 1}, {a: 2}]",
             "!!python/object/apply:os.system ['true']", "!!python/name:os.system", "!local 1",
             "!<tag:example.com,2000:x> 1", "!!int not-a-number", "!!float x", "!!timestamp yesterday",
             "!!str [1]", "!!map [1]", "!!seq {a: 1}", "!!null 1", "!!bool maybe", "!!merge x"]

_hostile_lines = st.one_of(
    st.builds(_laughs_of, st.integers(1, 12), st.integers(2, 16)),
    st.builds(lambda n, prefix, sign: f"n: {sign}{prefix}" + "7" * n,
              st.integers(4000, 30_000), st.sampled_from(["", "0x", "0o", "0b1", "000"]), st.sampled_from(["", "-", "+"])),
    st.builds(_deep, st.integers(30, 1500), st.booleans()),
    st.sampled_from(_ODD_TAGS).map(lambda tag: f"odd: {tag}"),
    st.sampled_from(["2024-13-45", "2024-02-30T10:00:00Z", "9999-99-99", "0000-00-00"]).map(lambda d: f"when: {d}"),
    st.sampled_from([".inf", "-.inf", ".nan", ".NaN", "+.INF", "1e999", "-1e400", "[.nan, {x: .inf}]"])
    .map(lambda v: f"cost_usd: {v}"),
    st.sampled_from([".inf", ".nan", "1e999"]).map(lambda v: f"custom: {{deep: [{v}]}}"),
    st.integers(1 << 20, (1 << 20) + 4096).map(lambda n: "pad: '" + "x" * n + "'"),
    st.text(max_size=200).map(lambda t: f"junk: {t}"),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
)


@st.composite
def hostile_notes(draw: st.DrawFn) -> bytes:
    lines = ["---", "title: Hostile", "operator: ev", "summary: s", "tags: []", "kind: session",
             "external_id: EV-261201-01", "status: written", "outcome: done", "date: 2026-12-01"]
    lines += draw(st.lists(_hostile_lines, min_size=1, max_size=3))
    text = "\n".join(lines) + "\n"
    if draw(st.booleans()):
        text += "---\n## Summary\n\nBody.\n"  # else: the fence is never closed
    raw = text.encode("utf-8", "surrogatepass")
    junk = draw(st.binary(max_size=64))
    if junk:  # binary junk somewhere in the frontmatter
        at = draw(st.integers(4, max(4, min(len(raw), 400))))
        raw = raw[:at] + junk + raw[at:]
    return raw


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile") / "repo"
    root.mkdir()
    for folder in ("docs/sessions", "workstreams", "plans", "docs/adr", "docs/learnings", ".claude/state"):
        (root / folder).mkdir(parents=True)
    git(root, "init", "-q")
    good_session(root)
    write(root, "workstreams/store.md", workstream_text("store", "rt"))
    from fakenotion import FakeNotion
    from notionstore import workspace, write_config

    with FakeNotion(rate=None) as fake:  # only the settings file is needed: plans send no request
        write_config(root, workspace(fake))
    git(root, "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false",
        "commit", "-qm", "store")
    return root


def _quiet(fn: Callable[[], object]) -> tuple[object, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        result = fn()
    return result, out.getvalue(), err.getvalue()


def _every_reader(root: Path) -> Iterator[tuple[str, Callable[[], object]]]:
    import backfill_frontmatter
    import insights
    import resume_context
    import resume_helpers
    import validate_frontmatter
    import vault
    from lib.console.data import Console
    from lib.console.events import Watcher
    from lib.notion import config as notion_config
    from lib.notion import sync

    r = str(root)
    yield "validate", lambda: validate_frontmatter.main(["--root", r])
    yield "validate --json --strict", lambda: validate_frontmatter.main(["--root", r, "--json", "--strict"])
    yield "pre-commit (staged)", lambda: validate_frontmatter.main(["--root", r, "--staged"])
    yield "dashboard", lambda: resume_helpers.main(["dashboard", "--json", "--root", r, "--operator", "rt"])
    yield "session start", lambda: resume_context.context(root, resume_context._settings(root),
                                                           time.monotonic() + 5)
    yield "vault check", lambda: vault.main(["--root", r, "check", "--json"])
    yield "insights", lambda: insights.main(["--json", "--root", r])
    yield "backfill", lambda: backfill_frontmatter.main(["--json", "--root", r])
    yield "notion plan", lambda: sync.plan_files(root, notion_config.load(root))

    def watch() -> object:
        watcher = Watcher(Console([root]))
        watcher.look()
        return watcher.look()

    yield "console watcher", watch


@settings(max_examples=int(os.environ.get("BATON_HOSTILE_EXAMPLES", "30")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                HealthCheck.too_slow, HealthCheck.data_too_large])
@given(raw=hostile_notes())
def test_generated_hostile_frontmatter_never_breaks_a_reader(shared_store: Path, raw: bytes) -> None:
    root = shared_store
    rel = "docs/sessions/EV-261201-01.md"
    (root / rel).write_bytes(raw)
    git(root, "add", rel)
    for name, read in _every_reader(root):
        started = time.monotonic()
        try:
            result, out, err = _quiet(read)
        except Exception as exc:  # a reader that raises is as bad as a traceback
            raise AssertionError(f"{name}: {type(exc).__name__}: {str(exc)[:300]}") from exc
        took = time.monotonic() - started
        assert took < BOUND_S, f"{name}: {took:.1f} s"
        no_traceback(out, err)
        assert result in (0, 1) or not isinstance(result, int), (name, result, err[-500:])
        for line in (out + err).splitlines():
            if "EV-261201-01.md" in line and not line.lstrip().startswith(("{", "[", '"')):
                assert len(line) < 1000, (name, line[:200])
    # and the good note is still read by the index every reader shares
    from lib.store.index import Index

    with Index(root) as index:
        index.refresh(validate=False)
        assert [n.id for n in index.notes("session", operator="rt")] == [GOOD_ID]
