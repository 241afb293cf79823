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
    # "loose" tracks: far more uncertain than is typical (new tentative tracks)
    cap = max(3.0 * float(np.median(track_sig)), 50.0)
    tight = track_sig <= cap
    ti_parts, pj_parts = [], []
    rows = np.flatnonzero(tight)
    if rows.size:
        reach = n_sigma * (cap + float(plot_sig.max())) + margin
        sm = cKDTree(track_pos[rows]).sparse_distance_matrix(cKDTree(plot_pos), reach,
                                                             output_type="ndarray")
        ti, pj = rows[sm["i"]], sm["j"].astype(np.int64)
        ok = sm["v"] <= n_sigma * (track_sig[ti] + plot_sig[pj]) + margin
        ti_parts.append(ti[ok])
        pj_parts.append(pj[ok])
    loose = np.flatnonzero(~tight)
    if loose.size:
        r = n_sigma * (track_sig[loose] + float(plot_sig.max())) + margin
        hits = cKDTree(plot_pos).query_ball_point(track_pos[loose], r, return_sorted=False)
        cnt = np.fromiter((len(h) for h in hits), np.int64, loose.size)
        lj = np.fromiter((i for h in hits for i in h), np.int64, int(cnt.sum()))
        li = np.repeat(loose, cnt)
        ok = (np.linalg.norm(track_pos[li] - plot_pos[lj], axis=1)
              <= n_sigma * (track_sig[li] + plot_sig[lj]) + margin)
        ti_parts.append(li[ok])
        pj_parts.append(lj[ok])
    return np.concatenate(ti_parts).astype(np.int64), np.concatenate(pj_parts).astype(np.int64)


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
    near = cKDTree(track_pos).query_ball_point(sensor_ecef[sens], reach[sens], return_sorted=False)
    cnt = np.fromiter((len(h) for h in near), np.int64, sens.size)
    flat = np.fromiter((i for h in near for i in h), np.int64, int(cnt.sum()))
    start = np.r_[0, np.cumsum(cnt)[:-1]]
    n_k = cnt[slot]  # candidate tracks of each report
    total = int(n_k.sum())
    if total == 0:
        return empty, empty
    offs = np.arange(total) - np.repeat(np.cumsum(n_k) - n_k, n_k)
    return flat[np.repeat(start[slot], n_k) + offs], np.repeat(rows, n_k)
