"""Two-threat re-plan for the WTA: the neighbourhood that single-threat moves
cannot reach.

When effector i has no shots left, threat B may be better off with a pattern
that needs i, and threat A, which holds i's shots, may do almost as well with
other effectors - possibly ones B frees. Such exchanges need both threats to
change at once. For every (A, B) with A holding shots of an empty effector
that B can reach and B able to do better than now, all pairs of A's and B's
K best patterns (ranked at Lagrangian prices) are scored together: each must fit the shots left plus
what A and B hold now, and on effectors both can use their sum must fit too.
Pairs of threats are scored in chunks as (pairs x K x K) numpy arrays.
"""

from __future__ import annotations

import numpy as np

from airshield.engage.wta_pairs import Pairs, ranges, to_matrix
from airshield.engage.wta_patterns import Patterns

K = 12          # cheapest patterns per threat tried in a pair
MAX_SHARED = 6  # effectors two threats share that are checked jointly
CHUNK = 4096    # threat pairs scored at once


def top_k(pat: Patterns, price: np.ndarray | None = None) -> np.ndarray:
    """(T, K) indices of each threat's K cheapest patterns, -1 padded. With
    ``price`` (per effector, e.g. Lagrange multipliers) patterns are ranked by
    cost + price . shots, which puts the patterns of good plans first: by cost
    alone the cheapest patterns are those that spend the scarce shots."""
    T = len(pat.start) - 1
    rank_cost = pat.cost if price is None else pat.cost + pat.use @ price
    order = np.lexsort((rank_cost, pat.thr))
    rank = np.arange(pat.n) - pat.start[pat.thr[order]]
    out = np.full((T, K), -1, dtype=np.int64)
    keep = rank < K
    out[pat.thr[order][keep], rank[keep]] = order[keep]
    return out


def _candidate_pairs(pairs: Pairs, pat: Patterns, x: np.ndarray, rem: np.ndarray,
                     cur: np.ndarray) -> np.ndarray:
    """(n, 2) threat pairs (A, B): A holds shots of an empty effector B reaches,
    and B's cheapest pattern (ignoring shot limits) beats its current cost."""
    empty = rem <= 0
    have = np.diff(pat.start) > 0
    cheapest = np.full(pairs.n_threats, np.inf)
    cheapest[have] = np.minimum.reduceat(pat.cost, pat.start[:-1][have])
    hopeful = cheapest < cur - 1e-9 * max(abs(cur.max()), 1.0)
    on_empty = empty[pairs.eff]
    holder = on_empty & (x[pairs.eff, pairs.thr] > 0)
    taker = on_empty & hopeful[pairs.thr]
    # join holders and takers on the effector
    hi = np.flatnonzero(holder)
    ti = np.flatnonzero(taker)
    h_eff, t_eff = pairs.eff[hi], pairs.eff[ti]
    order = np.argsort(t_eff, kind="stable")
    t_sorted = ti[order]
    lo = np.searchsorted(t_eff[order], h_eff, side="left")
    up = np.searchsorted(t_eff[order], h_eff, side="right")
    idx, owner = ranges(lo, up)
    A = pairs.thr[hi[owner]]
    B = pairs.thr[t_sorted[idx]]
    ab = np.unique(np.stack([A, B], axis=1)[A != B], axis=0)
    return ab


def pair_moves(pairs: Pairs, pat: Patterns, xp: np.ndarray, cur: np.ndarray,
               top: np.ndarray | None = None, only: np.ndarray | None = None
               ) -> list[tuple[float, int, int, int, int]]:
    """Improving two-threat re-plans as (gain, A, qA, B, qB), best first. ``cur``
    is each threat's current cost, ``top`` a cached top_k(pat), ``only`` a
    threat mask: pairs with neither threat in it are skipped."""
    if pat.n == 0:
        return []
    x = to_matrix(pairs, xp)
    rem = pairs.shots - x.sum(axis=1)
    ab = _candidate_pairs(pairs, pat, x, rem, cur)
    if only is not None:
        ab = ab[only[ab[:, 0]] | only[ab[:, 1]]]
    if len(ab) == 0:
        return []
    top = top_k(pat) if top is None else top
    use = pat.use
    E = pairs.n_effectors
    keys = np.repeat(np.arange(pat.n), np.diff(use.indptr)) * E + use.indices
    reach = np.zeros((E, pairs.n_threats), dtype=bool)
    reach[pairs.eff, pairs.thr] = True
    tol = 1e-9 * max(float(pairs.value.sum()), 1.0)
    moves = []
    for c0 in range(0, len(ab), CHUNK):
        A, B = ab[c0:c0 + CHUNK, 0], ab[c0:c0 + CHUNK, 1]
        n = len(A)
        # effectors both can use (padded with -1)
        shared = np.full((n, MAX_SHARED), -1, dtype=np.int64)
        lo, hi = pairs.thr_start[A], pairs.thr_start[A + 1]
        idx, owner = ranges(lo, hi)
        e = pairs.eff[idx]
        both = reach[e, B[owner]]
        idx, owner, e = idx[both], owner[both], e[both]
        slot = np.arange(len(owner)) - np.searchsorted(owner, owner)
        ok_slot = slot < MAX_SHARED
        shared[owner[ok_slot], slot[ok_slot]] = e[ok_slot]
        used = max(int(ok_slot.sum() and (slot[ok_slot].max() + 1)), 1)
        shared = shared[:, :used]
        qa, qb = top[A], top[B]                                   # (n, K)
        fa = _fits_alone(pat, qa, A, B, x, rem)
        fb = _fits_alone(pat, qb, B, A, x, rem)
        ua = _use_on(use, keys, qa, shared, E)                    # (n, K, S)
        ub = _use_on(use, keys, qb, shared, E)
        s_ok = shared >= 0
        se = np.maximum(shared, 0)
        avail = np.where(s_ok, rem[se] + x[se, A[:, None]] + x[se, B[:, None]], np.inf)   # (n, S)
        joint = np.all(ua[:, :, None, :] + ub[:, None, :, :] <= avail[:, None, None, :], axis=3)
        ok = joint & fa[:, :, None] & fb[:, None, :]
        ca = np.where(qa >= 0, pat.cost[np.maximum(qa, 0)], np.inf)
        cb = np.where(qb >= 0, pat.cost[np.maximum(qb, 0)], np.inf)
        tot = np.where(ok, ca[:, :, None] + cb[:, None, :], np.inf).reshape(n, -1)
        arg = np.argmin(tot, axis=1)
        best = tot[np.arange(n), arg]
        gain = cur[A] + cur[B] - best
        for m in np.flatnonzero(gain > tol):
            ka, kb = divmod(int(arg[m]), K)
            moves.append((float(gain[m]), int(A[m]), int(qa[m, ka]), int(B[m]), int(qb[m, kb])))
    moves.sort(key=lambda mv: -mv[0])
    return moves


def _fits_alone(pat: Patterns, q: np.ndarray, me: np.ndarray, other: np.ndarray,
                x: np.ndarray, rem: np.ndarray) -> np.ndarray:
    """(n, K) each pattern fits the shots left plus what both threats hold now
    (shared effectors are checked jointly elsewhere)."""
    use = pat.use
    n, k = q.shape
    flat = q.ravel()
    valid = flat >= 0
    f = np.maximum(flat, 0)
    ent, owner = ranges(use.indptr[f], use.indptr[f + 1])
    row = owner // k
    e = use.indices[ent]
    avail = rem[e] + x[e, me[row]] + x[e, other[row]]
    bad = np.bincount(owner, weights=use.data[ent] > avail, minlength=len(flat)) > 0
    return (valid & ~bad).reshape(n, k)


def _use_on(use, keys: np.ndarray, q: np.ndarray, shared: np.ndarray, E: int) -> np.ndarray:
    """(n, K, S) shots pattern q[n, k] takes from effector shared[n, s]."""
    key = np.maximum(q, 0)[:, :, None] * E + np.maximum(shared, 0)[:, None, :]
    pos = np.minimum(np.searchsorted(keys, key), max(len(keys) - 1, 0))
    hit = (keys[pos] == key) if len(keys) else np.zeros(key.shape, bool)
    val = np.where(hit, use.data[pos] if len(keys) else 0.0, 0.0)
    return np.where((q >= 0)[:, :, None] & (shared >= 0)[:, None, :], val, 0.0)
