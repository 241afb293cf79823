"""HiGHS (scipy.optimize.milp) for the WTA: the fire-pattern MILP.

One binary w_q per listed fire pattern q (wta_patterns); each threat takes
exactly one of its patterns and no effector fires more shots than it has:

    min  sum_q cost_q w_q
    s.t. sum_{q of threat j} w_q = 1               for each threat j
         sum_q use_qi w_q       <= shots_i          for each effector i

Pattern costs are exact, so the MILP optimum is the WTA optimum over the
listed (non-dominated) patterns, i.e. the true optimum. Its LP relaxation is
the Dantzig-Wolfe bound, usually within a fraction of a percent, so HiGHS
closes it at or near the root.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_matrix, vstack

from airshield.engage.wta_pairs import Pairs, ranges
from airshield.engage.wta_patterns import Patterns

REL_TOL = 1e-6   # a plan is proven optimal when (objective - bound) <= REL_TOL * objective

# The models here are small and their LP relaxations tight: HiGHS's presolve
# and primal heuristics cost more than they save (measured 4x on 80x80 raids).
_HIGHS = {"presolve": False, "mip_heuristic_effort": 0.0,
          "mip_heuristic_run_rins": False, "mip_heuristic_run_rens": False,
          "mip_heuristic_run_feasibility_jump": False}


def highs(c, integrality, bounds, constraints, time_left: float | None):
    """scipy's milp with WTA tuning. Extra HiGHS options pass through scipy
    with a RuntimeWarning, silenced here."""
    opts = dict(_HIGHS, mip_rel_gap=REL_TOL / 10, disp=False)
    if time_left is not None:
        opts["time_limit"] = max(float(time_left), 1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return milp(c, integrality=integrality, bounds=bounds, constraints=constraints,
                    options=opts)


def pattern_milp(pairs: Pairs, pat: Patterns, threats: np.ndarray, time_left: float | None,
                 shots: np.ndarray | None = None) -> tuple[np.ndarray | None, float, bool]:
    """Solve the pattern MILP over ``threats`` (all with complete pattern lists)
    with ``shots`` per effector (default: all of them). Returns (per-pair shots
    of those threats' pairs or None, lower bound on their part of the
    objective, proven optimal)."""
    shots = pairs.shots if shots is None else shots
    q, owner = ranges(pat.start[threats], pat.start[threats + 1])
    n = len(q)
    cost = pat.cost[q]
    sc = float(np.max(np.abs(cost))) or 1.0
    use = pat.use[q]
    # only effectors these patterns could overdraw need a row
    need_row = np.flatnonzero(_most_use(use, owner, pairs.n_effectors) > shots)
    cap_use = use.T.tocsr()
    rows = vstack([csr_matrix((np.ones(n), (owner, np.arange(n))), shape=(len(threats), n)),
                   cap_use[need_row]]).tocsr()
    lo = np.r_[np.ones(len(threats)), np.full(len(need_row), -np.inf)]
    hi = np.r_[np.ones(len(threats)), shots[need_row].astype(np.float64)]
    res = highs(cost / sc, np.ones(n), Bounds(0, 1), [LinearConstraint(rows, lo, hi)], time_left)
    lower = float(res.mip_dual_bound) * sc if res.mip_dual_bound is not None and \
        np.isfinite(res.mip_dual_bound) else -np.inf
    if res.x is None:
        return None, lower, False
    w = res.x
    # the chosen pattern of each threat: its largest w (w is 0/1 up to tolerance)
    best = np.full(len(threats), -1.0)
    np.maximum.at(best, owner, w)
    hit = np.flatnonzero(w == best[owner])
    chosen = np.full(len(threats), -1, dtype=np.int64)
    chosen[owner[hit]] = q[hit]
    sh = pat.shots
    ent, _ = ranges(sh.indptr[chosen], sh.indptr[chosen + 1])
    xp = np.zeros(pairs.n, dtype=np.int64)
    xp[sh.indices[ent]] = np.rint(sh.data[ent]).astype(np.int64)
    return xp, lower, res.status == 0


def _most_use(use: csr_matrix, owner: np.ndarray, n_eff: int) -> np.ndarray:
    """Per effector, the sum over threats of the most shots any one pattern of
    the threat takes from it: an upper bound on its use by any plan."""
    key = np.repeat(owner, np.diff(use.indptr)) * n_eff + use.indices
    uk, inv = np.unique(key, return_inverse=True)
    m = np.zeros(len(uk))
    np.maximum.at(m, inv, use.data)
    return np.bincount(uk % n_eff, weights=m, minlength=n_eff)
