"""Global-nearest-neighbour association on a sparse cost graph.

Gated pairs form a bipartite graph; its connected components (clusters) are
independent problems. A cluster of one track and one report (by far the most
common in a raid) is assigned directly and all of those at once, as is any
cluster with a single track or a single report (its cheapest pair is optimal);
every other cluster is solved optimally with scipy's linear_sum_assignment on a matrix
augmented with no-assignment entries, so a track may stay unassigned (missed
detection) and a report may stay free (clutter or a new object) whenever that
is cheaper than any pairing.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

_FORBIDDEN = 1e12
SMALL = 24  # pair count below which clustering costs more than it saves


def assign(ti: np.ndarray, pj: np.ndarray, cost: np.ndarray, miss_track: float,
           miss_plot: float) -> np.ndarray:
    """Indices into the pair arrays of the chosen pairs (at most one per track
    and one per report). ``miss_track``/``miss_plot`` are the costs of leaving
    a track or a report unassigned: a pair is worth taking only when its cost is
    below their sum."""
    npairs = ti.size
    if npairs == 0:
        return np.zeros(0, np.int64)
    ut, tl = np.unique(ti, return_inverse=True)
    up, pl = np.unique(pj, return_inverse=True)
    nt, npl = ut.size, up.size
    if nt == npairs and npl == npairs:  # no track or report in two pairs: no conflict
        return np.flatnonzero(cost < miss_track + miss_plot)
    if nt == 1 or npl == 1:  # one star (a late report and its few tracks): its cheapest pair
        best = int(np.argmin(cost))
        return np.array([best] if cost[best] < miss_track + miss_plot else [], np.int64)
    if npairs <= SMALL:  # one small problem: cheaper solved whole than clustered
        return _solve_cluster(np.arange(npairs), tl, pl, nt, npl, cost, miss_track, miss_plot)
    # a pair whose track and report are in no other pair is a cluster of its own
    # (the common case in a raid): taken if it beats leaving both unassigned, and
    # only the rest goes through the graph
    lone = (np.bincount(tl, minlength=nt)[tl] == 1) & (np.bincount(pl, minlength=npl)[pl] == 1)
    if lone.any():
        rest = np.flatnonzero(~lone)
        taken = np.flatnonzero(lone & (cost < miss_track + miss_plot))
        if rest.size == 0:
            return taken
        sub = assign(ti[rest], pj[rest], cost[rest], miss_track, miss_plot)
        return np.sort(np.concatenate([taken, rest[sub]]))
    g = coo_matrix((np.ones(npairs), (tl, nt + pl)), shape=(nt + npl, nt + npl))
    ncomp, label = connected_components(g, directed=False)
    comp = label[tl]  # cluster of each pair
    n_tr = np.bincount(label[:nt], minlength=ncomp)  # tracks per cluster
    n_pl = np.bincount(label[nt:], minlength=ncomp)  # reports per cluster
    chosen = []
    star = (n_tr[comp] == 1) | (n_pl[comp] == 1)
    if star.any():
        # one track (or one report) in the cluster: the cheapest of its pairs is the
        # optimum (one edge, the most common case, is a star too)
        idx = np.flatnonzero(star)
        idx = idx[np.lexsort((cost[idx], comp[idx]))]
        first = np.r_[True, comp[idx][1:] != comp[idx][:-1]]
        best = idx[first]
        chosen.append(best[cost[best] < miss_track + miss_plot])
    multi = np.flatnonzero(~star)
    if multi.size:
        # each track's and report's index within its cluster (ascending, as np.unique
        # would number them), for all clusters at once
        t_loc, p_loc = _rank_within(label[:nt]), _rank_within(label[nt:])
        order = multi[np.argsort(comp[multi], kind="stable")]
        bounds = np.flatnonzero(np.diff(comp[order])) + 1
        for grp in np.split(order, bounds):
            c = comp[grp[0]]
            chosen.append(_solve_cluster(grp, t_loc[tl[grp]], p_loc[pl[grp]], int(n_tr[c]),
                                         int(n_pl[c]), cost[grp], miss_track, miss_plot))
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)


def _rank_within(label: np.ndarray) -> np.ndarray:
    """Position of each element among those with the same label, in index order."""
    order = np.argsort(label, kind="stable")
    first = np.r_[0, np.flatnonzero(np.diff(label[order])) + 1]
    start = np.repeat(first, np.diff(np.r_[first, order.size]))
    rank = np.empty(label.size, np.int64)
    rank[order] = np.arange(order.size) - start
    return rank


def _solve_cluster(grp, a, b, nt, npl, cost, miss_track, miss_plot) -> np.ndarray:
    """Optimal assignment of one cluster; a, b number its tracks 0..nt-1 and
    its reports 0..npl-1."""
    # [[pairs, track-miss diagonal], [report-miss diagonal, 0]]
    C = np.full((nt + npl, npl + nt), _FORBIDDEN)
    C[a, b] = cost
    C[np.arange(nt), npl + np.arange(nt)] = miss_track
    C[nt + np.arange(npl), np.arange(npl)] = miss_plot
    C[nt:, npl:] = 0.0
    r, c = linear_sum_assignment(C)
    pair_of = np.full((nt, npl), -1, np.int64)
    pair_of[a, b] = grp
    keep = (r < nt) & (c < npl)
    sel = pair_of[r[keep], c[keep]]
    return sel[sel >= 0]
