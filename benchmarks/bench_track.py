"""Speed of the airshield tracker: reports/s, per-update latency, peak memory,
and scaling to 5,000 simultaneous tracks.

    python benchmarks/bench_track.py [--tracks 1000,2000,5000] [--kinds pos,radar]
        [--duration S] [--seed N] [--run DIR] [--profile] [--phases]

A synthetic raid (``scenario``) is built without the simulator so the figures
isolate the tracker: N objects flying straight at 40-200 m/s, 100-3,000 m high,
spread over a 600 x 600 km theatre; either

- ``pos``: one position report per object per second (a fused-plot feed,
  sigma 50 m), or
- ``radar``: a 4 x 4 grid of radars (range 150 km, period 2 s, Pd 0.9, 2 false
  plots per scan, range rate, sigmas 30 m / 0.5 deg / 1 deg / 1 m/s).

The tracker is stepped once per second of scenario time (``Tracker.step``: reorder
buffer, batching, gating, assignment, IMM update, management and the picture
predicted to the tick as arrays; JSON writing is not included). Measured after a
warm-up (tracks confirmed): reports/s = reports processed / time in ``step``; the
p50/p99 of one step's wall time (one step = one update of the whole picture with
every report of that second), also in CPU time of this process (steadier than
wall on a shared machine); peak resident memory of the process.

``--phases`` prints, for the first case, where one step's CPU time goes: the
tracker's stages and kernels, each timed with ``time.process_time`` (self time,
nested stages excluded), per step after the warm-up.

``--record-live FILE`` runs the live chain on the dense mass raid (the scenario of
``bench_live_steps.py``: ``bench_web_latency.dense_scenario``) to ``--live-tracks``
live tracks and ``--live-steps`` steps more, and saves every (reports, now) the
tracker was given; ``--trace FILE`` replays such a trace through a fresh tracker
and prints the CPU per step of the last ``--live-steps`` steps (p50/p99), the
reports and scan batches per step, and with ``--phases`` where that time goes.
The live chain's simulation does not depend on the tracker's output under the
manual policy, so the trace is the tracker's exact input, without the
simulator's cost.

``--run DIR`` instead replays a run directory (``airshield.track.batch.load_run`` +
``replay``, the code of ``airshield track``) and prints the same figures; the
loaders here (``scenario``, ``load``) are meant for reuse by other benchmarks.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from dataclasses import dataclass

import numpy as np

from airshield import geo
from airshield.io.records import POLAR, POS, Detections, Sensors
from airshield.io.run import sensors_from_records
from airshield.track.batch import RunInput, load_run, replay
from airshield.track.config import TrackerConfig, with_settings
from airshield.track.tracker import Tracker

LAT0, LON0 = 49.0, 32.0


@dataclass
class Scenario:
    run: RunInput  # sensors, detections, arrival: what a tracker reads
    truth_ecef: np.ndarray  # (T, N, 3) at each whole second
    times: np.ndarray  # (T,)


def _sensor_records(kind: str) -> list[dict]:
    if kind == "pos":
        return [{"id": "FUSED", "kind": "eo", "lat": LAT0, "lon": LON0, "alt": 0.0,
                 "sigma_h_m": 50.0, "sigma_v_m": 50.0, "period_s": 1.0}]
    recs = []
    for i, dn in enumerate(np.linspace(-200e3, 200e3, 4)):
        for j, de in enumerate(np.linspace(-200e3, 200e3, 4)):
            lat, lon, _ = geo.enu_to_geodetic(de, dn, 0.0, LAT0, LON0, 0.0)
            recs.append({"id": f"R{i}{j}", "kind": "radar", "lat": float(lat), "lon": float(lon),
                         "alt": 30.0, "range_max_m": 150e3, "sigma_range_m": 30.0,
                         "sigma_az_deg": 0.5, "sigma_el_deg": 1.0, "sigma_rr_mps": 1.0,
                         "period_s": 2.0, "pd": 0.9, "false_per_scan": 2.0})
    return recs


def scenario(n: int, kind: str = "pos", duration: float = 60.0, seed: int = 1) -> Scenario:
    """N straight-flying objects and the reports of the ``kind`` feed."""
    rng = np.random.default_rng(seed)
    sensors = sensors_from_records(_sensor_records(kind))
    e0, n0 = rng.uniform(-300e3, 300e3, n), rng.uniform(-300e3, 300e3, n)
    u0 = rng.uniform(100.0, 3000.0, n)
    speed, hdg = rng.uniform(40.0, 200.0, n), rng.uniform(0, 2 * np.pi, n)
    x0 = np.stack(geo.geodetic_to_ecef(*geo.enu_to_geodetic(e0, n0, u0, LAT0, LON0, 0.0)), -1)
    lat, lon, _ = geo.ecef_to_geodetic(*x0.T)
    v = np.stack(geo.enu_to_ecef_vectors(speed * np.sin(hdg), speed * np.cos(hdg), 0.0, lat, lon), -1)
    times = np.arange(0.0, duration, 1.0)
    truth = x0[None] + times[:, None, None] * v[None]
    parts = []
    if kind == "pos":
        for k, t in enumerate(times):
            jitter = rng.uniform(0, 0.9, n)
            x = truth[k] + v * jitter[:, None]
            la, lo, al = geo.ecef_to_geodetic(*x.T)
            la, lo, al = geo.enu_to_geodetic(*(rng.normal(0, 50.0, (3, n))), la, lo, al)
            d = Detections.empty(n)
            d.t[:], d.sensor[:], d.kind[:] = t + jitter, 0, POS
            d.z[:, 0], d.z[:, 1], d.z[:, 2] = la, lo, al
            d.sigma[:, 0] = d.sigma[:, 1] = 50.0
            parts.append(d)
    else:
        parts = _radar_reports(sensors, truth, v, times, rng)
    det = Detections.concat(parts)
    det = det.take(np.argsort(det.t, kind="stable"))
    det.line[:] = np.arange(1, len(det) + 1)
    return Scenario(RunInput(sensors, det, det.t.copy(), [], [], "<synthetic>"), truth, times)


def _radar_reports(sensors: Sensors, truth, v, times, rng) -> list[Detections]:
    parts = []
    n = truth.shape[1]
    for s in range(len(sensors)):
        sx = np.stack(geo.geodetic_to_ecef(sensors.lat[s], sensors.lon[s], sensors.alt[s]))
        phase = rng.uniform(0, 2.0)
        for k in range(0, times.size, 2):
            x = truth[k]
            # a rotating radar: each object is seen at its own azimuth's moment
            d_ = x - sx
            rng_m = np.linalg.norm(d_, axis=1)
            seen = (rng_m < 150e3) & (rng.random(n) < 0.9)
            if not seen.any():
                continue
            lat, lon, alt = geo.ecef_to_geodetic(*x[seen].T)
            az, _, _ = geo.geodetic_to_aer(lat, lon, alt, sensors.lat[s], sensors.lon[s], sensors.alt[s])
            t = times[k] + np.mod(phase + az / 180.0, 2.0)
            xs = x[seen] + v[seen] * (t - times[k])[:, None]  # where it is when the beam passes
            lat, lon, alt = geo.ecef_to_geodetic(*xs.T)
            az, el, r = geo.geodetic_to_aer(lat, lon, alt, sensors.lat[s], sensors.lon[s], sensors.alt[s])
            u = (xs - sx) / np.linalg.norm(xs - sx, axis=1, keepdims=True)
            rr = (u * v[seen]).sum(axis=1)
            m = int(seen.sum())
            d = Detections.empty(m + 2)
            d.sensor[:], d.kind[:] = s, POLAR
            d.t[:m] = t
            d.z[:m] = np.stack([r + rng.normal(0, 30, m), np.mod(az + rng.normal(0, 0.5, m), 360),
                                el + rng.normal(0, 1.0, m), rr + rng.normal(0, 1.0, m)], -1)
            d.t[m:] = times[k] + rng.uniform(0, 2.0, 2)  # two false plots per scan
            d.z[m:] = np.stack([rng.uniform(1e3, 150e3, 2), rng.uniform(0, 360, 2),
                                rng.uniform(0, 5, 2), rng.normal(0, 20, 2)], -1)
            d.sigma[:] = [30.0, 0.5, 1.0, 1.0]
            parts.append(d)
    return parts


def load(run_dir: str) -> RunInput:
    """A run directory, read exactly as ``airshield track`` reads it."""
    return load_run(run_dir)


def measure(run: RunInput, warmup_s: float = 20.0, cfg: TrackerConfig | None = None) -> dict:
    """Step a fresh tracker through ``run`` once per second; figures after warm-up."""
    tracker = Tracker(run.sensors, cfg)
    lat, lat_cpu, n_tracks = [], [], []
    t_first = float(np.min(run.arrival)) if len(run.detections) else 0.0
    done_before = 0
    gen = replay(run, tracker)
    cpu0 = wall0 = None
    while True:
        w = time.perf_counter()
        c = time.process_time()
        try:
            pic = next(gen)
        except StopIteration:
            break
        w = time.perf_counter() - w
        c = time.process_time() - c
        if pic.t - t_first < warmup_s:
            done_before = tracker.stats.processed
            continue
        if wall0 is None:
            wall0, cpu0 = 0.0, 0.0
        wall0 += w
        cpu0 += c
        lat.append(w)
        lat_cpu.append(c)
        n_tracks.append(len(pic))
    processed = tracker.stats.processed - done_before
    lat_ms = np.array(lat) * 1e3
    cpu_ms = np.array(lat_cpu) * 1e3
    return {"reports": processed, "wall_s": wall0 or 0.0, "cpu_s": cpu0 or 0.0,
            "reports_per_s": processed / wall0 if wall0 else 0.0,
            "reports_per_cpu_s": processed / cpu0 if cpu0 else 0.0,
            "p50_ms": float(np.percentile(lat_ms, 50)) if lat else 0.0,
            "p99_ms": float(np.percentile(lat_ms, 99)) if lat else 0.0,
            "cpu_p50_ms": float(np.percentile(cpu_ms, 50)) if lat else 0.0,
            "cpu_p99_ms": float(np.percentile(cpu_ms, 99)) if lat else 0.0,
            "tracks_mean": float(np.mean(n_tracks)) if n_tracks else 0.0,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}


# the stages of Tracker and the kernels it calls, timed by --phases
_STAGES = ("ingest", "_process", "_batch", "_candidates", "_update_rounds", "_regate", "_update",
           "_initiate", "_manage", "_continue", "_flush_identity", "picture")
_KERNELS = ("predict_ncv", "predict_modes", "imm_update", "combine", "innovation", "mahalanobis",
            "assign", "spatial_candidates", "range_pregate", "bearing_pregate", "carried_innovation")


import contextlib


@contextlib.contextmanager
def _stage_timer(acc: dict):
    """Time the tracker's stages and kernels (self time, process CPU) into ``acc``."""
    from airshield.track import tracker as trk

    stack: list[float] = []
    saved = []

    def wrap(obj, name):
        f = getattr(obj, name, None)
        if f is None:
            return
        saved.append((obj, name, f))

        def timed(*a, **k):
            c = time.process_time()
            stack.append(0.0)
            try:
                return f(*a, **k)
            finally:
                spent = time.process_time() - c
                acc[name] = acc.get(name, 0.0) + spent - stack.pop()
                if stack:
                    stack[-1] += spent
        setattr(obj, name, timed)

    for n in _STAGES:
        wrap(trk.Tracker, n)
    for n in _KERNELS:
        wrap(trk, n)
    try:
        yield acc
    finally:
        for obj, name, f in saved:
            setattr(obj, name, f)


def phases(run: RunInput, warmup_s: float = 20.0, cfg: TrackerConfig | None = None) -> dict:
    """CPU ms per step (after warm-up) spent in each stage and kernel, self time."""
    acc: dict = {}
    with _stage_timer(acc):
        tracker = Tracker(run.sensors, cfg)
        t_first = float(np.min(run.arrival)) if len(run.detections) else 0.0
        steps, total = 0, 0.0
        gen = replay(run, tracker)
        while True:
            c = time.process_time()
            try:
                pic = next(gen)
            except StopIteration:
                break
            if pic.t - t_first < warmup_s:
                acc.clear()
                continue
            steps += 1
            total += time.process_time() - c
    steps = max(steps, 1)
    return {"step_ms": total / steps * 1e3,
            "parts_ms": {k: v / steps * 1e3 for k, v in sorted(acc.items(), key=lambda kv: -kv[1])}}


def record_live(path: str, tracks: int = 1000, steps: int = 60, seed: int = 20250907,
                scenario_name: str = "mass-raid-800", density: float = 8.0,
                max_sim_s: float = 3000.0) -> None:
    """Run the live chain (manual policy) to ``tracks`` live tracks plus ``steps``
    steps; save the tracker's sensors and every (reports, now) it was given."""
    import pickle
    import sys
    import tempfile
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from bench_web_latency import dense_scenario

    from airshield.live.chain import Chain

    with tempfile.TemporaryDirectory() as tmp:
        scn = dense_scenario(scenario_name, density, Path(tmp) / "dense.yaml")
        chain = Chain(str(scn), seed=seed, policy="manual")
    trace: list = []
    step = chain.tracker.step

    def recorded(reports, now):
        trace.append((reports, now))
        return step(reports, now)

    chain.tracker.step = recorded
    while len(chain.picture) < tracks and chain.t < max_sim_s:
        chain.track_step()
    warm = len(trace)
    for _ in range(steps):
        chain.track_step()
    with open(path, "wb") as f:
        pickle.dump({"sensors": chain.tracker.sensors.sensors, "config": chain.tracker.cfg,
                     "trace": trace, "warm": warm}, f)
    print(f"# recorded {len(trace)} steps ({warm} warm-up) to {path}; "
          f"{len(chain.picture)} live tracks at the end", flush=True)


def replay_trace(path: str, steps: int = 60, with_phases: bool = False) -> dict:
    """Replay a recorded live trace; CPU per step over its last ``steps`` steps."""
    import pickle

    with open(path, "rb") as f:
        rec = pickle.load(f)
    trace = rec["trace"]
    first = max(len(trace) - steps, 0)
    tracker = Tracker(rec["sensors"], rec["config"])
    for reports, now in trace[:first]:
        tracker.step(reports, now)
    cpu, n_rep, n_batch, n_tracks = [], [], [], []
    calls = [0]
    batch = Tracker._batch

    def counted(self, *a, **k):
        calls[0] += 1
        return batch(self, *a, **k)

    Tracker._batch = counted
    try:
        def run():
            for reports, now in trace[first:]:
                calls[0] = 0
                done = tracker.stats.processed
                c = time.process_time()
                pic = tracker.step(reports, now)
                cpu.append(time.process_time() - c)
                n_rep.append(tracker.stats.processed - done)
                n_batch.append(calls[0])
                n_tracks.append(tracker.state.n)
            return pic

        if with_phases:
            acc: dict = {}
            with _stage_timer(acc):
                run()
        else:
            run()
    finally:
        Tracker._batch = batch
    ms_ = np.array(cpu) * 1e3
    out = {"steps": len(cpu), "cpu_p50_ms": float(np.percentile(ms_, 50)),
           "cpu_p99_ms": float(np.percentile(ms_, 99)), "cpu_mean_ms": float(ms_.mean()),
           "reports_per_step": float(np.mean(n_rep)), "batches_per_step": float(np.mean(n_batch)),
           "track_rows": float(np.mean(n_tracks))}
    if with_phases:
        out["parts_ms"] = {k: v / len(cpu) * 1e3 for k, v in
                           sorted(acc.items(), key=lambda kv: -kv[1])}
    return out


def _row(name: str, m: dict) -> str:
    return (f"{name:<22} {m['tracks_mean']:>8.0f} {m['reports']:>9,d} {m['wall_s']:>7.2f} "
            f"{m['reports_per_s']:>10,.0f} {m['reports_per_cpu_s']:>10,.0f} {m['p50_ms']:>7.1f} "
            f"{m['p99_ms']:>7.1f} {m['cpu_p50_ms']:>7.1f} {m['cpu_p99_ms']:>7.1f} "
            f"{m['peak_rss_mb']:>7.0f}")


HEADER = (f"{'case':<22} {'tracks':>8} {'reports':>9} {'wall s':>7} {'reports/s':>10} "
          f"{'rep/cpu s':>10} {'p50 ms':>7} {'p99 ms':>7} {'cpu p50':>7} {'cpu p99':>7} "
          f"{'peak MB':>7}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tracks", default="1000,2000,5000")
    ap.add_argument("--kinds", default="pos,radar")
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--run", help="replay this run directory instead")
    ap.add_argument("--profile", action="store_true", help="cProfile the first case")
    ap.add_argument("--phases", action="store_true",
                    help="CPU time per stage and kernel for the first case")
    ap.add_argument("--ncv", action="store_true", help="one NCV model instead of the IMM")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a tracker setting, as `airshield track --set` (repeatable)")
    ap.add_argument("--default-malloc", action="store_true",
                    help="leave glibc malloc as it is (the CLI tunes it: airshield.alloc)")
    ap.add_argument("--record-live", metavar="FILE",
                    help="record the live chain's tracker input on the dense mass raid")
    ap.add_argument("--trace", metavar="FILE", help="replay a recorded live trace")
    ap.add_argument("--live-tracks", type=int, default=1000)
    ap.add_argument("--live-steps", type=int, default=60)
    args = ap.parse_args(argv)
    if not args.default_malloc:
        from airshield.alloc import keep_freed_memory

        keep_freed_memory()
    cfg = with_settings(args.set, TrackerConfig(imm=not args.ncv), source="--set")
    busy = os.getloadavg()[0]
    print(f"# {os.cpu_count()} cores, load average {busy:.1f} (wall figures suffer above "
          f"{os.cpu_count()}; the CPU columns less)", flush=True)
    print(HEADER, flush=True)
    if args.record_live:
        record_live(args.record_live, args.live_tracks, args.live_steps)
        return 0
    if args.trace:
        m = replay_trace(args.trace, args.live_steps, args.phases)
        print(f"# live trace {args.trace}: last {m['steps']} steps, {m['track_rows']:.0f} track "
              f"rows, {m['reports_per_step']:.0f} reports and {m['batches_per_step']:.1f} "
              f"scan batches per step; Tracker.step CPU p50 {m['cpu_p50_ms']:.1f} ms, "
              f"p99 {m['cpu_p99_ms']:.1f} ms, mean {m['cpu_mean_ms']:.1f} ms", flush=True)
        for k, v in m.get("parts_ms", {}).items():
            print(f"#   {k:<20} {v:6.2f} ms  {100 * v / m['cpu_mean_ms']:4.1f} %", flush=True)
        return 0
    if args.run:
        print(_row(args.run[-22:], measure(load(args.run), warmup_s=0.0, cfg=cfg)), flush=True)
        return 0
    first = True
    for kind in args.kinds.split(","):
        for n in (int(x) for x in args.tracks.split(",")):
            sc = scenario(n, kind, args.duration, args.seed)
            if args.phases and first:
                ph = phases(sc.run, cfg=cfg)
                print(f"# {kind} x {n}: {ph['step_ms']:.2f} ms CPU per step (self time, "
                      f"with timing overhead)", flush=True)
                for k, v in ph["parts_ms"].items():
                    print(f"#   {k:<20} {v:6.2f} ms  {100 * v / ph['step_ms']:4.1f} %", flush=True)
            if args.profile and first:
                import cProfile
                import pstats

                pr = cProfile.Profile()
                pr.enable()
                m = measure(sc.run, cfg=cfg)
                pr.disable()
                pstats.Stats(pr).sort_stats(os.environ.get("SORT", "tottime")).print_stats(int(os.environ.get("NTOP", "25")))
            else:
                m = measure(sc.run, cfg=cfg)
            first = False
            print(_row(f"{kind} x {n}" + (" ncv" if args.ncv else ""), m), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
