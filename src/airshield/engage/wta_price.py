"""Pricing fire patterns: the patterns of each threat that are cheap at given
shot prices, found by bounded enumeration (for column generation on dense pk).

At shot prices c_p = k_p + mu_eff (true cost plus a Lagrange price per
effector) the priced cost of a pattern x of threat j is

    f(x) = value_j * exp(-sum_p a_p x_p) + sum_p c_p x_p .

``price_patterns`` lists, for every threat, each non-dominated pattern with
f(x) <= min f + slack_j. With slack 0 this is exact pricing (the cheapest
pattern, ties included); with slack = incumbent - Lagrangian bound it is
every pattern an improving plan could use (reduced-cost fixing), so a
pattern MILP over them is exact.

Enumeration is depth-first in spirit but run breadth-first over "the d-th
pair of each threat" for all threats at once (numpy over partial patterns).
A threat's pairs are taken best effort per money first (a/c descending), so
everything still to come buys effort y at c/a of the next pair or dearer and
at most Y = sum a*u of the rest: a partial pattern (S, C) can end no cheaper
than C + min_{0<=y<=Y} value*S*e^-y + y*c/a. It is dropped when that already
exceeds the threat's best complete pattern + slack. Dominated partial
patterns (a shot that cannot pay at the current survival, see wta_patterns)
go too: survival only falls, so none of their completions is needed; so
does any pattern with a sure kill (pk = 1) and another shot.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix

from airshield.engage.wta_pairs import Pairs
from airshield.engage.wta_patterns import Patterns, pattern_entries

NODE_CAP = 1_000_000     # partial patterns alive at one depth, all threats
THREAT_NODE_CAP = 200_000  # ... for one threat; past either, threats are given up


def _tail(w: np.ndarray, rho: np.ndarray, ymax: np.ndarray) -> np.ndarray:
    """min over 0 <= y <= ymax of w e^-y + rho y (w >= 0, rho >= 0; rho may be
    inf: nothing left to buy)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # y* = ln(w / rho): +inf for rho = 0, -inf for rho = inf, clipped
        y = np.minimum(np.maximum(np.log(np.maximum(w, 1e-300) / rho), 0.0), ymax)
        return w * np.exp(-y) + np.where(y > 0, rho * y, 0.0)


def price_patterns(pairs: Pairs, mu: np.ndarray, slack: np.ndarray | float = 0.0,
                   threats: np.ndarray | None = None, node_cap: int = NODE_CAP,
                   threat_node_cap: int = THREAT_NODE_CAP
                   ) -> tuple[Patterns, np.ndarray, np.ndarray]:
    """Patterns of ``threats`` (default all with pairs) within ``slack`` of each
    threat's cheapest at prices k + mu. Returns (patterns with their true cost,
    best (T,), floor (T,)): best is the cheapest priced cost found, floor a
    proven lower bound on it. A threat whose partial patterns outgrow the caps
    is given up: ``patterns.complete`` is False for it, only its empty pattern
    is listed, and its floor is the least any pattern still open could end at;
    for the others floor == best, exactly the minimum."""
    T, P, E = pairs.n_threats, pairs.n, pairs.n_effectors
    mu = np.maximum(np.asarray(mu, dtype=np.float64), 0.0)
    v = pairs.value
    has = np.diff(pairs.thr_start) > 0
    on = has.copy() if threats is None else np.isin(np.arange(T), threats) & has
    slack = np.broadcast_to(np.asarray(slack, dtype=np.float64), (T,)).copy()
    c = pairs.k + mu[pairs.eff]
    a = pairs.a
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(c > 0, a / c, np.inf)
        # the shot pays while S > need: value * S / (1 - pk) * pk > k  (true cost)
        need_p = np.where(pairs.k > 0, pairs.k * np.exp(-a) / (v[pairs.thr] * (1.0 - np.exp(-a))), 0.0)
        rho_p = np.where(c > 0, c / a, 0.0)
    tol = 1e-12 * np.maximum(v, 1.0)
    u = _priced_cap(pairs, c, slack + tol)
    sel = np.flatnonzero(on[pairs.thr] & (u > 0))
    order = sel[np.lexsort((-ratio[sel], pairs.thr[sel]))]        # by threat, best ratio first
    thr_o = pairs.thr[order]
    first = np.searchsorted(thr_o, np.arange(T))
    depth = np.arange(len(order)) - first[thr_o]
    n_depth = int(depth.max()) + 1 if len(order) else 0
    # effort still to come after each pair (same threat), and its best price
    au = a[order] * u[order]
    csum = np.cumsum(au[::-1])[::-1] if len(order) else au           # from here to the end
    end = np.searchsorted(thr_o, thr_o, side="right")                # one past the threat's last
    y_after = csum - au - np.where(end < len(order), csum[np.minimum(end, len(order) - 1)], 0.0)
    y_after = np.maximum(y_after, 0.0)
    nxt = np.arange(len(order)) + 1
    rho_after = np.where((nxt < end), rho_p[order[np.minimum(nxt, len(order) - 1)]], np.inf)

    best = np.where(on, v, np.inf)                   # the empty pattern leaks value_j
    has_sure = np.zeros(T, dtype=bool)
    has_sure[pairs.thr[pairs.pk >= 1.0]] = True
    pt = np.flatnonzero(on)
    L = np.zeros(len(pt))                            # sum a x
    Cp = np.zeros(len(pt))                           # priced cost of shots
    Ck = np.zeros(len(pt))                           # true cost of shots
    floor = best.copy()
    complete = on.copy()
    need = np.zeros(len(pt))
    n_shots = np.zeros(len(pt), dtype=np.int64)
    sure = np.zeros(len(pt), dtype=bool)         # holds a pk = 1 shot
    parents, added, counts = [], [], []
    slots = np.full((n_depth, T), -1, dtype=np.int64)
    slots[depth, thr_o] = np.arange(len(order))      # position in `order` of depth d
    for d in range(n_depth):
        if len(pt) == 0:
            break
        s = slots[d][pt]
        p_of = np.where(s >= 0, order[np.maximum(s, 0)], -1)
        reps = np.where(p_of >= 0, u[np.maximum(p_of, 0)] + 1, 1)
        # pricing alone (slack 0): a free shot always lowers f, so the
        # cheapest patterns fire free pairs in full; only that branch is needed
        # (not beside a sure kill, which must be able to stand alone)
        free = (p_of >= 0) & (c[np.maximum(p_of, 0)] == 0) & (slack[pt] == 0) & ~has_sure[pt]
        reps = np.where(free, 1, reps)
        parent = np.repeat(np.arange(len(pt)), reps)
        t = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
        t = np.where(free[parent], u[np.maximum(p_of, 0)][parent], t)
        pn = p_of[parent]
        pz = np.maximum(pn, 0)
        live = pn >= 0
        thr_new = pt[parent]
        L_new = L[parent] + np.where(live, a[pz] * t, 0.0)
        Cp_new = Cp[parent] + np.where(live, c[pz] * t, 0.0)
        Ck_new = Ck[parent] + np.where(live, pairs.k[pz] * t, 0.0)
        need_new = np.maximum(need[parent], np.where(live & (t > 0), need_p[pz], 0.0))
        n_new = n_shots[parent] + t
        sure_new = sure[parent] | (live & (t > 0) & (pairs.pk[pz] >= 1.0))
        w = v[thr_new] * np.exp(-L_new)
        # a sure kill makes every other shot pointless: that shot alone
        ok = (w > need_new * v[thr_new]) & ((Ck_new < v[thr_new]) | (Ck_new == 0)) \
            & ~(sure_new & (n_new > 1))
        f = w + Cp_new
        # nodes stay sorted by threat: segment minima instead of minimum.at
        fo, to = f[ok], thr_new[ok]
        if len(to):
            seg = np.flatnonzero(np.concatenate(([True], to[1:] != to[:-1])))
            tj = to[seg]
            best[tj] = np.minimum(best[tj], np.minimum.reduceat(fo, seg))
        sn = s[parent]
        rho = np.where(sn >= 0, rho_after[np.maximum(sn, 0)], np.inf)
        ymax = np.where(sn >= 0, y_after[np.maximum(sn, 0)], 0.0)
        lb = Cp_new + _tail(w, rho, ymax)
        keep = ok & (lb <= best[thr_new] + slack[thr_new] + tol[thr_new])
        keep = _give_up(keep, thr_new, lb, best, floor, complete, node_cap, threat_node_cap)
        parents.append(parent[keep])
        added.append(np.where(live[keep] & (t[keep] > 0), pn[keep], -1))
        counts.append(t[keep])
        pt, L, Cp, Ck, need = thr_new[keep], L_new[keep], Cp_new[keep], Ck_new[keep], need_new[keep]
        n_shots, sure = n_new[keep], sure_new[keep]
    # complete patterns within slack of their threat's best; the empty one is
    # always listed (it is never dominated and keeps every master feasible)
    w = v[pt] * np.exp(-L)
    f = w + Cp
    keep = (f <= best[pt] + slack[pt] + tol[pt]) & (L > 0)       # the empty one comes next
    rows, cols, vals = pattern_entries(parents, added, counts, keep)
    pt, cost = pt[keep], (w + Ck)[keep]
    empty = np.flatnonzero(on)
    pt = np.r_[pt, empty]
    cost = np.r_[cost, v[empty]]
    order_q = np.argsort(pt, kind="stable")
    inv = np.empty_like(order_q)
    inv[order_q] = np.arange(len(order_q))
    shots = csr_matrix((vals, (inv[rows], cols)), shape=(len(pt), P))
    eff_map = csr_matrix((np.ones(P), (np.arange(P), pairs.eff)), shape=(P, E))
    use = (shots @ eff_map).tocsr()
    use.sort_indices()
    shots.sort_indices()
    pt = pt[order_q]
    floor = np.where(complete, best, floor)
    pat = Patterns(pt, cost[order_q], shots, use, np.searchsorted(pt, np.arange(T + 1)), complete)
    return pat, best, floor


def _priced_cap(pairs: Pairs, c: np.ndarray, slack: np.ndarray) -> np.ndarray:
    """Most shots of each pair a pattern within ``slack`` of its threat's best
    can hold. Dropping the t-th shot of p changes f by v S pk - c with
    S <= (1 - pk)^(t-1), so once c - v pk (1 - pk)^(t-1) > slack the pattern
    is beaten by more than slack by the same pattern with one shot fewer."""
    v = pairs.value[pairs.thr]
    pk = -np.expm1(-pairs.a)
    excess = c - slack[pairs.thr]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t = 1.0 + np.log(excess / (v * pk)) / -pairs.a
    t = np.where(excess <= 0, np.inf, np.nan_to_num(t, nan=0.0))
    return np.clip(np.floor(np.minimum(t, 1e18) + 1e-9), 0, pairs.u).astype(np.int64)


def _give_up(keep, thr, lb, best, floor, complete, node_cap, threat_node_cap):
    """Drop the partial patterns of threats past the caps (largest first), in
    place on ``floor``/``complete``. Every pattern of such a threat is one
    already seen (>= best) or a completion of a node alive now (>= its lb)."""
    T = len(best)
    if np.count_nonzero(keep) <= min(node_cap, threat_node_cap):
        return keep
    cnt = np.bincount(thr[keep], minlength=T)
    over = cnt > threat_node_cap
    if cnt.sum() > node_cap:
        big = np.argsort(-cnt, kind="stable")
        n_drop = int(np.searchsorted(np.cumsum(cnt[big]), cnt.sum() - node_cap)) + 1
        over[big[:n_drop]] = True
    over &= cnt > 0
    if not over.any():
        return keep
    gone = keep & over[thr]
    fl = np.full(T, np.inf)
    np.minimum.at(fl, thr[gone], lb[gone])
    floor[over] = np.minimum(best[over], fl[over])
    complete[over] = False
    return keep & ~gone


