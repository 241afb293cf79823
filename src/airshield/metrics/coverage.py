"""Which truth samples some sensor could have seen: the part of the truth a
tracker can be held to.

A sample is **observable** when it is inside some radar's reach, or inside the
reach of two or more direction-finding sensors (acoustic arrays, EO/IR, any
sensor that reports bearings): two bearings cross and fix a position, one does
not (no range). Crowd (``visual``) and ADS-B reports are not counted: crowd
reports are sparse and late, and ADS-B covers cooperative aircraft only, so
counting them would call almost everything observable.

Reach, from the sensor records (``sensors.json``), using only what a record
gives:

- radar: where one look detects the target at least half the time. With
  ``pd`` at ``ref_range_m`` for ``ref_rcs_m2`` and the false-alarm probability
  ``pfa`` (Swerling I: pd = pfa^(1 / (1 + SNR)), SNR ~ RCS / R^4), that is
  ``ref_range_m * (SNR_ref / SNR_half * rcs_m2[class] / ref_rcs_m2) ** 0.25``;
  without ``pfa``, the range at which the class is seen with the reference
  ``pd`` (the same radar equation); capped at ``range_max_m``; without
  ``ref_range_m``/``rcs_m2``, ``range_max_m``; not nearer than ``range_min_m``;
- direction sensors: ``range_by_class_m[class]``, else ``range_max_m``;
- both: inside the 4/3-Earth horizon (``geo.above_radar_horizon``), the
  elevation limits (``el_min_deg``/``el_max_deg``) and the azimuth sectors, when
  given.

Beyond that reach a radar still sees a target now and then (Swerling
fluctuations), so "observable" is where a sensor sees the target more often than
not. Everything is vectorised over the (sample, sensor)
pairs a KD-tree finds within reach.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from airshield import CLASSES, geo

DIRECTION_KINDS = ("acoustic", "eo", "df", "rf", "bearing")
COVERAGE_MODEL = ("observable: within some radar's reach (detected at least half the time), an "
                  "ADS-B receiver's range for aircraft, or the reach of two or more "
                  "direction-finding sensors (airshield.metrics.coverage)")


@dataclass
class Coverage:
    """Per truth sample: inside some radar's reach; number of direction
    sensors in reach."""

    radar: np.ndarray  # (N,) bool: some radar (or, for aircraft, ADS-B) has it
    n_direction: np.ndarray  # (N,) int

    @property
    def observable(self) -> np.ndarray:
        return self.radar | (self.n_direction >= 2)


def _num(rec: dict, key: str, default: float) -> float:
    v = rec.get(key)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else default


def _reach(rec: dict, kind: str) -> np.ndarray:
    """(n_classes,) reach of one sensor by truth class, metres."""
    rmax = _num(rec, "range_max_m", np.nan)
    if kind == "radar":
        ref, rcs = rec.get("ref_range_m"), rec.get("rcs_m2")
        if isinstance(ref, (int, float)) and isinstance(rcs, dict):
            r_ref = _num(rec, "ref_rcs_m2", 1.0)
            sigma = np.array([_num(rcs, c, 0.1) for c in CLASSES])
            gain = 1.0
            pd, pfa = _num(rec, "pd", np.nan), _num(rec, "pfa", np.nan)
            if 0.0 < pfa < 0.5 and 0.5 < pd < 1.0:
                snr_ref = np.log(pfa) / np.log(pd) - 1.0
                snr_half = np.log(pfa) / np.log(0.5) - 1.0
                gain = snr_ref / snr_half
            r = float(ref) * (gain * np.maximum(sigma, 0.0) / r_ref) ** 0.25
            return np.fmin(r, rmax) if np.isfinite(rmax) else r
        return np.full(len(CLASSES), rmax)
    by = rec.get("range_by_class_m")
    if isinstance(by, dict):
        return np.array([_num(by, c, rmax) for c in CLASSES])
    return np.full(len(CLASSES), rmax)


def _in_sectors(rec: dict, az: np.ndarray) -> np.ndarray:
    sectors = rec.get("sectors")
    if not isinstance(sectors, list) or not sectors:
        return np.ones(az.shape, bool)
    ok = np.zeros(az.shape, bool)
    for s in sectors:
        a0, a1 = _num(s, "az_from_deg", 0.0), _num(s, "az_to_deg", 360.0)
        width = (a1 - a0) % 360.0 or 360.0
        ok |= np.mod(az - a0, 360.0) <= width
    return ok


def truth_coverage(lat: np.ndarray, lon: np.ndarray, alt: np.ndarray, cls: np.ndarray,
                   sensors: list[dict]) -> Coverage:
    """Coverage of truth samples (geodetic position, class index into CLASSES)
    by the sensor records of ``sensors.json``."""
    n = len(lat)
    x = np.stack(geo.geodetic_to_ecef(lat, lon, alt), axis=-1).reshape(n, 3)
    cls = np.asarray(cls, np.int64)
    radar = np.zeros(n, bool)
    n_dir = np.zeros(n, np.int64)
    tree = cKDTree(x) if n else None
    for rec in sensors:
        kind = rec.get("kind")
        if kind not in ("radar", "adsb") and kind not in DIRECTION_KINDS:
            continue
        reach = _reach(rec, kind)
        if kind == "adsb":
            reach = np.where(np.arange(len(CLASSES)) == CLASSES.index("aircraft"), reach, 0.0)
        reach = np.where(np.isfinite(reach), reach, 0.0)
        if n == 0 or reach.max() <= 0:
            continue
        slat, slon, salt = _num(rec, "lat", np.nan), _num(rec, "lon", np.nan), _num(rec, "alt", 0.0)
        if not (np.isfinite(slat) and np.isfinite(slon)):
            continue
        s = np.array(geo.geodetic_to_ecef(slat, slon, salt), float).reshape(3)
        k = np.asarray(tree.query_ball_point(s, float(reach.max())), np.int64)
        if k.size == 0:
            continue
        d = np.linalg.norm(x[k] - s, axis=1)
        ok = (d <= reach[cls[k]]) & (d >= _num(rec, "range_min_m", 0.0))
        ok &= geo.above_radar_horizon(s, salt, x[k], alt[k])
        k, ok = k[ok], None
        if k.size == 0:
            continue
        az, el, _ = geo.geodetic_to_aer(lat[k], lon[k], alt[k], slat, slon, salt)
        az, el = np.asarray(az, float), np.asarray(el, float)
        ok = (el >= _num(rec, "el_min_deg", -90.0)) & (el <= _num(rec, "el_max_deg", 90.0))
        ok &= _in_sectors(rec, az)
        k = k[ok]
        if kind in ("radar", "adsb"):  # one sensor fixes a position
            radar[k] = True
        else:
            n_dir[k] += 1
    return Coverage(radar=radar, n_direction=n_dir)
