"""CPU of each part of a live step at mass-raid scale, and the garbage
collector's pauses, without a server or a browser (the parts
bench_web_latency.py sums into wall latencies).

Runs the live chain on the dense mass raid (bench_web_latency's ``--density``
copy) flat out to ``--tracks`` live tracks, then ``--steps`` steps as the live
server does them (tracker step; plan in line when due; snapshot; hub tick;
encoding), timing each part's thread CPU time, and every garbage collection
through ``gc.callbacks``. ``--idle-gc`` runs the steps under the server's
``IdleCollector`` (full collections between steps only); without it the
interpreter collects when it likes.

Usage: python benchmarks/bench_live_steps.py [--tracks 1000] [--steps 60] [--idle-gc]
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_web_latency import dense_scenario  # noqa: E402

from airshield.alloc import keep_freed_memory  # noqa: E402
from airshield.live.chain import Chain, closed_loop_tracker  # noqa: E402
from airshield.live.planning import solve  # noqa: E402
from airshield.web.gcidle import IdleCollector  # noqa: E402
from airshield.web.hub import Hub, encode  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="mass-raid-800")
    ap.add_argument("--density", type=float, default=8.0)
    ap.add_argument("--tracks", type=int, default=1000)
    ap.add_argument("--max-sim-s", type=float, default=3000.0)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--seed", type=int, default=20250907)
    ap.add_argument("--idle-gc", action="store_true", help="the live server's IdleCollector")
    ap.add_argument("--reorder-s", type=float, default=0.0, help="the tracker's reorder window (the demo's: 0)")
    args = ap.parse_args()
    keep_freed_memory()
    pauses: list[tuple[int, float]] = []
    start = [0.0]

    def on_gc(phase, info):
        if phase == "start":
            start[0] = time.thread_time()
        else:
            pauses.append((info["generation"], time.thread_time() - start[0]))

    with tempfile.TemporaryDirectory() as tmp:
        scn = dense_scenario(args.scenario, args.density, Path(tmp) / "dense.yaml")
        chain = Chain(str(scn), seed=args.seed, policy="manual",
                      tracker_config=closed_loop_tracker(reorder_s=args.reorder_s))
    hub = Hub(chain.static_layers())
    w0 = time.time()
    while len(chain.picture) < args.tracks and chain.t < args.max_sim_s:
        chain.track_step()
    print(f"warm-up to t={chain.t:.0f}s, {len(chain.picture)} live tracks, {time.time() - w0:.0f} s wall")
    gc.callbacks.append(on_gc)
    idle = IdleCollector() if args.idle_gc else None
    pauses.clear()
    parts: dict[str, list[float]] = {"track": [], "snapshot": [], "hub": [], "encode": []}
    try:
        for _ in range(args.steps):
            if idle is not None:
                idle.idle()
            c0 = time.thread_time()
            chain.track_step()
            c1 = time.thread_time()
            if chain.plan_due:  # in line here: the server runs it in its planner process
                job = chain.plan_begin()
                if job is not None:
                    chain.plan_end(job, solve(job.planner, job.inp))
            c2 = time.thread_time()
            snap = chain.snapshot()
            c3 = time.thread_time()
            msg = hub.ingest(snap, (0.0, 0.0), None)
            c4 = time.thread_time()
            encode(msg)
            c5 = time.thread_time()
            for k, v in zip(parts, (c1 - c0, c3 - c2, c4 - c3, c5 - c4)):
                parts[k].append(v * 1000.0)
    finally:
        if idle is not None:
            idle.close()
        gc.callbacks.remove(on_gc)
    print(f"{args.steps} steps, {len(chain.picture)} live tracks at the end, "
          f"garbage collection: {'idle (between steps)' if idle else 'automatic'}")
    for k, v in parts.items():
        a = np.array(v)
        print(f"  {k:9s} CPU p50 {np.percentile(a, 50):6.1f}  p99 {np.percentile(a, 99):6.1f}  "
              f"max {a.max():6.1f} ms")
    for g in (0, 1, 2):
        p = np.array([d for gen, d in pauses if gen == g]) * 1000.0
        if p.size:
            print(f"  gen {g} collections {p.size:5d}  CPU max {p.max():6.1f} ms  total {p.sum():7.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
