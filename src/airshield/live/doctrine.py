"""Planners: which shots to recommend now, given the air picture.

Three swappable planners share one input (``PlanInput``, arrays over effector
rows x tracks) and one output (integer shots (E, N) to recommend now):

- ``optimal``: the static weapon-target assignment (``engage.wta``) over the
  planning horizon — minimise expected leaked value + lambda x money — then
  recommend only the shots whose launch decision falls in this cycle. Shots
  planned for later (a gun that must wait for the drone to come into range)
  hold their effector in the plan without being committed: the next plan may
  do better with what it sees then.
- ``nearest``: a fixed doctrine: every hostile track gets the nearest effector
  that can engage it now, one shot at a time, most urgent track first.
- ``missiles_first``: the same, but a missile (SAM, a fighter's missile) is
  used whenever one can engage; guns, fire groups and interceptor drones only
  where none can.

The doctrines do not look at value or cost: they engage everything hostile,
decoys included, as an operator without a planner tends to. Both planners see
the same picture and are limited by the same stock and channels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from airshield.engage.effectors import EFFECTOR_KINDS, Effectors
from airshield.engage.wta import Instance, Plan, make_instance
from airshield.engage.wta_fast import solve_fast

PLANNERS = ("optimal", "nearest", "missiles_first")
MISSILE_KINDS = ("sam_short", "sam_medium")


@dataclass(frozen=True)
class Reserve:
    """The optimal planner's missile reserve: effectors whose shot costs at least
    ``min_cost`` keep ``fraction`` of their initial stock (rounded up) for
    threats that no cheaper effector can stop (Pk >= ``cheap_pk``) — a jet
    drone, a Shahed outside the guns' reach. The cost term already makes the
    planner prefer cheap shots where they do as well; the reserve covers what
    a plan of the threats seen now cannot: the threats of the next wave."""

    fraction: float = 0.25
    min_cost: float = 100_000.0
    cheap_pk: float = 0.5

    def held(self, eff: Effectors) -> np.ndarray:
        """(E,) shots each effector row keeps back."""
        return np.where(eff.cost < self.min_cost, 0, np.ceil(self.fraction * eff.stock - 1e-9)).astype(np.int64)


@dataclass
class PlanInput:
    pk: np.ndarray  # (E, N) per-shot Pk against each track's class mix; 0 where it cannot engage
    due: np.ndarray  # (E, N) bool: the launch decision for the pair falls in this cycle
    value: np.ndarray  # (N,) expected loss if it leaks, times the survival of shots in flight
    hostile: np.ndarray  # (N,) bool: not bird- or aircraft-like (what a doctrine engages)
    engaged: np.ndarray  # (N,) bool: shots in flight at it, or a miss not yet assessed
    urgency: np.ndarray  # (N,) s to its likely target (inf: none known)
    distance: np.ndarray  # (E, N) m, effector to track now
    cost: np.ndarray  # (E,) one shot, all in
    shots: np.ndarray  # (E,) what each effector can fire within the planning horizon
    free: np.ndarray  # (E,) channels free now
    missile: np.ndarray  # (E,) bool
    t_intercept: np.ndarray | None = None  # (E, N) s from now to the intercept (inf: none)
    look_at: np.ndarray | None = None  # (N,) s from now until shots in flight are assessed (0: none)
    reserve: np.ndarray | None = None  # (E,) shots held for threats only costly effectors can stop
    cheap: np.ndarray | None = None  # (E,) bool: not subject to the reserve
    lam: float = 1.0
    look_s: float = 5.0  # kill assessment after an intercept
    cheap_pk: float = 0.5  # a cheap effector at least this good "can stop" a threat


def is_missile(eff: Effectors) -> np.ndarray:
    """Rows that fire missiles: SAMs and a fighter's missile (not its cannon)."""
    kinds = np.array([EFFECTOR_KINDS[k] for k in eff.kind.tolist()], dtype=object)
    return np.isin(kinds, MISSILE_KINDS) | np.array([w == "missile" for w in eff.weapon], bool)


def plan(name: str, p: PlanInput) -> np.ndarray:
    if name == "optimal":
        return plan_optimal(p)
    if name == "nearest":
        return plan_nearest(p, missiles_first=False)
    if name == "missiles_first":
        return plan_nearest(p, missiles_first=True)
    raise ValueError(f"unknown planner {name!r}")


def plan_optimal(p: PlanInput) -> np.ndarray:
    """WTA over the horizon; the shots due now, within the free channels.

    Effectors and threats fall into independent groups (no effector of one can
    reach a threat of another: cities hundreds of km apart); each group is
    planned on its own, and a group with no shot due now is not planned at
    all — its plan would recommend nothing yet."""
    ne, n = p.pk.shape
    x = np.zeros((ne, n), np.int64)
    cols = np.flatnonzero((p.value > 0) & (p.pk > 0).any(axis=0))
    if cols.size == 0:
        return x
    rows = np.flatnonzero((p.shots > 0) & (p.pk[:, cols] > 0).any(axis=1))
    if rows.size == 0:
        return x
    link = p.pk[np.ix_(rows, cols)] > 0
    r, c = np.nonzero(link)
    graph = coo_matrix((np.ones(r.size), (r, rows.size + c)), shape=(rows.size + cols.size,) * 2)
    _, label = connected_components(graph, directed=False)
    due_any = np.zeros(label.max() + 1, bool)
    due_any[label[r[p.due[rows[r], cols[c]]]]] = True
    for g in np.flatnonzero(due_any).tolist():
        gr, gc = rows[label[:rows.size] == g], cols[label[rows.size:] == g]
        x[np.ix_(gr, gc)] = _wta(p, gr, gc)
    now = escalate(shoot_look_shoot(np.where(p.due, x, 0), p), p)
    worth = p.value[None, :] * (1.0 - (1.0 - p.pk) ** now) - p.lam * p.cost[:, None] * now
    return commit(now, p.free, worth)


def _wta(p: PlanInput, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Shots (rows x cols) of the static plan for one group."""
    pk = p.pk[np.ix_(rows, cols)]
    shots, cost, src = p.shots[rows], p.cost[rows], np.arange(rows.size)
    if p.reserve is not None and p.cheap is not None:
        # The reserve as extra rows: a costly effector's held shots reach only
        # the threats no cheap effector can stop (pk >= cheap_pk) in this plan.
        cheap = p.cheap[rows]
        only = ~((pk >= p.cheap_pk) & (cheap & (shots > 0))[:, None]).any(axis=0)
        held = np.minimum(np.where(cheap, 0, p.reserve[rows]), shots)
        split = np.flatnonzero(held > 0)
        shots = np.concatenate([shots - held, held[split]])
        pk = np.vstack([pk, pk[split] * only[None, :]])
        cost, src = np.concatenate([cost, cost[split]]), np.concatenate([src, split])
    sol = solve_light(make_instance(p.value[cols], shots, cost, pk, p.lam))
    sub = np.zeros((rows.size, cols.size), np.int64)
    np.add.at(sub, src, sol.shots)
    return sub


def shoot_look_shoot(x: np.ndarray, p: PlanInput) -> np.ndarray:
    """Where there is time to look and shoot again before the threat arrives,
    fire one shot now (the best pair) instead of the planned salvo, and fire
    nothing more at a threat whose shots are still in flight: a further shot
    is then spent only if they miss. The static plan says how much a threat
    deserves; this says when to spend it."""
    if p.t_intercept is None:
        return x
    t_int = np.where(x > 0, p.t_intercept, np.inf).min(axis=0)
    if p.look_at is not None:
        # Shots already in flight: wait for their look while a shot fired
        # after it would still be in time.
        wait = (x.sum(axis=0) > 0) & (p.look_at > 0) & (p.look_at + t_int <= p.urgency)
        if wait.any():
            x = np.where(wait[None, :], 0, x)
    time_left = 2.0 * t_int + p.look_s <= p.urgency
    salvo = (x.sum(axis=0) > 1) & time_left
    if not salvo.any():
        return x
    x = x.copy()
    cols = np.flatnonzero(salvo)
    score = np.where(x[:, cols] > 0, p.value[cols][None, :] * p.pk[:, cols] - p.lam * p.cost[:, None], -np.inf)
    best = np.argmax(score, axis=0)
    x[:, cols] = 0
    x[best, cols] = 1
    return x


def escalate(x: np.ndarray, p: PlanInput) -> np.ndarray:
    """Cheapest effective shot first: where a costly shot (a missile) is due now
    but a cheap effector with Pk >= ``cheap_pk`` can engage now and leave time
    for the look and the costly shot after it, fire the cheap one instead. It
    kills at least as often (the missile still follows a miss) at a fraction of
    the expected cost; the static plan cannot see this, as it plans one salvo."""
    if p.cheap is None or p.t_intercept is None:
        return x
    costly = (x > 0) & ~p.cheap[:, None]
    cols = np.flatnonzero(costly.any(axis=0))
    if cols.size == 0:
        return x
    t_costly = np.where(costly[:, cols], p.t_intercept[:, cols], np.inf).min(axis=0)
    ok = (p.due[:, cols] & p.cheap[:, None] & (p.pk[:, cols] >= p.cheap_pk) & (p.free > 0)[:, None]
          & (p.t_intercept[:, cols] + p.look_s + t_costly[None, :] <= p.urgency[cols][None, :]))
    swap = ok.any(axis=0)
    if not swap.any():
        return x
    x = x.copy()
    cols, ok = cols[swap], ok[:, swap]
    worth = np.where(ok, p.value[cols][None, :] * p.pk[:, cols] - p.lam * p.cost[:, None], -np.inf)
    best = np.argmax(worth, axis=0)
    x[np.ix_(~p.cheap, cols)] = 0
    x[best, cols] = np.maximum(x[best, cols], 1)
    return x


def solve_light(inst: Instance) -> Plan:
    """The fast WTA heuristic (greedy, then local search) without its lower
    bound and large-neighbourhood rounds: a plan is needed every cycle, and on
    the 430 plans of a demo run this gave the same objective as the full
    heuristic and as the exact MILP, 4x and 1.6x faster. No time limit: the
    search runs to its local optimum, so the plan (and with it the whole
    closed loop) does not depend on the machine's speed."""
    return solve_fast(inst, time_limit=None, bound_iters=0, lns_seeds=0)


def commit(x: np.ndarray, free: np.ndarray, worth: np.ndarray) -> np.ndarray:
    """Cap each effector's shots now at its free channels, keeping the pairs
    worth most (a shot needs a channel from launch to intercept)."""
    over = np.flatnonzero(x.sum(axis=1) > free)
    if over.size == 0:
        return x
    x = x.copy()
    for e in over.tolist():
        js = np.flatnonzero(x[e])
        left = int(free[e])
        for j in js[np.argsort(-worth[e, js], kind="stable")].tolist():
            take = min(int(x[e, j]), left)
            x[e, j] = take
            left -= take
    return x


def plan_nearest(p: PlanInput, missiles_first: bool = False) -> np.ndarray:
    """One shot per unengaged hostile track from the nearest effector that can
    engage it now (a missile first, if ``missiles_first``), most urgent first."""
    ne, n = p.pk.shape
    x = np.zeros((ne, n), np.int64)
    ok = (p.pk > 0) & p.due & p.hostile[None, :] & ~p.engaged[None, :] & (p.shots > 0)[:, None]
    cols = np.flatnonzero(ok.any(axis=0))
    if cols.size == 0:
        return x
    free = np.minimum(p.free, p.shots).astype(np.int64)
    d = np.where(ok, p.distance, np.inf)
    nearest = d[:, cols].min(axis=0)
    order = cols[np.lexsort((nearest, p.urgency[cols]))]
    for j in order.tolist():
        cand = ok[:, j] & (free > 0)
        if missiles_first and (cand & p.missile).any():
            cand &= p.missile
        if not cand.any():
            continue
        i = int(np.argmin(np.where(cand, d[:, j], np.inf)))
        x[i, j] = 1
        free[i] -= 1
    return x
