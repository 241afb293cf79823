"""Engagement bookkeeping and stochastic outcomes.

The planner sees tracks; the world is truth. This module keeps the two apart:

- ``Arsenal`` holds what each effector has left: stock, and one release time per
  channel (a channel is tied up from the approval until its weapon meets the
  threat, and at least one launch interval). ``view(now)`` gives the planner an
  ``Effectors`` with ``stock`` and ``busy`` as they are now.
- ``Engagement`` is one approved recommendation in flight: which effector, how
  many shots, at which track, when it should meet it.
- ``resolve`` settles the engagements whose intercept time has come, all at
  once: the weapon is guided onto the track (its position now, or the planned
  point if the track was dropped); the truth object nearest that aim point is
  hit if it lies within the kill radius (the effector's reach plus a terminal
  guidance basket), with probability ``1 - (1 - pk)^shots`` where pk is the
  effector's Pk against the object's TRUE class. A decoy tracked as a Shahed is
  killed at the decoy's Pk; a track on a bird finds nothing to kill.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from airshield import geo
from airshield.assess.assets import Assets
from airshield.engage.effectors import Effectors


@dataclass
class OutcomeParams:
    # A guided weapon acquires its target within this distance of where the
    # track puts it (track error ~100 m, seeker/fire-control basket a few
    # hundred metres); added to the effector's own reach (a fire group's guns).
    kill_radius_m: float = 300.0
    # Kill assessment: a miss is known this long after the intercept time, and
    # only then may the threat be engaged again (shoot-look-shoot).
    look_s: float = 5.0


@dataclass
class Engagement:
    """One approved recommendation: ``shots`` of effector row ``effector`` at ``track``."""

    id: str
    rec: str
    effector: int
    track: str
    shots: int
    pk: float  # planned per-shot Pk against the track's class mix
    cost: float  # all shots
    t_approved: float
    t_launch: float
    t_intercept: float
    point: np.ndarray  # planned intercept point, ECEF (the aim if the track is lost)
    state: str = "flying"  # flying -> looking (a miss, until the look) -> done
    result: str | None = None  # defeated | missed | lost
    truth: str | None = None

    @property
    def survival(self) -> float:
        """The planner's view while it flies: the chance the threat survives it."""
        return (1.0 - self.pk) ** self.shots


class Arsenal:
    """Stock and channels of every effector row, as arrays."""

    def __init__(self, eff: Effectors):
        self.eff = eff
        self.stock = eff.stock.astype(np.int64).copy()
        cmax = int(max(eff.channels.max(initial=1), 1))
        ch = np.arange(cmax)[None, :]
        # Channels that do not exist are never free; ones the scenario marks busy
        # are released at the effector's ready_t.
        self.release = np.where(ch < eff.channels[:, None], -np.inf, np.inf)
        busy = ch < eff.busy[:, None]
        self.release = np.where(busy & (ch < eff.channels[:, None]), eff.ready_t[:, None], self.release)
        self.shots = np.zeros(len(eff), np.int64)
        self.spent = np.zeros(len(eff))

    def free(self, now: float) -> np.ndarray:
        """(E,) channels free at ``now``."""
        return (self.release <= now + 1e-9).sum(axis=1)

    def view(self, now: float) -> Effectors:
        """The effectors as the planner must see them at ``now``."""
        free = self.free(now)
        return dataclasses.replace(self.eff, stock=self.stock.copy(),
                                   busy=np.maximum(self.eff.channels - free, 0))

    def fire(self, e: int, shots: int, now: float, until: float) -> int:
        """Commit up to ``shots`` of row ``e`` (one channel each) until ``until``;
        returns how many were committed (0 when no stock or no free channel)."""
        salvo = shots if self.eff.salvo is None else int(self.eff.salvo[e])
        n = int(min(shots, salvo, self.stock[e], self.free(now)[e]))
        if n <= 0:
            return 0
        idle = np.flatnonzero(self.release[e] <= now + 1e-9)[:n]
        self.release[e, idle] = until
        self.stock[e] -= n
        self.shots[e] += n
        self.spent[e] += n * float(self.eff.cost[e])
        return n


@dataclass
class Resolution:
    """What ``resolve`` found for each due engagement (arrays, one row each)."""

    killed: np.ndarray  # bool
    truth_row: np.ndarray  # int, -1 where nothing was within reach
    distance_m: np.ndarray  # from the aim point to the nearest truth object
    p_kill: np.ndarray
    lost: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # track gone: aimed at the plan


def resolve(engs: list[Engagement], aim: np.ndarray, lost: np.ndarray, eff: Effectors,
            truth_ecef: np.ndarray, truth_cls: np.ndarray, alive: np.ndarray,
            rng: np.random.Generator, params: OutcomeParams) -> Resolution:
    """Settle due engagements against truth, all at once.

    ``aim`` (M, 3) ECEF aim points; ``truth_ecef`` (N, 3), ``truth_cls`` (N,)
    and ``alive`` (N,) the truth now. One uniform draw per engagement, in list
    order, whatever happens: the random stream does not depend on geometry.
    """
    m = len(engs)
    u = rng.random(m)
    rows_alive = np.flatnonzero(alive)
    if m == 0:
        z = np.zeros(0)
        return Resolution(np.zeros(0, bool), np.zeros(0, np.int64), z, z, np.zeros(0, bool))
    e = np.array([g.effector for g in engs], np.int64)
    shots = np.array([g.shots for g in engs], np.int64)
    if rows_alive.size:
        dist, k = cKDTree(truth_ecef[rows_alive]).query(aim, k=1)
        row = rows_alive[k]
    else:
        dist, row = np.full(m, np.inf), np.full(m, -1, np.int64)
    acquire = params.kill_radius_m if eff.acquire is None else eff.acquire[e]
    within = dist <= eff.reach[e] + acquire
    pk_true = np.where(within, eff.pk[e, truth_cls[np.maximum(row, 0)]], 0.0)
    p_kill = 1.0 - (1.0 - pk_true) ** shots
    killed = u < p_kill
    # Two engagements on the same object in one step: the first kill counts.
    if killed.sum() > 1:
        seen: set[int] = set()
        for i in np.flatnonzero(killed).tolist():
            if int(row[i]) in seen:
                killed[i] = False
            seen.add(int(row[i]))
    return Resolution(killed, np.where(within, row, -1), dist, p_kill, np.asarray(lost, bool))


def aim_points(engs: list[Engagement], track_index: dict[str, int], pic,
               handover_m: float = 3_000.0) -> tuple[np.ndarray, np.ndarray]:
    """Where each weapon is guided: its track flown on to the intercept time
    (ECEF). Where the tracker has dropped that track, the weapon is handed over
    to the live track nearest the planned intercept point (within
    ``handover_m`` there: the same drone, re-initiated under a new number, as
    an operator would re-tag it); with none that close it flies to the planned
    point (``lost``)."""
    k = np.array([track_index.get(g.track, -1) for g in engs], np.int64)
    aim = np.array([g.point for g in engs], float).reshape(-1, 3)
    t_int = np.array([g.t_intercept for g in engs], float)
    if len(pic):
        vel = np.stack(geo.enu_to_ecef_vectors(pic.vel_enu[:, 0], pic.vel_enu[:, 1], pic.vel_enu[:, 2],
                                               pic.lat, pic.lon), axis=-1).reshape(-1, 3)
        gone = np.flatnonzero(k < 0)
        if gone.size and handover_m > 0:
            # every live track flown on to each lost engagement's intercept time
            at = pic.ecef[None, :, :] + vel[None, :, :] * (t_int[gone] - pic.t)[:, None, None]
            d = np.linalg.norm(at - aim[gone][:, None, :], axis=-1)
            near = np.argmin(d, axis=1)
            ok = d[np.arange(gone.size), near] <= handover_m
            k[gone[ok]] = near[ok]
        have = k >= 0
        kk = k[have]
        aim[have] = pic.ecef[kk] + vel[kk] * (t_int[have] - pic.t)[:, None]
    return aim, k < 0


def impact_losses(lat, lon, cls, assets: Assets, lethality: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For drones that fell at (lat, lon): the asset each fell in (nearest whose
    radius holds it; -1 for none) and the value lost (asset value x class lethality)."""
    n, na = np.size(lat), len(assets)
    if n == 0 or na == 0:
        return np.full(n, -1), np.zeros(n)
    d = np.asarray(geo.geodesic_distance_m(np.reshape(lat, (-1, 1)), np.reshape(lon, (-1, 1)),
                                           assets.lat[None, :], assets.lon[None, :]), float).reshape(n, na)
    d = np.where(d <= assets.radius[None, :], d, np.inf)
    asset = np.where(np.isfinite(d).any(axis=1), np.argmin(d, axis=1), -1)
    lost = np.where(asset >= 0, assets.value[np.maximum(asset, 0)], 0.0) * lethality[np.asarray(cls)]
    return asset, lost


def in_flight(active: list[Engagement], col: dict[str, int], n: int, now: float, look_s: float):
    """Per track of the plan (``col``: track id -> column): the chance it
    survives the shots flying at it, seconds until the FIRST of them is
    assessed (0: none), and whether it is engaged at all (shots flying, or a
    miss not yet assessed).

    The first look, not the last, is what a further shot should wait for: it
    either ends the threat or tells the next plan what is still flying at it.
    (Waiting for the last look let a missile follow a missile 2 s later while
    a fire group's slow intercept, 15 minutes out, was pending.)"""
    survival, look_at, engaged = np.ones(n), np.full(n, np.inf), np.zeros(n, bool)
    for g in active:
        j = col.get(g.track)
        if j is not None:
            engaged[j] = True
            if g.state == "flying":
                survival[j] *= g.survival
            look_at[j] = min(look_at[j], max(g.t_intercept + look_s - now, 0.0))
    return survival, np.where(engaged, look_at, 0.0), engaged
