"""Lagrangian lower bound for the weapon-target assignment.

Relax the shot limits with multipliers mu_i >= 0. With y_j = sum_i a_ij x_ij
(a = -ln(1 - pk)) and shot price k_i = lambda * cost_i + mu_i the relaxed problem
splits by threat:

    L(mu) = sum_j min_x [value_j e**-y_j + sum_i k_i x_ij] - sum_i mu_i shots_i

which is <= the optimum for every mu >= 0. Each threat's integer minimum is
bounded below in closed form: n shots (integer) that buy effort y cost at least
max(y / r, n * kmin) with r = max_i a_i / k_i the best effort per unit of money
and kmin the cheapest shot, and y <= n * amax. The continuous relaxation (fire
all effort from the best-ratio effector) is the special case that ignores n.
phi(n) = min_y value e**-y + max(y / r, n kmin) is convex in n and flat at the
continuous optimum on [y*/amax, y*/(r kmin)], so its integer minimum is at one
of four candidates around that interval. For a threat one effector can reach
this is exactly the integer optimum, which is what makes the bound tight on
sparse (realistic) instances.

The best mu is found by projected subgradient ascent with Polyak steps towards
an incumbent's objective, vectorised over all pairs.
"""

from __future__ import annotations

import time

import numpy as np

from airshield.engage.wta_pairs import Pairs, ranges
from airshield.engage.wta_patterns import Patterns


class _Threats:
    """Per-threat constants of the closed-form bound, over the threats that have
    pairs and no complete pattern list; their pairs form a sub-array."""

    def __init__(self, pairs: Pairs, pat: Patterns | None):
        has = np.diff(pairs.thr_start) > 0
        self.free_value = float(pairs.value[~has].sum())    # threats nobody can engage
        by_pattern = pat.complete if pat is not None else np.zeros(pairs.n_threats, bool)
        self.idx = np.flatnonzero(has & ~by_pattern)
        self.sub = np.flatnonzero(~by_pattern[pairs.thr])      # pairs of those threats
        a, u = pairs.a[self.sub], pairs.u[self.sub]
        lens = np.diff(pairs.thr_start)[self.idx]
        self.starts = np.r_[0, np.cumsum(lens)[:-1]].astype(np.int64)
        self.v = pairs.value[self.idx]
        n = len(self.sub)
        self.amax = np.maximum.reduceat(a, self.starts) if n else np.zeros(0)
        self.Y = np.add.reduceat(a * u, self.starts) if n else np.zeros(0)
        self.N = np.add.reduceat(u, self.starts).astype(np.float64) if n else np.zeros(0)
        self.thr_pos = np.repeat(np.arange(len(self.idx)), lens)
        self.pat = pat if pat is not None and pat.n else None
        if self.pat is not None:
            have = np.diff(pat.start) > 0
            self.pat_starts = pat.start[:-1][have]
            self.pat_pos = np.repeat(np.arange(len(self.pat_starts)), np.diff(pat.start)[have])


def _seg_arg(values: np.ndarray, best: np.ndarray, thr_pos: np.ndarray) -> np.ndarray:
    """Index of the first pair of each segment whose value equals the segment best."""
    hit = np.flatnonzero(values == best[thr_pos])
    first = np.r_[True, thr_pos[hit][1:] != thr_pos[hit][:-1]]
    return hit[first]


def dual_value(pairs: Pairs, mu: np.ndarray, th: _Threats) -> tuple[float, np.ndarray]:
    """(L(mu) lower bound, subgradient of usage - shots) for multipliers mu."""
    mu = np.maximum(mu, 0.0)
    total = th.free_value - float(np.dot(mu, pairs.shots)) - pairs.cap_slack
    usage = np.zeros(pairs.n_effectors)
    if th.pat is not None:
        # threats with all their patterns: the exact cheapest pattern at prices mu
        rc = th.pat.cost + th.pat.use @ mu
        best = np.minimum.reduceat(rc, th.pat_starts)
        pick = _seg_arg(rc, best, th.pat_pos)
        use = th.pat.use
        ent, _ = ranges(use.indptr[pick], use.indptr[pick + 1])
        usage += np.bincount(use.indices[ent], weights=use.data[ent], minlength=pairs.n_effectors)
        total += float(best.sum())
    if len(th.sub) == 0:
        return total, usage - pairs.shots
    sub = th.sub
    a, eff = pairs.a[sub], pairs.eff[sub]
    k = pairs.k[sub] + mu[eff]
    thr_pos = th.thr_pos
    price = k / a                                        # money per unit of effort
    inv_r = np.minimum.reduceat(price, th.starts)
    kmin = np.minimum.reduceat(k, th.starts)
    v, amax, Y, N = th.v, th.amax, th.Y, th.N
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        y_star = np.where(inv_r > 0, np.log(v / inv_r), np.inf)
        y_star = np.clip(y_star, 0.0, Y)
        n_lo = y_star / amax
        n_hi = np.where(kmin > 0, y_star / (inv_r * kmin), np.inf)
        n_hi = np.where(np.isnan(n_hi), n_lo, n_hi)         # y* = 0 and inv_r = 0
        cands = [np.floor(n_lo), np.ceil(n_lo), np.floor(n_hi), np.ceil(n_hi)]
        best = np.full(len(v), np.inf)
        best_n = np.zeros(len(v))
        best_y = np.zeros(len(v))
        for n in cands:
            n = np.clip(np.nan_to_num(n, posinf=0.0), 0.0, N)
            y_hi = np.minimum(n * amax, Y)
            y0 = np.where(inv_r > 0, n * kmin / inv_r, np.where(n * kmin > 0, np.inf, 0.0))
            y = np.clip(y_star, np.minimum(y0, y_hi), y_hi)
            phi = v * np.exp(-y) + np.maximum(y * inv_r, n * kmin)
            better = phi < best
            best = np.where(better, phi, best)
            best_n = np.where(better, n, best_n)
            best_y = np.where(better, y, best_y)
    # subgradient: shots the relaxed threat plan fires, charged to the effector
    # whose price was binding (best effort per money, or the cheapest shot)
    p_ratio = _seg_arg(price, inv_r, thr_pos)
    p_cheap = _seg_arg(k, kmin, thr_pos)
    by_ratio = best_y * inv_r >= best_n * kmin
    use = np.where(by_ratio, best_y / a[p_ratio], best_n)
    who = np.where(by_ratio, eff[p_ratio], eff[p_cheap])
    usage += np.bincount(who, weights=use, minlength=pairs.n_effectors)
    return total + float(best.sum()), usage - pairs.shots


def lagrangian_bound(pairs: Pairs, upper: float, mu0: np.ndarray | None = None,
                     iters: int = 300, deadline: float | None = None,
                     patterns: Patterns | None = None) -> tuple[float, np.ndarray]:
    """Best L(mu) found by projected subgradient ascent (Polyak steps towards the
    incumbent objective ``upper``). Returns (bound, mu)."""
    th = _Threats(pairs, patterns)
    mu = np.zeros(pairs.n_effectors) if mu0 is None else np.maximum(np.asarray(mu0, float), 0.0)
    best, g = dual_value(pairs, mu, th)
    best_mu = mu.copy()
    cur = best
    theta, stall = 1.0, 0
    for _ in range(iters):
        if deadline is not None and time.perf_counter() > deadline:
            break
        g = np.where((mu <= 0) & (g < 0), 0.0, g)
        gg = float(np.dot(g, g))
        gap = upper - cur
        if gg <= 0 or gap <= 1e-9 * max(abs(upper), 1.0):
            break
        mu = np.maximum(mu + theta * max(gap, 1e-3 * abs(upper)) / gg * g, 0.0)
        cur, g = dual_value(pairs, mu, th)
        if cur > best + 1e-12 * abs(best):
            best, best_mu, stall = cur, mu.copy(), 0
        else:
            stall += 1
            if stall >= 8:
                theta *= 0.5
                stall = 0
                mu = best_mu.copy()
                cur, g = dual_value(pairs, mu, th)
                if theta < 1e-4:
                    break
    return best, best_mu
