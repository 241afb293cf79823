"""Exact WTA: provably optimal plans with HiGHS, group by group.

The effector-threat graph of a raid falls apart into independent groups (an
effector reaches only nearby threats); each connected group is solved alone:

* one effector: the objective is separable and convex per threat with one
  shot budget, so taking the best marginal shots is optimal (no MILP);
* every threat with a complete, short fire-pattern list: the pattern MILP
  (wta_milp), exact in one solve;
* otherwise (threats reachable by very many effectors, as in dense random
  pk): the Dantzig-Wolfe bound by column generation, then the pattern MILP
  over every pattern an improving plan could use (wta_dw); outer
  approximation on shot counts (wta_oa) remains as an alternative
  (``DENSE_METHOD``).

A group that finishes is optimal within relative 1e-6. On time out a group
keeps its best plan (the fast solver's when HiGHS found none better); the
plan's bound is the sum of the groups' proven bounds, or the fast solver's
Lagrangian bound when that is higher (or a group was never started).
"""

from __future__ import annotations

import time

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from airshield.engage.wta import Instance, Plan, make_plan
from airshield.engage.wta_dw import dw_exact, sub_pairs
from airshield.engage.wta_fast import descend, solve_fast
from airshield.engage.wta_greedy import greedy
from airshield.engage.wta_milp import pattern_milp
from airshield.engage.wta_oa import oa_milp
from airshield.engage.wta_pairs import Pairs, ranges, survival_log, to_matrix, useful_pairs
from airshield.engage.wta_patterns import enumerate_patterns

PATTERN_CAP = 20000          # patterns per threat before it falls back to OA
# The pattern MILP wins while threats have a few hundred patterns each (sparse
# pk: 0.1 s for 80x80 raids); with thousands (dense pk) OA on shot counts is
# faster (dense 20x20: 2.5 s against > 10 s).
PATTERNS_PER_THREAT = 400
PATTERNS_PER_GROUP = 20000   # ... or this many in the group, whichever is more
FAST_FIRST_PAIRS = 1000      # with a time limit, larger instances start from the fast plan
# groups without complete pattern lists: "dw" (column generation + reduced-cost
# pattern enumeration, dense 80x80 in ~0.4 s) or "oa" (outer approximation on
# shot counts: weak continuous bound, dense 80x80 not solved in 20 s)
DENSE_METHOD = "dw"
# a dense group with more pairs than this starts from the fast solver's plan
# (below it the fast solver costs more than it saves: dense 20x20 0.15 -> 0.6 s)
DW_FAST_START_PAIRS = 400


def solve_exact(inst: Instance, time_limit: float | None = None) -> Plan:
    """Optimal plan (``plan.optimal``) when every group finishes in time; else the
    best plan found with its proven bound. ``time_limit`` None: no limit.

    With a time limit, a large instance first gets the fast solver's plan and
    bound (40% of the time), so whatever the MILPs leave unfinished is already
    well planned; a small one is polished by the fast solver at the end only if
    a group did not finish (the last 15%)."""
    t0 = time.perf_counter()
    pairs = useful_pairs(inst)
    pat = enumerate_patterns(pairs, cap=PATTERN_CAP)
    fast_first = time_limit is not None and pairs.n > FAST_FIRST_PAIRS
    fast = None
    if fast_first:
        fast = solve_fast(inst, time_limit=0.4 * time_limit, pairs=pairs, patterns=pat)
        xp = fast.shots[pairs.eff, pairs.thr]
    else:
        xp = descend(pairs, pat, greedy(pairs), None if time_limit is None else t0 + 0.3 * time_limit)
    share = 0.95 if fast_first else 0.85
    deadline = None if time_limit is None else t0 + share * time_limit
    engaged = np.bincount(pairs.thr, minlength=pairs.n_threats) > 0
    lower = float(pairs.value[~engaged].sum()) - pairs.cap_slack
    comps = components(pairs)
    open_groups = []
    for ps in comps:
        threats = np.unique(pairs.thr[ps])
        n_pat = int((pat.start[threats + 1] - pat.start[threats]).sum())
        left = None if deadline is None else deadline - time.perf_counter()
        if len(np.unique(pairs.eff[ps])) == 1:
            xp[ps], lb = _one_effector(pairs, ps)
            done = True
        elif left is not None and left <= 0:
            lb, done = -np.inf, False                    # not tried: the Lagrangian bound covers it
        elif pat.complete[threats].all() and n_pat <= max(PATTERNS_PER_GROUP,
                                                          PATTERNS_PER_THREAT * len(threats)):
            xc, lb, done = pattern_milp(pairs, pat, threats, left)
            if xc is not None and _part(pairs, ps, xc) <= _part(pairs, ps, xp):
                xp[ps] = xc[ps]
        elif DENSE_METHOD == "dw":
            if fast is None and len(ps) > DW_FAST_START_PAIRS:
                # the dense path's lists grow with incumbent - bound: start it
                # from the fast plan (few sites, many effectors: 3x faster)
                fast = solve_fast(inst, time_limit=None if left is None else 0.3 * left,
                                  pairs=pairs, patterns=pat)
                x_fast = fast.shots[pairs.eff, pairs.thr]
                if _part(pairs, ps, x_fast) < _part(pairs, ps, xp):
                    xp[ps] = x_fast[ps]
            xc, lb, done = dw_exact(sub_pairs(pairs, ps), xp[ps], deadline)
            if _part(pairs, ps, _put(xp, ps, xc)) <= _part(pairs, ps, xp):
                xp[ps] = xc
        else:
            xc, lb, done = oa_milp(pairs, ps, xp[ps], deadline)
            if _part(pairs, ps, _put(xp, ps, xc)) <= _part(pairs, ps, xp):
                xp[ps] = xc
        lower += lb
        if not done:
            open_groups.append(ps)
    notes = []
    if open_groups:
        notes.append(f"time limit: {len(open_groups)} of {len(comps)} groups not proven optimal")
        if fast is None:
            left = None if time_limit is None else max(t0 + time_limit - time.perf_counter(), 0.05)
            fast = solve_fast(inst, time_limit=left, pairs=pairs, patterns=pat)
        x_fast = fast.shots[pairs.eff, pairs.thr]
        for ps in open_groups:
            if _part(pairs, ps, x_fast) < _part(pairs, ps, xp):
                xp[ps] = x_fast[ps]
    if fast is not None:
        lower = max(lower, fast.bound)
    return make_plan(inst, to_matrix(pairs, xp), lower, "exact-pattern-milp-highs", t0, notes)


def _put(xp: np.ndarray, ps: np.ndarray, xc: np.ndarray) -> np.ndarray:
    out = xp.copy()
    out[ps] = xc
    return out


def components(pairs: Pairs) -> list[np.ndarray]:
    """Pair indices of each connected group of effectors and threats."""
    if pairs.n == 0:
        return []
    E, T = pairs.n_effectors, pairs.n_threats
    g = coo_matrix((np.ones(pairs.n), (pairs.eff, E + pairs.thr)), shape=(E + T, E + T))
    _, label = connected_components(g, directed=False)
    lab = label[pairs.eff]
    order = np.argsort(lab, kind="stable")                 # keeps (threat, effector) order
    return np.split(order, np.flatnonzero(np.diff(lab[order])) + 1)


def _part(pairs: Pairs, ps: np.ndarray, xp: np.ndarray) -> float:
    """Objective of the threats of pairs ps (capped model)."""
    threats = np.unique(pairs.thr[ps])
    L = survival_log(pairs, xp)[threats]
    return float(np.dot(pairs.value[threats], np.exp(-L)) + np.dot(pairs.k[ps], xp[ps]))


def _one_effector(pairs: Pairs, ps: np.ndarray) -> tuple[np.ndarray, float]:
    """Optimal shots of one effector over its threats: the best marginal shots."""
    idx, owner = ranges(np.zeros(len(ps), dtype=np.int64), pairs.u[ps])
    p = ps[owner]
    # gain of the (idx+1)-th shot; decreasing in idx, so the top picks form prefixes
    gain = pairs.value[pairs.thr[p]] * pairs.pk[p] * (1.0 - pairs.pk[p]) ** idx - pairs.k[p]
    order = np.argsort(-gain, kind="stable")[: int(pairs.shots[pairs.eff[ps[0]]])]
    take = order[gain[order] > 0]
    xc = np.bincount(owner[take], minlength=len(ps)).astype(np.int64)
    surv = (1.0 - pairs.pk[ps]) ** xc
    return xc, float(np.dot(pairs.value[pairs.thr[ps]], surv) + np.dot(pairs.k[ps], xc))
