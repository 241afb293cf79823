"""Pair-level local search for the WTA, for any plan (no pattern list needed).

Rounds of non-conflicting improving moves (threat sets disjoint, spare shots
respected), each found for all pairs at once with numpy:
  drop   a shot that costs more than it saves,
  add    a shot of an effector with shots to spare,
  swap   a shot on a threat for a spare effector's shot on the same threat,
  move   an effector's shot to another threat, refilling the threat it left
         with a spare shot of another effector when that pays (ejection chain).
"""

from __future__ import annotations

import time

import numpy as np

from airshield.engage.wta_pairs import Pairs, ranges, survival_log

EPS = 1e-9  # relative improvement a move must bring (guards against cycling on ties)


def local_search(pairs: Pairs, xp: np.ndarray, deadline: float | None = None,
                 max_rounds: int = 200) -> np.ndarray:
    """Improve per-pair shots xp with rounds of non-conflicting improving moves."""
    xp = xp.copy()
    if pairs.n == 0:
        return xp
    v_p = pairs.value[pairs.thr]
    a, k, eff, thr = pairs.a, pairs.k, pairs.eff, pairs.thr
    kill = -np.expm1(-a)
    for _ in range(max_rounds):
        if deadline is not None and time.perf_counter() > deadline:
            break
        L = survival_log(pairs, xp)
        S = np.exp(-L)
        used = np.bincount(eff, weights=xp, minlength=pairs.n_effectors).astype(np.int64)
        spare = pairs.shots - used
        scale = EPS * max(float(pairs.value.sum()), 1.0)
        room = xp < pairs.u
        add_any = np.where(room, v_p * S[thr] * kill - k, -np.inf)   # next shot's saving
        add = np.where(spare[eff] > 0, add_any, -np.inf)
        held = xp > 0
        s_wo = S[thr] * np.exp(np.where(held, a, 0.0))             # survival without one shot
        drop = np.where(held, v_p * (s_wo - S[thr]) - k, np.inf)  # what that shot saves
        cands = _candidates(pairs, xp, S, s_wo, add_any, add, drop, held, spare, kill, scale)
        if not cands:
            break
        touched_t: set[int] = set()
        spare_left = spare.copy()
        applied = 0
        for gain, ops in cands:
            ts_ = {int(thr[p]) for p, _ in ops}
            if ts_ & touched_t:
                continue
            need: dict[int, int] = {}
            for p, d in ops:
                need[int(eff[p])] = need.get(int(eff[p]), 0) + d
            if any(n > 0 and spare_left[e] < n for e, n in need.items()):
                continue
            for e, n in need.items():
                spare_left[e] -= n
            for p, d in ops:
                xp[p] += d
            touched_t |= ts_
            applied += 1
        if applied == 0:
            break
    return xp


def _candidates(pairs, xp, S, s_wo, add_any, add, drop, held, spare, kill, scale):
    """Improving moves as (gain, [(pair, +1/-1), ...]) sorted best first."""
    eff, thr, k = pairs.eff, pairs.thr, pairs.k
    v = pairs.value
    out: list[tuple[float, list[tuple[int, int]]]] = []
    # drop / add single shots
    for p in np.flatnonzero(drop < -scale):
        out.append((-float(drop[p]), [(int(p), -1)]))
    for p in np.flatnonzero(add > scale):
        out.append((float(add[p]), [(int(p), 1)]))
    hp = np.flatnonzero(held)
    if len(hp):
        # refill / swap: for each held shot d, the best spare shot of another
        # effector on the same threat once d is gone
        idx, owner = ranges(pairs.thr_start[thr[hp]], pairs.thr_start[thr[hp] + 1])
        d = hp[owner]
        ok = (eff[idx] != eff[d]) & (spare[eff[idx]] > 0) & (xp[idx] < pairs.u[idx])
        g = np.where(ok, v[thr[idx]] * s_wo[d] * kill[idx] - k[idx], -np.inf)
        refill = np.full(len(hp), -np.inf)
        np.maximum.at(refill, owner, g)
        hit = g == refill[owner]
        ref_pair = np.full(len(hp), -1, dtype=np.int64)
        ref_pair[owner[hit][::-1]] = idx[hit][::-1]
        # swap on the same threat: lose d, gain its refill
        sw = refill - drop[hp]
        for n in np.flatnonzero(sw > scale):
            out.append((float(sw[n]), [(int(hp[n]), -1), (int(ref_pair[n]), 1)]))
        # move d to another threat of the same effector (with or without refill)
        net = drop[hp] - np.maximum(refill, 0.0)                 # cost of freeing d
        E = pairs.n_effectors
        best_net = np.full(E, np.inf)
        np.minimum.at(best_net, eff[hp], net)
        is_best = net == best_net[eff[hp]]
        d_of = np.full(E, -1, dtype=np.int64)
        d_of[eff[hp][is_best][::-1]] = np.flatnonzero(is_best)[::-1]
        has_d = d_of[eff] >= 0
        from_thr = np.where(has_d, thr[hp[np.maximum(d_of[eff], 0)]], -1)
        tgt = np.where(has_d & (thr != from_thr), add_any, -np.inf)
        best_tgt = np.full(E, -np.inf)
        np.maximum.at(best_tgt, eff, tgt)
        tgt_pair = np.full(E, -1, dtype=np.int64)
        hit = np.flatnonzero(tgt == best_tgt[eff])
        tgt_pair[eff[hit][::-1]] = hit[::-1]
        mv = best_tgt - best_net
        for e in np.flatnonzero((mv > scale) & np.isfinite(mv)):
            n = int(d_of[e])
            tp = int(tgt_pair[e])
            ops = [(int(hp[n]), -1), (tp, 1)]
            if refill[n] > 0:
                ops.append((int(ref_pair[n]), 1))
            out.append((float(mv[e]), ops))
    out.sort(key=lambda c: -c[0])
    return out
