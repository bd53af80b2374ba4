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

from support.chains import Harness, make_harness, note, result  # noqa: E402
from support.console_store import SCRIPT_NOTE, write_session  # noqa: E402
from support.paths import PYTHON, SCRIPTS  # noqa: E402

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
    page.on("dialog", lambda dialog: dialog.accept())  # the "Stop chain ...?" confirmation
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
        assert "$0.4000 of $5.00" in card.locator("[data-field=cost]").inner_text()
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
