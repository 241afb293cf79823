"""Column generation for the fire-pattern LP (the Dantzig-Wolfe bound) when
pattern lists are too long to write out (dense pk).

Master LP over the patterns found so far (wta_milp's model, relaxed):

    min  sum_q cost_q w_q
    s.t. sum_{q of threat j} w_q = 1        (dual pi_j)
         sum_q use_qi w_q      <= shots_i   (dual -mu_i, mu_i >= 0)
         w >= 0

Its duals price the effectors; exact pricing (wta_price, slack 0) finds each
threat's cheapest pattern at prices k + mu, which both yields new columns
(reduced cost < 0) and the Lagrangian bound

    L(mu) = sum_j min_q (cost_q + mu . use_q) - mu . shots  <=  optimum,

valid at every iteration, not only at convergence. Stops when L(mu) meets the
master's value (the LP is solved), meets the incumbent (the incumbent is
optimal), pricing gives up on a threat (too many cheap patterns, as with
free shots), or the deadline passes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import csr_matrix, vstack

from airshield.engage.wta_pairs import Pairs
from airshield.engage.wta_patterns import Patterns
from airshield.engage.wta_price import price_patterns


@dataclass
class Columns:
    """Patterns collected so far (rows of a sparse (N, P) shot matrix)."""

    thr: np.ndarray
    cost: np.ndarray
    shots: csr_matrix

    def add(self, pat: Patterns, rows: np.ndarray) -> None:
        self.thr = np.r_[self.thr, pat.thr[rows]]
        self.cost = np.r_[self.cost, pat.cost[rows]]
        self.shots = vstack([self.shots, pat.shots[rows]]).tocsr()


@dataclass
class ColgenResult:
    bound: float             # best L(mu) in the capped model (see wta_pairs.cap_slack)
    mu: np.ndarray           # (E,) prices at the best bound
    lp: float                # last master LP value
    columns: Columns
    iterations: int
    converged: bool          # the LP is solved: L(mu) == LP value (within tol)


def plan_columns(pairs: Pairs, xp: np.ndarray) -> tuple[np.ndarray, np.ndarray, csr_matrix]:
    """The pattern of each engaged threat in the per-pair plan xp."""
    has = np.flatnonzero(np.bincount(pairs.thr, weights=xp, minlength=pairs.n_threats) > 0)
    nz = np.flatnonzero(xp > 0)
    row = np.searchsorted(has, pairs.thr[nz])
    shots = csr_matrix((xp[nz].astype(float), (row, nz)), shape=(len(has), pairs.n))
    L = np.bincount(pairs.thr, weights=pairs.a * xp, minlength=pairs.n_threats)[has]
    cost = pairs.value[has] * np.exp(-L) + np.asarray(shots @ pairs.k).ravel()
    return has, cost, shots


def column_generation(pairs: Pairs, xp_inc: np.ndarray, upper: float, deadline: float | None,
                      rel_tol: float = 1e-6, max_iter: int = 200) -> ColgenResult:
    """Dantzig-Wolfe bound by column generation, started from the incumbent plan
    xp_inc (objective ``upper``). See module doc."""
    T, E, P = pairs.n_threats, pairs.n_effectors, pairs.n
    has = np.diff(pairs.thr_start) > 0
    # threats nobody can engage leak in every plan
    const = float(pairs.value[~has].sum())
    eff_map = csr_matrix((np.ones(P), (np.arange(P), pairs.eff)), shape=(P, E))
    thr_i, cost_i, shots_i = plan_columns(pairs, xp_inc)
    active = np.flatnonzero(has)
    cols = Columns(np.r_[thr_i, active], np.r_[cost_i, pairs.value[active]],
                   vstack([shots_i, csr_matrix((len(active), P))]).tocsr())
    # prices implied by the incumbent (a full effector is worth what one more
    # shot of it would save) seed the master with each threat's best pattern
    # at those prices: fewer LP rounds than starting from the plan alone
    seed, _, _ = price_patterns(pairs, _implied_prices(pairs, xp_inc), 0.0)
    fired = np.flatnonzero(np.asarray(seed.shots.sum(axis=1)).ravel() > 0)
    cols.add(seed, fired)
    sc = max(float(pairs.value.max()) if T else 1.0, 1.0)
    best_lb, best_mu, lp, mu = -np.inf, np.zeros(E), np.inf, np.zeros(E)
    it, converged = 0, False
    row_of = np.full(T, -1, dtype=np.int64)
    row_of[active] = np.arange(len(active))
    while it < max_iter:
        it += 1
        use = (cols.shots @ eff_map).tocsr()
        n = len(cols.thr)
        a_eq = csr_matrix((np.ones(n), (row_of[cols.thr], np.arange(n))), shape=(len(active), n))
        res = linprog(cols.cost / sc, A_ub=use.T.tocsr(), b_ub=pairs.shots.astype(float),
                      A_eq=a_eq, b_eq=np.ones(len(active)), bounds=(0, None), method="highs")
        if res.status != 0:
            break
        lp = float(res.fun) * sc + const
        mu = np.maximum(-res.ineqlin.marginals * sc, 0.0)
        pat, _, floor = price_patterns(pairs, mu, 0.0)
        lb = float(floor[active].sum()) - float(np.dot(mu, pairs.shots)) + const
        if lb > best_lb:
            best_lb, best_mu = lb, mu.copy()
        if best_lb >= lp - rel_tol * max(abs(lp), 1e-12):
            converged = True
            break
        if best_lb >= upper - rel_tol * max(abs(upper), 1e-12):
            break
        if not pat.complete[active].all():
            break          # pricing gave up on a threat: no exact prices, no proof
        if deadline is not None and time.perf_counter() > deadline:
            break
        # new columns: each threat's cheapest pattern with negative reduced cost
        pi = res.eqlin.marginals * sc
        priced = pat.cost + pat.use @ mu
        rc = priced - pi[row_of[pat.thr]]
        new = np.flatnonzero((rc < -1e-9 * sc) & (np.asarray(pat.shots.sum(axis=1)).ravel() > 0))
        if len(new) == 0:
            converged = True
            break
        cols.add(pat, new)
    if not np.isfinite(best_lb):
        # the master never solved: L(0), each threat's cheapest pattern ignoring
        # shot limits, is still a bound
        best_mu = np.zeros(E)
        _, _, floor = price_patterns(pairs, best_mu, 0.0)
        best_lb = float(floor[active].sum()) + const
    return ColgenResult(best_lb, best_mu, lp, cols, it, converged)


def _implied_prices(pairs: Pairs, xp: np.ndarray) -> np.ndarray:
    """Per effector: 0 if it has shots left, else the most one more shot of it
    would save at the plan's survivals (complementary slackness)."""
    L = np.bincount(pairs.thr, weights=pairs.a * xp, minlength=pairs.n_threats)
    gain = np.where(xp < pairs.u, pairs.value[pairs.thr] * np.exp(-L[pairs.thr])
                    * -np.expm1(-pairs.a) - pairs.k, 0.0)
    mu = np.zeros(pairs.n_effectors)
    np.maximum.at(mu, pairs.eff, np.maximum(gain, 0.0))
    used = np.bincount(pairs.eff, weights=xp, minlength=pairs.n_effectors)
    return np.where(used >= pairs.shots, mu, 0.0)
