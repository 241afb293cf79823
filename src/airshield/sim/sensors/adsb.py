"""ADS-B ground receivers: cooperative aircraft broadcast their own GNSS
position with their ICAO 24-bit address.

Only objects with an ``icao24`` are heard, within ``range_max_m`` and above
the 4/3-Earth horizon (1090 MHz is line of sight). Each aircraft squits at its
own phase; every receiver that hears a squit reports it, with probability
``pd``, as a ``pos`` with horizontal error ``sigma_h_m`` per axis and vertical
error ``sigma_v_m``. No delay: receivers stream in real time.
"""

from __future__ import annotations

import numpy as np

from airshield import geo
from airshield.io.records import POS
from airshield.sim.sensors.common import (ClassHints, Part, default_phase, detections, look_times,
                                          noisy_fix, truth_at)


class AdsbModel:
    def __init__(self, recs: list[dict], index: np.ndarray):
        self.index = np.asarray(index, np.int32)
        n = len(recs)

        def col(key):
            return np.array([float(r[key]) for r in recs], float)

        self.lat, self.lon, self.alt = col("lat"), col("lon"), col("alt")
        self.ecef = np.column_stack(geo.geodetic_to_ecef(self.lat, self.lon, self.alt)).reshape(n, 3)
        self.rmax, self.pd, self.period = col("range_max_m"), col("pd"), col("period_s")
        self.sig_h, self.sig_v = col("sigma_h_m"), col("sigma_v_m")
        self.phase = np.array([r["phase_s"] if r.get("phase_s") is not None else 0.0 for r in recs], float)
        self.hints = ClassHints(recs)

    def observe(self, state, t0: float, t1: float, rng: np.random.Generator) -> list[Part]:
        icao = list(state.icao24) + [None] * (len(state) - len(state.icao24))
        rows = np.array([i for i, a in enumerate(icao[: len(state)]) if a and state.alive[i]], np.int64)
        if rows.size == 0:
            return [Part.empty()]
        nr = len(self.index)
        rows_p, sens = np.repeat(rows, nr), np.tile(np.arange(nr), rows.size)
        # The aircraft sets the squit time; each receiver adds its own phase.
        phase = self.phase[sens] + default_phase(rows_p, self.period[sens])
        k, t = look_times(phase, self.period[sens], t0, t1)
        rows_p, sens = rows_p[k], sens[k]
        pos, alt = truth_at(state, rows_p, t)
        d = np.linalg.norm(pos - self.ecef[sens], axis=1)
        ok = ((d <= self.rmax[sens]) & geo.above_radar_horizon(self.ecef[sens], self.alt[sens], pos, alt)
              & (rng.random(d.size) < self.pd[sens]))
        rows_p, sens, t, pos = rows_p[ok], sens[ok], t[ok], pos[ok]
        n = rows_p.size
        if n == 0:
            return [Part.empty()]
        sh, sv = self.sig_h[sens], self.sig_v[sens]
        zlat, zlon, zalt = noisy_fix(pos, state.lat[rows_p], state.lon[rows_p], sh, sv, rng)
        cls = state.cls[rows_p].astype(np.int64)
        det = detections(t, self.index[sens], POS, np.column_stack([zlat, zlon, zalt]),
                         np.column_stack([sh, sv]), self.hints.draw(sens, cls, rng))
        det.icao24 = {i: str(icao[r]) for i, r in enumerate(rows_p)}
        return [Part(det, rows_p.astype(np.int32), np.zeros(n))]
