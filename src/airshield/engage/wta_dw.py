"""Exact WTA for dense pk: Dantzig-Wolfe bound, reduced-cost pattern
enumeration, pattern MILP ("price and branch" made exact).

When every effector reaches every threat a threat has far too many fire
patterns to list (wta_patterns gives up), and the shot-count outer
approximation (wta_oa) has the weak continuous bound. Instead:

1. Column generation (wta_colgen) gives the Dantzig-Wolfe bound LB = L(mu)
   with effector prices mu; on dense random 80 x 80 it sits 0.016-0.055%
   below the optimum (the fast solver's closed-form bound: ~7%).
2. Reduced-cost fixing: with rc_q = cost_q + mu . use_q - min over the
   threat's patterns (>= 0), every plan satisfies
       objective >= LB + sum over its threats of rc_q ,
   so a plan better than Z uses only patterns with rc_q <= Z - LB.
   wta_price lists exactly those (non-dominated) patterns for a slack s.
3. The pattern MILP (wta_milp) over that list (plus the columns met so far)
   gives its optimum V. Let UB be the best plan so far. If UB - LB <= s, no
   plan outside the list can beat UB: UB is optimal. Otherwise the list only
   served as a heuristic and is redone with s doubled (at most UB - LB).

Whatever happens, min(MILP bound over the list, LB + s) is a valid lower
bound (a plan off the list has a pattern with rc > s), never below LB.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.sparse import csr_matrix, vstack

from airshield.engage.wta_colgen import Columns, column_generation
from airshield.engage.wta_milp import REL_TOL, pattern_milp
from airshield.engage.wta_pairs import A_CAP, Pairs, survival_log
from airshield.engage.wta_patterns import Patterns
from airshield.engage.wta_price import price_patterns

FIRST_SLACK = 2e-4      # first list: patterns within this share of the incumbent
GROW = 2.0              # a list that did not settle it: the next one this much longer
# column generation stops this close to the LP optimum: the tail gains little
# against the integrality gap the enumeration closes anyway
CG_TOL = 1e-5
MAX_PATTERNS = 200_000  # longer lists are not handed to the MILP


def sub_pairs(pairs: Pairs, ps: np.ndarray) -> Pairs:
    """The pairs ps (in (threat, effector) order) as a Pairs of their own, on the
    same threat and effector indices; other threats get value 0."""
    T, E = pairs.n_threats, pairs.n_effectors
    thr, eff = pairs.thr[ps], pairs.eff[ps]
    value = np.zeros(T)
    value[thr] = pairs.value[thr]
    capped = np.zeros(T, dtype=bool)
    capped[thr[pairs.a[ps] >= A_CAP]] = True
    by_eff = np.argsort(eff, kind="stable")
    return Pairs(eff, thr, pairs.pk[ps], pairs.a[ps], pairs.k[ps], pairs.u[ps], value,
                 pairs.shots, np.searchsorted(thr, np.arange(T + 1)), by_eff,
                 np.searchsorted(eff[by_eff], np.arange(E + 1)),
                 float(np.sum(value[capped]) * np.exp(-A_CAP)))


def objective(pairs: Pairs, xp: np.ndarray) -> float:
    """Objective of per-pair shots xp in the capped model."""
    return float(np.dot(pairs.value, np.exp(-survival_log(pairs, xp))) + np.dot(pairs.k, xp))


def with_columns(pairs: Pairs, pat: Patterns, cols: Columns) -> Patterns:
    """``pat`` plus the columns ``cols``, duplicates removed, sorted by threat."""
    thr = np.r_[pat.thr, cols.thr]
    cost = np.r_[pat.cost, cols.cost]
    shots = vstack([pat.shots, cols.shots]).tocsr()
    # one random weight per pair: equal keys mean equal patterns (a float collision
    # of two different integer rows is vanishingly unlikely and only drops a column)
    key = shots @ np.random.default_rng(0).uniform(1.0, 2.0, pairs.n)
    _, first = np.unique(np.c_[thr, key], axis=0, return_index=True)
    first = first[np.argsort(thr[first], kind="stable")]
    thr, cost, shots = thr[first], cost[first], shots[first]
    eff_map = csr_matrix((np.ones(pairs.n), (np.arange(pairs.n), pairs.eff)),
                         shape=(pairs.n, pairs.n_effectors))
    use = (shots @ eff_map).tocsr()
    use.sort_indices()
    return Patterns(thr, cost, shots, use, np.searchsorted(thr, np.arange(pairs.n_threats + 1)),
                    pat.complete)


def dw_exact(pairs: Pairs, x_inc: np.ndarray, deadline: float | None,
             max_patterns: int = MAX_PATTERNS) -> tuple[np.ndarray, float, bool]:
    """Best plan from incumbent x_inc (per-pair shots). Returns (shots, lower
    bound in true-objective units, proven optimal within REL_TOL)."""
    best_x = x_inc.copy()
    upper = objective(pairs, best_x)
    cg = column_generation(pairs, best_x, upper, deadline, rel_tol=CG_TOL)
    lb = cg.bound
    lower = lb
    threats = np.flatnonzero(np.diff(pairs.thr_start) > 0)
    slack = min(upper - lb, FIRST_SLACK * abs(upper))
    proven = upper - lb <= REL_TOL * max(abs(upper), 1e-12)
    while not proven:
        left = None if deadline is None else deadline - time.perf_counter()
        if left is not None and left <= 0:
            break
        pat, _, _ = price_patterns(pairs, cg.mu, max(slack, 0.0))
        if not pat.complete[threats].all() or pat.n > max_patterns:
            break                              # too long to settle: LB stands
        # the columns met so far (the incumbent's, the LP's) ride along: the
        # MILP can then never do worse than the incumbent
        xc, mip_lb, done = pattern_milp(pairs, with_columns(pairs, pat, cg.columns), threats, left)
        if xc is not None and objective(pairs, xc) < upper:
            best_x, upper = xc, objective(pairs, xc)
        # every plan is on the list (>= the MILP's bound, proven or not yet)
        # or off it (> LB + slack)
        lower = max(lower, min(mip_lb, lb + slack))
        if upper - lower <= REL_TOL * max(abs(upper), 1e-12):
            proven = True
            break
        if upper - lb <= slack:                # this list settles it, if the MILP did
            proven = done
            if done:
                lower = max(lower, min(upper, mip_lb))
            break
        slack = min(upper - lb, GROW * slack)
    return best_x, lower - pairs.cap_slack, proven
