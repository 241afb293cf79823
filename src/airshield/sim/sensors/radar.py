"""Surveillance radar: polar plots (range, azimuth, elevation, range rate)
from a rotating or staring beam, with a radar-equation detection probability,
the 4/3-Earth horizon, coverage sectors and Poisson clutter.

Detection is Swerling I with a square-law detector: the echo power over noise
W is exponential with mean 1 + SNR, and the radar declares a plot when W
exceeds T = -ln(pfa), so Pd = pfa ** (1 / (1 + SNR)). The mean SNR follows the
radar equation, SNR ∝ RCS / R⁴, scaled so that Pd equals the record's ``pd``
for ``ref_rcs_m2`` at ``ref_range_m``. Clutter plots are noise that crossed
the same threshold, W = T + Exp(1), so ``snr_db`` does not give them away.
An airborne early-warning radar is this model at altitude with a long range.
"""

from __future__ import annotations

import numpy as np

from airshield import CLASSES, geo
from airshield.io.records import POLAR
from airshield.sim.sensors.common import (ClassHints, Part, Sectors, aer_from_offsets,
                                          default_phase, detections, enu_rotation, look_times,
                                          truth_at)


def reference_snr(pd: np.ndarray, pfa: np.ndarray) -> np.ndarray:
    """Mean SNR (linear) at which a Swerling-I target is seen with ``pd``."""
    pd = np.minimum(pd, 1.0 - 1e-9)
    return np.log(pfa) / np.log(pd) - 1.0


def swerling1_pd(snr: np.ndarray, pfa: np.ndarray) -> np.ndarray:
    return pfa ** (1.0 / (1.0 + snr))


class RadarModel:
    def __init__(self, recs: list[dict], index: np.ndarray):
        self.index = np.asarray(index, np.int32)
        self.recs = recs

        def col(key):
            return np.array([float(r[key]) for r in recs])

        self.lat, self.lon, self.alt = col("lat"), col("lon"), col("alt")
        self.ecef = np.column_stack(geo.geodetic_to_ecef(self.lat, self.lon, self.alt))
        self.rot = enu_rotation(self.lat, self.lon)
        self.sig = np.column_stack([col("sigma_range_m"), col("sigma_az_deg"), col("sigma_el_deg"),
                                    col("sigma_rr_mps")])
        self.rmin, self.rmax = col("range_min_m"), col("range_max_m")
        self.period, self.pfa = col("period_s"), col("pfa")
        self.el_min, self.el_max = col("el_min_deg"), col("el_max_deg")
        self.clutter, self.clutter_rr = col("false_per_scan"), col("clutter_rr_mps")
        self.phase = np.array([r["phase_s"] if r.get("phase_s") is not None else
                               default_phase(int(i), r["period_s"]) for i, r in zip(index, recs)], float)
        self.rotating = np.array([r["scan"] == "rotating" for r in recs])
        # SNR per class at 1 m: snr = k_cls / R**4.
        snr_ref = reference_snr(col("pd"), self.pfa)
        rcs = np.array([[r["rcs_m2"][c] for c in CLASSES] for r in recs]).reshape(len(recs), len(CLASSES))
        self.k_snr = snr_ref[:, None] * rcs / col("ref_rcs_m2")[:, None] * col("ref_range_m")[:, None] ** 4
        self.sectors = Sectors.from_records(recs)
        self.cover = np.array([self.sectors.fraction(i) for i in range(len(recs))])
        self.hints = ClassHints(recs)

    def observe(self, state, t0: float, t1: float, rng: np.random.Generator) -> list[Part]:
        return [self._targets(state, t0, t1, rng), self._clutter(t0, t1, rng)]

    def _targets(self, state, t0, t1, rng) -> Part:
        """All radars x all live objects at once, as flat (radar, object) pairs."""
        alive = np.flatnonzero(state.alive) if len(state) else np.zeros(0, np.int64)
        if alive.size == 0:
            return Part.empty()
        d0 = state.ecef[alive][None, :, :] - self.ecef[:, None, :]  # (R, N, 3)
        speed = np.linalg.norm(state.vel_ecef[alive], axis=1).max()
        reach = self.rmax[:, None] + speed * max(abs(t1 - state.t), abs(t0 - state.t)) + 1.0
        sens, k = np.nonzero(np.einsum("rnj,rnj->rn", d0, d0) <= reach ** 2)
        if sens.size == 0:
            return Part.empty()
        az0, _, _ = aer_from_offsets(d0[sens, k], self.rot[sens])
        # A rotating beam passes azimuth az at phase + period * az / 360.
        phase = self.phase[sens] + np.where(self.rotating[sens], self.period[sens] * az0 / 360.0, 0.0)
        j, t = look_times(phase, self.period[sens], t0, t1)
        sens, rows = sens[j], alive[k[j]]
        pos, alt = truth_at(state, rows, t)
        d = pos - self.ecef[sens]
        az, el, r = aer_from_offsets(d, self.rot[sens])
        ok = ((r >= self.rmin[sens]) & (r <= self.rmax[sens]) & (el >= self.el_min[sens])
              & (el <= self.el_max[sens]) & self.sectors.contains(sens, az)
              & geo.above_radar_horizon(self.ecef[sens], self.alt[sens], pos, alt))
        cls = state.cls[rows].astype(np.int64)
        snr = self.k_snr[sens, cls] / np.maximum(r, 1.0) ** 4
        w = (1.0 + snr) * rng.exponential(1.0, r.size)
        ok &= w > -np.log(self.pfa[sens])
        sens, rows, t, d, az, el, r, w, cls = (a[ok] for a in (sens, rows, t, d, az, el, r, w, cls))
        rr = np.einsum("ij,ij->i", d, state.vel_ecef[rows]) / np.maximum(r, 1.0)
        sig = self.sig[sens]
        noise = rng.standard_normal((r.size, 4)) * sig
        z = np.column_stack([np.maximum(r + noise[:, 0], 0.0), np.mod(az + noise[:, 1], 360.0),
                             np.clip(el + noise[:, 2], -90.0, 90.0), rr + noise[:, 3]])
        det = detections(t, self.index[sens], POLAR, z, sig, self.hints.draw(sens, cls, rng),
                         10.0 * np.log10(w))
        return Part(det, rows.astype(np.int32), np.zeros(r.size))

    def _clutter(self, t0, t1, rng) -> Part:
        """Poisson clutter, ``false_per_scan`` per scan of the covered sectors,
        uniform in range cells, azimuth and elevation."""
        live = np.flatnonzero((self.clutter > 0) & (self.cover > 0))
        rot, stare = live[self.rotating[live]], live[~self.rotating[live]]
        # Rotating: draw over the whole circle, keep what the sectors cover (thinning).
        n = rng.poisson(self.clutter[rot] * (t1 - t0) / self.period[rot] / self.cover[rot])
        s_rot = np.repeat(rot, n)
        t_rot = rng.uniform(t0, t1, s_rot.size)
        az_rot = np.mod((t_rot - self.phase[s_rot]) / self.period[s_rot], 1.0) * 360.0
        keep = self.sectors.contains(s_rot, az_rot)
        s_rot, t_rot, az_rot = s_rot[keep], t_rot[keep], az_rot[keep]
        # Staring: every scan sees its whole coverage at once.
        j, scans = look_times(self.phase[stare], self.period[stare], t0, t1)
        counts = rng.poisson(self.clutter[stare[j]])
        s_st, t_st = np.repeat(stare[j], counts), np.repeat(scans, counts)
        sens = np.concatenate([s_rot, s_st]).astype(np.int64)
        t = np.concatenate([t_rot, t_st])
        az = np.concatenate([az_rot, self.sectors.sample(s_st, rng)])
        n = sens.size
        if n == 0:
            return Part.empty()
        u = rng.random((n, 3))
        r = self.rmin[sens] + u[:, 0] * (self.rmax[sens] - self.rmin[sens])
        el = self.el_min[sens] + u[:, 1] * (self.el_max[sens] - self.el_min[sens])
        rr = (2.0 * u[:, 2] - 1.0) * self.clutter_rr[sens]
        w = -np.log(self.pfa[sens]) + rng.exponential(1.0, n)
        det = detections(t, self.index[sens], POLAR, np.column_stack([r, az, el, rr]), self.sig[sens],
                         self.hints.draw(sens, np.full(n, len(CLASSES) - 1), rng), 10.0 * np.log10(w))
        return Part(det, np.full(n, -1, np.int32), np.zeros(n))
