"""The console in headless Chromium: live updates over SSE, the Stop button, inert notes, both themes.

Needs Debian's `chromium` and the `playwright` package (its driver, not its browser downloads). Without
them the module is skipped with one line.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
if CHROMIUM is None:
    pytest.skip("chromium not installed (apt-get install chromium): browser tests skipped", allow_module_level=True)
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed: browser tests skipped")

from chains_harness import Harness, make_harness, note, result  # noqa: E402
from conftest import PYTHON, SCRIPTS  # noqa: E402
from console_store import SCRIPT_NOTE, write_session  # noqa: E402

pytestmark = pytest.mark.slow

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class Console:
    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [PYTHON, str(SCRIPTS / "serve.py"), "--project-dir", str(root), "--port", "0", "--poll-interval", "0.1",
             "--stop-timeout", "15"],
            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        lines = [self.proc.stdout.readline() for _ in range(3)]
        url = re.search(r"(http://127\.0\.0\.1:\d+)/", lines[1])
        token = re.search(r"token: (\S+)", lines[2])
        if not url or not token:
            self.proc.kill()
            raise AssertionError(f"serve.py did not start: {lines} {self.proc.stderr.read() if self.proc.stderr else ''}")
        self.url, self.token = url.group(1), token.group(1)

    def close(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def h(repo: Path, tmp_path: Path) -> Harness:
    return make_harness(repo, tmp_path)


@pytest.fixture
def console(h: Harness) -> Iterator[Console]:
    server = Console(h.root, h.full_env())
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def test_a_chain_advances_live_and_the_stop_button_stops_it(h: Harness, console: Console, browser: Any,
                                                             tmp_path: Path) -> None:
    today = dt.date.today().isoformat()
    write_session(h.root, "RT-" + today[2:].replace("-", "") + "-01", operator="rt", date=today, cost_usd=0.8,
                  workstream="auth", failures_breakdown={"test_fail": 3, "lint_error": 1})
    second = tmp_path / "second-started"
    h.scenario(
        {"steps": [{"init": {}}, {"text": "First part."}, note("incomplete", summary="The first part is done now."),
                   result(total_cost_usd=0.4, num_turns=3)]},
        {"steps": [{"init": {}}, {"text": "Second part, a long one."}, {"touch": str(second)}, {"sleep": 60}]},
    )
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{console.url}/#token={console.token}")
    page.wait_for_selector("#live-status.on")
    page.evaluate("window.__sameDocument = true")
    assert "No chain is running." in page.locator("#running").inner_text()

    runner = h.start("run", "--mission", "Build the feature in two parts.", "--operator", "rt",
                     "--max-sessions", "4", "--max-budget-usd", "5")
    try:
        card = page.locator("#running .chain-card")
        card.wait_for(timeout=20_000)
        h.wait_for(second)
        chain_id = h.chain()["id"]
        assert card.get_attribute("data-chain") == chain_id
        # The first session ended and the second started: the card shows it without a reload.
        page.wait_for_function(
            "() => { const s = document.querySelector('#running .chain-card [data-field=sessions]');"
            " return s && s.textContent.trim() === '2 / 4'; }", timeout=20_000)
        assert "$0.40 of $5.00" in card.locator("[data-field=cost]").inner_text()
        assert page.evaluate("window.__sameDocument") is True
        assert page.locator("#event-log").inner_text().count("session started") >= 2
        # Screenshots for people to look at (the media query applies without a reload).
        shots = tmp_path / "screenshots"
        shots.mkdir()
        for scheme, background in (("light", "rgb(247, 247, 245)"), ("dark", "rgb(21, 23, 27)")):
            page.emulate_media(color_scheme=scheme)
            assert page.evaluate("getComputedStyle(document.body).backgroundColor") == background
            page.screenshot(path=str(shots / f"dashboard-{scheme}.png"), full_page=True)
            print(f"dashboard screenshot ({scheme}): {shots / f'dashboard-{scheme}.png'}")

        card.locator("button[data-stop]").click()
        # The token from the address is checked first; then the confirmation asks who stops the chain.
        page.locator("#stop-confirm-step").wait_for(state="visible")
        page.locator("#stop-go").click()
        page.wait_for_function(
            "() => document.querySelector('#recent') && "
            "document.querySelector('#recent').textContent.includes('stopped')", timeout=30_000)
        running_now = page.locator("#running").inner_text()
        assert "No chain is running." in running_now and f"{chain_id} stopped" in running_now
        assert page.evaluate("window.__sameDocument") is True
        _, err = runner.communicate(timeout=30)
        assert runner.returncode == 0, err
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.communicate()
    chain = h.chain(chain_id)
    assert chain["status"] == "stopped"
    assert [s["status"] for s in chain["sessions"]] == ["ok", "stopped"]
    page.goto(f"{console.url}/chains/{chain_id}")
    assert "stopped" in page.locator("h1").inner_text()
    assert errors == []
    page.close()


def test_a_note_with_script_renders_inert_and_the_theme_toggle_sticks(h: Harness, console: Console, browser: Any,
                                                                       tmp_path: Path) -> None:
    write_session(h.root, "RT-260301-01", operator="rt", date="2026-03-01", cost_usd=0.8, workstream="auth",
                  body="## Summary\n\nThis note tries " + SCRIPT_NOTE + " and <img src=x onerror=\"window.__pwned=2\">.\n")
    write_session(h.root, "RT-260302-01", operator="rt", date="2026-03-02", cost_usd=1.2, outcome="blocked",
                  failures_breakdown={"test_fail": 3, "compile_error": 1})
    page = browser.new_page()
    page.goto(f"{console.url}/sessions/RT-260301-01")
    article = page.locator("article.note")
    assert SCRIPT_NOTE in article.inner_text()
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert article.locator("script, img").count() == 0

    page.goto(f"{console.url}/")
    # The toggle overrides the system's choice, and the choice survives a reload.
    page.emulate_media(color_scheme="light")
    page.locator("#theme-toggle").click()  # auto -> light
    page.locator("#theme-toggle").click()  # light -> dark
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.reload()
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(21, 23, 27)"
    page.goto(f"{console.url}/insights")
    assert page.locator("svg.chart").count() == 3
    shot = tmp_path / "insights-dark.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"insights screenshot (dark): {shot}")
    page.close()


# ------------------------------------------------------------------ every page: 390 px, axe-core, both themes


def _seed_pages(h: Harness) -> tuple[str, str]:
    """A store and a registry with something on every page; (a chain id, a session id)."""
    from lib.chains.registry import Breaker, ChainRecord, Registry, SessionRecord

    today = dt.date.today()
    sid = "RT-" + today.strftime("%y%m%d") + "-01"
    write_session(h.root, sid, operator="rt", date=today.isoformat(), cost_usd=0.8, workstream="auth",
                  outcome="blocked", failures_breakdown={"test_fail": 3, "lint_error": 1},
                  summary="A long summary that goes on and on to see that a narrow screen wraps it " * 3)
    write_session(h.root, "JD-" + today.strftime("%y%m%d") + "-02", operator="jd", date=today.isoformat(),
                  workstream="billing-export-with-a-rather-long-name", chain_id="20260306-101500-abcd")
    chain_id = "20260306-101500-abcd"
    Registry().save(ChainRecord(
        id=chain_id, project_dir=str(h.root), mission="Build the billing export. " * 8, status="circuit_open",
        operator="jd", end_reason="3 failed sessions in a row", settings={"budget_usd": 5.0, "max_sessions": 4},
        breaker=Breaker(state="open", consecutive_failures=3, opened_at=dt.datetime.now(dt.UTC).isoformat()),
        sessions=[SessionRecord(id="JD-" + today.strftime("%y%m%d") + "-02", index=1, status="failed",
                                cost_usd=0.45, failure_class="timeout", reason="wall_clock")]))
    return chain_id, sid


def _pages(chain_id: str, session_id: str) -> list[str]:
    return ["/", "/chains", f"/chains/{chain_id}", "/sessions", "/sessions?operator=Nobody+Here&since=soon",
            f"/sessions/{session_id}", "/workstreams", "/insights", "/team", "/search?q=summary"]


def test_no_page_overflows_sideways_at_390_px(h: Harness, console: Console, browser: Any) -> None:
    chain_id, session_id = _seed_pages(h)
    page = browser.new_page(viewport={"width": 390, "height": 844})
    wide = {}
    for path in _pages(chain_id, session_id):
        page.goto(console.url + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 390:
            culprits = page.evaluate(
                "() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 391)"
                ".slice(0, 3).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))")
            wide[path] = (width, culprits)
    page.close()
    assert wide == {}


def test_axe_finds_no_serious_or_critical_violation_in_either_theme(h: Harness, console: Console,
                                                                    browser: Any) -> None:
    axe_module = pytest.importorskip("axe_playwright_python.sync_playwright",
                                     reason="axe-playwright-python not installed: accessibility test skipped")
    axe = axe_module.Axe()
    chain_id, session_id = _seed_pages(h)
    page = browser.new_page()
    found: dict[str, list[str]] = {}
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for path in _pages(chain_id, session_id):
            page.goto(console.url + path)
            results = axe.run(page)
            bad = [f"{v['id']}: {v['help']} ({len(v['nodes'])}: {v['nodes'][0]['target']})"
                   for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
            if bad:
                found[f"{scheme} {path}"] = bad
    page.close()
    assert found == {}


def test_launch_watch_and_stop_a_chain_from_the_browser(h: Harness, console: Console, browser: Any,
                                                        tmp_path: Path) -> None:
    second = tmp_path / "second-started"
    h.scenario(
        {"steps": [{"init": {}}, {"text": "First part."}, note("incomplete", summary="The first part is done."),
                   result(total_cost_usd=0.3, num_turns=2)]},
        {"steps": [{"init": {}}, {"text": "Second part."}, {"touch": str(second)}, {"sleep": 60}]},
    )
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{console.url}/chains#token={console.token}")
    page.wait_for_selector("#live-status.on")
    form = page.locator("#launch-form")
    form.locator("textarea[name=mission]").fill("Build the feature in two parts.")
    form.locator("select[name=operator]").select_option("rt")
    form.locator("input[name=max_sessions]").fill("4")
    form.locator("input[name=budget_usd]").fill("5")
    form.locator("button[type=submit]").click()
    link = page.locator("#launch-msg a")
    link.wait_for(timeout=30_000)
    chain_id = link.inner_text()
    try:
        # The chain appears in the list without a reload, and advances to its second session.
        row = page.locator(f'#chains tr[data-chain="{chain_id}"]')
        row.wait_for(timeout=20_000)
        h.wait_for(second)
        page.wait_for_function(
            f"() => {{ const r = document.querySelector('#chains tr[data-chain=\"{chain_id}\"]');"
            " return r && r.textContent.includes('2 / 4'); }", timeout=20_000)
        assert "Rita Tavares" in row.inner_text()
        row.locator("button[data-stop]").click()
        page.locator("#stop-confirm-step").wait_for(state="visible")
        page.locator("#stop-operator").select_option("jd")
        page.locator("#stop-go").click()
        page.wait_for_function(
            f"() => {{ const r = document.querySelector('#chains tr[data-chain=\"{chain_id}\"]');"
            " return r && r.textContent.includes('stopped by'); }", timeout=30_000)
        stopped_row = page.locator(f'#chains tr[data-chain="{chain_id}"]').inner_text()
        assert "Jo Doe" in stopped_row
    finally:
        if h.chain(chain_id)["status"] == "running":
            h.chains("stop", chain_id, "--timeout", "15")
    chain = h.chain(chain_id)
    assert chain["status"] == "stopped" and chain["operator"] == "rt"
    assert chain["settings"]["max_sessions"] == 4
    # Stopped is neutral, not painted like a failure.
    page.goto(f"{console.url}/chains/{chain_id}")
    badge = page.locator("h1 .badge")
    assert badge.inner_text() == "stopped"
    assert badge.evaluate("e => getComputedStyle(e).color") == page.evaluate("getComputedStyle(document.body).color")
    assert errors == []
    page.close()
