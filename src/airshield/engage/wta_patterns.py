"""Fire patterns: every sensible way to engage one threat.

A pattern of threat j is the vector of shots each effector fires at it, with
its exact cost  value_j * prod (1 - pk)^x + lambda * sum cost * x. The WTA is
then: pick one pattern per threat within the effectors' shot limits. This
(Dantzig-Wolfe) view couples each threat's survival with what its shots cost,
so its LP relaxation and Lagrangian dual are far tighter than the continuous
relaxation in shot counts.

Only non-dominated patterns are kept. A pattern is dominated when removing
one shot does not make it dearer (that shot cannot pay for itself at the
final survival): value * S / (1 - pk) * pk <= lambda * cost. Survival only
falls as shots are added, so a partial pattern that already fails this test
is dropped with all its completions, and so is one whose shots alone cost
as much as letting the threat leak. A sure kill (pk = 1) makes every other
shot pointless, so such a pattern is that one shot alone.

Enumeration runs breadth-first over "the d-th effector of each threat" for
all threats at once (numpy over partial patterns). A threat whose pattern
count passes ``cap`` is marked incomplete and left to the shot-count model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix

from airshield.engage.wta_pairs import Pairs


@dataclass(frozen=True)
class Patterns:
    thr: np.ndarray        # (N,) threat of each pattern, sorted
    cost: np.ndarray       # (N,) exact leak value + lambda * cost of the pattern
    shots: csr_matrix      # (N, P) shots per pair
    use: csr_matrix        # (N, E) shots per effector
    start: np.ndarray      # (T + 1,) patterns of threat j: start[j]:start[j+1]
    complete: np.ndarray   # (T,) bool: all non-dominated patterns are listed

    @property
    def n(self) -> int:
        return len(self.thr)


def enumerate_patterns(pairs: Pairs, cap: int = 20000, max_pairs: int = 24,
                       budget: int = 400_000) -> Patterns:
    """Non-dominated patterns of every threat with at most ``max_pairs`` useful
    pairs and at most ``cap`` patterns, at most ``budget`` (partial) patterns in
    all; the threats that do not fit are marked incomplete, largest first."""
    T, P = pairs.n_threats, pairs.n
    v = pairs.value
    sure = pairs.pk >= 1.0
    crowded = np.diff(pairs.thr_start) > max_pairs        # too many effectors to list
    ns = np.flatnonzero(~sure & ~crowded[pairs.thr])    # pairs sorted by threat
    thr_ns = pairs.thr[ns]
    first = np.searchsorted(thr_ns, np.arange(T))
    depth = np.arange(len(ns)) - first[thr_ns]          # rank of the pair within its threat
    n_depth = int(depth.max()) + 1 if len(ns) else 0
    with np.errstate(divide="ignore"):
        # the shot pays while S > need: value * S / (1 - pk) * pk > k
        need_p = pairs.k * (1.0 - pairs.pk) / (v[pairs.thr] * pairs.pk)

    has_pairs = np.diff(pairs.thr_start) > 0
    complete = ~crowded
    pt = np.flatnonzero(has_pairs & complete)           # one empty pattern per threat
    S = np.ones(len(pt))
    C = np.zeros(len(pt))
    need = np.zeros(len(pt))
    parents: list[np.ndarray] = []
    added: list[np.ndarray] = []                        # pair added at that step (-1: none)
    counts: list[np.ndarray] = []
    for d in range(n_depth):
        pd = np.full(T, -1, dtype=np.int64)
        at = depth == d
        pd[thr_ns[at]] = ns[at]
        p_of = pd[pt]
        reps = np.where(p_of >= 0, pairs.u[np.maximum(p_of, 0)] + 1, 1)
        parent = np.repeat(np.arange(len(pt)), reps)
        t = np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)
        p_new = p_of[parent]
        pk = np.where(p_new >= 0, pairs.pk[np.maximum(p_new, 0)], 0.0)
        S_new = S[parent] * (1.0 - pk) ** t
        C_new = C[parent] + np.where(t > 0, pairs.k[np.maximum(p_new, 0)] * t, 0.0)
        need_new = np.maximum(need[parent], np.where(t > 0, need_p[np.maximum(p_new, 0)], 0.0))
        thr_new = pt[parent]
        keep = (S_new > need_new) & (C_new < v[thr_new])
        per_thr = np.bincount(thr_new[keep], minlength=T)
        over = per_thr > cap
        cnt = np.where(over, 0, per_thr)
        if cnt.sum() > budget:                           # drop the largest threats first
            big = np.argsort(-cnt, kind="stable")
            n_drop = np.searchsorted(np.cumsum(cnt[big]), cnt.sum() - budget) + 1
            over[big[:n_drop]] = True
        if over.any():
            complete &= ~over
            keep &= ~over[thr_new]
        parents.append(parent[keep])
        added.append(np.where(t[keep] > 0, p_new[keep], -1))
        counts.append(t[keep])
        pt, S, C, need = thr_new[keep], S_new[keep], C_new[keep], need_new[keep]

    # dominated by the empty pattern: no cheaper than letting the threat leak
    cost = v[pt] * S + C
    keep = (cost < v[pt]) | (C == 0)
    rows, cols, vals = pattern_entries(parents, added, counts, keep)
    pt, cost = pt[keep], cost[keep]
    # sure kills: that one shot alone
    sp = np.flatnonzero(sure)
    sp = sp[complete[pairs.thr[sp]]]
    n_bfs = len(pt)
    rows = np.r_[rows, n_bfs + np.arange(len(sp))]
    cols = np.r_[cols, sp]
    vals = np.r_[vals, np.ones(len(sp))]
    pt = np.r_[pt, pairs.thr[sp]]
    cost = np.r_[cost, pairs.k[sp]]
    order = np.argsort(pt, kind="stable")
    inv = np.empty_like(order)
    inv[order] = np.arange(len(order))
    shots = csr_matrix((vals, (inv[rows.astype(np.int64)], cols.astype(np.int64))), shape=(len(pt), P))
    eff_map = csr_matrix((np.ones(P), (np.arange(P), pairs.eff)), shape=(P, pairs.n_effectors))
    pt = pt[order]
    use = (shots @ eff_map).tocsr()
    use.sort_indices()
    shots.sort_indices()
    return Patterns(pt, cost[order], shots, use,
                    np.searchsorted(pt, np.arange(T + 1)), complete & has_pairs)


def pattern_entries(parents, added, counts, keep):
    """(pattern row, pair, shots) of every nonzero entry of the kept patterns."""
    idx = np.flatnonzero(keep)
    row = np.arange(len(idx))
    rows, cols, vals = [], [], []
    for parent, pair, t in zip(reversed(parents), reversed(added), reversed(counts)):
        hit = pair[idx] >= 0
        rows.append(row[hit])
        cols.append(pair[idx][hit])
        vals.append(t[idx][hit].astype(np.float64))
        idx = parent[idx]
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
