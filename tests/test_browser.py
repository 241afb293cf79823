"""The page in a real browser: Debian's headless Chromium, driven by Playwright,
against a uvicorn server on a free loopback port. Tracks must appear on the
map's track canvas, an approval clicked on the page must be carried out, and its
outcome must show in the event log. A screenshot goes to test-artifacts/.

Never skipped: without /usr/bin/chromium (``make test`` installs it) or the npm
map libraries (``make web-assets``) the test fails and says what to run.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright
from test_web_fakechain import FakeChain

from airshield.web import serve
from airshield.web.app import assets_ready, create_app
from airshield.web.hub import Hub
from airshield.web.runner import Runner

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(runner):
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(runner), host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    deadline = time.monotonic() + 15
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    return f"http://127.0.0.1:{port}/", srv, th


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.is_file():
        pytest.fail("Debian Chromium is not installed at /usr/bin/chromium: run `make test` "
                    "(it installs it) or `apt-get install -y chromium`")
    if not assets_ready():
        pytest.fail("the map libraries are not installed: run `make web-assets` (npm ci in web/)")

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, timeout=30_000)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    pg = browser.new_page(viewport={"width": 1600, "height": 900})
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    yield pg
    pg.close()


def served(runner):
    """Context: the runner's app on a free loopback port."""
    import contextlib

    @contextlib.contextmanager
    def cm():
        url, srv, th = start_server(runner)
        try:
            yield url
        finally:
            srv.should_exit = True
            th.join(10)
    return cm()


# The tracks the page drew in its latest frame of the moving-picture canvas over the map.
DRAWN = "window.airshield.overlay.drawn"


def track_ids(page) -> int:
    return page.evaluate(f"new Set({DRAWN}.map(d => d.track)).size")


def test_real_chain_demo_in_chromium(page, tmp_path):
    """``airshield demo``'s own chain (scenario demo, manual policy), fast-forwarded:
    the operator pauses, approves the most urgent recommendation, resumes, and
    the engagement's outcome arrives in the log and on the map."""
    runner = serve.build_live("demo", speed=200, record=tmp_path / "demo.sqlite")
    with served(runner) as url:
        page.goto(url)
        page.wait_for_function("window.airshield && window.airshield.ready", timeout=20_000)
        page.wait_for_function(f"new Set({DRAWN}.map(d => d.track)).size >= 5", timeout=30_000)
        rec_id = threat = None
        for _ in range(5):
            page.locator("#recs button.approve:not([disabled])").first.wait_for(timeout=30_000)
            page.click("#btn-play")  # pause: recommendations stay put while the operator decides
            page.wait_for_function("window.airshield.state.clock.paused === true", timeout=10_000)
            # At 200x the planner may have withdrawn what was on screen before the pause took
            # hold (a few scenario seconds): then resume and wait for the next one.
            rids = page.eval_on_selector_all("#recs button.approve:not([disabled])",
                                             "els => els.slice(0, 3).map(e => e.dataset.rec)")
            for rid in rids:
                try:
                    page.click(f"#recs button.approve[data-rec='{rid}']:not([disabled])", timeout=5_000)
                    page.locator("#log li.decision", has_text=f"APPROVED {rid}:").wait_for(timeout=5_000)
                except PlaywrightTimeout:  # e.g. no free channel left: the banner says so; try the next
                    continue
                rec_id = rid
                break
            if rec_id is not None:
                break
            page.click("#btn-play")
            page.wait_for_function("window.airshield.state.clock.paused === false", timeout=10_000)
        assert rec_id is not None, page.inner_text("#banner")
        threat = next(e["threat"] for e in runner.hub.events if e["kind"] == "approval" and e["rec"] == rec_id)
        page.click("#btn-play")  # resume
        outcome = page.locator("#log li", has_text=re.compile(rf"^T\+[\d:]+(DEFEATED|MISSED|LOST) {threat} "))
        # The interceptor meets its drone a few scenario minutes later: ~15 s of wall time here
        # flat out, longer on a busy machine.
        try:
            outcome.wait_for(timeout=90_000)
        finally:
            page.screenshot(path=str(ARTIFACTS / "live-picture-demo.png"))
        ev = next(e for e in runner.hub.events if e["kind"] == "outcome" and e.get("rec") == rec_id)
        assert ev["result"] in ("defeated", "missed", "lost")
        # its ring is drawn on the overlay canvas (not a map source: no map repaint per step)
        page.wait_for_function("window.airshield.overlay.outcomes >= 1", timeout=10_000)
        assert int(page.inner_text("#c-shots")) >= 1 and page.inner_text("#c-spent") != "$0"
        assert page.locator("#log li.decision", has_text=f"APPROVED {rec_id}:").count() == 1
        page.click("#btn-play")  # pause for a steady picture
        time.sleep(1.0)
        page.screenshot(path=str(ARTIFACTS / "live-picture-demo.png"))
        assert page.evaluate("window.airshield.errors") == [] and page.errors == []
    serve.close(runner)
    assert runner.recorder.frames_written == runner.hub.steps  # everything shown was recorded


def test_fake_chain_symbols_and_engagement(page):
    """The deterministic stand-in: exact symbols, counters and the approve loop."""
    chain = FakeChain(duration_s=None, n_hostile=8)
    runner = Runner(chain, Hub(chain.static_layers(), meta={"scenario": "browser-test",
                                                            "epoch": "2025-09-06T21:00:00Z"}), speed=2.0)
    with served(runner) as url:
        page.goto(url)
        page.wait_for_function("window.airshield && window.airshield.ready", timeout=20_000)
        page.wait_for_function(f"new Set({DRAWN}.map(d => d.track)).size >= 10", timeout=20_000)
        syms = page.evaluate(f"[...new Set({DRAWN}.map(d => d.sym))].sort()")
        assert syms == ["aircraft-neutral", "bird", "decoy", "shahed"]
        assert page.evaluate("window.airshield.overlay.sprites.shahed.width > 0")
        # The canvas really holds the symbols: pixels at a drawn track are not transparent.
        assert page.evaluate(f"(() => {{ const o = window.airshield.overlay, d = {DRAWN}[0];"
                             " return o.ctx.getImageData(d.x * o.dpr, d.y * o.dpr, 1, 1).data[3] > 0; })()")
        assert int(page.inner_text("#c-live")) == 10
        assert page.locator("#threats tbody tr").count() == 8
        assert page.inner_text("#clock-utc").startswith("21:00:")

        button = page.locator("#recs button.approve:not([disabled])").first
        button.wait_for(timeout=10_000)
        rec_id = button.get_attribute("data-rec")
        threat = next(r["threat"] for r in runner.hub.recommendations if r["id"] == rec_id)
        button.click()
        page.locator("#log li.decision", has_text=f"APPROVED {rec_id}:").wait_for(timeout=10_000)
        page.locator("#log li.defeated", has_text=f"DEFEATED {threat} ").wait_for(timeout=15_000)
        page.wait_for_function(f"!{DRAWN}.some(d => d.track === '{threat}')", timeout=10_000)
        assert track_ids(page) == 9
        assert int(page.inner_text("#c-defeated")) == 1
        page.screenshot(path=str(ARTIFACTS / "live-picture-fake.png"))
        # A click on a drawn track opens its details (hit-tested on the canvas, not a DOM element per track).
        box = page.locator("#map canvas.maplibregl-canvas").bounding_box()
        d = page.evaluate(f"{DRAWN}.find(d => d.sym === 'aircraft-neutral')")
        page.mouse.click(box["x"] + d["x"], box["y"] + d["y"])
        popup = page.locator(".maplibregl-popup")
        popup.wait_for(timeout=5_000)
        assert "T9" in popup.inner_text() and "aircraft" in popup.inner_text()
        page.locator(".maplibregl-popup-close-button").click()
        # Zoomed in, each track gets its 95 % uncertainty ellipse.
        page.evaluate("(() => { const S = window.airshield.state, r = S.tracks.get('T5');"
                      " window.airshield.map.jumpTo({center: [r[S.I.lon], r[S.I.lat]], zoom: 12}); })()")
        page.wait_for_function("window.airshield.overlay.ellipses >= 1", timeout=10_000)
        assert page.evaluate("window.airshield.errors") == [] and page.errors == []
