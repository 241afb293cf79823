"""Passive bearing sensors: acoustic microphones and electro-optical cameras.

Both report a bearing (azimuth, and elevation when the sensor has
``sigma_el_deg``) at their own period, hear or see a target out to a range
that depends on its class (a jet drone is heard farther than a decoy; a bird
is seen by a camera but not heard), detect it with ``pd`` inside that range,
raise Poisson false alarms (``false_per_hour`` per sensor) and relay each
report after a delay drawn from ``delay_s``. The two kinds differ only in
their defaults (see params.py): a camera is precise and short-ranged with a
reliable class hint; a microphone is coarse with a noisy one.

Thousands of sensors are handled at once: a k-d tree over the sensors gives
every (object, sensor) pair within the longest audible range in one call.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from airshield import CLASSES, geo
from airshield.io.records import BEARING
from airshield.sim.sensors.common import (ClassHints, Part, Sectors, aer_from_offsets,
                                          default_phase, detections, enu_rotation, look_times,
                                          truth_at, uniform_pairs)

UNKNOWN = len(CLASSES) - 1
BRUTE = 64  # up to this many sensors, test every (object, sensor) pair directly
NEAREST = 8  # neighbours asked of the k-d tree before a full pair search


class BearingModel:
    def __init__(self, recs: list[dict], index: np.ndarray):
        self.index = np.asarray(index, np.int32)
        n = len(recs)

        def col(key, default=np.nan):
            return np.array([default if r.get(key) is None else float(r[key]) for r in recs], float)

        self.lat, self.lon, self.alt = col("lat"), col("lon"), col("alt")
        self.ecef = np.column_stack(geo.geodetic_to_ecef(self.lat, self.lon, self.alt)).reshape(n, 3)
        self.rot = enu_rotation(self.lat, self.lon)
        self.range_cls = np.array([[r["range_by_class_m"][c] for c in CLASSES] for r in recs]).reshape(n, -1)
        self.class_reach = self.range_cls.max(axis=0)  # farthest any sensor hears each class
        self.pd, self.period = col("pd"), col("period_s")
        self.sig_az, self.sig_el = col("sigma_az_deg"), col("sigma_el_deg")
        self.el_min, self.el_max = col("el_min_deg"), col("el_max_deg")
        self.false_rate = col("false_per_hour") / 3600.0
        self.cum_false = np.cumsum(self.false_rate)
        self.delay = np.array([r["delay_s"] for r in recs], float).reshape(n, 2)
        given = col("phase_s")
        self.phase = np.where(np.isfinite(given), given, default_phase(self.index, self.period))
        self.sectors = Sectors.from_records(recs)
        self.all_round = bool(np.all(np.nan_to_num(self.sectors.width, nan=360.0) >= 360.0))
        self.horizon_floor = geo.radar_horizon_m(self.alt, 0.0)
        self.hints = ClassHints(recs)
        self.tree = cKDTree(self.ecef)
        self._dense = False  # set when most objects had NEAREST sensors in reach last step

    def observe(self, state, t0: float, t1: float, rng: np.random.Generator) -> list[Part]:
        return [self._targets(state, t0, t1, rng), self._false(t0, t1, rng)]

    def _pairs(self, state, t0: float, t1: float):
        """(object row, sensor) pairs that may be in range during [t0, t1)."""
        alive = np.flatnonzero(state.alive) if len(state) else np.zeros(0, np.int64)
        alive = alive[self.class_reach[state.cls[alive]] > 0]
        if alive.size == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        speed = np.linalg.norm(state.vel_ecef[alive], axis=1).max()
        margin = speed * max(abs(t1 - state.t), abs(t0 - state.t)) + 1.0
        radius = float(self.class_reach[state.cls[alive]].max()) + margin
        x = state.ecef[alive]
        if len(self.index) <= BRUTE:  # a few cameras: all pairs beat a tree walk
            diff = x[:, None, :] - self.ecef[None, :, :]
            d2 = np.einsum("nsj,nsj->ns", diff, diff)
            obj, sens = np.nonzero(d2 <= radius * radius)
            rows, sens, dist = alive[obj], sens.astype(np.int64), np.sqrt(d2[obj, sens])
        else:
            rows, sens, dist = self._tree_pairs(alive, x, radius)
        near = dist <= self.range_cls[sens, state.cls[rows]] + margin
        return rows[near], sens[near]

    def _tree_pairs(self, alive, x, radius):
        # k nearest within the radius is one C call; only objects with all k
        # neighbours inside (a dense network) need the full pair search, and
        # when most did last step, go straight to it.
        if self._dense:
            hits = cKDTree(x).sparse_distance_matrix(self.tree, radius, output_type="ndarray")
            self._dense = hits.size > NEAREST * len(x) / 4
            return alive[hits["i"]], hits["j"].astype(np.int64), hits["v"]
        k = min(NEAREST, len(self.index))
        d, j = self.tree.query(x, k=k, distance_upper_bound=radius)
        d, j = d.reshape(len(x), k), j.reshape(len(x), k)
        found = np.isfinite(d)
        full = found[:, -1].copy()
        found[full] = False
        obj, col = np.nonzero(found)
        rows, sens, dist = [alive[obj]], [j[obj, col]], [d[obj, col]]
        self._dense = full.mean() > 0.25
        if full.any():
            busy = np.flatnonzero(full)
            hits = cKDTree(x[busy]).sparse_distance_matrix(self.tree, radius, output_type="ndarray")
            rows.append(alive[busy[hits["i"]]]); sens.append(hits["j"]); dist.append(hits["v"])
        return np.concatenate(rows), np.concatenate(sens).astype(np.int64), np.concatenate(dist)

    def _targets(self, state, t0, t1, rng) -> Part:
        rows, sens = self._pairs(state, t0, t1)
        if rows.size == 0:
            return Part.empty()
        k, t = look_times(self.phase[sens], self.period[sens], t0, t1)
        heard = rng.random(k.size) < self.pd[sens[k]]  # drawn first: fewer pairs to place
        rows, sens, t = rows[k][heard], sens[k][heard], t[heard]
        pos, alt = truth_at(state, rows, t)
        az, el, r = aer_from_offsets(pos - self.ecef[sens], self.rot[sens])
        cls = state.cls[rows].astype(np.int64)
        ok = (r <= self.range_cls[sens, cls]) & (el >= self.el_min[sens]) & (el <= self.el_max[sens])
        if not self.all_round:
            ok &= self.sectors.contains(sens, az)
        # Only a pair beyond the sensor's horizon to the ground can be hidden by it.
        far = np.flatnonzero(ok & (r > self.horizon_floor[sens]))
        if far.size:
            ok[far] = geo.above_radar_horizon(self.ecef[sens[far]], self.alt[sens[far]], pos[far], alt[far])
        rows, sens, t, az, el, cls = (a[ok] for a in (rows, sens, t, az, el, cls))
        return self._report(rows.astype(np.int32), sens, t, az, el, cls, rng)

    def _false(self, t0, t1, rng) -> Part:
        total = float(self.cum_false[-1]) * (t1 - t0) if self.cum_false.size else 0.0
        n = rng.poisson(total) if total > 0 else 0
        if n == 0:
            return Part.empty()
        sens = np.minimum(np.searchsorted(self.cum_false, rng.random(n) * self.cum_false[-1], side="right"),
                          self.cum_false.size - 1)
        t = rng.uniform(t0, t1, n)
        az = self.sectors.sample(sens, rng)
        # False elevations: low above the horizon, where sound and glints come from.
        lo = np.maximum(self.el_min[sens], 0.0)
        hi = np.maximum(np.minimum(self.el_max[sens], 45.0), lo)
        el = lo + rng.random(n) * (hi - lo)
        return self._report(np.full(n, -1, np.int32), sens, t, az, el, np.full(n, UNKNOWN), rng)

    def _report(self, rows, sens, t, az, el, cls, rng) -> Part:
        n = rows.size
        sig_az, sig_el = self.sig_az[sens], self.sig_el[sens]
        has_el = np.isfinite(sig_el)
        z_az = np.mod(az + rng.standard_normal(n) * sig_az, 360.0)
        z_el = np.where(has_el, np.clip(el + rng.standard_normal(n) * np.nan_to_num(sig_el), -90.0, 90.0),
                        np.nan)
        det = detections(t, self.index[sens], BEARING, np.column_stack([z_az, z_el]),
                         np.column_stack([sig_az, sig_el]), self.hints.draw(sens, cls, rng))
        return Part(det, rows, uniform_pairs(rng, self.delay[sens]))
