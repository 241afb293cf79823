"""The pool of bearing-only reports no track took, and bearing-only initiation.

Bearings that did not associate with any track wait here for ``bearing_window_s``
so that bearings of other sensors can cross them; track/triangulate.py turns the
pool into position fixes (ghosts suppressed, existing tracks avoided), and the
bearings behind a fix leave the pool. A bearing that ages out unused is counted
(``bearings_unused``), never dropped silently.
"""

from __future__ import annotations

import numpy as np

from airshield.track.config import TrackerConfig
from airshield.track.plots import Plots, SensorTable
from airshield.track.triangulate import Fixes, initiate_from_bearings


class BearingPool:
    def __init__(self, cfg: TrackerConfig):
        self.cfg = cfg
        self.pool: Plots | None = None
        self.added = np.zeros(0)  # clock time each pooled bearing arrived
        self.unused = 0

    def __len__(self) -> int:
        return 0 if self.pool is None else len(self.pool)

    def add(self, plots: Plots, now: float) -> None:
        """Pool free bearings that reached the tracker at ``now``. They wait
        bearing_window_s from arrival (acoustic relays deliver seconds late)."""
        if len(plots) == 0:
            return
        if self.pool is None or len(self.pool) == 0:
            self.pool = plots
            self.added = np.full(len(plots), now)
        else:
            self.pool = Plots.concat([self.pool, plots])
            self.added = np.r_[self.added, np.full(len(plots), now)]

    def fixes(self, now: float, st: SensorTable, existing_ecef: np.ndarray):
        """Cross the pooled bearings (stale ones age out first). Returns the
        fixes, each fix's first sensor, its class hint (mean of its bearings'
        hints, NaN row if none) and how many bearings went into fixes; those
        bearings leave the pool."""
        none = (Fixes.empty(), np.zeros(0, np.int64), np.zeros((0, 7)), 0)
        if self.pool is None or len(self.pool) == 0:
            return none
        p = self.pool
        old = self.added < now - self.cfg.bearing_window_s
        self.unused += int(old.sum())
        p = p.take(~old)
        self.pool, self.added = p, self.added[~old]
        if len(np.unique(p.sensor)) < self.cfg.bearing_min_sensors:
            return none
        sens = st.sensors
        reach = float(np.max(st.reach[np.unique(p.sensor)]))
        el = np.where(p.mtype == 4, np.degrees(p.z[:, 1]), np.nan)
        fx = initiate_from_bearings(
            p.s_ecef, sens.lat[p.sensor], sens.lon[p.sensor], np.degrees(p.z[:, 0]), el,
            np.degrees(p.sig[:, 0]), p.t, p.sensor, max_range_m=reach,
            min_sensors=self.cfg.bearing_min_sensors, max_dt_s=self.cfg.bearing_window_s,
            existing_ecef=existing_ecef, sigma_el_deg=np.degrees(p.sig[:, 1]))
        if len(fx) == 0:
            return none
        first = p.sensor[np.array([u[0] for u in fx.used], np.int64)]
        hint = np.full((len(fx), p.hint.shape[1]), np.nan)
        for f, u in enumerate(fx.used):  # one row per fix (a handful per second)
            h = p.hint[u]
            h = h[np.isfinite(h).all(axis=1)]
            if len(h):
                hint[f] = h.mean(axis=0)
        used = np.concatenate(fx.used)
        keep = np.ones(len(p), bool)
        keep[used] = False
        self.pool, self.added = p.take(keep), self.added[keep]
        return fx, first, hint, int(used.size)
