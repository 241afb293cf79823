"""Simulation throughput: the ``mass-raid-800`` scenario (810 drones, a
10,000-microphone acoustic network, radars, crowd reports) for one simulated
hour, written to disk.

Prints wall time, peak RSS and lines written. Target on the 2-core reference
machine: <= 60 s wall, < 4 GiB.

    .venv/bin/python benchmarks/bench_simulate.py [--duration 3600] [--scenario mass-raid-800] [--out DIR]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from airshield.sim.engine import simulate_to_dir
from airshield.sim.scenario import load_scenario


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="mass-raid-800")
    ap.add_argument("--duration", type=float, default=3600.0, help="simulated seconds")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None, help="run directory (default: a temporary one, removed)")
    args = ap.parse_args()

    scn = load_scenario(args.scenario)
    acoustic = [s for s in scn.sensors if s.get("generate") == "acoustic_network"]
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_sim_"))
    t0 = time.perf_counter()
    try:
        summary = simulate_to_dir(args.scenario, out, seed=args.seed, duration_s=args.duration, progress=False)
        wall = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in out.iterdir())
    finally:
        if args.out is None:
            shutil.rmtree(out, ignore_errors=True)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    rss = ru.ru_maxrss * 1024  # kB on Linux
    cpu = ru.ru_utime + ru.ru_stime
    lines = summary["truth"] + summary["detections"]
    print(f"scenario            {args.scenario} (acoustic generators: "
          f"{', '.join(str(a.get('count', a.get('density_per_km2'))) for a in acoustic) or 'none'})")
    print(f"simulated           {args.duration:.0f} s")
    print(f"objects launched    {summary['objects']}")
    print(f"sensors             {summary['sensors']}")
    print(f"truth lines         {summary['truth']:,}")
    print(f"detection lines     {summary['detections']:,}")
    print(f"lines written       {lines:,} ({size / 2**20:.0f} MiB)")
    print(f"wall time           {wall:.1f} s ({lines / wall:,.0f} lines/s)")
    print(f"CPU time            {cpu:.1f} s (the whole process, imports included)")
    print(f"peak RSS            {rss / 2**30:.2f} GiB")
    ok = wall <= 60.0 and rss < 4 * 2**30
    print(f"target (<= 60 s, < 4 GiB): {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
