"""Crowd sighting reports (phones, e.g. the ePPO app): a whole population in a
region acting as one ``visual`` sensor.

Each object flying in the region below ``max_alt_m`` draws Poisson reports at
``rate_per_hour``. A report is a position: the truth at the report time plus a
horizontal error (per axis, east and north) whose sigma is drawn per report
from ``sigma_h_range_m`` and carried in the report, and a vertical error of
``sigma_v_m`` (heights are clipped at the ground). Reports reach C2 after a
delay drawn from ``delay_s``. False reports, uniform over the region, arrive
so that on average ``false_fraction`` of all reports are false.
"""

from __future__ import annotations

import numpy as np

from airshield import CLASSES, geo
from airshield.io.records import POS
from airshield.sim.sensors.common import (ClassHints, Part, detections, noisy_fix, truth_at,
                                          uniform_pairs)
from airshield.sim.sensors.regions import parse_region

UNKNOWN = len(CLASSES) - 1
FALSE_ALT_MAX_M = 3000.0  # made-up sightings claim low heights


class VisualModel:
    def __init__(self, recs: list[dict], index: np.ndarray):
        self.index = np.asarray(index, np.int32)
        self.recs = recs
        self.regions = [parse_region(r["region"], "region", {"lat": r["lat"], "lon": r["lon"]}) for r in recs]
        self.hints = ClassHints(recs)

    def observe(self, state, t0: float, t1: float, rng: np.random.Generator) -> list[Part]:
        alive = np.flatnonzero(state.alive) if len(state) else np.zeros(0, np.int64)
        return [self._one(s, state, alive, t0, t1, rng) for s in range(len(self.recs))]

    def _inside(self, s: int, state, alive: np.ndarray) -> np.ndarray:
        rows = alive[state.alt[alive] <= self.recs[s]["max_alt_m"]]
        return rows[self.regions[s].contains(state.lat[rows], state.lon[rows])] if rows.size else rows

    def _one(self, s: int, state, alive, t0, t1, rng) -> Part:
        rec = self.recs[s]
        rows = self._inside(s, state, alive)
        mean_true = rec["rate_per_hour"] * (t1 - t0) / 3600.0
        counts = rng.poisson(mean_true, rows.size)
        f = rec["false_fraction"]
        n_false = rng.poisson(f / (1.0 - f) * mean_true * rows.size) if f > 0 and rows.size else 0
        rows = np.repeat(rows, counts)
        n = rows.size + n_false
        if n == 0:
            return Part.empty()
        t = rng.uniform(t0, t1, n)
        pos, _ = truth_at(state, rows, t[: rows.size])
        flat, flon = self.regions[s].sample(n_false, rng)
        falt = rng.uniform(0.0, min(rec["max_alt_m"], FALSE_ALT_MAX_M), n_false)
        fpos = np.column_stack(geo.geodetic_to_ecef(flat, flon, falt)).reshape(n_false, 3)
        lat_ref = np.concatenate([state.lat[rows], flat])
        lon_ref = np.concatenate([state.lon[rows], flon])
        sig_h = uniform_pairs(rng, np.broadcast_to(np.array(rec["sigma_h_range_m"], float), (n, 2)))
        sig_v = np.full(n, rec["sigma_v_m"])
        zlat, zlon, zalt = noisy_fix(np.concatenate([pos, fpos]), lat_ref, lon_ref, sig_h, sig_v, rng)
        cls = np.concatenate([state.cls[rows], np.full(n_false, UNKNOWN)]).astype(np.int64)
        rows = np.concatenate([rows, np.full(n_false, -1)]).astype(np.int32)
        det = detections(t, self.index[s], POS, np.column_stack([zlat, zlon, np.maximum(zalt, 0.0)]),
                         np.column_stack([sig_h, sig_v]), self.hints.draw(np.full(n, s), cls, rng))
        return Part(det, rows, uniform_pairs(rng, np.broadcast_to(np.array(rec["delay_s"], float), (n, 2))))
