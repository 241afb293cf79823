"""The closed loop on a mass raid: the optimal planner against two doctrines.

    .venv/bin/python benchmarks/bench_closed_loop.py [--scenario mass-raid-800] [--duration 3600]
        [--seeds 20250907] [--planners optimal,nearest,missiles_first] [--jobs 2] [--json FILE]
        [--events DIR]

For each seed and planner: simulate, track, assess, plan, approve (approve_all),
engage and draw outcomes (``airshield.live.runner.run_chain``); print defeated
share (all threats, and the lethal ones: Shahed and jet drones), leaked, value
lost, shots, money spent, cost per defeat and wall time, then a table summed
over the seeds. Reference: Ukraine's record night of 6-7 September 2025, 747 of
810 drones and decoys downed or suppressed (92 %).

``mass-raid-800`` declares its own laydown (a defence in depth: city rings plus
fire groups and interceptor-drone teams along the approach corridors; see the
scenario file and docs/CLOSED_LOOP.md). For a scenario that declares none, this
script falls back to ``laydown()``: rings of mobile fire groups,
interceptor-drone teams, anti-aircraft guns, a short-range SAM and, for the
larger cities, a medium-range SAM around every protected asset. Kinds' figures
are the documented defaults (docs/ASSESS_ENGAGE.md). Positions are PLAUSIBLE,
NOT REAL: evenly spaced rings, nothing taken from any deployment.

CPU seconds are the process's own (``time.process_time``); wall seconds on the
shared 2-core development machine are inflated by other jobs.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

from airshield import geo
from airshield.io.jsonl import dumps_line
from airshield.live.chain import Chain
from airshield.live.runner import run_chain, table_row
from airshield.sim.scenario import load_scenario

# kind: (count per asset, ring radius as a multiple of the asset's radius + km, stock)
LAYDOWN = {
    "mobile_fire_group": (8, 1.0, 20.0, 10),
    "interceptor_drone": (4, 1.0, 10.0, 20),
    "aa_gun": (4, 1.0, 2.0, 20),
    "sam_short": (2, 0.5, 0.0, 8),
}
SAM_MEDIUM_VALUE = 80e6  # cities worth at least this also get a medium-range SAM (12 missiles)


def laydown(assets: list[dict]) -> list[dict]:
    """Effector items (scenario ``effectors:`` entries) ringed around each asset."""
    items = []
    for a in assets:
        r_km = a.get("radius_m", 0.0) / 1000.0
        for kind, (count, mult, plus_km, stock) in LAYDOWN.items():
            d = (mult * r_km + plus_km) * 1000.0
            az = (np.arange(count) * 360.0 / count + 22.5 * (kind == "interceptor_drone")) % 360.0
            lat, lon = geo.geodesic_destination(np.full(count, a["lat"]), np.full(count, a["lon"]),
                                                np.full(count, d), az)
            for k, (la, lo) in enumerate(zip(np.atleast_1d(lat), np.atleast_1d(lon))):
                items.append({"id": f"{a['name']}-{kind}-{k + 1}", "kind": kind, "lat": round(float(la), 5),
                              "lon": round(float(lo), 5), "stock": stock})
        if a.get("value", 0.0) >= SAM_MEDIUM_VALUE:
            items.append({"id": f"{a['name']}-sam_medium-1", "kind": "sam_medium", "lat": a["lat"],
                          "lon": a["lon"]})
    return items


def _one(job):
    scn, seed, planner, duration, events = job
    cpu0 = time.process_time()
    chain = Chain(scn, seed=seed, planner=planner, duration_s=duration)
    out = run_chain(chain)
    out["cpu_s"] = round(time.process_time() - cpu0, 1)
    if events:
        # the run's engagements.jsonl, for benchmarks/engagement_audit.py
        path = Path(events) / f"{planner}-{seed}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"".join(map(dumps_line, sorted(chain.events, key=lambda e: e["t"]))))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="mass-raid-800")
    ap.add_argument("--duration", type=float, default=None,
                    help="simulated seconds (default: the scenario's whole night)")
    ap.add_argument("--seeds", default=None, help="comma-separated (default: the scenario's seed)")
    ap.add_argument("--planners", default="optimal,nearest,missiles_first")
    ap.add_argument("--jobs", type=int, default=1, help="runs in parallel (processes)")
    ap.add_argument("--json", default=None, help="write every run's summary here")
    ap.add_argument("--events", default=None, help="write each run's engagement log to DIR/<planner>-<seed>.jsonl")
    args = ap.parse_args()

    scn = load_scenario(args.scenario)
    if not scn.effectors:
        scn = copy.copy(scn)
        scn.effectors = laydown(scn.assets)
        print(f"{scn.name} declares no effectors: laydown of {len(scn.effectors)} around "
              f"{len(scn.assets)} assets (plausible, not real)")
    seeds = [scn.seed] if args.seeds is None else [int(s) for s in args.seeds.split(",")]
    planners = args.planners.split(",")
    jobs = [(scn, s, p, args.duration, args.events) for s in seeds for p in planners]
    t0 = time.perf_counter()
    runs = []
    print(f"{'planner':<15}{'seed':>10}{'threats':>9}{'defeated':>10}{'share':>8}{'lethal':>9}{'leaked':>8}"
          f"{'value lost':>14}{'shots':>7}{'spent':>14}{'per defeat':>12}{'wall s':>9}{'cpu s':>8}", flush=True)
    with Pool(args.jobs) if args.jobs > 1 else _Serial() as pool:
        for r in pool.imap(_one, jobs):
            runs.append(r)
            le = r["lethal"]
            print(f"{r['planner']:<15}{r['seed']:>10}{r['threats']['total']:>9}{r['defeated']['total']:>10}"
                  f"{r['defeated_share'] or 0:>8.1%}{le['defeated']:>4}/{le['threats']:<4}"
                  f"{r['leaked']['total']:>8}{r['value_lost']:>14,.0f}{r['shots']['total']:>7}"
                  f"{r['money_spent']['total']:>14,.0f}{r['cost_per_defeat'] or 0:>12,.0f}{r['wall_s']:>9.1f}"
                  f"{r['cpu_s']:>8.1f}",
                  flush=True)
    simulated = scn.duration_s if args.duration is None else args.duration
    print(f"\nsummed over seeds {seeds}, {simulated:.0f} s simulated; reference: 747 of 810 (92 %)")
    for p in planners:
        row = table_row(p, [r for r in runs if r["planner"] == p])
        print(f"{p:<15} defeated {row['defeated']}/{row['threats']} ({row['defeated_share'] or 0:.1%}), lethal "
              f"{row['lethal_defeated']}/{row['lethal_threats']} ({row['lethal_share'] or 0:.1%}), leaked "
              f"{row['leaked']}, value lost {row['value_lost']:,.0f}, spent {row['money_spent']:,.0f}, "
              f"per defeat {row['cost_per_defeat'] or 0:,.0f}")
    print(f"wall time {time.perf_counter() - t0:.1f} s ({args.jobs} process(es))")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(runs, f, indent=1)
    return 0


class _Serial:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    @staticmethod
    def imap(f, jobs):
        return map(f, jobs)


if __name__ == "__main__":
    sys.exit(main())
