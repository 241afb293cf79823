"""Plan moves built on fire patterns (wta_patterns), each scored for all
threats at once with numpy, then applied best first while they still fit:

  re-plan   one threat takes its cheapest listed pattern that fits the shots
            left (its own shots count as free);
  ejection  threat B takes a pattern it is one shot of effector i short of,
            and the threat A that gives up a shot of i at least cost re-plans
            without it;
  swap      two threats re-plan together (wta_swap).

Threat costs are independent given the shots, so a batch of moves on
disjoint threats adds up exactly; shot limits are re-checked as each is applied.
"""

from __future__ import annotations

import time

import numpy as np

from airshield.engage.wta_local import EPS
from airshield.engage.wta_pairs import Pairs, ranges, survival_log, to_matrix
from airshield.engage.wta_patterns import Patterns
from airshield.engage.wta_swap import pair_moves


def threat_costs(pairs: Pairs, xp: np.ndarray) -> np.ndarray:
    """(T,) each threat's expected leak plus what its shots cost (capped model)."""
    spend = np.bincount(pairs.thr, weights=pairs.k * xp, minlength=pairs.n_threats)
    return pairs.value * np.exp(-survival_log(pairs, xp)) + spend


class _State:
    """Plan-dependent arrays shared by the pattern moves."""

    def __init__(self, pairs: Pairs, pat: Patterns, xp: np.ndarray, price: np.ndarray | None):
        self.x = to_matrix(pairs, xp)
        self.rem = pairs.shots - self.x.sum(axis=1)
        use = pat.use
        e_row = np.repeat(np.arange(pat.n), np.diff(use.indptr))
        e_thr = pat.thr[e_row]
        # how many shots each pattern entry lacks, counting the threat's own as free
        self.short = use.data - (self.rem[use.indices] + self.x[use.indices, e_thr])
        self.n_short = np.bincount(e_row, weights=self.short > 0, minlength=pat.n)
        self.e_row = e_row
        k = pairs.k if price is None else pairs.k + price[pairs.eff]
        spend = np.bincount(pairs.thr, weights=k * xp, minlength=pairs.n_threats)
        self.cur = pairs.value * np.exp(-survival_log(pairs, xp)) + spend   # per threat
        self.cost = pat.cost if price is None else pat.cost + use @ price


def _apply(pairs: Pairs, pat: Patterns, xp: np.ndarray, x: np.ndarray, rem: np.ndarray,
           j: int, q: int) -> bool:
    """Give threat j pattern q if it fits the shots left; update xp, x, rem."""
    use, sh = pat.use, pat.shots
    cols = use.indices[use.indptr[q]:use.indptr[q + 1]]
    vals = use.data[use.indptr[q]:use.indptr[q + 1]].astype(np.int64)
    if np.any(vals > rem[cols] + x[cols, j]):
        return False
    lo, hi = pairs.thr_start[j], pairs.thr_start[j + 1]
    np.add.at(rem, pairs.eff[lo:hi], xp[lo:hi])
    x[pairs.eff[lo:hi], j] = 0
    xp[lo:hi] = 0
    xp[sh.indices[sh.indptr[q]:sh.indptr[q + 1]]] = sh.data[sh.indptr[q]:sh.indptr[q + 1]].astype(np.int64)
    rem[cols] -= vals
    x[cols, j] = vals
    return True


def _seg_best(c: np.ndarray, pat: Patterns) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(threats with patterns, their least c, the pattern attaining it)."""
    have = np.diff(pat.start) > 0
    starts = pat.start[:-1][have]
    seg = np.repeat(np.arange(len(starts)), np.diff(pat.start)[have])
    best = np.minimum.reduceat(c, starts)
    pick = np.flatnonzero(c == best[seg])
    pick = pick[np.r_[True, seg[pick][1:] != seg[pick][:-1]]]
    return np.flatnonzero(have), best, pick


def pattern_descent(pairs: Pairs, pat: Patterns, xp: np.ndarray, price: np.ndarray | None = None,
                    deadline: float | None = None, max_rounds: int = 50) -> np.ndarray:
    """Re-plan one threat at a time with its cheapest pattern that fits. Threat
    costs are independent, so all threats' best switches come from one pass.
    ``price`` (per effector) is added to each shot's cost when given."""
    xp = xp.copy()
    if pat.n == 0:
        return xp
    tol = EPS * max(float(pairs.value.sum()), 1.0)
    for _ in range(max_rounds):
        if deadline is not None and time.perf_counter() > deadline:
            break
        st = _State(pairs, pat, xp, price)
        thr_of, best, pick = _seg_best(np.where(st.n_short == 0, st.cost, np.inf), pat)
        gain = st.cur[thr_of] - best
        order = np.flatnonzero(gain > tol)
        moved = sum(_apply(pairs, pat, xp, st.x, st.rem, thr_of[n], pick[n])
                    for n in order[np.argsort(-gain[order])])
        if moved == 0:
            break
    return xp


def _releases(pairs: Pairs, pat: Patterns, st: _State, xp: np.ndarray):
    """For each held pair h (threat A, effector i): what A's best fitting re-plan
    with at least one shot of i fewer costs more than now, and that pattern."""
    E = pairs.n_effectors
    use = pat.use
    hp = np.flatnonzero(xp > 0)
    A, I = pairs.thr[hp], pairs.eff[hp]
    q, owner = ranges(pat.start[A], pat.start[A + 1])
    keys = st.e_row * E + use.indices                    # sorted: csr rows with sorted columns
    key = q * E + I[owner]
    pos = np.minimum(np.searchsorted(keys, key), max(len(keys) - 1, 0))
    use_qi = np.where(keys[pos] == key, use.data[pos], 0.0) if len(keys) else np.zeros(len(key))
    ok = (st.n_short[q] == 0) & (use_qi <= st.x[I[owner], A[owner]] - 1)
    rc = np.where(ok, st.cost[q], np.inf)
    rel = np.full(len(hp), np.inf)
    np.minimum.at(rel, owner, rc)
    rel_q = np.full(len(hp), -1, dtype=np.int64)
    hit = np.flatnonzero(np.isfinite(rc) & (rc == rel[owner]))
    rel_q[owner[hit]] = q[hit]
    return hp, A, I, rel - st.cur[A], rel_q


def _takers(pat: Patterns, st: _State):
    """Patterns exactly one shot of one effector short: (pattern, effector,
    threat, what taking it would save)."""
    ent = np.flatnonzero((st.short == 1) & (st.n_short[st.e_row] == 1))
    tq, ti = st.e_row[ent], pat.use.indices[ent]
    B = pat.thr[tq]
    return tq, ti, B, st.cur[B] - st.cost[tq]


def ejection(pairs: Pairs, pat: Patterns, xp: np.ndarray) -> tuple[np.ndarray, int]:
    """One round of two-threat moves through an effector with no shots left:
    threat B takes its best pattern that is one shot of effector i short, and
    the threat A != B whose re-plan without one of its shots of i costs least
    gives that shot up. Returns (shots, moves applied)."""
    xp = xp.copy()
    if pat.n == 0:
        return xp, 0
    st = _State(pairs, pat, xp, None)
    E = pairs.n_effectors
    hp, A, I, release, rel_q = _releases(pairs, pat, st, xp)
    # per effector the cheapest release, and the cheapest on another threat
    b1, h1 = _best_per(release, I, E)
    other = np.where(A != A[np.maximum(h1[I], 0)], release, np.inf)
    b2, h2 = _best_per(other, I, E)
    tq, ti, B, gain = _takers(pat, st)
    first_ok = (h1[ti] >= 0) & (A[np.maximum(h1[ti], 0)] != B)
    h_use = np.where(first_ok, h1[ti], h2[ti])
    net = gain - np.where(first_ok, b1[ti], b2[ti])
    good = np.flatnonzero((h_use >= 0) & (net > EPS * max(float(pairs.value.sum()), 1.0)))
    moves = 0
    touched: set[int] = set()
    for n in good[np.argsort(-net[good])]:
        h, b = int(h_use[n]), int(B[n])
        a_ = int(A[h])
        if a_ in touched or b in touched or rel_q[h] < 0:
            continue
        save = (xp.copy(), st.x.copy(), st.rem.copy())
        if _apply(pairs, pat, xp, st.x, st.rem, a_, int(rel_q[h])) and \
                _apply(pairs, pat, xp, st.x, st.rem, b, int(tq[n])):
            touched |= {a_, b}
            moves += 1
        else:
            xp[:], st.x[:], st.rem[:] = save
    return xp, moves


def _best_per(values: np.ndarray, group: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Least value per group and the index attaining it (-1 where none is finite)."""
    best = np.full(n, np.inf)
    np.minimum.at(best, group, values)
    arg = np.full(n, -1, dtype=np.int64)
    hit = np.flatnonzero((values == best[group]) & np.isfinite(values))
    arg[group[hit][::-1]] = hit[::-1]
    return best, arg


def swap_round(pairs: Pairs, pat: Patterns, xp: np.ndarray, top: np.ndarray | None = None,
               only: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Apply the improving two-threat re-plans (wta_swap), best first, each
    threat at most once."""
    xp = xp.copy()
    x = to_matrix(pairs, xp)
    rem = pairs.shots - x.sum(axis=1)
    touched: set[int] = set()
    done = 0
    for _, a_, qa, b, qb in pair_moves(pairs, pat, xp, threat_costs(pairs, xp), top, only):
        if a_ in touched or b in touched:
            continue
        save = (xp.copy(), x.copy(), rem.copy())
        for j in (a_, b):                      # release both, then re-plan both
            lo, hi = pairs.thr_start[j], pairs.thr_start[j + 1]
            np.add.at(rem, pairs.eff[lo:hi], xp[lo:hi])
            x[pairs.eff[lo:hi], j] = 0
            xp[lo:hi] = 0
        if _apply(pairs, pat, xp, x, rem, a_, qa) and _apply(pairs, pat, xp, x, rem, b, qb):
            touched |= {a_, b}
            done += 1
        else:
            xp[:], x[:], rem[:] = save
    return xp, done
