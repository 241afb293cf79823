"""``airshield score``: compare a run's tracks with its truth.

GOSPA (contract: 3-D position in the ENU frame at the scenario origin, p = 2,
c = 1000 m, alpha = 2, at every truth step, averaged over steps), track breaks,
tracks per truth, track-initiation latency and a per-class breakdown. The
definitions are in docs/SCORING.md; the pieces live in ``airshield.metrics``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from airshield import CLASSES
from airshield.errors import InputError
from airshield.geo import ecef_to_enu_vectors, enu_to_ecef_vectors, geodetic_to_enu
from airshield.io.jsonl import FieldError, number, read_json
from airshield.io.records import Tracks, Truth
from airshield.io.run import SENSORS, TRACKS, TRUTH, read_scenario_json, read_sensors, read_tracks, read_truth
from airshield.metrics.align import sample_tracks, truth_steps
from airshield.metrics.continuity import latency_stats, track_continuity
from airshield.metrics.coverage import COVERAGE_MODEL, truth_coverage
from airshield.metrics.gospa import C_M, P, gospa_steps

OBJECTS = "objects.json"
ALPHA = 2.0


def score_run(run_dir: str | Path, tracks_path: str | Path | None = None,
              observable: bool = True) -> dict:
    """Score ``tracks.jsonl`` (or ``tracks_path``) against ``truth.jsonl`` of a
    run directory. Bad input raises InputError naming file, line and field.

    With ``observable`` and a ``sensors.json`` in the run directory, the
    ``gospa_observable_*`` fields score the truth some sensor could see
    (``metrics.coverage``); without, they are null (a bad ``sensors.json``: null,
    and ``observable_error`` names its file and field)."""
    run = Path(run_dir)
    if not run.is_dir():
        raise InputError("no such run directory", file=run)
    scenario = read_scenario_json(run)
    o = scenario["origin"]
    origin = (float(o["lat"]), float(o["lon"]), float(o.get("alt") or 0.0))
    truth = read_truth(run / TRUTH)
    tpath = Path(tracks_path) if tracks_path is not None else run / TRACKS
    tracks = read_tracks(tpath)
    objects = run / OBJECTS
    first_detected = read_objects(objects) if objects.is_file() else None
    seen, why = None, None
    if observable and (run / SENSORS).is_file():
        # an extra, not the contract's score: a bad sensors.json leaves it null and
        # says why (file and field) instead of failing the whole score
        try:
            read_sensors(run / SENSORS)
            seen = truth_coverage(truth.lat, truth.lon, truth.alt, truth.cls,
                                  read_json(run / SENSORS)["sensors"]).observable
        except InputError as e:
            why = str(e)
    result = score_tracks(truth, tracks, origin, first_detected, observable=seen)
    if why is not None:
        result["observable_error"] = why
    result["run_dir"] = str(run)
    result["tracks_file"] = str(tpath)
    return result


def read_objects(path: str | Path) -> dict[str, float | None]:
    """``objects.json`` (written by the simulator): object id -> first detection
    time, None for an object no sensor ever detected."""
    p = Path(path)
    doc = read_json(p)
    if not isinstance(doc, dict) or not isinstance(doc.get("objects"), list):
        raise InputError('expected {"objects": [...]}', file=p, field="objects")
    out: dict[str, float | None] = {}
    for k, o in enumerate(doc["objects"]):
        where = f"objects[{k}]"
        if not isinstance(o, dict):
            raise InputError("expected an object", file=p, field=where)
        oid = o.get("id")
        if not isinstance(oid, (str, int)) or isinstance(oid, bool) or oid == "":
            raise InputError("missing" if oid is None else "expected a string id", file=p,
                             field=f"{where}.id")
        try:
            t = number(o, "first_detected_t", required=False)
        except FieldError as e:
            raise InputError(e.message, file=p, field=f"{where}.{e.field}") from None
        if str(oid) in out:
            raise InputError(f"duplicate object id {oid!r}", file=p, field=f"{where}.id")
        out[str(oid)] = None if np.isnan(t) else t
    return out


def score_tracks(truth: Truth, tracks: Tracks, origin: tuple[float, float, float],
                 first_detected: dict[str, float | None] | None = None,
                 c: float = C_M, p: float = P, observable: np.ndarray | None = None) -> dict:
    """Every score of ``score_run`` from records already read. ``origin`` is
    (lat, lon, alt) of the scenario; ``first_detected`` maps truth id to first
    detection time (None: not known, the first truth time is used instead);
    ``observable`` (one bool per truth sample) adds the ``gospa_observable_*``
    fields (null without it)."""
    lat0, lon0, alt0 = origin
    n_obj = len(truth.ids)
    step_t, x_step = truth_steps(truth.t)
    n_steps = len(step_t)
    x = _enu(truth.lat, truth.lon, truth.alt, origin)

    ts = sample_tracks(step_t, tracks.t, tracks.track)
    rec, y_step, dt = ts.rec, ts.step, ts.dt
    y = _enu(tracks.lat, tracks.lon, tracks.alt, origin)[rec]
    moved = np.flatnonzero(dt)
    if len(moved):
        # Track velocities are ENU at the track; rotate them into the origin
        # frame (a fixed rotation, so this is straight-line motion in ECEF).
        r = rec[moved]
        v = enu_to_ecef_vectors(tracks.vel[r, 0], tracks.vel[r, 1], tracks.vel[r, 2],
                                tracks.lat[r], tracks.lon[r])
        v = np.column_stack(ecef_to_enu_vectors(*v, lat0, lon0))
        y[moved] += v * dt[moved, None]

    g = gospa_steps(x, x_step, y, y_step, n_steps, c, p)
    track_id = tracks.track[rec]
    assigned = np.full(len(truth), -1, np.int64)
    assigned[g.pair_truth] = track_id[g.pair_track]
    cont = track_continuity(truth.obj, x_step, assigned, n_obj)

    scored_tracks = np.unique(track_id)
    mean = (lambda a: float(np.mean(a))) if n_steps else (lambda a: 0.0)
    err = g.pair_dist
    res: dict = {
        "gospa_mean": mean(g.distance),
        "gospa_localisation": mean(g.localisation),
        "gospa_missed": mean(g.missed),
        "gospa_false": mean(g.false),
        "gospa_pow_mean": mean(g.localisation + g.missed + g.false),
        "gospa_missed_count_mean": mean(g.truth_count - g.assigned_count),
        "gospa_false_count_mean": mean(g.track_count - g.assigned_count),
        "gospa_assigned_count_mean": mean(g.assigned_count),
        "gospa_c_m": c, "gospa_p": p, "gospa_alpha": ALPHA,
        "gospa_units": (f"gospa_mean: mean over steps of the GOSPA distance d (m). "
                        f"gospa_localisation/_missed/_false: mean over steps of each part of d^p "
                        f"(m^{p:g}); they sum to gospa_pow_mean = mean of d^p."),
        "track_breaks": cont.track_breaks,
        "id_switches": int(cont.id_switches.sum()),
        "track_gaps": int(cont.track_gaps.sum()),
        "tracks_per_truth": cont.tracks_per_truth,
        "truth_objects": n_obj,
        "tracked_objects": int(cont.tracked.sum()),
        "tracks": int(len(scored_tracks)),
        "false_tracks": int(len(scored_tracks) - len(cont.assigned_tracks)),
        "tracks_unscored": int(len(tracks.ids) - len(scored_tracks)),
        "steps": n_steps,
        "steps_without_truth": int((g.truth_count == 0).sum()),
        "truth_step_s": float(np.median(np.diff(step_t))) if n_steps > 1 else None,
        "track_interval_s": ts.interval,
        "extrapolated_track_samples": int(len(moved)),
        "localisation_error_mean_m": float(err.mean()) if len(err) else None,
        "localisation_error_rms_m": float(np.sqrt(np.mean(err ** 2))) if len(err) else None,
    }

    res.update(observable_gospa(g, truth, x_step, observable, n_steps))

    first_track_t = np.full(n_obj, np.nan)
    tracked = cont.tracked
    first_track_t[tracked] = step_t[cont.first_assigned_step[tracked]]
    if first_detected is None:
        reference = np.full(n_obj, np.inf)
        np.minimum.at(reference, truth.obj, truth.t)
        res["latency_reference"] = "first_truth_t (no objects.json: first truth sample time)"
        missing = 0
    else:
        ref = [first_detected.get(oid, np.nan) for oid in truth.ids]
        reference = np.array([np.nan if v is None else v for v in ref], float)
        missing = sum(oid not in first_detected for oid in truth.ids)
        res["latency_reference"] = "first_detected_t (objects.json)"
    res.update(latency_stats(first_track_t, reference))
    res["latency_objects_missing"] = int(missing)
    res["per_class"] = _per_class(truth, assigned, g, cont)
    return res


def observable_gospa(g, truth: Truth, x_step: np.ndarray, observable: np.ndarray | None,
                     n_steps: int) -> dict:
    """GOSPA over the observable truth: the truth samples no sensor could see
    are left out, together with the track the full assignment gave each of them
    (a track holding an object through a gap in coverage is not false). The
    full optimal assignment restricted to what is left is optimal for it (a
    better one plus the removed pairs would beat the full optimum), so this is
    exactly GOSPA(observable truth, the other tracks) at every step, its parts
    adding up as in the full figure."""
    keys = ("gospa_observable_mean", "gospa_observable_localisation", "gospa_observable_missed",
            "gospa_observable_false", "gospa_observable_missed_count_mean", "observable_share")
    if observable is None:
        return {**dict.fromkeys(keys), "observable_model": None}
    obs = np.asarray(observable, bool)
    if obs.shape != (len(truth),):
        raise ValueError(f"observable: {obs.shape} for {len(truth)} truth samples")
    half = g.c ** g.p / 2.0
    keep = obs[g.pair_truth]
    loc = np.bincount(x_step[g.pair_truth[keep]], weights=g.pair_dist[keep] ** g.p, minlength=n_steps)
    n_obs = np.bincount(x_step[obs], minlength=n_steps)
    n_pair_obs = np.bincount(x_step[g.pair_truth[keep]], minlength=n_steps)
    missed = half * (n_obs - n_pair_obs)
    mean = (lambda a: float(np.mean(a))) if n_steps else (lambda a: 0.0)
    return {
        "gospa_observable_mean": mean((loc + missed + g.false) ** (1.0 / g.p)),
        "gospa_observable_localisation": mean(loc),
        "gospa_observable_missed": mean(missed),
        "gospa_observable_false": mean(g.false),
        "gospa_observable_missed_count_mean": mean(n_obs - n_pair_obs),
        "observable_share": float(obs.mean()) if len(obs) else None,
        "observable_model": COVERAGE_MODEL,
    }


def _enu(lat, lon, alt, origin) -> np.ndarray:
    if len(lat) == 0:
        return np.empty((0, 3))
    return np.column_stack(geodetic_to_enu(lat, lon, alt, *origin))


def _per_class(truth: Truth, assigned: np.ndarray, g, cont) -> dict:
    """Per truth class: objects, tracked objects, share of samples with a track,
    mean distance of the assigned pairs, tracks per truth and id switches (an
    operator cares about a drone's id more than a bird's)."""
    tracked = cont.tracked
    n_cls = len(CLASSES)
    _, first = np.unique(truth.obj, return_index=True)
    obj_cls = np.zeros(len(truth.ids), np.int64)
    obj_cls[truth.obj[first]] = truth.cls[first]
    cls = truth.cls.astype(np.int64)
    objects = np.bincount(obj_cls, minlength=n_cls)
    tracked_objects = np.bincount(obj_cls[tracked], minlength=n_cls)
    samples = np.bincount(cls, minlength=n_cls)
    hit = np.bincount(cls[assigned >= 0], minlength=n_cls)
    pair_cls = cls[g.pair_truth]
    err_sum = np.bincount(pair_cls, weights=g.pair_dist, minlength=n_cls)
    used = np.bincount(obj_cls[tracked], weights=cont.tracks_used[tracked], minlength=n_cls)
    switches = np.bincount(obj_cls, weights=cont.id_switches, minlength=n_cls)
    out = {}
    for k in np.flatnonzero(samples):
        out[CLASSES[k]] = {
            "objects": int(objects[k]),
            "tracked_objects": int(tracked_objects[k]),
            "samples": int(samples[k]),
            "tracked_share": float(hit[k] / samples[k]),
            "mean_error_m": float(err_sum[k] / hit[k]) if hit[k] else None,
            "tracks_per_truth": float(used[k] / tracked_objects[k]) if tracked_objects[k] else None,
            "id_switches": int(switches[k]),
        }
    return out


def format_score(result: dict):
    """A rich renderable: the headline scores, then the per-class table."""
    from rich.console import Group
    from rich.table import Table

    def f(v, unit=""):
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:,.1f}{unit}" if abs(v) >= 100 else f"{v:.3g}{unit}"
        return f"{v:,}{unit}"

    r = result
    head = Table(title=f"Score: {r.get('tracks_file', 'tracks')} vs truth", show_header=False)
    head.add_column("metric")
    head.add_column("value", justify="right")
    rows = [
        ("GOSPA mean (c = %g m, p = %g)" % (r["gospa_c_m"], r["gospa_p"]), f(r["gospa_mean"], " m")),
        ("  localisation part (mean of d^p)", f(r["gospa_localisation"], " m²")),
        ("  missed part", f(r["gospa_missed"], " m²")),
        ("  false part", f(r["gospa_false"], " m²")),
        ("  missed / false targets per step",
         f"{f(r['gospa_missed_count_mean'])} / {f(r['gospa_false_count_mean'])}"),
        ("localisation error mean / rms",
         f"{f(r['localisation_error_mean_m'], ' m')} / {f(r['localisation_error_rms_m'], ' m')}"),
        ("truth objects / tracked", f"{r['truth_objects']:,} / {r['tracked_objects']:,}"),
        ("tracks / false tracks", f"{r['tracks']:,} / {r['false_tracks']:,}"),
        ("track breaks (id switches + gaps)",
         f"{r['track_breaks']:,} ({r['id_switches']:,} + {r['track_gaps']:,})"),
        ("tracks per truth", f(r["tracks_per_truth"])),
        ("GOSPA over observable truth (share)",
         "-" if r.get("gospa_observable_mean") is None else
         f"{f(r['gospa_observable_mean'], ' m')} ({100 * r['observable_share']:.1f} % of samples)"),
        ("latency median / p90",
         f"{f(r['latency_median_s'], ' s')} / {f(r['latency_p90_s'], ' s')}"),
        ("latency reference", r["latency_reference"].split(" ")[0]),
        ("steps", f(r["steps"])),
    ]
    for k, v in rows:
        head.add_row(k, v)
    cls = Table(title="Per truth class")
    for name in ("class", "objects", "tracked", "tracked share", "mean error", "tracks per truth",
                 "id switches"):
        cls.add_column(name, justify="left" if name == "class" else "right")
    for name, c in r["per_class"].items():
        cls.add_row(name, f(c["objects"]), f(c["tracked_objects"]),
                    f"{100 * c['tracked_share']:.1f} %", f(c["mean_error_m"], " m"),
                    f(c.get("tracks_per_truth")), f(c.get("id_switches")))
    return Group(head, cls)
