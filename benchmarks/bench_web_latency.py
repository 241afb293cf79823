"""Live picture latency at mass-raid scale: from a report entering the tracker to
its track reaching the browser, the server's CPU share and the page's frame rate.

Starts ``airshield demo`` as its own process on a free loopback port (recording
its event log and with manual approvals, as the demo does by default), runs it
flat out to about ``--tracks`` live tracks, then at ``--speed`` (real time by
default) opens the page in headless Chromium (Debian's ``/usr/bin/chromium``
driven by Playwright, as tests/test_browser.py does) and a plain WebSocket
client for ``--seconds``, and times every step:

- report -> page: the page's receipt time of a step message (``onmessage``,
  stamped in the page with ``performance.timeOrigin + performance.now()``)
  minus the wall time the reports this step used entered the tracker (the chain
  stamps it; the server puts it in the message). With a reorder window of r
  seconds a report waits ceil(r / dt) steps before the tracker uses it, and the
  stamp is that earlier step's (session 4; before, it was the step's own, which
  left out the one-step hold of the 1 s window). Same machine, same clock.
- report -> page applied: the same, after the page has applied the message.
- report -> WebSocket client: the same at a plain Python client.
- of which the tracker step (the tracker alone, ``Tracker.step``), and the
  server after the tracker (hub, encoding, sending).
- the plan (assessment in the server, weapon-target solve in the planner
  process): wall time per stage; it no longer delays the picture.
- server CPU: the server process's (and its planner process's) user+system CPU
  seconds per wall second (1.0 = one core busy), over the window, from /proc.
- frame rate: animation frames the page painted per second with the tracks on
  the map (Chromium's software WebGL: ``--disable-gpu``), and the cost of one
  redraw of the track layers (the page redraws them 5 times a second).

mass-raid-800 itself peaks at about 260 live tracks in the live chain (its 810
drones come in waves over six hours), so by default the benchmark runs a
denser copy: ``--density 8`` multiplies every raid wave's count by 8 and divides
its start and spacing by 8 (6,480 drones launched over the same routes, against
the same sensors, assets and effectors), which passes 1,000 live tracks at about
t = 1,850 s. The warm-up runs flat out with planning off (``--warm-plan`` keeps
it on); planning resumes for the measured window, with manual approvals (the
demo's default: recommendations stay open, nothing is fired).

Usage: python benchmarks/bench_web_latency.py [--scenario mass-raid-800] [--density 8]
       [--tracks 1000] [--seconds 60] [--speed 1] [--max-sim-s 4000] [--no-browser] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from importlib import resources
from pathlib import Path

import numpy as np
import websockets
import yaml

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# Runs in the server process. Benchmark-only: no planning during the warm-up
# to the busy part of the night, until the benchmark creates the flag file.
BOOTSTRAP = """
import os, sys
from airshield.live.chain import Chain
flag = os.environ.get("AIRSHIELD_BENCH_PLAN_FLAG")
if flag:
    due = Chain.plan_due.fget
    Chain.plan_due = property(lambda self: due(self) and os.path.exists(flag))
from airshield.cli import main
sys.argv = ["airshield"] + sys.argv[1:]
main()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=60) as r:
        return json.loads(r.read())


def post(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out + [g for c in out for g in children(c)]


def dense_scenario(name: str, k: float, out: Path) -> Path:
    """``name`` with every raid wave ``k`` times as dense: count x k, start and spacing / k."""
    p = Path(name)
    text = p.read_text() if p.is_file() else (resources.files("airshield") / "scenarios" / f"{name}.yaml").read_text()
    doc = yaml.safe_load(text)
    if k != 1:
        for r in doc.get("raids") or []:
            r["count"] = int(round(r["count"] * k))
            r["spacing_s"] = float(r.get("spacing_s", 0)) / k
            r["start"] = float(r.get("start", 0)) / k
        doc["name"] = f"{doc['name']}-x{k:g}"
    out.write_text(yaml.safe_dump(doc, sort_keys=False))
    return out


async def ws_client(base: str, seconds: float, start: asyncio.Event) -> dict:
    """A plain WebSocket client: receipt times, stage times, message sizes,
    recorded over the same window as the page (from ``start``: Chromium's own
    start-up and first paint would otherwise starve this process too)."""
    m = {k: [] for k in ("report", "track", "track_cpu", "server_after", "publish_cpu", "sense", "bytes", "tracks",
                         "assess", "assess_cpu", "solve_cpu", "plan_lag")}
    async with websockets.connect(base.replace("http", "ws") + "ws", max_size=1 << 26) as ws:
        give_up = time.time() + 180.0
        while not start.is_set() and time.time() < give_up:  # keep up with the stream until the window opens
            try:
                await asyncio.wait_for(ws.recv(), timeout=0.5)
            except asyncio.TimeoutError:
                pass
        t_end = time.time() + seconds
        while time.time() < t_end:
            try:
                text = await asyncio.wait_for(ws.recv(), timeout=max(0.1, t_end - time.time()))
            except asyncio.TimeoutError:
                break
            now = time.time()
            msg = json.loads(text)
            st = msg.get("stages_ms") or {}
            if msg.get("type") == "tick" and "wall_track" in msg:
                w_in, w_out = msg["wall_track"]
                m["report"].append(now - w_in)
                m["track"].append(w_out - w_in)
                m["track_cpu"].append(st.get("track_cpu", np.nan) / 1000.0)
                m["publish_cpu"].append(msg.get("publish_cpu_ms", np.nan) / 1000.0)
                m["server_after"].append(msg["wall_sent"] - w_out)
                m["sense"].append(st.get("sense", np.nan) / 1000.0)
                m["bytes"].append(len(text))
                m["tracks"].append(msg["counters"].get("live_tracks", 0))
            elif msg.get("type") == "plan" and st:
                for k in ("assess", "assess_cpu", "solve_cpu"):
                    m[k].append(st.get(k, np.nan) / 1000.0)
                m["plan_lag"].append(msg["t"] - msg["plan_t"])
    return {k: np.array(v, float) for k, v in m.items()}


async def browser(base: str, seconds: float, start: asyncio.Event) -> dict:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=60_000)
        page = await b.new_page(viewport={"width": 1600, "height": 900})
        await page.goto(base)
        await page.wait_for_function("window.airshield && window.airshield.ready", timeout=60_000)
        await page.wait_for_function("window.airshield.state.tracks.size > 0", timeout=60_000)
        # the first full picture and its layers: the map idle (style, sources and
        # sprites loaded), then a few seconds of the live stream
        await page.wait_for_function("window.airshield.map && window.airshield.map.loaded()", timeout=60_000)
        await asyncio.sleep(3.0)
        await page.evaluate("() => { const a = window.airshield; a.latency.length = 0; a.frames.length = 0;"
                            " a.frameMs.length = 0; a.frameMsAll = []; const f = a.frameMs;"
                            " const push = f.push.bind(f); f.push = (x) => { a.frameMsAll.push(x); return push(x); }; }")
        start.set()
        await asyncio.sleep(seconds)
        got = await page.evaluate("() => { const a = window.airshield; return {latency: a.latency, "
                                  "frames: a.frames, draw: a.frameMsAll, tracks: a.state.tracks.size, "
                                  "errors: a.errors}; }")
        await page.screenshot(path=str(ROOT / "test-artifacts" / "bench-live-picture.png"))
        await b.close()
    lat = np.array(got["latency"], float).reshape(-1, 5)  # t, tracker in, sent, received, applied (ms)
    frames = np.array(got["frames"], float)
    return {"receive": (lat[:, 3] - lat[:, 1]) / 1000.0, "applied": (lat[:, 4] - lat[:, 1]) / 1000.0,
            "frames": frames, "draw_ms": np.array(got["draw"], float), "tracks": got["tracks"],
            "errors": got["errors"]}


async def measure(base: str, seconds: float, with_browser: bool) -> tuple[dict, dict | None]:
    start = asyncio.Event()
    tasks = [ws_client(base, seconds, start)]
    if with_browser:
        tasks.append(browser(base, seconds, start))
    else:
        start.set()
    res = await asyncio.gather(*tasks)
    return res[0], (res[1] if with_browser else None)


def pct(a: np.ndarray, q: float, scale: float = 1000.0) -> float:
    a = a[np.isfinite(a)]
    return float(np.percentile(a, q) * scale) if a.size else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenario", default="mass-raid-800")
    ap.add_argument("--density", type=float, default=8.0, help="raid waves this many times as dense (1: as is)")
    ap.add_argument("--tracks", type=int, default=1000, help="live tracks to reach before measuring")
    ap.add_argument("--seconds", type=float, default=60.0, help="wall seconds to measure")
    ap.add_argument("--speed", type=float, default=1.0, help="speed while measuring (1 = real time)")
    ap.add_argument("--max-sim-s", type=float, default=4000.0,
                    help="measure from this scenario time even if --tracks was not reached")
    ap.add_argument("--warm-plan", action="store_true", help="plan during the warm-up too (slow)")
    ap.add_argument("--no-browser", action="store_true", help="only the plain WebSocket client")
    ap.add_argument("--reorder-s", type=float, default=0.0,
                    help="the tracker's reorder window (the demo's default 0; the stamps count the hold)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    tmp = Path(tempfile.mkdtemp(prefix="bench-web-"))
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    scn = dense_scenario(args.scenario, args.density, tmp / "scenario.yaml")
    cmd = [sys.executable, "-c", BOOTSTRAP, "demo", str(scn), "--port", str(port), "--speed", "1000",
           "--record", str(tmp / "run.sqlite"), "--reorder-s", str(args.reorder_s)]
    env = dict(os.environ)
    flag = tmp / "plan"
    if not args.warm_plan:
        env["AIRSHIELD_BENCH_PLAN_FLAG"] = str(flag)
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.time() + 120
        while True:
            try:
                get(base + "api/health")
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    print(proc.stderr.read() if proc.stderr else "", file=sys.stderr)
                    raise SystemExit("the demo server did not start")
                time.sleep(0.2)
        t0 = time.time()
        warm_c0 = cpu_seconds(proc.pid)
        while True:  # flat out to the busy part of the night
            h = get(base + "api/health")
            if h["finished"]:
                raise SystemExit(f"the scenario ended at t={h['t']:.0f}s with {h['live_tracks']} live tracks "
                                 f"before reaching {args.tracks}: lower --tracks or raise --density")
            if h["live_tracks"] >= args.tracks or h["t"] >= args.max_sim_s:
                break
            time.sleep(1.0)
        warm, warm_cpu = time.time() - t0, cpu_seconds(proc.pid) - warm_c0
        post(base + "api/control", {"speed": args.speed})
        flag.write_text(str(h["t"]))  # planning on
        time.sleep(3.0)  # let the step in flight finish at the old pace; planning starts
        pids = [proc.pid] + children(proc.pid)
        c0, w0 = [cpu_seconds(p) for p in pids], time.time()
        ws, br = asyncio.run(measure(base, args.seconds, not args.no_browser))
        wall = time.time() - w0
        cpu = [(cpu_seconds(p) - c) / wall for p, c in zip(pids, c0)]
        h_end = get(base + "api/health")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    if ws["report"].size == 0:
        raise SystemExit("no step messages received")
    out = {"reorder_s": args.reorder_s,
        "scenario": f"{args.scenario} x{args.density:g}", "sim_t_start": h["t"], "sim_t_end": h_end["t"],
        "warmup_wall_s": round(warm, 1), "warmup_cpu_s": round(warm_cpu, 1),
        "live_tracks_mean": float(ws["tracks"].mean()), "live_tracks_min": int(ws["tracks"].min()),
        "live_tracks_max": int(ws["tracks"].max()), "steps": int(ws["report"].size), "speed": args.speed,
        "ws_report_to_client_ms_p50": pct(ws["report"], 50), "ws_report_to_client_ms_p99": pct(ws["report"], 99),
        "tracker_ms_p50": pct(ws["track"], 50), "tracker_ms_p99": pct(ws["track"], 99),
        "tracker_cpu_ms_p50": pct(ws["track_cpu"], 50), "tracker_cpu_ms_p99": pct(ws["track_cpu"], 99),
        "publish_cpu_ms_p50": pct(ws["publish_cpu"], 50), "publish_cpu_ms_p99": pct(ws["publish_cpu"], 99),
        "server_after_tracker_ms_p50": pct(ws["server_after"], 50),
        "server_after_tracker_ms_p99": pct(ws["server_after"], 99),
        "sense_ms_p50": pct(ws["sense"], 50),
        "plans": int(ws["assess"].size), "assess_ms_p50": pct(ws["assess"], 50),
        "assess_cpu_ms_p50": pct(ws["assess_cpu"], 50),
        "solve_cpu_ms_p50": pct(ws["solve_cpu"], 50), "plan_lag_s_p50": pct(ws["plan_lag"], 50, 1.0),
        "message_kb_mean": float(ws["bytes"].mean() / 1024),
        "server_cpu_share": round(cpu[0], 3), "planner_cpu_share": round(sum(cpu[1:]), 3),
        "cores": os.cpu_count(), "load_avg": round(os.getloadavg()[0], 2),
    }
    if br is not None:
        fr = br["frames"]
        dt = np.diff(fr) if fr.size > 1 else np.array([np.nan])
        out.update({
            "browser_tracks": br["tracks"], "browser_steps": int(br["receive"].size),
            "report_to_browser_ms_p50": pct(br["receive"], 50), "report_to_browser_ms_p99": pct(br["receive"], 99),
            "report_to_page_applied_ms_p50": pct(br["applied"], 50),
            "report_to_page_applied_ms_p99": pct(br["applied"], 99),
            "fps": float((fr.size - 1) / ((fr[-1] - fr[0]) / 1000.0)) if fr.size > 1 else float("nan"),
            "frame_interval_ms_p99": pct(dt, 99, 1.0), "redraw_ms_p50": pct(br["draw_ms"], 50, 1.0),
            "redraw_ms_p99": pct(br["draw_ms"], 99, 1.0), "page_errors": br["errors"][:5],
        })
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"live picture latency, {out['scenario']} from t={h['t']:.0f}s to {h_end['t']:.0f}s "
          f"({out['live_tracks_mean']:.0f} live tracks on average, {out['live_tracks_min']}-"
          f"{out['live_tracks_max']}), {out['steps']} steps at {args.speed:g}x, {args.seconds:g} s, "
          f"reorder window {args.reorder_s:g} s")
    if br is not None:
        print(f"  report -> browser (received)  p50 {out['report_to_browser_ms_p50']:7.1f} ms   "
              f"p99 {out['report_to_browser_ms_p99']:7.1f} ms   (goal p99 < 250 ms; {out['browser_steps']} steps)")
        rec = br["receive"] * 1000.0
        worst = np.argsort(rec)[::-1][:3]
        print("    slowest steps: " + ", ".join(f"{rec[k]:.0f} ms (step {k + 1} of {rec.size})" for k in worst))
        print(f"  report -> browser (applied)   p50 {out['report_to_page_applied_ms_p50']:7.1f} ms   "
              f"p99 {out['report_to_page_applied_ms_p99']:7.1f} ms")
    print(f"  report -> WebSocket client    p50 {out['ws_report_to_client_ms_p50']:7.1f} ms   "
          f"p99 {out['ws_report_to_client_ms_p99']:7.1f} ms")
    print(f"    of which the tracker step   p50 {out['tracker_ms_p50']:7.1f} ms   p99 {out['tracker_ms_p99']:7.1f} ms   "
          f"(CPU p50 {out['tracker_cpu_ms_p50']:.1f}, p99 {out['tracker_cpu_ms_p99']:.1f} ms)")
    print(f"    of which the server after   p50 {out['server_after_tracker_ms_p50']:7.1f} ms   "
          f"p99 {out['server_after_tracker_ms_p99']:7.1f} ms   (snapshot, hub; CPU p50 "
          f"{out['publish_cpu_ms_p50']:.1f}, p99 {out['publish_cpu_ms_p99']:.1f} ms)")
    print(f"  off the picture's path: {out['plans']} plans, assessment p50 {out['assess_ms_p50']:.0f} ms "
          f"({out['assess_cpu_ms_p50']:.0f} ms CPU), "
          f"solve p50 {out['solve_cpu_ms_p50']:.0f} ms CPU (planner process), plan applied "
          f"{out['plan_lag_s_p50']:.1f} scenario s after its picture")
    print(f"  server CPU {100 * out['server_cpu_share']:.0f}% of one core, planner process "
          f"{100 * out['planner_cpu_share']:.0f}% ({os.cpu_count()} cores, load average {out['load_avg']:.1f}); "
          f"message {out['message_kb_mean']:.0f} KiB per step")
    if br is not None:
        print(f"  page: {out['fps']:.1f} frames/s (p99 frame interval {out['frame_interval_ms_p99']:.0f} ms), "
              f"track-layer redraw p50 {out['redraw_ms_p50']:.1f} ms p99 {out['redraw_ms_p99']:.1f} ms, "
              f"{out['browser_tracks']} tracks on the page; errors: {out['page_errors'] or 'none'}")
    print(f"  (warm-up to the busy part: {warm:.0f} s wall, {warm_cpu:.0f} s server CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
