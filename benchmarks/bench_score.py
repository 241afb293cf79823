"""How fast is ``airshield score`` on a mass raid?

Synthesises a run directory: N objects (default 800) flying for the whole run
(default 1 hour, 1 s truth step), a quarter of them in tight formations of four
(so the GOSPA assignment has real multi-object conflicts), and noisy tracks
with late starts, dropped ticks (gaps), id swaps inside formations, track
re-initiations and wandering false tracks. Then times ``score_run`` and its
parts and prints the figures.

    .venv/bin/python benchmarks/bench_score.py [--objects 800] [--minutes 60]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from airshield.geo import enu_to_geodetic
from airshield.io.jsonl import write_json, write_jsonl
from airshield.io.run import read_tracks, read_truth
from airshield.score import read_objects, score_run, score_tracks

ORIGIN = (49.0, 32.0, 0.0)
CLASS_NAMES = np.array(["shahed", "decoy", "jet_drone"])


def synthesise(d: Path, n_obj: int, minutes: float, seed: int = 1) -> dict:
    rng = np.random.default_rng(seed)
    steps = np.arange(int(minutes * 60) + 1, dtype=float)
    n_t = len(steps)
    # Start points 150-450 km east, heading roughly west at 40-60 m/s.
    start = np.column_stack([rng.uniform(150e3, 450e3, n_obj), rng.uniform(-150e3, 150e3, n_obj),
                             rng.uniform(100, 2000, n_obj)])
    n_form = n_obj // 4 // 4  # formations of four
    for f in range(n_form):  # formation members within ~300 m of the leader
        lead = start[4 * f]
        start[4 * f + 1: 4 * f + 4] = lead + rng.normal(0, 150, (3, 3)) * [1, 1, 0.3]
    speed = rng.uniform(40, 60, n_obj)
    speed[: 4 * n_form] = np.repeat(speed[0: 4 * n_form: 4], 4)
    heading = np.radians(rng.uniform(250, 290, n_obj))
    heading[: 4 * n_form] = np.repeat(heading[0: 4 * n_form: 4], 4)
    weave = 2000.0 * np.sin(steps[None, :] / rng.uniform(200, 600, (n_obj, 1)) + rng.uniform(0, 6, (n_obj, 1)))
    weave[: 4 * n_form] = np.repeat(weave[0: 4 * n_form: 4], 4, axis=0)
    e = start[:, 0, None] + speed[:, None] * np.sin(heading)[:, None] * steps + weave * np.cos(heading)[:, None]
    n = start[:, 1, None] + speed[:, None] * np.cos(heading)[:, None] * steps - weave * np.sin(heading)[:, None]
    u = np.broadcast_to(start[:, 2, None], e.shape)
    cls = CLASS_NAMES[rng.integers(0, 3, n_obj)]

    lat, lon, alt = enu_to_geodetic(e.ravel(), n.ravel(), u.ravel(), *ORIGIN)
    lat, lon, alt = (a.reshape(n_obj, n_t) for a in (lat, lon, alt))
    oid = [f"o{i:04d}" for i in range(n_obj)]
    write_json(d / "scenario.json", {"name": "bench", "epoch": "2025-01-01T00:00:00Z",
                                     "duration_s": float(steps[-1]), "seed": seed,
                                     "origin": dict(zip(("lat", "lon", "alt"), ORIGIN))})
    # Time-major, as a simulator writes; plain floats make the writing fast.
    lat, lon, alt = lat.T.tolist(), lon.T.tolist(), alt.T.tolist()
    cls_l, st = cls.tolist(), steps.tolist()
    n_truth = write_jsonl(d / "truth.jsonl", (
        {"t": st[k], "id": oid[i], "class": cls_l[i], "lat": lat[k][i], "lon": lon[k][i],
         "alt": alt[k][i], "ve": 50.0, "vn": 0.0, "vu": 0.0}
        for k in range(n_t) for i in range(n_obj)))
    first_det = rng.uniform(0, 10, n_obj)
    write_json(d / "objects.json", {"objects": [
        {"id": oid[i], "class": cls[i], "first_detected_t": float(first_det[i])} for i in range(n_obj)]})

    # Track ids per object and step: base id, re-initiated after some gaps,
    # swapped within formations half-way through.
    tid = np.repeat(np.arange(n_obj)[:, None], n_t, axis=1)
    on = steps[None, :] >= (first_det + rng.uniform(3, 20, n_obj))[:, None]
    gap_obj = rng.choice(n_obj, n_obj // 5, replace=False)
    gap_at = rng.integers(60, n_t - 60, len(gap_obj))
    for i, g in zip(gap_obj, gap_at):
        on[i, g: g + rng.integers(3, 30)] = False
        if rng.random() < 0.5:
            tid[i, g:] = n_obj + i  # re-initiated with a new id
    half = n_t // 2
    for f in range(0, n_form, 2):  # every other formation swaps two ids
        a, b = 4 * f, 4 * f + 1
        tid[[a, b], half:] = tid[[b, a], half:]
    noise = rng.normal(0, 30, (3, n_obj, n_t))
    te, tn, tu = e + noise[0], n + noise[1], u + noise[2] * 0.5
    # False tracks: 80 clutter tracks wandering for 1-10 minutes each.
    n_false = 80
    f_start = rng.integers(0, max(1, n_t - 600), n_false)
    f_len = rng.integers(60, 600, n_false)
    f_pos = np.column_stack([rng.uniform(0, 400e3, n_false), rng.uniform(-200e3, 200e3, n_false),
                             rng.uniform(100, 3000, n_false)])
    f_len = np.minimum(f_len, n_t - f_start)
    tlat, tlon, talt = enu_to_geodetic(te[on], tn[on], tu[on], *ORIGIN)
    k_real = np.nonzero(on)[1]
    fk = np.concatenate([np.arange(s, s + m) for s, m in zip(f_start, f_len)])
    fi = np.repeat(np.arange(n_false), f_len)
    fe = f_pos[fi, 0] + 20.0 * (fk - f_start[fi])
    flat, flon, falt = enu_to_geodetic(fe, f_pos[fi, 1], f_pos[fi, 2], *ORIGIN)
    t = steps[np.concatenate([k_real, fk])]
    ids = np.concatenate([tid[on], 10 * n_obj + fi])
    la, lo, al = (np.concatenate(p) for p in ((tlat, flat), (tlon, flon), (talt, falt)))
    order = np.argsort(t, kind="stable")
    t, ids, la, lo, al = (a[order].tolist() for a in (t, ids, la, lo, al))
    n_tracks = write_jsonl(d / "tracks.jsonl", (
        {"t": t[r], "track": f"T{ids[r]}", "lat": la[r], "lon": lo[r], "alt": al[r],
         "ve": -50.0, "vn": 0.0, "vu": 0.0, "status": "confirmed"} for r in range(len(t))))
    return {"truth_lines": n_truth, "track_lines": n_tracks}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--objects", type=int, default=800)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="Write the run here and keep it; reuse it if present.")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = args.keep or Path(tmp)
        d.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        if args.keep and (d / "tracks.jsonl").is_file():
            print(f"reusing the run in {d}")
        else:
            sizes = synthesise(d, args.objects, args.minutes, args.seed)
            print(f"synthesised {args.objects} objects x {args.minutes:g} min: "
                  f"{sizes['truth_lines']:,} truth lines, {sizes['track_lines']:,} track lines "
                  f"in {time.perf_counter() - t0:.1f} s")

        # CPU time too: on a shared machine the wall time says more about the neighbours.
        w0, c0 = time.perf_counter(), time.process_time()
        result = score_run(d)
        print(f"score_run: {time.perf_counter() - w0:.2f} s wall, {time.process_time() - c0:.2f} s CPU")

        w0, c0 = time.perf_counter(), time.process_time()
        truth = read_truth(d / "truth.jsonl")
        tracks = read_tracks(d / "tracks.jsonl")
        objects = read_objects(d / "objects.json")
        print(f"  reading the files (airshield.io.run): {time.perf_counter() - w0:.2f} s wall, "
              f"{time.process_time() - c0:.2f} s CPU")
        w0, c0 = time.perf_counter(), time.process_time()
        score_tracks(truth, tracks, ORIGIN, objects)
        print(f"  scoring the arrays (score_tracks):    {time.perf_counter() - w0:.2f} s wall, "
              f"{time.process_time() - c0:.2f} s CPU")
        keys = ("steps", "gospa_mean", "gospa_localisation", "gospa_missed", "gospa_false",
                "track_breaks", "id_switches", "track_gaps", "tracks_per_truth", "false_tracks",
                "tracked_objects", "latency_median_s")
        for k in keys:
            v = result[k]
            print(f"  {k:22s} {v:,.3f}" if isinstance(v, float) else f"  {k:22s} {v}")


if __name__ == "__main__":
    main()
