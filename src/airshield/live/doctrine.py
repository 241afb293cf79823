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

from dataclasses import dataclass, replace

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from airshield.engage.effectors import EFFECTOR_KINDS, Effectors
from airshield.engage.wta import Instance, Plan, make_instance
from airshield.engage.wta_fast import solve_fast
from airshield.engage.wta_pairs import useful_pairs
from airshield.engage.wta_patterns import enumerate_patterns

PLANNERS = ("optimal", "nearest", "missiles_first")
MISSILE_KINDS = ("sam_short", "sam_medium")
LIGHT_PATTERNS = (2_000, 12, 50_000)  # per-threat cap, most pairs listed, total budget (solve_light)


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
    salvo: np.ndarray | None = None  # (E,) most shots of one effector at one track per engagement
    t_launch: np.ndarray | None = None  # (E, N) s from now to the launch the intercept needs
    t_last: np.ndarray | None = None  # (E, N) s to the pair's last intercept (no rule uses it yet)
    timing: "Timing | None" = None  # the optimal planner's timing rules (None: defaults)
    lam: float = 1.0
    look_s: float = 5.0  # kill assessment after an intercept
    cheap_pk: float = 0.5  # a cheap effector at least this good "can stop" a threat


@dataclass(frozen=True)
class Timing:
    """When the optimal planner spends a shot it has planned.

    - A weapon is guided onto its track, so the track must still be held when
      it arrives: on mass-raid-800 interceptor flights under 3 min defeated
      their drone 50-70 % of the time, longer ones 36-40 % (the track dropped or
      drifted off the drone). The plan weighs a pair's Pk by
      ``exp(-max(0, flight - flight_free_s) / flight_tau_s)``, and a cheap shot
      with a flight longer than ``defer_flight_s`` waits while the threat keeps
      at least ``defer_margin_s`` before its target: the next plans see it
      closer, with a shorter flight.
    - Costly shots (the reserve's ``cheap`` is False: missiles) are held while
      a cheap effector with Pk >= cheap_pk can still engage the threat and
      leave time for a look and ``hold_margin_s`` for the last layer's
      missile after a miss: the missile is then spent only on what the cheap shot let through.
    """

    flight_free_s: float = 120.0
    flight_tau_s: float = 150.0
    defer_flight_s: float = 180.0
    defer_margin_s: float = 300.0
    hold_margin_s: float = 60.0


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
    p_all, p = p, _discounted(p)
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
    now = hold_costly(defer_long(now, p_all), p_all, planned=x)
    worth = p.value[None, :] * (1.0 - (1.0 - p.pk) ** now) - p.lam * p.cost[:, None] * now
    return commit(now, p.free, worth)


def _flight(p: PlanInput) -> np.ndarray | None:
    if p.t_launch is None or p.t_intercept is None:
        return None
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(p.t_intercept) & np.isfinite(p.t_launch), p.t_intercept - p.t_launch, 0.0)


def _discounted(p: PlanInput) -> PlanInput:
    """The plan's Pk: each pair's Pk times the chance the track is still held
    when the weapon arrives (``Timing``)."""
    flight = _flight(p)
    if flight is None:
        return p
    tm = p.timing or Timing()
    hold = np.exp(-np.maximum(flight - tm.flight_free_s, 0.0) / tm.flight_tau_s)
    return replace(p, pk=p.pk * hold)


def defer_long(x: np.ndarray, p: PlanInput) -> np.ndarray:
    """A cheap shot with a long flight waits while the threat is far from its
    target: a later plan fires it with a shorter flight (``Timing``)."""
    flight = _flight(p)
    if flight is None or p.cheap is None:
        return x
    tm = p.timing or Timing()
    with np.errstate(invalid="ignore"):  # inf - inf: no target known, no intercept
        wait = ((x > 0) & p.cheap[:, None] & (flight > tm.defer_flight_s)
                & (p.urgency[None, :] - p.t_intercept > tm.defer_margin_s))
    return np.where(wait, 0, x) if wait.any() else x


def hold_costly(x: np.ndarray, p: PlanInput, planned: np.ndarray | None = None) -> np.ndarray:
    """Hold a costly shot due now while a cheap effector can still engage the
    threat, with time for a look and the costly shot after a miss (``Timing``),
    and has room for it: each of its free channels (at least one) answers for
    one held threat per plan, unless the plan (``planned``, all shots over the
    horizon) already gives it this threat. Most urgent threats first."""
    if p.cheap is None or p.t_intercept is None:
        return x
    tm = p.timing or Timing()
    costly = (x > 0) & ~p.cheap[:, None]
    cols = np.flatnonzero(costly.any(axis=0))
    if cols.size == 0:
        return x
    # the missile after a miss is the last layer's (a SAM at the target engages
    # within seconds), so what must fit is the cheap shot, its look and a margin
    cheap_ok = (p.cheap[:, None] & (p.pk[:, cols] >= p.cheap_pk) & (p.shots > 0)[:, None]
                & (p.t_intercept[:, cols] + p.look_s + tm.hold_margin_s <= p.urgency[cols][None, :]))
    if not cheap_ok.any():
        return x
    mine = np.zeros(cheap_ok.shape, bool) if planned is None else planned[:, cols] > 0
    # each free channel (at least one) answers for one held threat per plan
    room = np.maximum(p.free, 1).astype(np.int64)
    x = x.copy()
    for k in np.argsort(p.urgency[cols], kind="stable").tolist():
        # an effector the plan already gives this threat needs no more room
        cand = np.flatnonzero(cheap_ok[:, k] & ((room > 0) | mine[:, k]))
        if cand.size == 0:
            continue
        c = cand[np.argmax(p.pk[cand, cols[k]])]
        room[c] -= 0 if mine[c, k] else 1
        x[~p.cheap, cols[k]] = 0
    return x


def _wta(p: PlanInput, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Shots (rows x cols) of the static plan for one group."""
    pk = p.pk[np.ix_(rows, cols)]
    shots, cost, src = p.shots[rows], p.cost[rows], np.arange(rows.size)
    salvo = None if p.salvo is None else p.salvo[rows]
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
        if salvo is not None:
            salvo = np.concatenate([salvo, salvo[split]])
    sol = solve_light(make_instance(p.value[cols], shots, cost, pk, p.lam, salvo=salvo))
    sub = np.zeros((rows.size, cols.size), np.int64)
    np.add.at(sub, src, sol.shots)
    # a row and its reserve row are one effector: one salvo at a threat in all
    return sub if p.salvo is None else np.minimum(sub, p.salvo[rows][:, None])


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
    pairs = useful_pairs(inst)
    # Short pattern lists: a threat in a dense defence (20+ effectors can reach
    # it) is left to the shot-count moves instead of listing its patterns.
    pat = enumerate_patterns(pairs, cap=LIGHT_PATTERNS[0], max_pairs=LIGHT_PATTERNS[1], budget=LIGHT_PATTERNS[2])
    return solve_fast(inst, time_limit=None, bound_iters=0, lns_seeds=0, pairs=pairs, patterns=pat)


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
