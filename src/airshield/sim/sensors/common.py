"""Pieces every sensor model shares: when a sensor looks, where a target is
in the sensor's own frame, whether it lies in a coverage sector, the class
hint a sensor attaches, and packing reports into contract columns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from airshield import CLASSES, geo
from airshield.io.records import Detections
from airshield.sim.sensors.params import confusion_matrix, sector_width

GOLDEN = 0.6180339887498949
NC = len(CLASSES)


def default_phase(i: np.ndarray | int, period) -> np.ndarray:
    """Deterministic, well-spread scan phases for sensors without ``phase_s``:
    sensors in a network are not synchronised (golden-ratio sequence)."""
    return np.mod(np.asarray(i, float) * GOLDEN, 1.0) * np.asarray(period, float)


def look_times(phase: np.ndarray, period: np.ndarray, t0: float, t1: float):
    """All times ``phase + k*period`` in [t0, t1) for each of P (phase, period)
    pairs. Returns (pair index, time), flattened and grouped by pair."""
    phase, period = np.asarray(phase, float), np.asarray(period, float)
    first = phase + np.ceil((t0 - phase) / period) * period
    first = np.where(first < t0, first + period, first)  # floating-point guard
    n = np.maximum(np.ceil((t1 - first) / period), 0).astype(np.int64)
    n[first >= t1] = 0
    idx = np.repeat(np.arange(phase.size), n)
    if idx.size == 0:
        return idx, np.zeros(0)
    start = np.cumsum(n) - n
    k = np.arange(idx.size) - start[idx]
    t = first[idx] + k * period[idx]
    keep = t < t1
    return idx[keep], t[keep]


def enu_rotation(lat, lon) -> np.ndarray:
    """(S, 3, 3) ECEF<-ENU rotations; ``d @ R`` takes ECEF offsets to ENU."""
    return np.asarray(geo.enu_to_ecef_rotation(np.atleast_1d(lat), np.atleast_1d(lon)))


def aer_from_offsets(d_ecef: np.ndarray, rot: np.ndarray):
    """Azimuth (0..360), elevation (deg) and slant range (m) of ECEF offsets
    ``d_ecef`` (P, 3) seen from sensors with rotations ``rot`` (P, 3, 3) or (3, 3)."""
    if rot.ndim == 2:
        enu = d_ecef @ rot
    else:
        enu = np.einsum("pj,pji->pi", d_ecef, rot)
    e, n, u = enu[:, 0], enu[:, 1], enu[:, 2]
    rng = np.sqrt(e * e + n * n + u * u)
    az = np.mod(np.degrees(np.arctan2(e, n)), 360.0)
    el = np.degrees(np.arctan2(u, np.hypot(e, n)))
    return az, el, rng


@dataclass
class Sectors:
    """Azimuth sectors of S sensors, padded with NaN to K sectors each."""

    start: np.ndarray  # (S, K) degrees 0..360
    width: np.ndarray  # (S, K) degrees, NaN = no sector

    @classmethod
    def from_records(cls, recs: list[dict]) -> "Sectors":
        k = max(len(r["sectors"]) for r in recs)
        start = np.full((len(recs), k), np.nan)
        width = np.full((len(recs), k), np.nan)
        for i, r in enumerate(recs):
            for j, s in enumerate(r["sectors"]):
                start[i, j] = s["az_from_deg"]
                width[i, j] = sector_width(s["az_from_deg"], s["az_to_deg"])
        return cls(start, width)

    def contains(self, sensor: np.ndarray, az: np.ndarray) -> np.ndarray:
        off = np.mod(az[:, None] - self.start[sensor], 360.0)
        return np.any(off <= self.width[sensor], axis=1)  # NaN compares False

    def fraction(self, s: int) -> float:
        """Share of the circle that sensor ``s`` covers (overlaps counted once)."""
        grid = np.arange(3600) / 10.0 + 0.05
        return float(self.contains(np.full(grid.size, s), grid).mean())

    def sample(self, sensor: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One azimuth per row, uniform over that sensor's sectors."""
        w = np.nan_to_num(self.width[sensor])
        cw = np.cumsum(w, axis=1)
        u = rng.random(sensor.size) * cw[:, -1]
        j = np.minimum((u[:, None] > cw).sum(axis=1), w.shape[1] - 1)
        lo = np.take_along_axis(cw - w, j[:, None], 1)[:, 0]
        return np.mod(self.start[sensor, j] + (u - lo), 360.0)


class ClassHints:
    """Class hints as likelihoods: the sensor calls a class by sampling its
    confusion row for the true class, and reports, for every class, how likely
    that call is under it (the confusion column, normalised)."""

    def __init__(self, recs: list[dict]):
        mats, self.which = {}, np.zeros(len(recs), np.int32)
        self.enabled = np.array([bool(r.get("class_hint")) for r in recs])
        by_spec: dict[str, int] = {}
        for i, r in enumerate(recs):
            seen = detectable(r)
            spec = f"{r['kind']}:{r.get('confusion')!r}:{seen}"
            if spec not in by_spec:
                key = (tuple(map(tuple, confusion_matrix(r))), seen)
                by_spec[spec] = mats.setdefault(key, len(mats))
            self.which[i] = by_spec[spec]
        self.cum = np.array([np.cumsum(np.array(m), axis=1) for m, _ in mats]).reshape(-1, NC, NC)
        # Likelihood of the call under each true class; a class the sensor can
        # never detect (a bird to a microphone) cannot have caused the report.
        cols = np.array([np.array(m).T * np.array(seen) for m, seen in mats]).reshape(-1, NC, NC)
        self.like = (cols / np.maximum(cols.sum(axis=2, keepdims=True), 1e-300)).astype(np.float32)

    def draw(self, sensor: np.ndarray, true_cls: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(M, NC) float32 hints; NaN rows for sensors that give none."""
        m = self.which[sensor]
        cum = self.cum[m, true_cls]
        called = np.minimum((rng.random(sensor.size)[:, None] > cum).sum(axis=1), NC - 1)
        out = self.like[m, called]
        out[~self.enabled[sensor]] = np.nan
        return out


def detectable(rec: dict) -> tuple[bool, ...]:
    """Which classes the sensor can detect at all (range or RCS above zero)."""
    per = rec.get("range_by_class_m") or rec.get("rcs_m2")
    if rec["kind"] == "adsb":
        return tuple(c == "aircraft" for c in CLASSES)
    return tuple(bool(per[c] > 0) for c in CLASSES) if per else (True,) * NC


def detections(t, sensor, kind: int, z, sigma, p_class=None, snr_db=None) -> Detections:
    """Contract columns from model arrays (z, sigma: (M, <=4))."""
    n = int(np.size(t))
    d = Detections.empty(n)
    d.t[:] = t
    d.sensor[:] = sensor
    d.kind[:] = kind
    if n == 0:
        return d
    z, sigma = np.asarray(z, float).reshape(n, -1), np.asarray(sigma, float).reshape(n, -1)
    d.z[:, : z.shape[1]] = z
    d.sigma[:, : sigma.shape[1]] = sigma
    if p_class is not None:
        d.p_class[:] = p_class
    if snr_db is not None:
        d.snr_db[:] = snr_db
    return d


@dataclass
class Part:
    """One model's reports over an interval, before the suite merges them."""

    det: Detections
    truth_row: np.ndarray
    delay_s: np.ndarray

    @staticmethod
    def empty() -> "Part":
        return Part(Detections.empty(), np.zeros(0, np.int32), np.zeros(0))


def truth_at(state, rows: np.ndarray, t: np.ndarray):
    """ECEF position and altitude of objects ``rows`` at times ``t``, flown
    straight on from the state's instant with the state's velocity."""
    dt = (t - state.t)[:, None]
    pos = state.ecef[rows] + state.vel_ecef[rows] * dt
    alt = state.alt[rows] + state.vel_enu[rows, 2] * dt[:, 0]
    return pos, alt


def gauss(rng: np.random.Generator, sigma: np.ndarray) -> np.ndarray:
    return rng.standard_normal(np.shape(sigma)) * sigma


def uniform_pairs(rng: np.random.Generator, lohi: np.ndarray) -> np.ndarray:
    """One draw per row of (M, 2) [lo, hi] bounds."""
    return lohi[:, 0] + rng.random(lohi.shape[0]) * (lohi[:, 1] - lohi[:, 0])


def noisy_fix(ecef: np.ndarray, lat_ref: np.ndarray, lon_ref: np.ndarray, sig_h: np.ndarray,
              sig_v: np.ndarray, rng: np.random.Generator):
    """A position report: ``ecef`` plus Gaussian error of ``sig_h`` on each of
    east and north and ``sig_v`` up, in the ENU frame at (lat_ref, lon_ref)
    (the object's own position), returned as lat, lon, alt in one conversion."""
    n = ecef.shape[0]
    err = rng.standard_normal((n, 3)) * np.column_stack([sig_h, sig_h, sig_v])
    moved = ecef + np.einsum("nij,nj->ni", enu_rotation(lat_ref, lon_ref).reshape(n, 3, 3), err)
    lat, lon, alt = geo.ecef_to_geodetic(moved[:, 0], moved[:, 1], moved[:, 2])
    return np.atleast_1d(lat), np.atleast_1d(lon), np.atleast_1d(alt)
