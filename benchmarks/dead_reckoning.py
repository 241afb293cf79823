"""What dead reckoning out of cover can win on a run, and what it did.

    .venv/bin/python benchmarks/dead_reckoning.py RUN_DIR [--tracks FILE]

From the truth alone: the share of truth samples of objects that had been
observable (``metrics.coverage``) and are now out of every sensor's reach,
and how far a straight extrapolation from the last observable sample, with
the object's *true* velocity there, stays from them (the ceiling: a tracker
knows the velocity less well).

With ``--tracks``: the records a tracker dead-reckoned (TRACK records with no
``sources``: airshield writes every tracked record with the sensors of its
last report), the distance of each to the nearest truth object at that step,
by the record's RMS position error sqrt(trace cov_pos_enu).
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np
import orjson

from airshield import geo
from airshield.io.run import read_scenario_json, read_truth
from airshield.metrics.coverage import truth_coverage


def ceiling(run: str) -> None:
    tr = read_truth(run)
    sensors = orjson.loads(open(f"{run}/sensors.json", "rb").read())["sensors"]
    obs = truth_coverage(tr.lat, tr.lon, tr.alt, tr.cls, sensors).observable
    o = read_scenario_json(run)["origin"]
    pos = np.stack(geo.geodetic_to_enu(tr.lat, tr.lon, tr.alt, o["lat"], o["lon"], o.get("alt", 0.0)), 1)
    order = np.lexsort((tr.t, tr.obj))
    obj, o_sorted = tr.obj[order], obs[order]
    # index (into ``order``) of the last observable sample at or before each sample of its object
    last = np.maximum.accumulate(np.where(o_sorted, np.arange(order.size), -1))
    start = np.r_[True, obj[1:] != obj[:-1]]
    first_of = np.flatnonzero(start)[np.cumsum(start) - 1]
    last = np.where(last >= first_of, last, -1)  # an earlier object's sample is not this one's
    after = (~o_sorted) & (last >= 0)
    i, j = order[after], order[last[after]]
    dt = tr.t[i] - tr.t[j]
    err = np.linalg.norm((pos[j] + tr.vel[j] * dt[:, None] - pos[i])[:, :2], axis=1)
    n = tr.t.size
    print(f"{run}: {n:,} truth samples; observable {obs.mean():.1%}; out of cover after being "
          f"observable {after.sum() / n:.1%}")
    for lim in (250, 500, 707, 1000):
        print(f"  straight extrapolation with the true velocity within {lim} m (horizontal): "
              f"{np.mean(err < lim):.1%}")
    for g in (60, 120, 300, 600):
        k = dt <= g
        print(f"  silence <= {g} s: {k.sum() / n:.1%} of all samples, within 707 m "
              f"{np.mean(err[k] < 707) if k.any() else 0:.1%}")


def dead_reckoned(run: str, tracks: str) -> None:
    at: dict[float, list] = defaultdict(list)
    for line in open(f"{run}/truth.jsonl", "rb"):
        o = orjson.loads(line)
        at[round(o["t"], 3)].append((o["lat"], o["lon"], o["alt"]))
    truth = {t: np.stack(geo.geodetic_to_ecef(*np.array(v).T), -1).reshape(-1, 3) for t, v in at.items()}
    d, rms, n = [], [], 0
    for line in open(tracks, "rb"):
        o = orjson.loads(line)
        n += 1
        t = round(o["t"], 3)
        if o.get("sources") or t not in truth:
            continue
        x = np.array(geo.geodetic_to_ecef(o["lat"], o["lon"], o["alt"]), float).reshape(3)
        d.append(np.linalg.norm(truth[t] - x, axis=1).min())
        rms.append(np.sqrt(np.trace(np.reshape(o["cov_pos_enu"], (3, 3)))))
    d, rms = np.array(d), np.array(rms)
    print(f"{tracks}: {n:,} records, {d.size:,} dead-reckoned (no sources)")
    if d.size == 0:
        return
    print(f"  nearest truth p25/50/75/90: {np.percentile(d, [25, 50, 75, 90]).round(0).tolist()} m; "
          f"within 707 m {np.mean(d < 707):.1%}, within 1 km {np.mean(d < 1000):.1%}")
    for lo, hi in ((0, 300), (300, 750), (750, 1500), (1500, np.inf)):
        k = (rms >= lo) & (rms < hi)
        if k.any():
            print(f"  RMS {lo}-{hi} m: {k.sum():,} records, median distance {np.median(d[k]):.0f} m, "
                  f"within 707 m {np.mean(d[k] < 707):.1%}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run")
    ap.add_argument("--tracks")
    a = ap.parse_args(argv)
    ceiling(a.run)
    if a.tracks:
        dead_reckoned(a.run, a.tracks)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
