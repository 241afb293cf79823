"""Gating: a spatial index finds candidate (track, report) pairs, then the
chi-square test on the Mahalanobis distance keeps the statistically possible ones.

Only candidates reach the (vectorised) Mahalanobis test, so a batch costs about
O((tracks + reports) log tracks), not tracks x reports. The search radius of a
pair is a bound on n_sigma standard deviations of (track + report) position
uncertainty; tracks whose uncertainty is far above the rest (new tentative tracks
with a wide velocity prior) are checked separately by brute force against the
batch so that they do not inflate everyone's search radius.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.spatial import cKDTree
from scipy.stats import chi2

from airshield.track import measure as ms
from airshield.track.motion import vertical_decay


@lru_cache(maxsize=64)
def chi2_gate(p: float, dim: int) -> float:
    """Gate threshold on d^2 for a measurement of ``dim`` dimensions."""
    return float(chi2.ppf(p, dim))


def gate_thresholds(p: float) -> np.ndarray:
    """Thresholds indexed by dimension (index 0 unused)."""
    return np.array([np.inf] + [chi2_gate(p, d) for d in range(1, 7)])


def spatial_candidates(track_pos: np.ndarray, track_sig: np.ndarray, plot_pos: np.ndarray,
                       plot_sig: np.ndarray, n_sigma: float, margin: float = 0.0):
    """Pairs (track i, plot j) with |p_i - q_j| <= n_sigma (s_i + s_j) + margin.

    Returns (ti, pj) int64 arrays. track_sig/plot_sig are per-object standard
    deviation bounds (m); margin covers the spread of report times in a batch.
    """
    nt, npl = track_pos.shape[0], plot_pos.shape[0]
    empty = np.zeros(0, np.int64)
    if nt == 0 or npl == 0:
        return empty, empty
    if npl <= BRUTE_PLOTS:
        return _all_pairs(track_pos, track_sig, plot_pos, plot_sig, n_sigma, margin)
    # "loose" tracks: far more uncertain than is typical (new tentative tracks)
    cap = max(3.0 * float(np.median(track_sig)), 50.0)
    tight = track_sig <= cap
    plots = cKDTree(plot_pos)
    sig_max = float(plot_sig.max())
    ti_parts, pj_parts = [], []
    rows = np.flatnonzero(tight)
    if rows.size:
        reach = n_sigma * (cap + sig_max) + margin
        if _sparse(plot_pos, reach):
            ti, pj = _nearest_pairs(plots, track_pos, rows, reach)
            d = track_pos[ti] - plot_pos[pj]
            dist = np.sqrt(np.einsum("ki,ki->k", d, d))
        else:
            sm = cKDTree(track_pos[rows]).sparse_distance_matrix(plots, reach,
                                                                 output_type="ndarray")
            ti, pj, dist = rows[sm["i"]], sm["j"].astype(np.int64), sm["v"]
        ok = dist <= n_sigma * (track_sig[ti] + plot_sig[pj]) + margin
        ti_parts.append(ti[ok])
        pj_parts.append(pj[ok])
    loose = np.flatnonzero(~tight)
    if loose.size:  # each with its own (large) radius
        r = n_sigma * (track_sig[loose] + sig_max) + margin
        hits = plots.query_ball_point(track_pos[loose], r, return_sorted=False)
        cnt = np.fromiter((len(h) for h in hits), np.int64, loose.size)
        lj = np.fromiter((i for h in hits for i in h), np.int64, int(cnt.sum()))
        li = np.repeat(loose, cnt)
        ok = (np.linalg.norm(track_pos[li] - plot_pos[lj], axis=1)
              <= n_sigma * (track_sig[li] + plot_sig[lj]) + margin)
        ti_parts.append(li[ok])
        pj_parts.append(lj[ok])
    if not ti_parts:
        return empty, empty
    return np.concatenate(ti_parts).astype(np.int64), np.concatenate(pj_parts).astype(np.int64)


# Nearest-neighbour queries return up to this many plots per track within the
# search radius; a track with that many is queried again for all of them.
KNN = 4


def _sparse(plot_pos: np.ndarray, reach: float) -> bool:
    """Few plots within ``reach`` of a typical point: the plots' count times the
    area of a circle of that radius, over the area of their bounding box (the
    two widest ECEF extents), is small. Only the speed depends on it: both
    search paths give the same pairs."""
    ext = np.sort(plot_pos.max(axis=0) - plot_pos.min(axis=0))
    area = max(float(ext[1] * ext[2]), 1.0)
    return plot_pos.shape[0] * np.pi * reach * reach < 0.2 * area


def _nearest_pairs(plots: cKDTree, track_pos: np.ndarray, rows: np.ndarray, reach: float):
    """Every (track, plot) pair within ``reach`` for tracks ``rows``, by a k-nearest
    query (one C call returning arrays, no tree of the tracks and no Python lists)
    and a ball query for the rare track with KNN plots within reach."""
    dist, idx = plots.query(track_pos[rows], k=KNN, distance_upper_bound=reach)
    hit = np.isfinite(dist)
    full = np.flatnonzero(hit[:, -1])
    if full.size:
        hit[full] = False
    ti = np.repeat(rows, hit.sum(axis=1))
    pj = idx[hit].astype(np.int64)
    if full.size:
        near = plots.query_ball_point(track_pos[rows[full]], reach, return_sorted=False)
        cnt = np.fromiter((len(h) for h in near), np.int64, full.size)
        ti = np.concatenate([ti, np.repeat(rows[full], cnt)])
        pj = np.concatenate([pj, np.fromiter((i for h in near for i in h), np.int64,
                                             int(cnt.sum()))])
    return ti, pj


# A batch of a few plots (a late bearing or crowd report, one radar plot) is
# tested against every track directly: building two KD-trees over a thousand
# tracks for one plot cost about 0.8 ms a batch, the direct test a tenth of that.
BRUTE_PLOTS = 8


def _all_pairs(track_pos, track_sig, plot_pos, plot_sig, n_sigma, margin):
    """spatial_candidates by testing every (track, plot) pair: the same test,
    |p_i - q_j| <= n_sigma (s_i + s_j) + margin, for a handful of plots."""
    d = track_pos[:, None, :] - plot_pos[None, :, :]  # (tracks, plots, 3): plots are few
    dist = np.sqrt(np.einsum("kji,kji->kj", d, d))
    ti, pj = np.nonzero(dist <= n_sigma * (track_sig[:, None] + plot_sig[None, :]) + margin)
    return ti.astype(np.int64), pj.astype(np.int64)


def reach_candidates(track_pos: np.ndarray, sensor_ecef: np.ndarray, reach: np.ndarray,
                     sensor_of: np.ndarray, rows: np.ndarray):
    """Pairs (track i, report rows[k]) for bearing reports: every track within
    reach of the report's sensor (a bearing has no range). ``sensor_of`` is
    each report's sensor index into sensor_ecef/reach. Vectorised over sensors
    and reports: one KD-tree query for all sensors, then index arithmetic."""
    empty = np.zeros(0, np.int64)
    if track_pos.shape[0] == 0 or rows.size == 0:
        return empty, empty
    sens, slot = np.unique(sensor_of, return_inverse=True)
    if sens.size <= BRUTE_PLOTS:  # a few sensors: every track tested directly
        d = track_pos[None, :, :] - sensor_ecef[sens][:, None, :]
        si, flat = np.nonzero(np.sqrt(np.einsum("ski,ski->sk", d, d)) <= reach[sens][:, None])
        cnt = np.bincount(si, minlength=sens.size)
    else:
        near = cKDTree(track_pos).query_ball_point(sensor_ecef[sens], reach[sens],
                                                   return_sorted=False)
        cnt = np.fromiter((len(h) for h in near), np.int64, sens.size)
        flat = np.fromiter((i for h in near for i in h), np.int64, int(cnt.sum()))
    start = np.r_[0, np.cumsum(cnt)[:-1]]
    n_k = cnt[slot]  # candidate tracks of each report
    total = int(n_k.sum())
    if total == 0:
        return empty, empty
    offs = np.arange(total) - np.repeat(np.cumsum(n_k) - n_k, n_k)
    return flat[np.repeat(start[slot], n_k) + offs], np.repeat(rows, n_k)




def range_pregate(x: np.ndarray, P: np.ndarray, dt: np.ndarray, R: np.ndarray, q_h: float,
                  q_v: float, vu_tau_s: float, mtype: np.ndarray, z: np.ndarray,
                  sig: np.ndarray, s_ecef: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """False where a radar plot's range alone puts the pair outside the gate.

    The squared Mahalanobis distance of one component of a Gaussian never exceeds
    that of the whole vector, so a pair whose squared range residual over its
    range variance (h P h^T + sigma_r^2 with the NCV carry of ``predict_ncv``:
    A = dt I - g u u^T, Q = |dt|^3/3 (q_h I + (q_v - q_h) u u^T)) is above
    ``limit`` fails the full chi-square test too. Radar range is good to tens of
    metres while the spatial search must allow for the kilometres of azimuth and
    elevation error at long range, so this drops most candidates (objects a few
    km apart) with a few operations on 3-vectors per pair, before the NCV
    prediction of the whole covariance and the 4-D innovation. x (K,6), P
    (K,6,6), R (K,3,3) of each pair's track; True for pairs that are not radar
    plots. A margin of 0.1 % and 1 m covers rounding and the measurement model's
    overhead floor."""
    keep = np.ones(dt.size, bool)
    pol = mtype <= ms.POLAR
    if not pol.any():
        return keep
    if not pol.all():
        sel = np.flatnonzero(pol)
        x, P, dt, R, z, sig, s_ecef, limit = (a[sel] for a in (x, P, dt, R, z, sig, s_ecef, limit))
    u = R[:, :, 2]
    _, g = vertical_decay(dt, vu_tau_s)
    v = x[:, 3:]
    gu = (g * np.einsum("ki,ki->k", v, u))[:, None]
    d = x[:, :3] + v * dt[:, None] - gu * u - s_ecef  # sensor to predicted target
    r = np.sqrt(np.einsum("ki,ki->k", d, d))
    h = d / np.maximum(r, 1.0)[:, None]  # the range row of H (position part)
    hu = np.einsum("ki,ki->k", h, u)
    a = h * dt[:, None] - (g * hu)[:, None] * u  # A h
    Ph = np.einsum("kij,kj->ki", P[:, :, :3], h)  # [P11 h ; P21 h]
    ad = np.abs(dt)
    s_rr = (np.einsum("ki,ki->k", h, Ph[:, :3]) + 2.0 * np.einsum("ki,ki->k", a, Ph[:, 3:])
            + np.einsum("ki,kij,kj->k", a, P[:, 3:, 3:], a)
            + ad ** 3 / 3.0 * (q_h + (q_v - q_h) * hu * hu) + sig[:, 0] ** 2)
    miss = np.maximum(np.abs(z[:, 0] - r) - 1.0, 0.0)
    ok = miss * miss <= 1.001 * limit * s_rr
    if pol.all():
        return ok
    keep[sel] = ok
    return keep


def bearing_pregate(x: np.ndarray, P: np.ndarray, dt: np.ndarray, R: np.ndarray, q_h: float,
                    q_v: float, vu_tau_s: float, mtype: np.ndarray, z: np.ndarray,
                    sig: np.ndarray, s_ecef: np.ndarray, s_R: np.ndarray,
                    limit: np.ndarray) -> np.ndarray:
    """False where a bearing's azimuth alone puts the pair outside the gate.

    A bearing reaches every track within its sensor's reach (it has no range),
    so most candidates lie in another direction. As in range_pregate, the
    azimuth component's squared Mahalanobis distance never exceeds the whole
    measurement's; its variance h P_c h^T + sigma_az^2 is bounded without
    carrying the covariance: |h| <= 1/rho (rho the horizontal distance from the
    sensor) and the carried position covariance P_c = [I A] P [I A]^T + Q has
    sqrt(trace) <= sqrt(tr P_pp) + |dt| sqrt(tr P_vv) + sqrt(|dt|^3/3 (2 q_h + q_v))
    (Minkowski; ||A|| <= |dt| for A = dt I - g u u^T). The residual is taken
    at the NCV-carried mean of predict_ncv. True for pairs that are not
    bearings; a margin of 0.1 % and 1 microradian covers rounding."""
    keep = np.ones(dt.size, bool)
    brg = mtype >= ms.AZ
    if not brg.any():
        return keep
    if not brg.all():
        sel = np.flatnonzero(brg)
        x, P, dt, R, z, sig, s_ecef, s_R, limit = (a[sel] for a in (x, P, dt, R, z, sig, s_ecef,
                                                                     s_R, limit))
    u = R[:, :, 2]
    _, g = vertical_decay(dt, vu_tau_s)
    v = x[:, 3:]
    gu = (g * np.einsum("ki,ki->k", v, u))[:, None]
    d = x[:, :3] + v * dt[:, None] - gu * u - s_ecef  # sensor to carried target
    e = np.einsum("ki,ki->k", d, s_R[:, :, 0])
    n = np.einsum("ki,ki->k", d, s_R[:, :, 1])
    rho2 = np.maximum(e * e + n * n, 1.0)
    y = z[:, 0] - np.arctan2(e, n)
    y = np.pi - np.mod(np.pi - y, 2.0 * np.pi)
    Pf = P.reshape(-1, 36)
    ad = np.abs(dt)
    s_pos = (np.sqrt(np.maximum(Pf[:, 0] + Pf[:, 7] + Pf[:, 14], 0.0))
             + ad * np.sqrt(np.maximum(Pf[:, 21] + Pf[:, 28] + Pf[:, 35], 0.0))
             + np.sqrt(ad ** 3 / 3.0 * (2.0 * q_h + q_v)))
    s_az = s_pos * s_pos / rho2 + sig[:, 0] ** 2
    miss = np.maximum(np.abs(y) - 1e-6, 0.0)
    ok = miss * miss <= 1.001 * limit * s_az
    if brg.all():
        return ok
    keep[sel] = ok
    return keep


_POS_ROWS = np.array([0, 1, 2])


def carried_innovation(mtype: int, x: np.ndarray, P: np.ndarray, dt: np.ndarray, R: np.ndarray,
                       q_h: float, q_v: float, vu_tau_s: float, z: np.ndarray, sig: np.ndarray,
                       s_ecef: np.ndarray, s_R: np.ndarray):
    """Residual y (K,m) and innovation covariance S (K,m,m) of measurements z of
    one type against states x, P carried over dt by predict_ncv's model, without
    carrying the covariance: the same S = H (F P F^T + Q) H^T + R_z as
    update.innovation of predict_ncv's output, as G P G^T + H Q H^T + R_z with
    G = H F (m x 6, built from H and the blocks of F = [[I, A], [0, B]],
    A = dt I - g u u^T, B = I - b u u^T) and Q = kron([[a^3/3, dt a/2],
    [dt a/2, a]], D), D = q_h I + (q_v - q_h) u u^T, a = |dt|. The gate needs
    only S: this skips the two 6x6 products and the 6x6 process noise per pair."""
    dt = np.asarray(dt, float)
    k = dt.size
    u = R[:, :, 2]
    b, g = vertical_decay(dt, vu_tau_s)
    v = x[:, 3:]
    vu = np.einsum("ki,ki->k", v, u)
    xn = np.empty((k, 6))
    xn[:, :3] = x[:, :3] + v * dt[:, None] - (g * vu)[:, None] * u
    xn[:, 3:] = v - (b * vu)[:, None] * u
    Rz = ms.noise(mtype, sig, s_R)
    a = np.abs(dt)
    c3, c2 = a ** 3 / 3.0, dt * a / 2.0
    dq = q_v - q_h
    if mtype == ms.POS:
        # H = [I 0]: G = [I A]; S = Ppp + A Pvp + Ppv A + A Pvv A + c3 D + R_z
        y = z[:, :3] - xn[:, :3]
        uu = u[:, :, None] * u[:, None, :]
        A = (-g[:, None, None]) * uu  # symmetric
        A[:, _POS_ROWS, _POS_ROWS] += dt[:, None]
        X = np.ascontiguousarray(P[:, :3, 3:]) @ A  # Ppv A = (A Pvp)^T
        S = P[:, :3, :3] + X
        S += np.swapaxes(X, 1, 2)
        S += A @ np.ascontiguousarray(P[:, 3:, 3:]) @ A
        S[:, _POS_ROWS, _POS_ROWS] += (c3 * q_h)[:, None]
        S += (c3 * dq)[:, None, None] * uu
        S += Rz
        return y, S
    zhat, H = ms.predict_measurement(mtype, xn, s_ecef, s_R)
    m = ms.DIM[mtype]
    y = ms.residual(mtype, z[:, :m], zhat)
    Hp = np.ascontiguousarray(H[:, :, :3])
    hp = np.einsum("kmi,ki->km", Hp, u)
    # G = [Hp, dt Hp - g (Hp u) u^T + Hv B]; H Q H^T through T = L L^T (T the
    # 2x2 time factor of Q): L = [[l1, 0], [l2, l3]], l1 = sqrt(a^3/3),
    # l2 = sign(dt) sqrt(3a)/2, l3 = sqrt(a)/2, so H Q H^T = q_h (E E^T + l3^2
    # Hv Hv^T) + dq (e e^T + l3^2 hv hv^T) with E = l1 Hp + l2 Hv, e = E u
    Gv = Hp * dt[:, None, None]
    Gv -= (g[:, None] * hp)[:, :, None] * u[:, None, :]
    l1 = np.sqrt(c3)
    E = Hp * l1[:, None, None]
    e = hp * l1[:, None]
    rr = mtype == ms.POLAR_RR  # only range rate (row 3) has a velocity part
    if rr:
        w = H[:, 3, 3:]
        hv = np.einsum("ki,ki->k", w, u)
        Gv[:, 3] += w - (b * hv)[:, None] * u
        l2 = np.sign(dt) * np.sqrt(0.75 * a)
        E[:, 3] += l2[:, None] * w
        e[:, 3] += l2 * hv
    G = np.concatenate([Hp, Gv], axis=2)
    S = G @ (P @ np.ascontiguousarray(np.swapaxes(G, 1, 2)))
    EEt = E @ np.ascontiguousarray(np.swapaxes(E, 1, 2))
    EEt *= q_h
    S += EEt
    S += (dq * e)[:, :, None] * e[:, None, :]
    if rr:
        S[:, 3, 3] += 0.25 * a * (q_h * np.einsum("ki,ki->k", w, w) + dq * hv * hv)
    S += Rz
    return y, S
