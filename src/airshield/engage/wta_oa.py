"""Exact WTA on shot counts by outer approximation (convex MINLP), for groups
whose threats have too many fire patterns to list (dense pk).

A MILP over integer shots x_p (0..u_p, see wta_pairs) and one variable z_j per
threat for its expected leak value_j * exp(-y_j), y_j = sum_p a_p x_p. The
convex leak is bounded below by linear cuts:
  - chords between consecutive *achievable* values of y_j (enumerated up to a
    cap). A chord lies below the convex function everywhere outside its
    interval and no integer plan has y strictly inside, so the cuts are valid
    and exact at every integer plan in that range;
  - tangents above the cap, added one by one at the y_j the MILP picks
    (standard outer approximation) until the true objective of the MILP's plan
    meets the MILP's bound.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.optimize import Bounds, LinearConstraint
from scipy.sparse import coo_matrix, csr_matrix, hstack

from airshield.engage.wta_milp import REL_TOL, highs
from airshield.engage.wta_pairs import Pairs, ranges

N_CHORD_POINTS = 48        # achievable y values enumerated per threat
TINY = 1e-13               # leak (relative to the group's scale) below which cuts stop
MERGE = 1e-9               # achievable y values closer than this are one point


def _achievable(a: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, bool]:
    """Sorted achievable values of sum a*x (0 <= x <= u) up to a cap, and whether
    the list is complete (every achievable value is in it)."""
    vals, cap, complete = np.zeros(1), np.inf, True
    for n in np.argsort(a):
        if a[n] > cap:
            break
        # the N smallest sums never need more than N shots of one pair
        new = (vals[:, None] + a[n] * np.arange(min(u[n], N_CHORD_POINTS) + 1)[None, :]).ravel()
        new = np.unique(new[new <= cap])
        new = new[np.r_[True, np.diff(new) > MERGE]]
        if len(new) > N_CHORD_POINTS:
            new, complete = new[:N_CHORD_POINTS], False
            cap = new[-1]
        vals = new
    return vals, complete


class _Cuts:
    """Rows  z_j - m * sum_p a_p x_p >= f(y1) - m * y1  of the growing MILP."""

    def __init__(self):
        self.thr: list[int] = []
        self.slope: list[float] = []
        self.rhs: list[float] = []

    def chord(self, j: int, v: float, y1: float, y2: float) -> None:
        f1, f2 = v * np.exp(-y1), v * np.exp(-y2)
        m = (f2 - f1) / (y2 - y1)
        self.thr.append(j)
        self.slope.append(m)
        self.rhs.append(f1 - m * y1)

    def tangent(self, j: int, v: float, t: float) -> None:
        f = v * np.exp(-t)
        self.thr.append(j)
        self.slope.append(-f)
        self.rhs.append(f * (1.0 + t))


def oa_milp(pairs: Pairs, ps: np.ndarray, x_inc: np.ndarray, deadline: float | None
             ) -> tuple[np.ndarray, float, bool]:
    """Outer approximation on one component. Returns (shots, lower bound, proven)."""
    a, u, k = pairs.a[ps], pairs.u[ps], pairs.k[ps]
    thr_g = pairs.thr[ps]
    threats, tloc = np.unique(thr_g, return_inverse=True)
    effs, eloc = np.unique(pairs.eff[ps], return_inverse=True)
    sc = float(pairs.value[threats].max())
    v = pairs.value[threats] / sc
    P, T = len(ps), len(threats)

    def leak(xc: np.ndarray) -> np.ndarray:
        return v * np.exp(-np.bincount(tloc, weights=a * xc, minlength=T))

    def true_obj(xc: np.ndarray) -> float:
        return float(leak(xc).sum() + np.dot(k, xc) / sc)

    cuts = _Cuts()
    above = np.zeros(T)                                  # chords are exact up to here
    y_inc = np.bincount(tloc, weights=a * x_inc, minlength=T)
    for j in range(T):
        sel = tloc == j
        ys, complete = _achievable(a[sel], u[sel])
        for y1, y2 in zip(ys[:-1], ys[1:]):
            if v[j] * np.exp(-y1) >= TINY:
                cuts.chord(j, v[j], y1, y2)
        above[j] = np.inf if complete else ys[-1]
        if not complete:
            cuts.tangent(j, v[j], ys[-1])
            if y_inc[j] > ys[-1] and v[j] * np.exp(-y_inc[j]) >= TINY:
                cuts.tangent(j, v[j], y_inc[j])

    # shot limits, only where the pair caps do not already imply them
    cap_sum = np.bincount(eloc, weights=u, minlength=len(effs))
    lim = np.flatnonzero(cap_sum > pairs.shots[effs])
    rows_x = [coo_matrix((np.ones(P), (eloc, np.arange(P))), shape=(len(effs), P)).tocsr()[lim]]
    shots_ub = pairs.shots[effs][lim].astype(float)

    c = np.r_[k / sc, np.ones(T)]
    integrality = np.r_[np.ones(P), np.zeros(T)]
    bounds = Bounds(np.zeros(P + T), np.r_[u.astype(float), v])
    best_x, best = x_inc.copy(), true_obj(x_inc)
    lower, proven = -np.inf, False
    while True:
        left = None if deadline is None else deadline - time.perf_counter()
        if left is not None and left <= 0:
            break
        A = _cut_matrix(cuts, tloc, a, P, T)
        cons = [LinearConstraint(A, np.asarray(cuts.rhs), np.inf)]
        if len(lim):
            cons.append(LinearConstraint(_pad(rows_x[0], T), -np.inf, shots_ub))
        res = highs(c, integrality, bounds, cons, left)
        if res.x is None:
            if res.mip_dual_bound is not None and np.isfinite(res.mip_dual_bound):
                lower = max(lower, float(res.mip_dual_bound))
            break
        dual = float(res.mip_dual_bound) if res.mip_dual_bound is not None else float(res.fun)
        lower = max(lower, dual)
        xc = np.round(res.x[:P]).astype(np.int64)
        obj = true_obj(xc)
        if obj < best:
            best_x, best = xc, obj
        if best - lower <= REL_TOL * max(abs(best), 1e-12):
            proven = res.status == 0
            if proven:
                break
        if res.status != 0:                          # time limit inside HiGHS
            break
        # add a tangent wherever the MILP under-estimated the leak of its plan
        y = np.bincount(tloc, weights=a * xc, minlength=T)
        under = leak(xc) - res.x[P:]
        new = np.flatnonzero((under > REL_TOL * 1e-2 * max(abs(best), 1e-12))
                             & (y > above) & (v * np.exp(-y) >= TINY))
        if len(new) == 0:
            proven = res.status == 0
            break
        for j in new:
            cuts.tangent(int(j), v[j], float(y[j]))
    return best_x, lower * sc if np.isfinite(lower) else 0.0, proven


def _cut_matrix(cuts: _Cuts, tloc: np.ndarray, a: np.ndarray, P: int, T: int):
    """Sparse rows [-m * a_p for the cut's threat's pairs | 1 at z_j]."""
    cthr = np.asarray(cuts.thr)
    slope = np.asarray(cuts.slope)
    n = len(cthr)
    # pairs of each threat, in threat order
    order = np.argsort(tloc, kind="stable")
    starts = np.searchsorted(tloc[order], np.arange(T + 1))
    idx, owner = ranges(starts[cthr], starts[cthr + 1])
    p = order[idx]
    rows = np.r_[owner, np.arange(n)]
    cols = np.r_[p, P + cthr]
    vals = np.r_[-slope[owner] * a[p], np.ones(n)]
    return coo_matrix((vals, (rows, cols)), shape=(n, P + T)).tocsr()


def _pad(m, T: int):
    return hstack([m, csr_matrix((m.shape[0], T))]).tocsr()
