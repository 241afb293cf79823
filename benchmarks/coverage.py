"""How much of a run's truth any sensor could have seen (the ceiling on what a
tracker can track) and, with ``--tracks``, where a tracker's extra tracks and
misses come from.

    .venv/bin/python benchmarks/coverage.py RUN_DIR [--every 10] [--tracks FILE]

Coverage (``airshield.metrics.coverage``): every truth sample (one in
``--every``) is inside some radar's reach, heard by two or more direction
sensors (bearings that cross), by exactly one (bearings, but no range), or by
none. The share by class is printed.

``--tracks FILE`` (every sample; scored as ``airshield score`` does):

- missed truth samples by coverage, and for the observable ones whether some
  track was near horizontally (within 1 km: a height error; 1-3 km) or not;
- every extra track on an object (its 2nd, 3rd ... distinct track id, what
  ``tracks_per_truth`` counts) by what happened to the track it took over from
  at that step: still shown within 3 km (a **duplicate**), shown and assigned to
  another object (a **swap**), shown farther away (**lost** its object), or no
  longer shown (**re-initiated**, with the silence before), and by the sensors
  behind the new track's first record (radar, bearings, crowd);
- tracks never assigned (false) by those sensors, life, and distance of their
  first record from the nearest truth.
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path

import numpy as np
import orjson

from airshield import CLASSES
from airshield.io.run import read_scenario_json, read_tracks, read_truth
from airshield.metrics.align import sample_tracks, truth_steps
from airshield.metrics.coverage import truth_coverage
from airshield.metrics.gospa import gospa_steps
from airshield.score import _enu


def coverage_table(cov, cls, n):
    print(f"{'class':<10} {'radar':>7} {'>=2 dir':>9} {'1 dir only':>11} {'none':>7}")
    for c in [*np.unique(cls), None]:
        k = np.ones(n, bool) if c is None else cls == c
        one = k & ~cov.radar & (cov.n_direction == 1)
        none = k & ~cov.radar & (cov.n_direction == 0)
        m = max(k.sum(), 1)
        print(f"{'all' if c is None else CLASSES[c]:<10} {(k & cov.radar).sum() / m:>7.1%} "
              f"{(k & (cov.n_direction >= 2)).sum() / m:>9.1%} {one.sum() / m:>11.1%} {none.sum() / m:>7.1%}")


def first_sources(path: Path, kinds: dict[str, str]) -> dict[str, str]:
    """Track id -> kind of the sensors behind its first record."""
    out: dict[str, str] = {}
    with open(path, "rb") as f:
        for line in f:
            if not line.strip():
                continue
            o = orjson.loads(line)
            tid = str(o["track"])
            if tid in out:
                continue
            k = {kinds.get(s, "?") for s in o.get("sources", [])}
            out[tid] = ("radar" if "radar" in k else "bearings" if k & {"acoustic", "eo"} else
                        "crowd" if "visual" in k else "adsb" if "adsb" in k else "none")
    return out


def breakdown(run: Path, tracks_path: Path, sensors: list[dict], events: Path | None = None) -> None:
    o = read_scenario_json(run)["origin"]
    origin = (o["lat"], o["lon"], o.get("alt") or 0.0)
    tr = read_truth(run / "truth.jsonl")
    tk = read_tracks(tracks_path)
    step_t, x_step = truth_steps(tr.t)
    x = _enu(tr.lat, tr.lon, tr.alt, origin)
    ts = sample_tracks(step_t, tk.t, tk.track)
    rec, y_step = ts.rec, ts.step
    y = _enu(tk.lat, tk.lon, tk.alt, origin)[rec]
    g = gospa_steps(x, x_step, y, y_step, len(step_t), 1000.0, 2.0)
    tid = tk.track[rec]
    assigned = np.full(len(tr), -1, np.int64)
    assigned[g.pair_truth] = tid[g.pair_track]
    cov = truth_coverage(tr.lat, tr.lon, tr.alt, tr.cls, sensors)
    obs = cov.observable

    # nearest track horizontally at each truth sample (KD-tree, step as a 3rd axis)
    from scipy.spatial import cKDTree
    big = 1e7
    tree = cKDTree(np.column_stack([y[:, :2], y_step * big]))
    dh, jh = tree.query(np.column_stack([x[:, :2], x_step * big]), distance_upper_bound=5e4)
    dh[~np.isfinite(dh)] = np.inf
    miss = assigned < 0
    print(f"\n{tracks_path}: GOSPA {g.distance.mean():,.0f} m; truth samples {len(tr):,}, assigned "
          f"{(~miss).mean():.1%}; observable {obs.mean():.1%}, of those assigned {(~miss[obs]).mean():.1%}")
    for name, m in (("radar", cov.radar), (">=2 dir", ~cov.radar & (cov.n_direction >= 2)),
                    ("1 dir", ~cov.radar & (cov.n_direction == 1)),
                    ("none", ~cov.radar & (cov.n_direction == 0))):
        print(f"  {name:<8} samples {m.sum():>9,}  assigned {(~miss[m]).mean() if m.any() else 0:6.1%}")
    mo = miss & obs
    print(f"  missed observable {mo.sum():,}: nearest track <1 km horizontally (height) "
          f"{(mo & (dh < 1e3)).sum():,}, 1-3 km {(mo & (dh >= 1e3) & (dh < 3e3)).sum():,}, "
          f"none within 3 km {(mo & (dh >= 3e3)).sum():,}")

    doc_kind = {s["id"]: s["kind"] for s in sensors}
    src = first_sources(tracks_path, doc_kind)
    # where each track is at each step: (track, step) -> sample index
    key = tid.astype(np.int64) * len(step_t) + y_step
    korder = np.argsort(key)
    ks = key[korder]
    track_assigned_to = np.full(len(rec), -1, np.int64)
    track_assigned_to[g.pair_track] = tr.obj[g.pair_truth]

    def where(track, step):
        k = track * len(step_t) + step
        i = np.searchsorted(ks, k)
        i = np.minimum(i, len(ks) - 1)
        hit = ks[i] == k
        return np.where(hit, korder[i], -1)

    last_step = np.full(len(tk.ids), -1, np.int64)
    np.maximum.at(last_step, tid, y_step)
    kinds = collections.Counter()
    by_src = collections.Counter()
    gaps = []
    log: list[dict] = []
    order = np.lexsort((x_step, tr.obj))
    for oi in np.unique(tr.obj):  # one object at a time: a diagnostic, not a hot path
        r = order[tr.obj[order] == oi]
        a = assigned[r]
        ok = a >= 0
        if not ok.any():
            continue
        seen = {int(a[ok][0])}
        prev = int(a[ok][0])
        for i in np.flatnonzero(ok)[1:]:
            cur = int(a[i])
            if cur != prev and cur not in seen:
                s = x_step[r[i]]
                j = int(where(np.array([prev]), np.array([s]))[0])
                if j < 0:
                    kind = "re-initiated"
                    gaps.append(float(step_t[s] - step_t[min(last_step[prev], s)]))
                elif track_assigned_to[j] >= 0 and track_assigned_to[j] != oi:
                    kind = "swap"
                elif np.linalg.norm(y[j, :2] - x[r[i], :2]) < 3e3:
                    kind = "duplicate"
                else:
                    kind = "lost"
                kinds[kind] += 1
                log.append({"kind": kind, "obj": int(oi), "t": float(step_t[s]),
                            "old": str(tk.ids[prev]), "new": str(tk.ids[cur]),
                            "held_steps": int((a == cur).sum())})
                by_src[(kind, src.get(tk.ids[cur], "?"))] += 1
                seen.add(cur)
            prev = cur
    n_obj = len(np.unique(tr.obj[assigned >= 0]))
    print(f"  extra tracks {sum(kinds.values()):,} over {n_obj:,} tracked objects "
          f"(tracks per truth {1 + sum(kinds.values()) / max(n_obj, 1):.2f}):")
    for k, v in kinds.most_common():
        parts = ", ".join(f"{s} {c}" for (kk, s), c in by_src.most_common() if kk == k)
        print(f"    {k:<13} {v:>6,}  (new track from: {parts})")
    if gaps:
        print(f"    re-initiated after a silence of (s) p25/50/75: "
              f"{np.percentile(gaps, [25, 50, 75]).round(0).tolist()}")
    if events is not None:
        events.write_bytes(b"\n".join(orjson.dumps(e) for e in log) + b"\n")
    used = np.zeros(len(tk.ids), bool)
    used[assigned[assigned >= 0]] = True
    shown = np.zeros(len(tk.ids), bool)
    shown[tid] = True
    false = np.flatnonzero(shown & ~used)
    first_i = np.full(len(tk.ids), -1, np.int64)
    o2 = np.lexsort((y_step, tid))
    firsts = o2[np.r_[True, tid[o2][1:] != tid[o2][:-1]]]
    first_i[tid[firsts]] = firsts
    life = np.zeros(len(tk.ids))
    first_step = np.full(len(tk.ids), -1, np.int64)
    first_step[tid[firsts]] = y_step[firsts]
    life[false] = step_t[last_step[false]] - step_t[first_step[false]]
    fx = first_i[false]
    tt = cKDTree(np.column_stack([x[:, :2], x_step * big]))
    d0, _ = tt.query(np.column_stack([y[fx, :2], y_step[fx] * big]), distance_upper_bound=5e4)
    fs = collections.Counter(src.get(tk.ids[k], "?") for k in false)
    print(f"  false tracks {false.size:,} of {shown.sum():,} shown (from: "
          + ", ".join(f"{k} {v}" for k, v in fs.most_common()) + ")"
          + (f"; life p50 {np.median(life[false]):.0f} s; first record <1 km of a truth "
             f"{(d0 < 1e3).sum()}, 1-3 km {((d0 >= 1e3) & (d0 < 3e3)).sum()}, farther {(d0 >= 3e3).sum()}"
             if false.size else ""))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("--every", type=int, default=10, help="use one truth sample in this many")
    ap.add_argument("--tracks", type=Path, help="also break down this tracks file's extra tracks and misses")
    ap.add_argument("--events", type=Path, help="with --tracks: write each extra track (kind, object, "
                    "time, old and new id) to this JSON-lines file")
    args = ap.parse_args(argv)
    run = Path(args.run)
    tr = read_truth(run / "truth.jsonl")
    doc = json.loads((run / "sensors.json").read_text())
    sensors = doc["sensors"] if isinstance(doc, dict) else doc
    sub = slice(None, None, args.every)
    cov = truth_coverage(tr.lat[sub], tr.lon[sub], tr.alt[sub], tr.cls[sub], sensors)
    print(f"{run}: {len(cov.radar):,} truth samples (1 in {args.every})")
    coverage_table(cov, tr.cls[sub], len(cov.radar))
    if args.tracks:
        breakdown(run, args.tracks, sensors, args.events)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
