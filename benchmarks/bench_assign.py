"""Benchmark the static weapon-target assignment solvers.

    .venv/bin/python benchmarks/bench_assign.py            # realistic raids + dense sweep
    .venv/bin/python benchmarks/bench_assign.py --reference  # also the exact optimum of 1000x500

Realistic raids (airshield.engage.wta_gen.layered_defence): defended sites with
rings of guns, interceptor drones and SAMs, drones inbound 0-15 km out, pk
falling with range, so pk is sparse. Dense random pk (every effector reaches
every threat, wta_gen.dense_random) is the hard, unrealistic case: exact on
80 x 80 seeds 0..seeds-1, then a size sweep.

    .venv/bin/python benchmarks/bench_assign.py --only dense   # just the dense 80 x 80 table

Prints per instance: wall time, CPU time of this process (the honest figure
on a shared machine), objective, proven bound, relative gap.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from airshield.engage.wta import solve
from airshield.engage.wta_gen import dense_random, layered_defence
from airshield.engage.wta_pairs import useful_pairs


def run(label: str, inst, method: str, time_limit: float | None, reference: float | None = None):
    t, c = time.perf_counter(), time.process_time()
    plan = solve(inst, time_limit=time_limit, method=method)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    pairs = useful_pairs(inst)
    ref = "" if reference is None else f"  vs optimum {plan.objective / reference - 1:+.4%}"
    print(f"{label:<34} {method:<5} pairs {pairs.n:>5}  wall {wall:6.3f} s  cpu {cpu:6.3f} s  "
          f"obj {plan.objective:14.2f}  "
          f"bound {plan.bound:14.2f}  gap {plan.gap:.2e}  {'optimal' if plan.optimal else ''}{ref}",
          flush=True)
    return plan, cpu


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--reference", action="store_true",
                    help="solve 1000x500 exactly too (about 10 s each) to show the fast plan's true gap")
    ap.add_argument("--no-dense", action="store_true")
    ap.add_argument("--only", choices=("dense", "realistic", "hard"), default=None,
                    help="dense: dense 80x80 exact only; hard: where exact still stops (slow)")
    args = ap.parse_args(argv)

    # warm up imports and HiGHS once so the first timing is not a cold start
    solve(layered_defence(np.random.default_rng(99), 20, 20), method="exact")

    if args.only != "realistic" and not args.no_dense:
        print("== exact, dense random pk 80 threats x 80 effectors (every effector reaches every threat) ==")
        cpus, gaps = [], []
        for s in range(args.seeds):
            p, w = run(f"dense_random 80x80 seed {s}", dense_random(np.random.default_rng(s), 80, 80),
                       "exact", 60.0)
            cpus.append(w)
            gaps.append(p.gap)
        print(f"   max cpu {max(cpus):.3f} s, max gap {max(gaps):.1e}")
    if args.only == "dense":
        return 0
    if args.only == "hard":
        hard(args.seeds)
        return 0

    print("== exact, realistic raids 80 threats x 80 effectors ==")
    cpus, gaps = [], []
    for s in range(args.seeds):
        p, w = run(f"layered_defence 80x80 seed {s}", layered_defence(np.random.default_rng(s), 80, 80),
                   "exact", 60.0)
        cpus.append(w)
        gaps.append(p.gap)
    print(f"   max cpu {max(cpus):.3f} s, max gap {max(gaps):.1e}")

    print("== fast, realistic raids 1000 threats x 500 effectors ==")
    cpus, gaps = [], []
    for s in range(args.seeds):
        inst = layered_defence(np.random.default_rng(s), 1000, 500)
        ref = solve(inst, method="exact", time_limit=120.0).objective if args.reference else None
        p, w = run(f"layered_defence 1000x500 seed {s}", inst, "fast", None, ref)
        cpus.append(w)
        gaps.append(p.gap)
    print(f"   max cpu {max(cpus):.3f} s, max gap to bound {max(gaps):.3%}")

    if not args.no_dense:
        print("== exact, dense random pk (every effector reaches every threat), 20 s limit ==")
        for n in (20, 40, 120, 160):
            run(f"dense_random {n}x{n} seed 0", dense_random(np.random.default_rng(0), n, n), "exact", 20.0)
        print("== fast, dense random pk ==")
        for n in (80, 300):
            run(f"dense_random {n}x{n} seed 0", dense_random(np.random.default_rng(0), n, n), "fast", None)
    return 0


def hard(seeds: int) -> None:
    """Where exact still stops (30 s limit): dense with cheap money (lambda 0.1,
    0), more dense seeds, and raids with all effectors at 1, 2 or 4 sites."""
    print("== exact, dense random pk 80x80, more seeds, lambda 0.1 and 0, 30 s limit ==")
    for s in range(5, 5 + 4 * seeds):
        run(f"dense_random 80x80 seed {s}", dense_random(np.random.default_rng(s), 80, 80), "exact", 30.0)
    for lam, n in ((0.1, 3), (0.0, 2)):
        for s in range(n):
            run(f"dense_random 80x80 lam {lam} seed {s}",
                dense_random(np.random.default_rng(s), 80, 80, lam=lam), "exact", 30.0)
    print("== exact, 80x80 raids with effectors at few sites, 30 s limit ==")
    for sites in (1, 2, 4):
        for s in range(3):
            run(f"layered_defence 80x80 {sites} sites seed {s}",
                layered_defence(np.random.default_rng(s), 80, 80, n_sites=sites), "exact", 30.0)


if __name__ == "__main__":
    sys.exit(main())
