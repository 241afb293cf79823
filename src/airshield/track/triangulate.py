"""Bearing-only track initiation: position fixes from crossing bearings.

Acoustic arrays and RF direction finders report only a direction. A new target is
found where bearings of different sensors cross; the hard part is ghosts (with N
targets and two sensors there are up to N^2 crossings, only N of them real).

Pipeline, vectorised over all bearing pairs and all (candidate, sensor) pairs:

1. candidate pairs: bearings of different sensors within 2*max_range_m
   (cKDTree) and max_dt_s of each other;
2. crossing of the two rays in the east-north tangent plane at the pair midpoint
   (exact rotations from airshield.geo; a tangent plane is fine over a few km),
   kept if in front of both sensors, within max_range_m and at a usable angle;
3. support: for every sensor in range of a candidate, its bearing closest to the
   candidate, if within ``gate_sigma`` sigmas. Candidates that could not score
   above ``min_score`` even if every nearby bearing fitted perfectly are dropped
   before fitting. A batch Gauss-Newton fix over the support (closed-form
   Jacobian of the bearing model; covariance = inverse Fisher information, with
   the height prior) is re-gated once;
4. ghost suppression, greedy: each candidate is scored by a log-likelihood ratio
   (target vs. bearings of other targets), summed over the sensors in range:
   a supporting bearing adds log(pd) + log N(residual) - log(clutter density)
   where the clutter density is the sensor's other bearings spread over 360°;
   a sensor in range without a fitting bearing adds log(1 - pd). In a dense raid
   almost every point has *some* bearing near it from most sensors; what tells a
   target from a ghost is that its bearings fit tightly and few sensors miss it.
   Fixes of 3+ sensors are taken before 2-sensor ones, best score first; each
   bearing supports one fix only, so a 2-bearing fix is accepted only where no
   3+-bearing fix explains either bearing. Candidates within gate_m of an
   existing track claim their bearings but produce no fix.

Height: azimuths alone say nothing about height. Elevations, where given, are
used as measurements; a prior of ``prior_height_m`` above the sensors (500 m,
sigma 500 m: Shahed-class drones cruise at 100-2,500 m) always enters the fix,
so the height of an azimuth-only fix is that prior, with its honest sigma.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from airshield import geo


@dataclass
class Fixes:
    """New-target position fixes. ``used[f]`` indexes the input bearings of fix f."""

    ecef: np.ndarray  # (F, 3)
    cov: np.ndarray  # (F, 3, 3) ECEF covariance, m^2
    t: np.ndarray  # (F,) time of the fix (mean of its bearings' times)
    used: list[np.ndarray]
    n_sensors: np.ndarray = field(default_factory=lambda: np.zeros(0, int))  # (F,)
    chi2: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (F,) of the bearing residuals
    score: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (F,) log-likelihood ratio

    def __len__(self) -> int:
        return int(self.t.shape[0])

    @classmethod
    def empty(cls) -> "Fixes":
        return cls(np.zeros((0, 3)), np.zeros((0, 3, 3)), np.zeros(0), [])


def _wrap(a):
    return (a + np.pi) % (2 * np.pi) - np.pi


def _expand(groups, starts, counts, order):
    """For each pair k with group g_k, the rows of that group: (pair index, row)."""
    cnt = counts[groups]
    k = np.repeat(np.arange(groups.size), cnt)
    offs = np.arange(k.size) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    return k, order[starts[groups][k] + offs]


def _bearing_model(x, Q, o):
    """Azimuth, elevation (rad) of points x (K,3) given in candidate frames, seen
    from sensors whose ENU is rel = Q x + o; with their Jacobians d/dx (K,3)."""
    rel = np.einsum("kij,kj->ki", Q, x) + o
    e, n, u = rel[:, 0], rel[:, 1], rel[:, 2]
    rho2 = np.maximum(e * e + n * n, 1.0)
    rho = np.sqrt(rho2)
    r2 = rho2 + u * u
    d_az = np.stack([n / rho2, -e / rho2, np.zeros_like(e)], axis=1)
    d_el = np.stack([-u * e / (rho * r2), -u * n / (rho * r2), rho / r2], axis=1)
    return (np.arctan2(e, n), np.arctan2(u, rho),
            np.einsum("ki,kij->kj", d_az, Q), np.einsum("ki,kij->kj", d_el, Q))


def _residuals(x, c, Q, o, az, el, s_az, s_el):
    """Normalised residuals and Jacobians (scaled by 1/sigma) per pair."""
    paz, pel, jaz, jel = _bearing_model(x[c], Q, o)
    has_el = np.isfinite(el)
    raz = _wrap(az - paz) / s_az
    rel = np.where(has_el, _wrap(np.where(has_el, el, 0.0) - pel) / s_el, 0.0)
    return raz, rel, jaz / s_az[:, None], np.where(has_el[:, None], jel / s_el[:, None], 0.0)


def _segment_sum(idx, values, n):
    """Sum rows of ``values`` (K, ...) into n groups by idx (bincount per entry)."""
    flat = values.reshape(values.shape[0], int(np.prod(values.shape[1:])))
    out = np.stack([np.bincount(idx, weights=flat[:, q], minlength=n).astype(float)
                    for q in range(flat.shape[1])], axis=1)
    return out.reshape((n,) + values.shape[1:])


def _information(x, x0, h_prior, s_h, s_wide, c, meas):
    """Normal equations A dx = b of all candidates at once (summed over pairs)."""
    raz, rel, jaz, jel = _residuals(x, c, *meas)
    n = x.shape[0]
    A = _segment_sum(c, jaz[:, :, None] * jaz[:, None, :] + jel[:, :, None] * jel[:, None, :], n)
    b = _segment_sum(c, jaz * raz[:, None] + jel * rel[:, None], n)
    # Priors: height above the sensors, and a very wide one on the horizontal
    # position that only keeps degenerate geometry (parallel bearings) finite.
    A[:, 0, 0] += s_wide**-2
    A[:, 1, 1] += s_wide**-2
    A[:, 2, 2] += s_h**-2
    b[:, :2] += (x0[:, :2] - x[:, :2]) * s_wide**-2
    b[:, 2] += (h_prior - x[:, 2]) * s_h**-2
    return A, b


def _gauss_newton(x0, h_prior, s_h, s_wide, c, meas, iters, max_step):
    """Batch Gauss-Newton fix; returns positions and covariances (candidate frames)."""
    x = x0.copy()
    for _ in range(iters):
        A, b = _information(x, x0, h_prior, s_h, s_wide, c, meas)
        step = np.linalg.solve(A, b[:, :, None])[:, :, 0]
        norm = np.linalg.norm(step, axis=1, keepdims=True)
        x = x + step * np.minimum(1.0, max_step / np.maximum(norm, 1e-12))
    A, _ = _information(x, x0, h_prior, s_h, s_wide, c, meas)
    P = np.linalg.inv(A)
    return x, 0.5 * (P + np.swapaxes(P, 1, 2))


def _first_per_group(rows, c, site):
    """Of ``rows`` sorted by (candidate, site, residual): the first of each group."""
    first = np.ones(rows.size, bool)
    first[1:] = (c[rows][1:] != c[rows][:-1]) | (site[rows][1:] != site[rows][:-1])
    return rows[first]


def initiate_from_bearings(sensor_ecef, sensor_lat, sensor_lon, az_deg, el_deg, sigma_az_deg, t,
                           sensor_id, *, max_range_m: float = 6000.0, min_sensors: int = 2,
                           max_dt_s: float = 3.0, existing_ecef: np.ndarray | None = None,
                           gate_m: float = 1500.0, gate_sigma: float = 3.0, pd: float = 0.8,
                           false_per_sensor: float = 0.5, min_score: float = 0.0,
                           min_cross_deg: float = 3.0, default_sigma_deg: float = 5.0,
                           sigma_el_deg=None, prior_height_m: float = 500.0,
                           prior_height_sigma_m: float = 500.0, iterations: int = 6) -> Fixes:
    """Position fixes of new targets from the bearings of several sensors.

    One row per bearing: the reporting sensor's ECEF position, lat, lon, the
    azimuth (deg from true north), elevation (deg, NaN = none), azimuth sigma (deg;
    NaN or <= 0 -> ``default_sigma_deg``), time and an integer sensor id. Rows with
    non-finite position, azimuth or time take no part. ``pd`` is the chance a
    sensor in range hears a target, ``false_per_sensor`` its expected false
    bearings per window. Returns fixes in ECEF with ECEF covariances; ``used``
    gives the input rows behind each fix.
    """
    S = np.asarray(sensor_ecef, float).reshape(-1, 3)
    m = S.shape[0]

    def col(a, dtype=float):
        return np.broadcast_to(np.asarray(a, dtype).reshape(-1), (m,)).copy()

    if m < 2:
        return Fixes.empty()
    lat, lon, az, el, sig, tt = (col(a) for a in (sensor_lat, sensor_lon, az_deg, el_deg,
                                                   sigma_az_deg, t))
    sid = col(sensor_id, np.int64)
    sig_el = sig.copy() if sigma_el_deg is None else col(sigma_el_deg)
    valid = (np.isfinite(S).all(axis=1) & np.isfinite(lat) & np.isfinite(lon)
             & np.isfinite(az) & np.isfinite(tt) & (np.abs(lat) <= 90))
    rows = np.flatnonzero(valid)
    if rows.size < 2:
        return Fixes.empty()
    S, lat, lon, tt, sid = S[rows], lat[rows], lon[rows], tt[rows], sid[rows]
    nb = rows.size
    azr = np.radians(np.mod(az[rows], 360.0))
    elr = np.where(np.isfinite(el[rows]) & (np.abs(el[rows]) < 89.0), np.radians(el[rows]), np.nan)

    def sigma(s):
        return np.radians(np.clip(np.where(np.isfinite(s) & (s > 0), s, default_sigma_deg), 0.05, 90))

    s_az, s_el = sigma(sig[rows]), sigma(sig_el[rows])
    # A site is one sensor at one place; each site lends one bearing to a fix.
    site_key = np.column_stack([sid.astype(float), S])
    _, first_row, site = np.unique(site_key, axis=0, return_index=True, return_inverse=True)
    site = site.reshape(-1)
    R = geo.enu_to_ecef_rotation(lat, lon)  # (B,3,3) sensor frames
    d_ecef = R[:, :, 0] * np.sin(azr)[:, None] + R[:, :, 1] * np.cos(azr)[:, None]

    # 1. Candidate pairs of bearings.
    tree = cKDTree(S)
    pr = tree.query_pairs(2 * max_range_m, output_type="ndarray").reshape(-1, 2)
    i, j = pr[:, 0], pr[:, 1]
    keep = (site[i] != site[j]) & (np.abs(tt[i] - tt[j]) <= max_dt_s)
    i, j = i[keep], j[keep]

    # 2. Crossing in the tangent plane at each pair's midpoint.
    O = 0.5 * (S[i] + S[j])
    lat0, lon0, _ = geo.ecef_to_geodetic(O[:, 0], O[:, 1], O[:, 2])
    Rc = geo.enu_to_ecef_rotation(np.atleast_1d(lat0), np.atleast_1d(lon0)).reshape(-1, 3, 3)
    RcT = np.swapaxes(Rc, 1, 2)
    si = np.einsum("pij,pj->pi", RcT, S[i] - O)
    sj = np.einsum("pij,pj->pi", RcT, S[j] - O)
    di = np.einsum("pij,pj->pi", RcT, d_ecef[i])[:, :2]
    dj = np.einsum("pij,pj->pi", RcT, d_ecef[j])[:, :2]
    di /= np.maximum(np.linalg.norm(di, axis=1, keepdims=True), 1e-12)
    dj /= np.maximum(np.linalg.norm(dj, axis=1, keepdims=True), 1e-12)
    cross = di[:, 0] * dj[:, 1] - di[:, 1] * dj[:, 0]
    delta = sj[:, :2] - si[:, :2]
    with np.errstate(divide="ignore", invalid="ignore"):
        ri = (delta[:, 0] * dj[:, 1] - delta[:, 1] * dj[:, 0]) / cross
        rj = (delta[:, 0] * di[:, 1] - delta[:, 1] * di[:, 0]) / cross
    ok = ((np.abs(cross) >= np.sin(np.radians(min_cross_deg))) & (ri > 1.0) & (rj > 1.0)
          & (ri <= max_range_m) & (rj <= max_range_m))
    if not ok.any():
        return Fixes.empty()
    i, j, O, Rc, RcT, si, sj, di, dj, ri, rj = (a[ok] for a in (i, j, O, Rc, RcT, si, sj, di, dj,
                                                                 ri, rj))
    n_c = i.size
    ground = 0.5 * (si[:, 2] + sj[:, 2])
    h_prior = ground + prior_height_m
    # Height guess from elevations where a bearing has one, else the prior.
    wi, wj = np.isfinite(elr[i]).astype(float), np.isfinite(elr[j]).astype(float)
    hi_ = si[:, 2] + ri * np.tan(np.nan_to_num(elr[i]))
    hj_ = sj[:, 2] + rj * np.tan(np.nan_to_num(elr[j]))
    h0 = np.where(wi + wj > 0, (hi_ * wi + hj_ * wj) / np.maximum(wi + wj, 1), h_prior)
    h0 = np.clip(h0, ground - 1000.0, ground + 15000.0)  # a wild elevation must not blow up reach
    x0 = np.column_stack([si[:, :2] + ri[:, None] * di, h0])
    tc = 0.5 * (tt[i] + tt[j])
    # Horizontal covariance of the crossing (each ray is uncertain across its
    # range by r*sigma): widens the pre-gate of other sensors' bearings.
    info = np.zeros((n_c, 2, 2))
    for r_, d_, s_ in ((ri, di, s_az[i]), (rj, dj, s_az[j])):
        nrm = np.column_stack([-d_[:, 1], d_[:, 0]]) / (r_ * s_)[:, None]
        info += nrm[:, :, None] * nrm[:, None, :]
    P2 = np.linalg.inv(info + np.eye(2) * (10.0 * max_range_m) ** -2)

    # 3. Sensors in range of each candidate, then their bearings in the time window.
    Xc = O + np.einsum("pij,pj->pi", Rc, x0)
    reach = np.hypot(max_range_m, np.abs(h0 - ground).max()) + 10.0
    cs = cKDTree(Xc).sparse_distance_matrix(cKDTree(S[first_row]), reach, output_type="ndarray")
    cc, ss = cs["i"].astype(np.int64), cs["j"].astype(np.int64)
    rs = first_row[ss]
    v = Xc[cc] - S[rs]
    e = np.einsum("ki,ki->k", R[rs][:, :, 0], v)
    nn = np.einsum("ki,ki->k", R[rs][:, :, 1], v)
    inr = np.hypot(e, nn) <= max_range_m
    cc, ss, e, nn = cc[inr], ss[inr], e[inr], nn[inr]
    paz = np.arctan2(e, nn)
    grad = np.column_stack([nn, -e]) / np.maximum(e * e + nn * nn, 1.0)[:, None]
    s_pred2 = np.einsum("ki,kij,kj->k", grad, P2[cc], grad)  # azimuth variance from P2
    by_site = np.argsort(site, kind="stable")
    counts = np.bincount(site, minlength=first_row.size)
    k, b = _expand(ss, np.cumsum(counts) - counts, counts, by_site)
    win = np.abs(tt[b] - tc[cc[k]]) <= max_dt_s
    k, b = k[win], b[win]
    n_cs = np.bincount(k, minlength=cc.size)  # bearings of that sensor in the window
    heard = n_cs > 0
    n_in_range = np.bincount(cc[heard], minlength=n_c)
    # Pre-gate on azimuth with a margin for the unrefined crossing.
    pre = np.abs(_wrap(azr[b] - paz[k])) <= gate_sigma * np.sqrt(s_az[b] ** 2 + s_pred2[k])
    k, b = k[pre], b[pre]
    lam = (n_cs[k] - 1 + false_per_sensor) / (2 * np.pi)  # other bearings per radian
    has_el = np.isfinite(elr[b])
    # Log-likelihood ratio of a bearing at zero residual: target vs other bearings.
    gain = (np.log(pd) - np.log(s_az[b] * np.sqrt(2 * np.pi)) - np.log(lam)
            + np.where(has_el, np.log(np.pi / 2) - np.log(s_el[b] * np.sqrt(2 * np.pi)), 0.0))
    miss = np.log1p(-pd)
    # Prune hopeless candidates before fitting: even with every pre-gated bearing
    # fitting perfectly, too many sensors in range would have missed them.
    best_gain = np.full(cc.size, -np.inf)
    np.maximum.at(best_gain, k, gain)
    hit = np.isfinite(best_gain)
    bound = np.bincount(cc[hit], weights=np.maximum(best_gain[hit], miss) - miss,
                        minlength=n_c) + n_in_range * miss
    hopeful = (bound > min_score) & (np.bincount(cc[hit], minlength=n_c) >= max(min_sensors, 2))
    keep = hopeful[cc[k]]
    k, b, gain = k[keep], b[keep], gain[keep]
    c = cc[k]
    Q = np.einsum("kji,kjl->kil", R[b], Rc[c])  # candidate frame -> sensor ENU
    o = np.einsum("kji,kj->ki", R[b], O[c] - S[b])
    meas = (Q, o, azr[b], elr[b], s_az[b], s_el[b])

    def gate(x):
        raz, rel, _, _ = _residuals(x, c, *meas)
        r2 = raz * raz + rel * rel
        return (np.abs(raz) <= gate_sigma) & (np.abs(rel) <= gate_sigma), r2

    s_wide = 10.0 * max_range_m
    x = x0
    for _ in range(2):  # gate, fit, re-gate at the refined fix, fit again
        g, r2 = gate(x)
        gi = np.flatnonzero(g)
        sel = _first_per_group(gi[np.lexsort((r2[gi], site[b[gi]], c[gi]))], c, site[b])
        x, P = _gauss_newton(x, h_prior, prior_height_sigma_m, s_wide, c[sel],
                             tuple(a[sel] for a in meas), max(iterations // 2, 1), max_range_m)
    g, r2 = gate(x)
    llr = gain - 0.5 * r2
    g &= llr > miss  # a bearing fitting worse than a miss belongs to something else

    # Candidates near an existing track: their bearings belong to that track.
    near = np.zeros(n_c, bool)
    ex = None if existing_ecef is None else np.asarray(existing_ecef, float).reshape(-1, 3)
    ex = None if ex is None else ex[np.isfinite(ex).all(axis=1)]
    if ex is not None and ex.size:
        Xc = O + np.einsum("pij,pj->pi", Rc, x)
        hs = 3.0 * np.sqrt(np.clip(P[:, 2, 2], 0, None))
        sp = cKDTree(Xc).sparse_distance_matrix(cKDTree(ex), gate_m + hs.max() + 1.0,
                                                 output_type="ndarray")
        d = np.einsum("kij,kj->ki", RcT[sp["i"]], ex[sp["j"]] - Xc[sp["i"]])
        hit = (np.hypot(d[:, 0], d[:, 1]) <= gate_m) & (np.abs(d[:, 2]) <= gate_m + hs[sp["i"]])
        near[sp["i"][hit]] = True

    # 4. Greedy ghost suppression: the best-explained fix takes its bearings.
    used = np.zeros(nb, bool)
    alive_c = hopeful.copy()
    need = max(int(min_sensors), 2)
    gi = np.flatnonzero(g)
    order = gi[np.lexsort((r2[gi], site[b[gi]], c[gi]))]  # sorted once
    accepted, supports, scores = [], [], []
    while True:
        sel = _first_per_group(order[~used[b[order]] & alive_c[c[order]]], c, site[b])
        support = np.bincount(c[sel], minlength=n_c)
        score = np.bincount(c[sel], weights=llr[sel] - miss, minlength=n_c) + n_in_range * miss
        ok = alive_c & (support >= need) & (score > min_score)
        if not ok.any():
            break
        # Greedy, a batch at a time: every candidate that ranks first on all of
        # its bearings is taken now. A one-by-one greedy would take it too (up to
        # the miss count of sensors whose bearing a winner took): the winners
        # ahead of it share none of its bearings.
        cand = np.flatnonzero(ok)
        rank = np.full(n_c, n_c)
        rank[cand[np.lexsort((-score[cand], support[cand] < 3))]] = np.arange(cand.size)
        mine = sel[ok[c[sel]]]
        best_on_b = np.full(nb, n_c)
        np.minimum.at(best_on_b, b[mine], rank[c[mine]])
        lost = np.bincount(c[mine], weights=best_on_b[b[mine]] != rank[c[mine]], minlength=n_c)
        win = np.flatnonzero(ok & (lost == 0))
        win = win[np.argsort(rank[win])]
        took = mine[np.isin(c[mine], win)]
        took = took[np.argsort(c[took], kind="stable")]
        used[b[took]] = True
        alive_c[win] = False
        alive_c &= ~(used[i] | used[j])  # a candidate's own crossing is gone
        parts = np.split(b[took], np.cumsum(np.bincount(c[took], minlength=n_c)[np.sort(win)])[:-1])
        for w, part in zip(np.sort(win), parts):
            if not near[w]:
                accepted.append(w)
                supports.append(part)
                scores.append(score[w])
    if not accepted:
        return Fixes.empty()

    # Final fit of each accepted fix on exactly the bearings it took.
    acc = np.asarray(accepted)
    fc = np.repeat(np.arange(acc.size), [s.size for s in supports])
    fb = np.concatenate(supports)
    pos = np.lexsort((b, c))
    kk = pos[np.searchsorted(c[pos] * nb + b[pos], acc[fc] * nb + fb)]
    fmeas = tuple(a[kk] for a in meas)
    xf, Pf = _gauss_newton(x[acc], h_prior[acc], prior_height_sigma_m, s_wide, fc, fmeas,
                           iterations, max_range_m)
    raz, rel, _, _ = _residuals(xf, fc, *fmeas)
    ecef = O[acc] + np.einsum("pij,pj->pi", Rc[acc], xf)
    cov = np.einsum("pij,pjk,plk->pil", Rc[acc], Pf, Rc[acc])
    return Fixes(ecef=ecef, cov=0.5 * (cov + np.swapaxes(cov, 1, 2)),
                 t=np.bincount(fc, weights=tt[fb]) / np.bincount(fc),
                 used=[np.sort(rows[s]) for s in supports],
                 n_sensors=np.array([np.unique(site[s]).size for s in supports]),
                 chi2=np.bincount(fc, weights=raz**2 + rel**2, minlength=acc.size),
                 score=np.asarray(scores))


__all__ = ["Fixes", "initiate_from_bearings"]
