"""Stone Soup reference tracker: a run directory in, contract tracks out.

    python benchmarks/stonesoup_tracker.py RUN_DIR [--out FILE] [--time-limit S] [--set NAME=VALUE]
    python benchmarks/stonesoup_tracker.py --check        # frame self-check only

The reference that airshield is compared against (bench_vs_stonesoup.py): an
ordinary, reasonably tuned Stone Soup multi-target tracker built from its standard
parts, as its tutorials build one. Tracker frame: ENU at the scenario origin,
state (x, vx, y, vy, z, vz); nearly-constant-velocity motion; extended Kalman
filter; radar plots through ``CartesianToElevationBearingRange[Rate]`` with the
radar's offset and tangent-plane tilt; position reports through ``LinearGaussian``;
Mahalanobis ``DistanceHypothesiser`` + ``GNNWith2DAssignment``;
``MultiMeasurementInitiator``; time/covariance deleters. Bearing-only reports
(acoustic, EO) are left out: a standard Stone Soup GNN tracker cannot start a
track on them. benchmarks/README.md has the choices, the tuning and the limits.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import resource
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from airshield import geo
from airshield.errors import InputError
from airshield.io.jsonl import read_json, write_jsonl
from airshield.io.records import BEARING, POLAR, POS
from airshield.io.run import read_detections, read_sensors

from stonesoup.dataassociator.neighbour import GNNWith2DAssignment
from stonesoup.deleter.error import CovarianceBasedDeleter
from stonesoup.deleter.multi import CompositeDeleter
from stonesoup.deleter.time import UpdateTimeDeleter
from stonesoup.hypothesiser.distance import DistanceHypothesiser
from stonesoup.initiator.simple import MultiMeasurementInitiator
from stonesoup.measures import Mahalanobis
from stonesoup.models.measurement.linear import LinearGaussian
from stonesoup.models.measurement.nonlinear import (CartesianToElevationBearingRange,
                                                    CartesianToElevationBearingRangeRate)
from stonesoup.models.transition.linear import (CombinedLinearGaussianTransitionModel,
                                                ConstantVelocity)
from stonesoup.predictor.kalman import ExtendedKalmanPredictor
from stonesoup.tracker.simple import MultiTargetTracker
from stonesoup.types.angle import Bearing, Elevation
from stonesoup.types.array import CovarianceMatrix, StateVector
from stonesoup.types.detection import Detection
from stonesoup.types.state import GaussianState
from stonesoup.types.update import Update
from stonesoup.updater.kalman import ExtendedKalmanUpdater

POS_MAP = (0, 2, 4)
VEL_MAP = (1, 3, 5)


@dataclass(frozen=True)
class Settings:
    """Tuned on the ``demo`` scenario, then frozen (see benchmarks/README.md)."""

    q_h: float = 0.3  # horizontal acceleration noise density, m^2/s^3
    q_v: float = 0.1  # vertical, m^2/s^3
    gate: float = 4.0  # Mahalanobis distance of the missed-detection hypothesis
    min_points: int = 3  # updates that confirm a tentative track
    prior_speed_sigma: float = 80.0  # m/s, horizontal velocity prior of a new track
    prior_vspeed_sigma: float = 10.0  # m/s, vertical
    tentative_delete_s: float = 12.0  # tentative track without update for this long goes
    delete_after_s: float = 25.0  # confirmed track without update for this long goes
    delete_trace_m2: float = 4.0e6  # or when its position covariance trace exceeds this
    coast_after_s: float = 8.0  # written as "coasting" when not updated for this long
    scan_window_s: float = 0.5  # one tracker call per sensor per window (see scans())
    no_alt_m: float = 1000.0  # assumed height of a position report without alt ...
    no_alt_sigma_m: float = 2000.0  # ... and its vertical sigma


# ---------------------------------------------------------------------------- frames

@dataclass(frozen=True)
class Frame:
    lat0: float
    lon0: float
    alt0: float
    epoch: datetime

    def stamp(self, t: float) -> datetime:
        return self.epoch + timedelta(seconds=float(t))

    def seconds(self, ts: datetime) -> float:
        return (ts - self.epoch).total_seconds()


def read_frame(run_dir: Path, sensors) -> Frame:
    """The scenario origin and epoch; without scenario.json, the sensors' centre."""
    p = run_dir / "scenario.json"
    if p.is_file():
        doc = read_json(p)
        o = doc.get("origin") or {}
        epoch = datetime.fromisoformat(str(doc.get("epoch", "2000-01-01T00:00:00+00:00"))
                                       .replace("Z", "+00:00"))
        if "lat" in o and "lon" in o:
            return Frame(float(o["lat"]), float(o["lon"]), float(o.get("alt", 0.0)), epoch)
    else:
        epoch = datetime(2000, 1, 1, tzinfo=timezone.utc)
    return Frame(float(np.mean(sensors.lat)), float(np.mean(sensors.lon)), 0.0, epoch)


def frame_to_local(frame: Frame, lat, lon) -> np.ndarray:
    """Rotation M with local_enu = M @ tracker_enu at (lat, lon): both ENU bases
    taken to ECEF by airshield.geo."""
    r_o = geo.enu_to_ecef_rotation(frame.lat0, frame.lon0)
    r_p = geo.enu_to_ecef_rotation(lat, lon)
    return np.swapaxes(r_p, -1, -2) @ r_o


def stonesoup_rotation_offset(m: np.ndarray) -> StateVector:
    """Angles for Stone Soup's ``rotation_offset`` whose rotation matrix is ``m``.

    stonesoup.functions.build_rotation_matrix([tx, ty, tz]) is
    rotx(-tx) @ roty(ty) @ rotz(-tz), with rotx/roty/rotz the usual active
    rotations; scipy's intrinsic 'XYZ' Euler angles (a, b, c) give
    m = Rx(a) Ry(b) Rz(c), so (tx, ty, tz) = (-a, b, -c).
    """
    a, b, c = Rotation.from_matrix(m).as_euler("XYZ")
    return StateVector([-a, b, -c])


def contract_az_to_bearing(az_deg: float) -> float:
    """Contract azimuth (clockwise from north, deg) -> Stone Soup bearing
    (counter-clockwise from x = east, rad)."""
    return math.radians(90.0 - az_deg)


# ---------------------------------------------------------------------------- reports

class ModelBook:
    """Measurement models, one per (sensor, sigmas, with range rate) so a scan
    shares one object; built lazily."""

    def __init__(self, sensors, frame: Frame):
        self.sensors, self.frame = sensors, frame
        e, n, u = geo.geodetic_to_enu(sensors.lat, sensors.lon, sensors.alt,
                                      frame.lat0, frame.lon0, frame.alt0)
        self.offset = np.stack([e, n, u], axis=-1).reshape(-1, 3)
        self.rot = [stonesoup_rotation_offset(frame_to_local(frame, sensors.lat[i], sensors.lon[i]))
                    for i in range(len(sensors))]
        self._cache: dict = {}

    def radar(self, si: int, sigma: tuple, with_rr: bool):
        key = (si, sigma, with_rr)
        model = self._cache.get(key)
        if model is None:
            s_r, s_az, s_el, s_rr = sigma
            var = [math.radians(s_el) ** 2, math.radians(s_az) ** 2, s_r ** 2]
            kw = dict(ndim_state=6, mapping=POS_MAP,
                      translation_offset=StateVector(self.offset[si]), rotation_offset=self.rot[si])
            if with_rr:
                model = CartesianToElevationBearingRangeRate(
                    noise_covar=CovarianceMatrix(np.diag(var + [s_rr ** 2])),
                    velocity_mapping=VEL_MAP, **kw)
            else:
                model = CartesianToElevationBearingRange(noise_covar=CovarianceMatrix(np.diag(var)), **kw)
            self._cache[key] = model
        return model


# Sigmas for a report whose sensor gives none either (a contract-valid feed may).
FALLBACK_SIGMA = {"range_m": 50.0, "az_deg": 1.0, "el_deg": 2.0, "rr_mps": 2.0, "pos_m": 50.0}


def _sig(v: float, fallback: float) -> float:
    return float(v) if np.isfinite(v) and v > 0 else fallback


class Feed:
    """Contract detections as Stone Soup ``Detection`` objects, made per tracker
    call (a raid has millions of reports; making them all first costs gigabytes).
    Position reports are converted to the tracker frame in one vectorised step."""

    def __init__(self, dets, sensors, frame: Frame, settings: Settings):
        self.dets, self.frame = dets, frame
        self.book = ModelBook(sensors, frame)
        self.usable = (dets.kind == POS) | ((dets.kind == POLAR) & (dets.z[:, 0] > 0))
        self.counts = {"polar": int(np.count_nonzero(self.usable & (dets.kind == POLAR))),
                       "pos": int(np.count_nonzero(dets.kind == POS)),
                       "bearing_left_out": int(np.count_nonzero(dets.kind == BEARING)),
                       "unusable": int(np.count_nonzero((dets.kind == POLAR) & ~self.usable))}
        rows = np.flatnonzero(dets.kind == POS)
        self.pos_index = np.full(len(dets), -1, np.int64)
        self.pos_index[rows] = np.arange(rows.size)
        lat, lon, alt = dets.z[rows, 0], dets.z[rows, 1], dets.z[rows, 2]
        no_alt = ~np.isfinite(alt)
        alt = np.where(no_alt, settings.no_alt_m, alt)
        e, n, u = geo.geodetic_to_enu(lat, lon, alt, frame.lat0, frame.lon0, frame.alt0)
        self.pos_xyz = np.stack([e, n, u], axis=-1).reshape(-1, 3)
        fb = FALLBACK_SIGMA["pos_m"]
        sh = np.where(np.isfinite(dets.sigma[rows, 0]), dets.sigma[rows, 0], fb)
        sv = np.where(no_alt, settings.no_alt_sigma_m,
                      np.where(np.isfinite(dets.sigma[rows, 1]), dets.sigma[rows, 1], fb))
        local = np.zeros((rows.size, 3, 3))
        local[:, 0, 0] = local[:, 1, 1] = sh ** 2
        local[:, 2, 2] = sv ** 2
        m = frame_to_local(frame, lat, lon).reshape(-1, 3, 3)
        self.pos_cov = np.swapaxes(m, 1, 2) @ local @ m  # report's ENU covariance in the tracker frame

    def detections(self, rows) -> set:
        d, out = self.dets, set()
        for row in rows:
            ts = self.frame.stamp(d.t[row])
            if d.kind[row] == POS:
                k = self.pos_index[row]
                model = LinearGaussian(ndim_state=6, mapping=POS_MAP, noise_covar=CovarianceMatrix(self.pos_cov[k]))
                out.add(Detection(StateVector(self.pos_xyz[k]), timestamp=ts, measurement_model=model))
                continue
            z, s = d.z[row], d.sigma[row]
            f = FALLBACK_SIGMA
            sig = (_sig(s[0], f["range_m"]), _sig(s[1], f["az_deg"]), _sig(s[2], f["el_deg"]), _sig(s[3], f["rr_mps"]))
            with_rr = bool(np.isfinite(z[3]))
            vec = [Elevation(math.radians(z[2])), Bearing(contract_az_to_bearing(z[1])), z[0]]
            if with_rr:
                vec.append(z[3])
            out.add(Detection(StateVector(vec), timestamp=ts,
                              measurement_model=self.book.radar(int(d.sensor[row]), sig, with_rr)))
        return out


def scans(dets, usable: np.ndarray, settings: Settings) -> list[np.ndarray]:
    """Row groups in feeding order: the usable reports of one sensor within one
    ``scan_window_s`` window, windows in time order, a window's groups by their
    first report. With window 0: runs of consecutive reports from one sensor.

    A track may be updated by one sensor's report and then offered another
    sensor's slightly earlier report of the same window, so Stone Soup may
    predict back by less than one window; a short window keeps that harmless.
    """
    rows = np.flatnonzero(usable)
    if rows.size == 0:
        return []
    w = settings.scan_window_s
    if w <= 0:
        cut = np.flatnonzero(np.diff(dets.sensor[rows]) != 0) + 1
        return np.split(rows, cut)
    k = np.floor(dets.t[rows] / w).astype(np.int64)
    order = np.lexsort((dets.t[rows], dets.sensor[rows], k))
    rows, k = rows[order], k[order]
    s = dets.sensor[rows]
    cut = np.flatnonzero((np.diff(k) != 0) | (np.diff(s) != 0)) + 1
    groups = np.split(rows, cut)
    first = np.array([dets.t[g[0]] for g in groups])
    gk = np.array([k[c] for c in np.r_[0, cut]])
    return [groups[i] for i in np.lexsort((first, gk))]


def trim_history(tracks) -> None:
    """Drop each track's states before its last update. Stone Soup keeps every
    state (one per tracker call per track), which grows without bound over a long
    raid and makes time-based deletion scan it all; no estimate depends on them."""
    for tr in tracks:
        states = tr.states
        k = len(states) - 1
        while k > 0 and not isinstance(states[k], Update):
            k -= 1
        if k > 0:
            del states[:k]
            del tr.metadatas[:k]


# ---------------------------------------------------------------------------- tracker

def build_tracker(settings: Settings):
    transition = CombinedLinearGaussianTransitionModel(
        [ConstantVelocity(settings.q_h), ConstantVelocity(settings.q_h), ConstantVelocity(settings.q_v)])
    predictor = ExtendedKalmanPredictor(transition)
    updater = ExtendedKalmanUpdater(measurement_model=None)
    hypothesiser = DistanceHypothesiser(predictor, updater, measure=Mahalanobis(),
                                        missed_distance=settings.gate)
    associator = GNNWith2DAssignment(hypothesiser)
    sp, sv = settings.prior_speed_sigma, settings.prior_vspeed_sigma
    prior = GaussianState(StateVector(np.zeros(6)), CovarianceMatrix(np.diag([0, sp**2, 0, sp**2, 0, sv**2])))
    initiator = MultiMeasurementInitiator(
        prior_state=prior, deleter=UpdateTimeDeleter(timedelta(seconds=settings.tentative_delete_s)),
        data_associator=associator, updater=updater, min_points=settings.min_points)
    deleter = CompositeDeleter([UpdateTimeDeleter(timedelta(seconds=settings.delete_after_s)),
                                CovarianceBasedDeleter(covar_trace_thresh=settings.delete_trace_m2,
                                                       mapping=list(POS_MAP))], intersect=False)
    tracker = MultiTargetTracker(initiator=initiator, deleter=deleter, detector=None,
                                 data_associator=associator, updater=updater)
    return tracker, transition


def last_update_time(track) -> datetime:
    for state in reversed(track.states):
        if isinstance(state, Update) and state.hypothesis:
            return state.timestamp
    return track.states[0].timestamp


def tick_records(tracker, frame: Frame, tick: float, names: dict, settings: Settings) -> list[dict]:
    """Contract TRACK records for every live track predicted to ``tick``. The
    constant-velocity extrapolation is vectorised so output costs Stone Soup little."""
    tracks = list(tracker.tracks)
    if not tracks:
        return []
    x = np.array([np.asarray(tr.state_vector, float).ravel() for tr in tracks])
    dt = tick - np.array([frame.seconds(tr.timestamp) for tr in tracks])
    pos = x[:, POS_MAP] + x[:, VEL_MAP] * dt[:, None]
    vel = x[:, VEL_MAP]
    lat, lon, alt = geo.enu_to_geodetic(pos[:, 0], pos[:, 1], pos[:, 2], frame.lat0, frame.lon0, frame.alt0)
    vx, vy, vz = geo.enu_to_ecef_vectors(vel[:, 0], vel[:, 1], vel[:, 2], frame.lat0, frame.lon0)
    ve, vn, vu = geo.ecef_to_enu_vectors(vx, vy, vz, lat, lon)  # velocity in the ENU at the track
    since = tick - np.array([frame.seconds(last_update_time(tr)) for tr in tracks])
    recs = []
    for k, tr in enumerate(tracks):
        tid = names.setdefault(tr.id, f"SS{len(names) + 1:05d}")
        recs.append({"t": round(tick, 3), "track": tid, "lat": float(lat[k]), "lon": float(lon[k]),
                     "alt": float(alt[k]), "ve": float(ve[k]), "vn": float(vn[k]), "vu": float(vu[k]),
                     "status": "coasting" if since[k] > settings.coast_after_s else "confirmed"})
    return recs


def run(run_dir: Path, out: Path | None = None, settings: Settings = Settings(),
        time_limit_s: float | None = None) -> dict:
    """Track one run directory with Stone Soup; write contract tracks; return a summary."""
    run_dir = Path(run_dir)
    out = Path(out) if out else run_dir / "tracks_stonesoup.jsonl"
    t_start = time.perf_counter()
    sensors = read_sensors(run_dir)
    skipped: list = []
    dets = read_detections(run_dir, sensors, skipped)
    frame = read_frame(run_dir, sensors)
    feed = Feed(dets, sensors, frame, settings)
    tracker, _ = build_tracker(settings)
    records: list[dict] = []
    names: dict = {}
    next_tick = math.ceil(dets.t[0]) if len(dets) else 0.0
    usable = feed.usable
    fed, capped = 0, False
    processed_until = float(dets.t[0]) if len(dets) else 0.0
    for rows in scans(dets, usable, settings):
        t_first = dets.t[rows[0]]
        while next_tick <= t_first:
            trim_history(tracker.tracks)
            records.extend(tick_records(tracker, frame, next_tick, names, settings))
            next_tick += 1.0
        tracker.update_tracker(frame.stamp(dets.t[rows[-1]]), feed.detections(rows))
        fed += rows.size
        processed_until = max(processed_until, float(dets.t[rows[-1]]))
        if time_limit_s is not None and time.perf_counter() - t_start > time_limit_s:
            capped = fed < int(usable.sum())
            break
    # bearing-only and unusable reports were offered too, up to where it got
    fed += int(np.count_nonzero(~usable & (dets.t <= (processed_until if capped else np.inf))))
    while next_tick <= processed_until:
        records.extend(tick_records(tracker, frame, next_tick, names, settings))
        next_tick += 1.0
    write_jsonl(out, records)
    wall = time.perf_counter() - t_start
    return {"tracker": "stonesoup", "reports": len(dets), "reports_fed": fed, **feed.counts,
            "skipped_lines": len(skipped), "tracks": len(names), "track_records": len(records),
            "processed_until_t": processed_until, "capped": capped, "wall_s": wall,
            "reports_per_s": fed / wall if wall > 0 else float("nan"),
            "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
            "out": str(out), "settings": asdict(settings)}


# ---------------------------------------------------------------------------- checks

def check_frame(origin=(50.45, 30.52, 150.0), sensor=(48.0, 35.0, 300.0),
                target=(48.6, 34.2, 2500.0), vel_enu=(-35.0, 28.0, 1.5)) -> dict:
    """Noise-free check of the radar model: a target seen by a radar ~400 km
    from the origin is measured with airshield.geo (contract az/el/range, range
    rate from ECEF), then Stone Soup's model must predict the same measurement
    and its inverse must give back the target's position. Returns the errors."""
    from stonesoup.functions import build_rotation_matrix
    from stonesoup.types.state import State

    frame = Frame(*origin, datetime(2000, 1, 1, tzinfo=timezone.utc))
    sensors = _one_sensor(*sensor)
    book = ModelBook(sensors, frame)
    m = frame_to_local(frame, sensor[0], sensor[1])
    rot_err = float(np.abs(build_rotation_matrix(book.rot[0]) - m).max())

    az, el, rng = geo.geodetic_to_aer(*target, *sensor)
    t_ecef = np.array(geo.geodetic_to_ecef(*target), float)
    s_ecef = np.array(geo.geodetic_to_ecef(*sensor), float)
    v_ecef = np.array(geo.enu_to_ecef_vectors(*vel_enu, target[0], target[1]), float)
    los = (t_ecef - s_ecef) / np.linalg.norm(t_ecef - s_ecef)
    rr = float(v_ecef @ los)

    pos = np.array(geo.geodetic_to_enu(*target, *origin), float)
    vel = np.array(geo.ecef_to_enu_vectors(*v_ecef, origin[0], origin[1]), float)
    state = State(StateVector([pos[0], vel[0], pos[1], vel[1], pos[2], vel[2]]))
    model = book.radar(0, (30.0, 0.3, 0.5, 1.0), True)
    pred = np.asarray(model.function(state), float).ravel()
    want = np.array([math.radians(el), contract_az_to_bearing(float(az)), rng, rr])
    ang = (pred[:2] - want[:2] + np.pi) % (2 * np.pi) - np.pi
    det = Detection(StateVector([Elevation(want[0]), Bearing(want[1]), want[2], want[3]]),
                    measurement_model=model)
    back = np.asarray(model.inverse_function(det), float).ravel()[list(POS_MAP)]
    return {"rotation_matrix_err": rot_err, "el_err_deg": float(np.degrees(abs(ang[0]))),
            "az_err_deg": float(np.degrees(abs(ang[1]))), "range_err_m": float(abs(pred[2] - want[2])),
            "rr_err_mps": float(abs(pred[3] - want[3])),
            "inverse_pos_err_m": float(np.linalg.norm(back - pos)),
            "tilt_deg": float(np.degrees(np.arccos(np.clip((np.trace(m) - 1) / 2, -1, 1))))}


def _one_sensor(lat, lon, alt):
    from airshield.io.run import sensors_from_records

    return sensors_from_records([{"id": "R", "kind": "radar", "lat": lat, "lon": lon, "alt": alt}])


def settings_with(pairs: list[str]) -> Settings:
    fields = {f.name: f.type for f in dataclasses.fields(Settings)}
    kw = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        if name not in fields:
            raise SystemExit(f"stonesoup_tracker: error: --set {pair}: no setting {name!r} "
                             f"(one of {', '.join(fields)})")
        kw[name] = int(value) if fields[name] in (int, "int") else float(value)
    return dataclasses.replace(Settings(), **kw)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir", nargs="?", type=Path)
    ap.add_argument("--out", type=Path, help="tracks file (default RUN_DIR/tracks_stonesoup.jsonl)")
    ap.add_argument("--time-limit", type=float, help="stop feeding reports after this many wall seconds")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="override one of the frozen Settings (for tuning studies)")
    ap.add_argument("--check", action="store_true", help="run the frame self-check and exit")
    args = ap.parse_args(argv)
    if args.check or args.run_dir is None:
        errs = check_frame()
        print(json.dumps(errs))
        ok = (errs["rotation_matrix_err"] < 1e-9 and errs["az_err_deg"] < 1e-6 and errs["el_err_deg"] < 1e-6
              and errs["range_err_m"] < 1e-3 and errs["rr_err_mps"] < 1e-6 and errs["inverse_pos_err_m"] < 1e-3)
        print("frame check:", "ok" if ok else "FAILED", file=sys.stderr)
        return 0 if ok else 1
    try:
        summary = run(args.run_dir, args.out, settings_with(args.set), time_limit_s=args.time_limit)
    except InputError as e:
        print(f"stonesoup_tracker: error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
