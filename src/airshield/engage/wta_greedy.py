"""Marginal-return greedy for the WTA.

Greedy gives the next shot to the (effector, threat) pair that lowers the
objective most, value_j * S_j * pk - lambda * cost (S_j = current survival).
Each threat keeps its best pair; a shot only changes its own threat's row and,
when it empties an effector, the rows whose best used that effector, so one shot
costs O(T + pairs of one threat) numpy work instead of a rescan of all pairs.
"""

from __future__ import annotations

import time

import numpy as np

from airshield.engage.wta_pairs import Pairs, survival_log


def greedy(pairs: Pairs, price: np.ndarray | None = None, xp: np.ndarray | None = None,
           deadline: float | None = None) -> np.ndarray:
    """Marginal-return greedy from shots ``xp`` (default none); a shot of pair p
    is charged k_p + price_p. Returns per-pair shots."""
    P = pairs.n
    xp = np.zeros(P, dtype=np.int64) if xp is None else xp.copy()
    if P == 0:
        return xp
    kk = pairs.k + (price if price is not None else 0.0)
    kill = -np.expm1(-pairs.a)                     # pk as the capped model sees it
    L = survival_log(pairs, xp)
    rem = pairs.shots - np.bincount(pairs.eff, weights=xp, minlength=pairs.n_effectors).astype(np.int64)
    ts = pairs.thr_start
    v = pairs.value
    T = pairs.n_threats

    def gains(lo: int, hi: int, j: int) -> np.ndarray:
        g = v[j] * np.exp(-L[j]) * kill[lo:hi] - kk[lo:hi]
        ok = (rem[pairs.eff[lo:hi]] > 0) & (xp[lo:hi] < pairs.u[lo:hi])
        return np.where(ok, g, -np.inf)

    g_all = v[pairs.thr] * np.exp(-L[pairs.thr]) * kill - kk
    g_all = np.where((rem[pairs.eff] > 0) & (xp < pairs.u), g_all, -np.inf)
    has = np.diff(ts) > 0
    best = np.full(T, -np.inf)
    bp = np.full(T, -1, dtype=np.int64)
    starts = ts[:-1][has]
    best[has] = np.maximum.reduceat(g_all, starts)
    hit = np.flatnonzero(g_all == best[pairs.thr])
    first = np.r_[True, pairs.thr[hit][1:] != pairs.thr[hit][:-1]]
    bp[pairs.thr[hit[first]]] = hit[first]
    bp_eff = np.where(bp >= 0, pairs.eff[np.maximum(bp, 0)], -1)

    def refresh(j: int) -> None:
        lo, hi = ts[j], ts[j + 1]
        g = gains(lo, hi, j)
        m = int(np.argmax(g))
        best[j] = g[m]
        bp[j] = lo + m
        bp_eff[j] = pairs.eff[lo + m]

    steps = 0
    while True:
        j = int(np.argmax(best))
        if not best[j] > 0:
            break
        p = bp[j]
        i = pairs.eff[p]
        xp[p] += 1
        rem[i] -= 1
        L[j] += pairs.a[p]
        refresh(j)
        if rem[i] == 0:
            for t in np.flatnonzero(bp_eff == i):
                refresh(int(t))
        steps += 1
        if deadline is not None and steps % 64 == 0 and time.perf_counter() > deadline:
            break
    return xp
