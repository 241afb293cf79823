"""Fast WTA heuristic: greedy, then local search, with the Lagrangian bound.

1. Marginal-return greedy (wta_greedy), then ``descend``: single-shot moves
   (wta_local), one-threat re-plans and ejections (wta_moves) until none helps.
2. The Lagrangian bound (wta_bound) is ascended from that plan's implied shot
   prices; it is the plan's proven bound.
3. Its multipliers mu price the scarce effectors for a second start: greedy
   and re-planning at cost + mu put scarce shots where nothing else will do;
   greedy then fills at true prices.
4. ``improve``: descend, then two-threat re-plans (wta_swap, patterns ranked
   at prices mu), again while those help.
5. Large-neighbourhood search (wta_lns): clusters around the most blocked
   threats re-solved exactly, a fixed number of them (reproducible plans).
The better of the two plans is returned.
"""

from __future__ import annotations

import time

import numpy as np

from airshield.engage.wta import Instance, Plan, make_plan
from airshield.engage.wta_bound import lagrangian_bound
from airshield.engage.wta_greedy import greedy
from airshield.engage.wta_local import EPS, local_search
from airshield.engage.wta_lns import lns
from airshield.engage.wta_moves import ejection, pattern_descent, swap_round
from airshield.engage.wta_pairs import Pairs, survival_log, to_matrix, useful_pairs
from airshield.engage.wta_patterns import Patterns, enumerate_patterns
from airshield.engage.wta_swap import top_k


def descend(pairs: Pairs, pat: Patterns, xp: np.ndarray, deadline: float | None,
             max_rounds: int = 30) -> np.ndarray:
    """The cheap neighbourhoods (pair moves, re-plan, ejection) until none helps."""
    best = _obj(pairs, xp)
    for _ in range(max_rounds):
        if deadline is not None and time.perf_counter() > deadline:
            break
        xp = pattern_descent(pairs, pat, local_search(pairs, xp, deadline=deadline), deadline=deadline)
        xp, _ = ejection(pairs, pat, xp)
        obj = _obj(pairs, xp)
        if obj >= best - EPS * max(abs(best), 1.0):
            break
        best = obj
    return xp


def improve(pairs: Pairs, pat: Patterns, xp: np.ndarray, deadline: float | None = None,
            max_rounds: int = 10, price: np.ndarray | None = None) -> np.ndarray:
    """Cheap neighbourhoods to a local optimum, then two-threat re-plans; again
    while those help. After the first, a swap round only looks at threats whose
    plan or whose effectors' spare shots changed since the last one."""
    xp = descend(pairs, pat, xp, deadline)
    top = top_k(pat, price) if pat.n else None
    only = None
    for _ in range(max_rounds):
        if deadline is not None and time.perf_counter() > deadline:
            break
        before = xp
        xp, n = swap_round(pairs, pat, xp, top, only)
        if n == 0:
            break
        xp = descend(pairs, pat, xp, deadline)
        only = _changed(pairs, before, xp)
    return xp


def _changed(pairs: Pairs, before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Threats whose shots changed or that reach an effector whose use changed."""
    diff = before != after
    thr = np.zeros(pairs.n_threats, dtype=bool)
    thr[pairs.thr[diff]] = True
    eff_use = np.bincount(pairs.eff, weights=after - before, minlength=pairs.n_effectors) != 0
    thr[pairs.thr[eff_use[pairs.eff]]] = True
    return thr


def solve_fast(inst: Instance, time_limit: float | None = None, bound_iters: int = 300,
               lns_seeds: int = 16, pairs: Pairs | None = None,
               patterns: Patterns | None = None) -> Plan:
    """Good plan with a proven bound. ``pairs``/``patterns`` may be passed in
    when already computed for ``inst``."""
    t0 = time.perf_counter()
    deadline = None if time_limit is None else t0 + time_limit
    pairs = useful_pairs(inst) if pairs is None else pairs
    pat = enumerate_patterns(pairs) if patterns is None else patterns
    # a quick local optimum gives the bound's ascent its target and first prices
    xp = descend(pairs, pat, greedy(pairs, deadline=deadline), deadline)
    best_x, best_obj = xp, _obj(pairs, xp)
    bound, mu = lagrangian_bound(pairs, best_obj, mu0=_mu_guess(pairs, xp), iters=bound_iters,
                                 deadline=deadline, patterns=pat)
    if pairs.n and np.any(mu > 0):
        # scarce effectors priced by mu: their shots go where nothing else will do
        start = pattern_descent(pairs, pat, greedy(pairs, price=mu[pairs.eff], deadline=deadline),
                                price=mu, deadline=deadline)
        start = greedy(pairs, xp=start, deadline=deadline)
    else:
        start = xp
    xp = improve(pairs, pat, start, deadline=deadline, price=mu)
    if lns_seeds > 0:
        xp = lns(pairs, pat, xp, deadline, max_seeds=lns_seeds)
    obj = _obj(pairs, xp)
    if obj < best_obj:
        best_x, best_obj = xp, obj
    return make_plan(inst, to_matrix(pairs, best_x), bound, "fast-greedy-local-search", t0)


def _obj(pairs: Pairs, xp: np.ndarray) -> float:
    """Objective in the capped model (for comparing candidate plans)."""
    S = np.exp(-survival_log(pairs, xp))
    return float(np.dot(pairs.value, S) + np.dot(pairs.k, xp))


def _mu_guess(pairs: Pairs, xp: np.ndarray) -> np.ndarray:
    """Multipliers from the plan: an effector with no shots left is worth what one
    more shot of it would save (complementary slackness)."""
    if pairs.n == 0:
        return np.zeros(pairs.n_effectors)
    S = np.exp(-survival_log(pairs, xp))
    gain = np.where(xp < pairs.u, pairs.value[pairs.thr] * S[pairs.thr] * -np.expm1(-pairs.a) - pairs.k, 0.0)
    mu = np.zeros(pairs.n_effectors)
    np.maximum.at(mu, pairs.eff, gain)
    used = np.bincount(pairs.eff, weights=xp, minlength=pairs.n_effectors)
    return np.where(used >= pairs.shots, mu, 0.0)
