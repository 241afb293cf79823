"""Live picture latency at mass-raid scale: from a report entering the tracker to
its track reaching a WebSocket client, and the server's CPU share.

Starts ``airshield demo SCENARIO`` as its own process on a free loopback port
(recording its event log, as the demo does by default), runs it flat out until
about ``--tracks`` tracks are live, then at ``--speed`` (real time by default)
connects a WebSocket client for ``--seconds`` and times every step message:

- report -> client: client receive time minus the wall time the step's reports
  entered the tracker (``Tracker.step`` is wrapped, in the benchmark's server
  process only, to note that time; the hub copies it into the step's message).
  It covers tracking, threat assessment, planning, the hub and the socket.
- step -> client: the same from the start of the step (adds simulating the
  truth and the sensors, which a real feed would not have).
- step: how long the chain took (sim, sensors, tracker, assessment, planning).
- delivery: client receive time minus the step's end (hub, encoding, socket).
- server CPU: the server process's user+system CPU seconds per wall second
  (1.0 = one core busy), over the measuring window, from /proc.

In the live chain raid-1000 peaks at about 700 drones tracked at once (the rest
are not yet confirmed or already down), hence the default ``--tracks 700``.

Usage: python benchmarks/bench_web_latency.py [--scenario raid-1000] [--tracks 700]
       [--seconds 60] [--speed 1] [--max-sim-s 1000] [--duration S] [--json]
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
from pathlib import Path

import numpy as np
import websockets

ROOT = Path(__file__).resolve().parent.parent

# Runs in the server process: notes when each step's reports enter the tracker
# and puts that time in the step's WebSocket message. Benchmark-only wrapping.
BOOTSTRAP = """
import sys, time
import airshield.track.tracker as tracker
import airshield.web.hub as hub
entered = [None]
_step = tracker.Tracker.step
def step(self, *a, **k):
    entered[0] = time.time()
    return _step(self, *a, **k)
tracker.Tracker.step = step
_ingest = hub.Hub.ingest
def ingest(self, snap, wall=None, events=None):
    msg = _ingest(self, snap, wall, events)
    if wall is not None and entered[0] is not None:
        msg["wall_tracker"] = entered[0]
    return msg
hub.Hub.ingest = ingest
from airshield.cli import main
sys.argv = ["airshield"] + sys.argv[1:]
main()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())


def post(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


async def measure(base: str, seconds: float) -> dict:
    lat_report, lat_step, lat_deliver, steps, sizes, ntracks = [], [], [], [], [], []
    async with websockets.connect(base.replace("http", "ws") + "ws", max_size=1 << 26) as ws:
        t_end = time.time() + seconds
        while time.time() < t_end:
            try:
                text = await asyncio.wait_for(ws.recv(), timeout=max(0.1, t_end - time.time()))
            except asyncio.TimeoutError:
                break
            now = time.time()
            msg = json.loads(text)
            if msg.get("type") != "tick" or "wall_tracker" not in msg:
                continue
            w0, w1 = msg["wall"]
            lat_report.append(now - msg["wall_tracker"])
            lat_step.append(now - w0)
            lat_deliver.append(now - w1)
            steps.append(w1 - w0)
            sizes.append(len(text))
            ntracks.append(msg["counters"].get("live_tracks", 0))
    return {"report": np.array(lat_report), "from_step": np.array(lat_step), "deliver": np.array(lat_deliver),
            "step": np.array(steps),
            "bytes": np.array(sizes), "tracks": np.array(ntracks)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenario", default="raid-1000")
    ap.add_argument("--tracks", type=int, default=700, help="live tracks to reach before measuring")
    ap.add_argument("--seconds", type=float, default=60.0, help="wall seconds to measure")
    ap.add_argument("--speed", type=float, default=1.0, help="speed while measuring (1 = real time)")
    ap.add_argument("--max-sim-s", type=float, default=1000.0,
                    help="measure from this scenario time even if --tracks was not reached")
    ap.add_argument("--duration", type=float, default=None, help="override the scenario's duration_s")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    tmp = tempfile.mkdtemp(prefix="bench-web-")
    cmd = [sys.executable, "-c", BOOTSTRAP, "demo", args.scenario, "--port", str(port),
           "--speed", "1000", "--record", os.path.join(tmp, "run.sqlite")]
    if args.duration is not None:
        cmd += ["--duration", str(args.duration)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
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
        while True:  # flat out to the busy part of the night
            h = get(base + "api/health")
            if h["finished"]:
                raise SystemExit(f"the scenario ended at t={h['t']:.0f}s with {h['live_tracks']} live tracks "
                                 f"before reaching {args.tracks}: lower --tracks or --max-sim-s, or raise --duration")
            if h["live_tracks"] >= args.tracks or h["t"] >= args.max_sim_s:
                break
            time.sleep(1.0)
        warm = time.time() - t0
        post(base + "api/control", {"speed": args.speed})
        time.sleep(2.0)  # let the step in flight finish at the old pace
        c0, w0 = cpu_seconds(proc.pid), time.time()
        m = asyncio.run(measure(base, args.seconds))
        cpu = (cpu_seconds(proc.pid) - c0) / (time.time() - w0)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    if m["report"].size == 0:
        raise SystemExit("no step messages received")
    ms = lambda a, q: float(np.percentile(a, q) * 1000.0)  # noqa: E731
    out = {
        "scenario": args.scenario, "sim_t_start": h["t"], "warmup_wall_s": round(warm, 1),
        "live_tracks_mean": float(m["tracks"].mean()), "live_tracks_max": int(m["tracks"].max()),
        "steps": int(m["report"].size), "speed": args.speed,
        "report_to_client_ms_p50": ms(m["report"], 50), "report_to_client_ms_p99": ms(m["report"], 99),
        "step_start_to_client_ms_p50": ms(m["from_step"], 50), "step_start_to_client_ms_p99": ms(m["from_step"], 99),
        "step_ms_p50": ms(m["step"], 50), "step_ms_p99": ms(m["step"], 99),
        "delivery_ms_p50": ms(m["deliver"], 50), "delivery_ms_p99": ms(m["deliver"], 99),
        "message_kb_mean": float(m["bytes"].mean() / 1024), "server_cpu_share": round(cpu, 3),
        "cores": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(f"live picture latency, {args.scenario} at t={h['t']:.0f}s "
              f"({out['live_tracks_mean']:.0f} live tracks on average, max {out['live_tracks_max']}), "
              f"{out['steps']} steps at {args.speed:g}x")
        print(f"  report -> WebSocket client  p50 {out['report_to_client_ms_p50']:7.1f} ms   "
              f"p99 {out['report_to_client_ms_p99']:7.1f} ms   (goal p99 < 250 ms)")
        print(f"  step start -> client        p50 {out['step_start_to_client_ms_p50']:7.1f} ms   "
              f"p99 {out['step_start_to_client_ms_p99']:7.1f} ms   (adds simulating truth and sensors)")
        print(f"    of which the chain step   p50 {out['step_ms_p50']:7.1f} ms   p99 {out['step_ms_p99']:7.1f} ms")
        print(f"    of which hub + socket     p50 {out['delivery_ms_p50']:7.1f} ms   "
              f"p99 {out['delivery_ms_p99']:7.1f} ms")
        print(f"  message size {out['message_kb_mean']:.0f} KiB per step; server CPU "
              f"{100 * cpu:.0f}% of one core ({100 * cpu / (os.cpu_count() or 1):.0f}% of the machine)")
        load = os.getloadavg()[0]
        print(f"  (warm-up to the busy part took {warm:.0f} s of wall time; load average {load:.1f} "
              f"on {os.cpu_count()} cores while measuring)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
