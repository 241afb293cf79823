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
from airshield.reach import DIRECTION_KINDS, in_sectors, num, reach

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
        rch = reach(rec, kind)
        if kind == "adsb":
            rch = np.where(np.arange(len(CLASSES)) == CLASSES.index("aircraft"), rch, 0.0)
        rch = np.where(np.isfinite(rch), rch, 0.0)
        if n == 0 or rch.max() <= 0:
            continue
        slat, slon, salt = num(rec, "lat", np.nan), num(rec, "lon", np.nan), num(rec, "alt", 0.0)
        if not (np.isfinite(slat) and np.isfinite(slon)):
            continue
        s = np.array(geo.geodetic_to_ecef(slat, slon, salt), float).reshape(3)
        k = np.asarray(tree.query_ball_point(s, float(rch.max())), np.int64)
        if k.size == 0:
            continue
        d = np.linalg.norm(x[k] - s, axis=1)
        ok = (d <= rch[cls[k]]) & (d >= num(rec, "range_min_m", 0.0))
        ok &= geo.above_radar_horizon(s, salt, x[k], alt[k])
        k, ok = k[ok], None
        if k.size == 0:
            continue
        az, el, _ = geo.geodetic_to_aer(lat[k], lon[k], alt[k], slat, slon, salt)
        az, el = np.asarray(az, float), np.asarray(el, float)
        ok = (el >= num(rec, "el_min_deg", -90.0)) & (el <= num(rec, "el_max_deg", 90.0))
        ok &= in_sectors(rec, az)
        k = k[ok]
        if kind in ("radar", "adsb"):  # one sensor fixes a position
            radar[k] = True
        else:
            n_dir[k] += 1
    return Coverage(radar=radar, n_direction=n_dir)
