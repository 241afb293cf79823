"""Negative information: would some sensor see a track where it now is?

A confirmed track that falls silent *inside* some sensor's reach has most
likely ended (defeated, crashed, landed) or been lost there, and the picture
drops it after ``delete_after_s`` as before. One that falls silent *beyond*
every sensor's reach (a drone flying on between radar sites, out of earshot of
the microphones) is most likely still flying where nobody looks: the tracker
carries it by dead reckoning and shows it as coasting (``dead_reckon_s``,
TRACKER.md "Dead reckoning out of cover").

Reach per class is the coverage metric's (``airshield.reach``): radars by the
radar equation where the record gives it, else ``range_max_m``; direction
sensors (microphones, EO) by ``range_by_class_m``, else ``range_max_m``; both
inside the 4/3-Earth horizon, their elevation limits and azimuth sectors. A
sensor whose record gives no reach counts as seeing nothing: with no reach
known, silence there tells nothing. Crowd reports (``visual``) never count:
they are too sparse for their silence to mean anything.

Vectorised over the (track, sensor) pairs a KD-tree finds within the largest
reach of a group; sensors are grouped by kind (radars and ADS-B receivers
reach ~100 km, direction sensors a few km), so one query does not pair
every track with every one of ten thousand microphones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from airshield import CLASSES, geo
from airshield.io.records import Sensors
from airshield.reach import DIRECTION_KINDS, num, reach

_AIRCRAFT = CLASSES.index("aircraft")


@dataclass(frozen=True)
class _Group:
    tree: cKDTree
    ecef: np.ndarray  # (S, 3)
    alt: np.ndarray  # (S,)
    RT: np.ndarray  # (S, 3, 3) ECEF -> ENU at the sensor
    reach: np.ndarray  # (S, C) m, 0 where the class is not seen
    range_min: np.ndarray  # (S,)
    el_min: np.ndarray  # (S,) deg
    el_max: np.ndarray
    sec_from: np.ndarray  # (S, K) deg, azimuth sectors padded with width -1
    sec_width: np.ndarray  # (S, K) deg

    @property
    def r_max(self) -> float:
        return float(self.reach.max())


@dataclass(frozen=True)
class Cover:
    groups: tuple[_Group, ...]

    @classmethod
    def build(cls, sensors: Sensors) -> "Cover":
        recs = sensors.to_records()
        groups = []
        for kinds in (("radar", "adsb"), DIRECTION_KINDS):
            rows, reaches = [], []
            for i, rec in enumerate(recs):
                kind = rec.get("kind")
                if kind not in kinds:
                    continue
                r = reach(rec, kind)
                if kind == "adsb":  # transponders: aircraft only
                    r = np.where(np.arange(len(CLASSES)) == _AIRCRAFT, r, 0.0)
                r = np.where(np.isfinite(r), r, 0.0)
                if r.max() > 0:
                    rows.append(i)
                    reaches.append(r)
            if rows:
                groups.append(_group(recs, np.asarray(rows), np.asarray(reaches), sensors))
        return cls(tuple(groups))

    def seen(self, ecef: np.ndarray, alt: np.ndarray, cls: np.ndarray) -> np.ndarray:
        """(N,) True where some sensor would see an object of class ``cls``
        (index into CLASSES) at ECEF ``ecef`` (N, 3), height ``alt``."""
        n = ecef.shape[0]
        out = np.zeros(n, bool)
        if n == 0 or not self.groups:
            return out
        pts = cKDTree(ecef)
        for g in self.groups:
            pairs = pts.sparse_distance_matrix(g.tree, g.r_max, output_type="ndarray")
            if pairs.size == 0:
                continue
            i, j, d = pairs["i"], pairs["j"], pairs["v"]
            ok = (d <= g.reach[j, cls[i]]) & (d >= g.range_min[j]) & ~out[i]
            ok &= d <= geo.radar_horizon_m(g.alt[j], alt[i])
            i, j = i[ok], j[ok]
            if i.size == 0:
                continue
            enu = (g.RT[j] @ (ecef[i] - g.ecef[j])[:, :, None])[:, :, 0]
            el = np.degrees(np.arctan2(enu[:, 2], np.hypot(enu[:, 0], enu[:, 1])))
            az = np.degrees(np.arctan2(enu[:, 0], enu[:, 1])) % 360.0
            ok = (el >= g.el_min[j]) & (el <= g.el_max[j])
            ok &= (np.mod(az[:, None] - g.sec_from[j], 360.0) <= g.sec_width[j]).any(axis=1)
            out[i[ok]] = True
        return out


def _group(recs: list[dict], rows: np.ndarray, reaches: np.ndarray, sensors: Sensors) -> _Group:
    ecef = np.stack(geo.geodetic_to_ecef(sensors.lat[rows], sensors.lon[rows], sensors.alt[rows]),
                    axis=-1).reshape(rows.size, 3)
    R = geo.enu_to_ecef_rotation(sensors.lat[rows], sensors.lon[rows]).reshape(rows.size, 3, 3)
    sectors = [_sectors(recs[i]) for i in rows]
    k = max(len(s) for s in sectors)
    sec_from = np.zeros((rows.size, k))
    sec_width = np.full((rows.size, k), -1.0)
    for r, s in enumerate(sectors):
        sec_from[r, :len(s)] = [a for a, _ in s]
        sec_width[r, :len(s)] = [w for _, w in s]
    col = {name: np.array([num(recs[i], name, dflt) for i in rows])
           for name, dflt in (("range_min_m", 0.0), ("el_min_deg", -90.0), ("el_max_deg", 90.0))}
    return _Group(cKDTree(ecef), ecef, np.asarray(sensors.alt[rows], float),
                  np.ascontiguousarray(np.swapaxes(R, 1, 2)), reaches, col["range_min_m"],
                  col["el_min_deg"], col["el_max_deg"], sec_from, sec_width)


def _sectors(rec: dict) -> list[tuple[float, float]]:
    """(from, width) of each azimuth sector, as ``reach.in_sectors`` reads them."""
    sectors = rec.get("sectors")
    if not isinstance(sectors, list) or not sectors:
        return [(0.0, 360.0)]
    out = []
    for s in sectors:
        if not isinstance(s, dict):
            continue
        a0, a1 = num(s, "az_from_deg", 0.0), num(s, "az_to_deg", 360.0)
        out.append((a0, (a1 - a0) % 360.0 or 360.0))
    return out or [(0.0, 360.0)]
