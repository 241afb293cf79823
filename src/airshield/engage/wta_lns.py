"""Large-neighbourhood search for the WTA: re-solve a cluster of threats exactly.

Local moves change one or two threats; a better plan can need a chain of
exchanges (a threat only a medium SAM reaches gets that SAM's shot, the
threat it leaves takes three gun shots from a third threat, ...). Here the
threat with the largest *blocked* saving (its cheapest pattern beats its
current plan, but shots it needs are all used) seeds a cluster: the threats
holding shots of the empty effectors it could use, then theirs, breadth first,
up to ``size`` threats and MAX_PATTERNS patterns.
Everything else stays fixed; the cluster is solved exactly by the pattern MILP
(wta_milp) with the shots the rest leaves free. Seeds are taken in order of
blocked saving.
"""

from __future__ import annotations

import time

import numpy as np

from airshield.engage.wta_milp import pattern_milp
from airshield.engage.wta_moves import threat_costs
from airshield.engage.wta_pairs import Pairs, to_matrix
from airshield.engage.wta_patterns import Patterns

# patterns per cluster: the MILP stays at a few milliseconds (measured: clusters
# of 4000+ patterns can take a second)
MAX_PATTERNS = 1500


def lns(pairs: Pairs, pat: Patterns, xp: np.ndarray, until: float | None, size: int = 40,
        max_seeds: int = 16) -> np.ndarray:
    """Improve shots xp by exact re-solves of the clusters of the ``max_seeds``
    most blocked threats (a fixed amount of work, so plans are reproducible),
    stopping early at time ``until`` when given."""
    if pat.n == 0:
        return xp
    xp = xp.copy()
    have = np.diff(pat.start) > 0
    cheapest = np.full(pairs.n_threats, np.inf)
    cheapest[have] = np.minimum.reduceat(pat.cost, pat.start[:-1][have])
    cur = threat_costs(pairs, xp)
    blocked = np.where(pat.complete, cur - cheapest, 0.0)
    tol = 1e-9 * max(float(pairs.value.sum()), 1.0)
    seeds = np.argsort(-blocked)[:max_seeds]
    seeds = seeds[blocked[seeds] > tol]
    done = np.zeros(pairs.n_threats, dtype=bool)
    for seed in seeds:
        if (until is not None and time.perf_counter() > until) or done[seed]:
            continue
        x = to_matrix(pairs, xp)
        rem = pairs.shots - x.sum(axis=1)
        cluster = _cluster(pairs, pat, x, rem, int(seed), size)
        free = rem + x[:, cluster].sum(axis=1)
        lo = pairs.thr_start[cluster]
        hi = pairs.thr_start[cluster + 1]
        own = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi)])
        before = float(cur[cluster].sum())
        left = None if until is None else max(until - time.perf_counter(), 0.01)
        xc, _, _ = pattern_milp(pairs, pat, cluster, left, free)
        if xc is None:
            continue
        trial = xp.copy()
        trial[own] = xc[own]
        after = threat_costs(pairs, trial)[cluster].sum()
        if after < before - tol:
            xp = trial
            cur = threat_costs(pairs, xp)
        done[cluster] = True
    return xp


def _cluster(pairs: Pairs, pat: Patterns, x: np.ndarray, rem: np.ndarray, seed: int,
             size: int, max_patterns: int = MAX_PATTERNS) -> np.ndarray:
    """Up to ``size`` threats (and ``max_patterns`` patterns) with complete
    pattern lists, breadth first from ``seed``: a threat brings in the threats
    that hold shots of the effectors it can use that have none left (the ones
    that could give a shot up)."""
    n_pat = np.diff(pat.start)
    out = [seed]
    seen = {seed}
    frontier = [seed]
    budget = max_patterns - int(n_pat[seed])
    while frontier and len(out) < size:
        nxt = []
        for j in frontier:
            effs = pairs.eff[pairs.thr_start[j]:pairs.thr_start[j + 1]]
            for e in effs[rem[effs] <= 0]:
                for t in np.flatnonzero(x[e] > 0):
                    if t in seen or not pat.complete[t] or len(out) >= size or n_pat[t] > budget:
                        continue
                    seen.add(int(t))
                    out.append(int(t))
                    nxt.append(int(t))
                    budget -= int(n_pat[t])
        frontier = nxt
    return np.array(sorted(out), dtype=np.int64)
