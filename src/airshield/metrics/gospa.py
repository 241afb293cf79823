"""GOSPA with alpha = 2 for every time step of a run at once.

Rahmathullah, Garcia-Fernandez & Svensson (2017), "Generalized optimal
sub-pattern assignment metric". With alpha = 2, for truths X and tracks Y at one
step::

    d = ( min over partial assignments  sum_assigned d_ij^p
          + c^p/2 * (#unassigned truths + #unassigned tracks) )^(1/p)

where an assigned pair farther apart than c is no better than leaving both
unassigned (c^p = c^p/2 + c^p/2). So only pairs with d_ij < c can ever help, and
the optimal assignment minimises sum (d_ij^p - c^p) over those pairs alone: a
sparse problem. We find the candidate pairs with k-d trees over runs of steps
(the step index is a fourth coordinate spaced wider than c, so pairs never cross
steps), split the candidate graph into connected components, settle the star
components (one truth or one track) in closed form with numpy and hand only the
rest to ``scipy.optimize.linear_sum_assignment``, one small dense problem each.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

C_M = 1000.0  # cut-off distance c, metres (contract)
P = 2.0  # order p (contract)
BATCH_POINTS = 2048  # truth + track samples per k-d tree


@dataclass
class GospaSteps:
    """Per-step GOSPA parts (each in units of d^p, i.e. m^p) and the assignment.

    ``pair_truth``/``pair_track`` index the truth and track samples given to
    :func:`gospa_steps`; every pair has ``pair_dist`` < c.
    """

    c: float
    p: float
    truth_count: np.ndarray  # (S,) int
    track_count: np.ndarray  # (S,) int
    assigned_count: np.ndarray  # (S,) int
    localisation: np.ndarray  # (S,) sum of d^p over assigned pairs
    missed: np.ndarray  # (S,) c^p/2 * missed truths
    false: np.ndarray  # (S,) c^p/2 * false tracks
    pair_truth: np.ndarray  # (K,) int
    pair_track: np.ndarray  # (K,) int
    pair_dist: np.ndarray  # (K,) metres

    @property
    def distance(self) -> np.ndarray:
        """GOSPA distance per step (metres)."""
        return (self.localisation + self.missed + self.false) ** (1.0 / self.p)


def candidate_pairs(x: np.ndarray, x_step: np.ndarray, y: np.ndarray, y_step: np.ndarray,
                    c: float = C_M, batch: int = BATCH_POINTS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (truth, track) sample pairs of the same step closer than ``c``.

    ``x`` (N, 3), ``y`` (M, 3) positions; ``x_step``/``y_step`` integer step
    indices. Returns index arrays ``i``, ``j`` and distances ``d`` (metres).
    """
    empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, float))
    if len(x) == 0 or len(y) == 0:
        return empty
    n_steps = int(max(x_step.max(), y_step.max())) + 1
    ox = np.argsort(x_step, kind="stable")
    oy = np.argsort(y_step, kind="stable")
    bx = np.searchsorted(x_step[ox], np.arange(n_steps + 1))
    by = np.searchsorted(y_step[oy], np.arange(n_steps + 1))
    # Runs of consecutive steps holding about ``batch`` points each: small trees
    # are cheap to build and query, and few runs keep the Python loop short.
    cuts = np.unique(np.r_[0, np.searchsorted(bx + by, np.arange(batch, len(x) + len(y), batch)), n_steps])
    spacing = 2.0 * c + 1.0
    found_i, found_j = [], []
    for s0, s1 in zip(cuts[:-1], cuts[1:]):
        a, b = ox[bx[s0]:bx[s1]], oy[by[s0]:by[s1]]
        if len(a) == 0 or len(b) == 0:
            continue
        # The step is a 4th coordinate spaced 2c apart: one tree per run, and
        # no pair of different steps can come within c.
        tx = cKDTree(np.column_stack([x[a], (x_step[a] - s0) * spacing]))
        ty = cKDTree(np.column_stack([y[b], (y_step[b] - s0) * spacing]))
        sdm = tx.sparse_distance_matrix(ty, c, output_type="ndarray")
        found_i.append(a[sdm["i"]])
        found_j.append(b[sdm["j"]])
    if not found_i:
        return empty
    i = np.concatenate(found_i).astype(np.int64)
    j = np.concatenate(found_j).astype(np.int64)
    # Recompute in 3-D; the contract counts only pairs strictly closer than c.
    d = np.linalg.norm(x[i] - y[j], axis=1)
    keep = d < c
    return i[keep], j[keep], d[keep]


def optimal_pairs(i: np.ndarray, j: np.ndarray, d: np.ndarray, n_x: int, n_y: int,
                  c: float = C_M, p: float = P) -> np.ndarray:
    """Indices into the candidate pairs (``i``, ``j``, ``d``, all d < c) that make
    an assignment minimising sum (d^p - c^p), i.e. the GOSPA assignment."""
    if len(i) == 0:
        return np.empty(0, np.int64)
    cost = d ** p - c ** p  # < 0: every candidate pair beats leaving both unassigned
    # A pair whose truth and track have no other candidate is assigned outright:
    # that is most of them, and it keeps the graph below small.
    lone = (np.bincount(i, minlength=n_x)[i] == 1) & (np.bincount(j, minlength=n_y)[j] == 1)
    chosen = [np.flatnonzero(lone)]
    rest = np.flatnonzero(~lone)
    if len(rest):
        ri, n_r = _compact(i[rest], n_x)
        rj, n_c = _compact(j[rest], n_y)
        graph = coo_matrix((np.ones(len(rest), np.int8), (ri, n_r + rj)), shape=(n_r + n_c,) * 2)
        ncomp, label = connected_components(graph, directed=False)
        comp = label[ri]
        rows_in = np.bincount(label[:n_r], minlength=ncomp)
        cols_in = np.bincount(label[n_r:], minlength=ncomp)
        # A star (one truth or one track) keeps just its cheapest pair.
        star = (rows_in[comp] == 1) | (cols_in[comp] == 1)
        s = np.flatnonzero(star)
        order = s[np.lexsort((cost[rest[s]], comp[s]))]
        first = np.ones(len(order), bool)
        first[1:] = comp[order[1:]] != comp[order[:-1]]
        chosen.append(rest[order[first]])
        g = np.flatnonzero(~star)
        if len(g):
            r_loc = _rank_in_component(label[:n_r])[ri[g]]
            c_loc = _rank_in_component(label[n_r:])[rj[g]]
            chosen.append(rest[g[_solve_components(comp[g], r_loc, c_loc, cost[rest[g]],
                                                   rows_in, cols_in)]])
    return np.concatenate(chosen)


def _compact(nodes: np.ndarray, n: int) -> tuple[np.ndarray, int]:
    """Renumber the nodes in use 0..k-1 (order kept); returns the new ids and k."""
    used = np.zeros(n, bool)
    used[nodes] = True
    new_id = np.cumsum(used) - 1
    return new_id[nodes], int(used.sum())


def _rank_in_component(label: np.ndarray) -> np.ndarray:
    """Rank of each node within its component (0, 1, ... in node order)."""
    u = np.argsort(label, kind="stable")
    lab = label[u]
    rank = np.empty(len(label), np.int64)
    rank[u] = np.arange(len(u)) - np.searchsorted(lab, lab)
    return rank


def _solve_components(comp, r_loc, c_loc, cost, rows_in, cols_in) -> np.ndarray:
    """linear_sum_assignment on every component of the given edges; returns the
    indices of the chosen edges. Components of one shape share a dense
    (count, rows, cols) cost array built in one go (0 = leave unassigned, where
    there is no candidate pair), so the Python loop only calls the solver."""
    at, n_comp = _compact(comp, len(rows_in))
    comps = np.zeros(n_comp, np.int64)
    comps[at] = comp
    shape = np.column_stack([rows_in[comps], cols_in[comps]])
    shapes, group = np.unique(shape, axis=0, return_inverse=True)
    group = group.ravel()
    og = np.argsort(group, kind="stable")
    pos = np.empty(len(comps), np.int64)  # position of each component in its group
    pos[og] = np.arange(len(comps)) - np.searchsorted(group[og], group[og])
    e_group, e_pos = group[at], pos[at]
    edge = np.arange(len(comp))
    picked = []
    for g, (nr, nc) in enumerate(shapes):
        sel = np.flatnonzero(e_group == g)
        count = int(np.sum(group == g))
        rr, cc = r_loc[sel], c_loc[sel]
        if nr > nc:  # solve the transpose: then the rows are 0..n-1, in order
            nr, nc, rr, cc = nc, nr, cc, rr
        m = np.zeros((count, nr, nc))
        m[e_pos[sel], rr, cc] = cost[sel]
        ei = np.full((count, nr, nc), -1, np.int64)
        ei[e_pos[sel], rr, cc] = edge[sel]
        cols = np.empty((count, nr), np.int64)
        for q in range(count):
            cols[q] = linear_sum_assignment(m[q])[1]
        out = ei[np.arange(count)[:, None], np.arange(nr)[None, :], cols]
        picked.append(out[out >= 0])
    return np.concatenate(picked)


def gospa_steps(x: np.ndarray, x_step: np.ndarray, y: np.ndarray, y_step: np.ndarray,
                n_steps: int, c: float = C_M, p: float = P) -> GospaSteps:
    """GOSPA (alpha = 2) at each of ``n_steps`` steps.

    ``x`` (N, 3) truth positions and ``y`` (M, 3) track positions in one
    Cartesian frame (metres); ``x_step``/``y_step`` their step indices.
    """
    x = np.asarray(x, float).reshape(-1, 3)
    y = np.asarray(y, float).reshape(-1, 3)
    x_step = np.asarray(x_step, np.int64)
    y_step = np.asarray(y_step, np.int64)
    i, j, d = candidate_pairs(x, x_step, y, y_step, c)
    sel = optimal_pairs(i, j, d, len(x), len(y), c, p)
    pi, pj, pd = i[sel], j[sel], d[sel]
    nx = np.bincount(x_step, minlength=n_steps)
    ny = np.bincount(y_step, minlength=n_steps)
    k = np.bincount(x_step[pi], minlength=n_steps)
    loc = np.bincount(x_step[pi], weights=pd ** p, minlength=n_steps)
    half = c ** p / 2.0
    return GospaSteps(c=c, p=p, truth_count=nx, track_count=ny, assigned_count=k,
                      localisation=loc, missed=half * (nx - k), false=half * (ny - k),
                      pair_truth=pi, pair_track=pj, pair_dist=pd)


def gospa(x, y, c: float = C_M, p: float = P) -> tuple[float, float, float, float]:
    """GOSPA between one set of truths ``x`` (N, 3) and tracks ``y`` (M, 3):
    (distance, localisation, missed, false), the parts in units of d^p."""
    x = np.asarray(x, float).reshape(-1, 3)
    y = np.asarray(y, float).reshape(-1, 3)
    g = gospa_steps(x, np.zeros(len(x), np.int64), y, np.zeros(len(y), np.int64), 1, c, p)
    return (float(g.distance[0]), float(g.localisation[0]), float(g.missed[0]), float(g.false[0]))
