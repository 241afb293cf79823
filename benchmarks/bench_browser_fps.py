"""The page at 1,000 tracks: frame rate, main-thread load and step latency in a
real browser, with the server's chain replaced by a cheap synthetic picture so
the figures are the page's own.

Serves ``--tracks`` drones (the tests' deterministic fake chain: attack drones
flying at one city, plus an airliner and a bird) at one step per second, opens
the page in Debian's headless Chromium (Playwright, ``--disable-gpu``: software
WebGL, the worst case) and measures for ``--seconds``:

- frames/s: animation frames the page painted (``requestAnimationFrame``);
- main thread busy: Chromium's own TaskDuration per wall second (CDP
  ``Performance.getMetrics``), and how it splits into script, layout and style;
- server sent -> page received / applied, per step message (same machine clock).

Usage: python benchmarks/bench_browser_fps.py [--tracks 1000] [--seconds 30] [--zoom Z] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np
import uvicorn
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from test_web_fakechain import FakeChain  # noqa: E402

from airshield.web.app import create_app  # noqa: E402
from airshield.web.hub import Hub  # noqa: E402
from airshield.web.runner import Runner  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class StampedFake(FakeChain):
    """The fake chain, stamping when its picture was made (as the real chain
    stamps its tracker step), so the page can time each step."""

    def step(self, dt=None):
        w0 = time.time()
        snap = super().step(dt)
        self.wall_track = (w0, time.time())
        return snap


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tracks", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--zoom", type=float, default=None, help="map zoom (default: the page's fit to the picture)")
    ap.add_argument("--hide", default="", help="comma-separated map layers to hide (to find what costs)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    chain = StampedFake(n_hostile=max(args.tracks - 2, 1), duration_s=None)
    chain.recommend_in_step = False  # a thousand open recommendations is not what this measures
    runner = Runner(chain, Hub(chain.static_layers(), meta={"scenario": f"synthetic-{args.tracks}",
                                                            "epoch": "2025-09-06T21:00:00Z"}), speed=1.0)
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(runner), host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    while not srv.started:
        time.sleep(0.05)
    try:
        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=60_000)
            page = b.new_page(viewport={"width": 1600, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_function("window.airshield && window.airshield.ready", timeout=60_000)
            page.wait_for_function(f"window.airshield.state.tracks.size >= {args.tracks}", timeout=60_000)
            if args.zoom is not None:
                page.evaluate(f"window.airshield.map.setZoom({args.zoom})")
            for layer in filter(None, args.hide.split(",")):
                page.evaluate(f"window.airshield.map.setLayoutProperty({layer!r}, 'visibility', 'none')")
            time.sleep(3.0)
            cdp = page.context.new_cdp_session(page)
            cdp.send("Performance.enable")
            page.evaluate("() => { const a = window.airshield; a.latency.length = 0; a.frames.length = 0;"
                          " a.renders = 0; a.map.on('render', () => { a.renders++; }); }")
            m0, w0 = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}, time.time()
            time.sleep(args.seconds)
            m1, wall = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}, time.time() - w0
            got = page.evaluate("() => { const a = window.airshield; return {latency: a.latency, frames: a.frames,"
                                " tracks: a.state.tracks.size, zoom: a.map.getZoom(), errors: a.errors, renders: a.renders}; }")
            (ROOT / "test-artifacts").mkdir(exist_ok=True)
            page.screenshot(path=str(ROOT / "test-artifacts" / f"bench-fps-{args.tracks}.png"))
            b.close()
    finally:
        srv.should_exit = True
        th.join(10)
    lat = np.array(got["latency"], float).reshape(-1, 5)
    fr = np.array(got["frames"], float)
    busy = {k: (m1.get(k, 0.0) - m0.get(k, 0.0)) / wall for k in
            ("TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration")}
    out = {"tracks": got["tracks"], "zoom": round(got["zoom"], 2), "seconds": args.seconds,
           "fps": float((fr.size - 1) / ((fr[-1] - fr[0]) / 1000.0)) if fr.size > 1 else 0.0,
           "frame_interval_ms_p99": float(np.percentile(np.diff(fr), 99)) if fr.size > 2 else float("nan"),
           "main_thread_busy": round(busy["TaskDuration"], 3), "script_share": round(busy["ScriptDuration"], 3),
           "layout_share": round(busy["LayoutDuration"], 3), "style_share": round(busy["RecalcStyleDuration"], 3),
           "steps": int(lat.shape[0]), "map_renders_per_s": round(got["renders"] / wall, 2),
           "sent_to_received_ms_p50": float(np.percentile(lat[:, 3] - lat[:, 2], 50)) if lat.size else None,
           "sent_to_received_ms_p99": float(np.percentile(lat[:, 3] - lat[:, 2], 99)) if lat.size else None,
           "sent_to_applied_ms_p99": float(np.percentile(lat[:, 4] - lat[:, 2], 99)) if lat.size else None,
           "errors": got["errors"][:5]}
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"page with {out['tracks']} tracks at zoom {out['zoom']} for {args.seconds:g} s (headless Chromium, "
          f"software WebGL): {out['fps']:.1f} frames/s, p99 frame interval {out['frame_interval_ms_p99']:.0f} ms")
    print(f"  main thread busy {100 * out['main_thread_busy']:.0f}% (script {100 * out['script_share']:.0f}%, "
          f"layout {100 * out['layout_share']:.0f}%, style {100 * out['style_share']:.0f}%); the map rendered "
          f"{out['map_renders_per_s']:.1f} times a second")
    if lat.size:
        print(f"  server sent -> page received p50 {out['sent_to_received_ms_p50']:.1f} ms, p99 "
              f"{out['sent_to_received_ms_p99']:.1f} ms; -> applied p99 {out['sent_to_applied_ms_p99']:.1f} ms "
              f"({out['steps']} steps); errors: {out['errors'] or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
