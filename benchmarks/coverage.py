"""How much of a run's truth any sensor could have seen: the ceiling on what a
tracker can track.

    .venv/bin/python benchmarks/coverage.py RUN_DIR [--every 10]

For every truth sample (one in ``--every``): inside some radar's reach (its
reference range scaled by the class's RCS to the fourth root, ``ref_range_m *
(rcs / ref_rcs_m2) ** 0.25``, within ``range_max_m``: where its detection
probability is still its reference ``pd``; beyond, plots thin out, and the
horizon is ignored), heard by two or more acoustic sensors
(``range_by_class_m``), by exactly one (bearings, but no range), or by none. The
share by class is printed. A radar-less sample heard by one microphone cannot
start a track; a tracker holds it only if it was tracked before.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from airshield import CLASSES, geo
from airshield.io.run import read_truth


def ecef(items):
    lat, lon, alt = (np.array([s[k] for s in items], float) for k in ("lat", "lon", "alt"))
    return np.stack(geo.geodetic_to_ecef(lat, lon, alt), axis=-1).reshape(len(items), 3)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("--every", type=int, default=10, help="use one truth sample in this many")
    args = ap.parse_args(argv)
    run = Path(args.run)
    tr = read_truth(run / "truth.jsonl")
    doc = json.loads((run / "sensors.json").read_text())
    sensors = doc["sensors"] if isinstance(doc, dict) else doc
    sub = slice(None, None, args.every)
    x = np.stack(geo.geodetic_to_ecef(tr.lat[sub], tr.lon[sub], tr.alt[sub]), axis=-1)
    cls = tr.cls[sub]

    heard = np.zeros(len(x), np.int64)
    mics = [s for s in sensors if s["kind"] == "acoustic"]
    if mics:
        reach = np.array([[s.get("range_by_class_m", {}).get(c, s.get("range_max_m", 0.0)) for c in CLASSES]
                          for s in mics])
        tree = cKDTree(ecef(mics))
        for c in np.unique(cls):  # one radius per class (the network's largest)
            k = np.flatnonzero(cls == c)
            r = float(reach[:, c].max())
            if r > 0:
                heard[k] = tree.query_ball_point(x[k], r, return_length=True)

    radar = np.zeros(len(x), bool)
    for s in (s for s in sensors if s["kind"] == "radar"):
        rcs = np.array([s.get("rcs_m2", {}).get(c, 0.1) for c in CLASSES])
        r = np.minimum(s.get("ref_range_m", s.get("range_max_m", 0.0)) * (rcs / s.get("ref_rcs_m2", 1.0)) ** 0.25,
                       s.get("range_max_m", np.inf))
        radar |= np.linalg.norm(x - ecef([s])[0], axis=1) <= r[cls]

    print(f"{run}: {len(x):,} truth samples (1 in {args.every})")
    print(f"{'class':<10} {'radar':>7} {'>=2 mics':>9} {'1 mic only':>11} {'none':>7}")
    for c in [*np.unique(cls), None]:
        k = np.ones(len(x), bool) if c is None else cls == c
        one = k & ~radar & (heard == 1)
        none = k & ~radar & (heard == 0)
        n = max(k.sum(), 1)
        print(f"{'all' if c is None else CLASSES[c]:<10} {(k & radar).sum() / n:>7.1%} "
              f"{(k & (heard >= 2)).sum() / n:>9.1%} {one.sum() / n:>11.1%} {none.sum() / n:>7.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
