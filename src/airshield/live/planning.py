"""One plan of the live chain, in two halves that may run in different places.

``PlanRequest`` is what the chain knows at the plan's instant (the picture,
the arsenal's state, shots in flight, the operator's rejections): cheap to
gather, so the chain does it under its lock between two steps. ``solve``
then does the expensive part with no access to the chain: assesses every
track against the assets, works out who can engage whom, and runs the
planner. The live picture runs ``solve`` in its planner process, so a report's
way to the display never waits on assessment or planning (nor on the GIL they
would hold in a thread); ``airshield run`` calls it in line. Either way the
answer (``Solved``: the shots to recommend, sparse, and the threat list) is
applied by ``Chain.plan_end`` and the run is the same.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from airshield import CLASSES, geo
from airshield.assess import ThreatParams, assess
from airshield.assess.assets import Assets
from airshield.engage.effectors import Effectors
from airshield.engage.feasibility import intercept, shots_available
from airshield.live.doctrine import PlanInput, plan
from airshield.live.policy import Roe
from airshield.sim.scenario import THREAT_CLASSES
from airshield.track.picture import Picture

ATTACK = np.array([c in THREAT_CLASSES for c in CLASSES])  # shahed, decoy, jet_drone, recon
UNKNOWN = np.array([c == "unknown" for c in CLASSES])


@dataclass
class PlanRequest:
    """Everything one plan needs, detached from the chain (picklable)."""

    now: float
    ids: list[str]  # the picture's TRACK ids, columns of every (E, N) array
    picture: Picture
    assets: Assets
    view: Effectors  # the effectors as the planner sees them now (stock left, channels busy)
    free: np.ndarray  # (E,) channels free now
    held: np.ndarray  # (E,) shots each row keeps back (the missile reserve)
    missile: np.ndarray  # (E,) bool
    cheap: np.ndarray  # (E,) bool: not subject to the reserve
    killed: np.ndarray  # (N,) bool: an engagement already reported it defeated
    age: np.ndarray  # (N,) s since the chain first saw the track
    rejected: tuple[np.ndarray, np.ndarray]  # (effector rows, columns) the operator said no to
    survival: np.ndarray  # (N,) chance each survives the shots flying at it
    look_at: np.ndarray  # (N,) s until shots in flight are assessed (0: none)
    engaged: np.ndarray  # (N,) bool
    threat_params: ThreatParams
    roe: Roe
    lam: float
    horizon_s: float
    replan_s: float
    look_s: float
    cheap_pk: float


@dataclass
class Solved:
    """A solved plan, sparse: one entry per (effector row, track) with shots,
    in ``np.nonzero`` order, plus the threat list of the same picture."""

    e: np.ndarray  # (K,) effector rows
    j: np.ndarray  # (K,) columns into the request's ids
    shots: np.ndarray  # (K,)
    pk: np.ndarray  # (K,) per shot
    value: np.ndarray  # (K,) expected loss of the track if it leaks
    t_launch: np.ndarray  # (K,) s from the plan's time
    t_intercept: np.ndarray  # (K,)
    point: np.ndarray  # (K, 3) ECEF intercept point
    threats: dict  # track id -> threat-list entry
    stage_s: dict  # wall / CPU seconds of assess and solve

    @classmethod
    def empty(cls) -> "Solved":
        none = np.zeros(0)
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), none, none, none, none,
                   np.zeros((0, 3)), {}, {})


def threat_list(ids, el, tti, tgt, p_tgt, p_class, killed, asset_names) -> dict:
    """The threats the display lists: tracks most likely of an attack class,
    and unknowns heading for an asset. Birds and aircraft are not threats,
    whatever small expected loss their class mix carries."""
    info = {}
    best = np.argmax(p_class, axis=1) if len(ids) else np.zeros(0, int)
    aimed = (tgt >= 0) & np.isfinite(tti) & (el > 0)
    for j in np.flatnonzero((ATTACK[best] | (UNKNOWN[best] & aimed)) & ~killed).tolist():
        k = int(tgt[j])
        info[ids[j]] = {"target": asset_names[k] if k >= 0 else None,
                        "p_target": round(float(p_tgt[j, k]), 4) if k >= 0 else 0.0,
                        "tti_s": round(float(tti[j]), 1) if np.isfinite(tti[j]) else None,
                        "expected_loss": round(float(el[j]), 2),
                        "class": CLASSES[int(best[j])],
                        "confidence": round(float(p_class[j].max()), 4)}
    return info


def prepare(req: PlanRequest):
    """Assess and work out feasibility: ``(PlanInput, Intercepts, threats)``;
    the first two are None when there is nothing to plan (no track, no effector)."""
    pic, eff, n = req.picture, req.view, len(req.ids)
    if n and len(req.assets):
        a = assess(pic.ecef, pic.vel_enu, pic.p_class, req.assets, pos_cov_enu=pic.cov_enu,
                   params=req.threat_params)
        el, tti, tgt, p_tgt = a.expected_loss, a.time_to_target, a.likely_target, a.p_target
    else:
        el, tti, tgt, p_tgt = np.zeros(n), np.full(n, np.inf), np.full(n, -1), np.zeros((n, 0))
    threats = threat_list(req.ids, el, tti, tgt, p_tgt, pic.p_class, req.killed, req.assets.names)
    if n == 0 or len(eff) == 0:
        return None, None, threats
    vel = np.stack(geo.enu_to_ecef_vectors(pic.vel_enu[:, 0], pic.vel_enu[:, 1], pic.vel_enu[:, 2],
                                           pic.lat, pic.lon), axis=-1).reshape(n, 3)
    icp = intercept(eff, pic.ecef, vel, tti, req.now, p_class=pic.p_class)
    hostile = ((pic.p_class[:, ATTACK].sum(axis=1) >= req.roe.min_p_hostile) & (req.age >= req.roe.min_age_s)
               & (pic.status == 0) & ~icp.withheld & ~req.killed)
    pk = np.where(hostile[None, :], icp.pk_eff, 0.0)
    pk[req.rejected] = 0.0
    due = icp.feasible & (icp.t_launch - eff.reaction[:, None] <= req.replan_s + 1e-9)
    dist = np.linalg.norm(eff.ecef[:, None, :] - pic.ecef[None, :, :], axis=-1)
    shots = shots_available(eff, req.horizon_s)
    # shots of this plan that come out of the reserve (the stock above it goes first)
    held = shots - np.minimum(shots, eff.stock - np.minimum(req.held, eff.stock))
    inp = PlanInput(pk=pk, due=due, value=np.where(req.killed, 0.0, el * req.survival), hostile=hostile,
                    engaged=req.engaged, urgency=tti, distance=dist, cost=eff.cost,
                    shots=shots, free=req.free, missile=req.missile, t_intercept=icp.t_intercept,
                    look_at=req.look_at, lam=req.lam, look_s=req.look_s, reserve=held,
                    cheap=req.cheap, cheap_pk=req.cheap_pk, salvo=eff.salvo, t_launch=icp.t_launch,
                    t_last=icp.t_last)
    return inp, icp, threats


def solve(planner: str, req: PlanRequest) -> Solved:
    """Assess, plan and keep only what the chain needs to apply the plan."""
    w0, c0 = time.perf_counter(), time.process_time()
    inp, icp, threats = prepare(req)
    w1, c1 = time.perf_counter(), time.process_time()
    sol = Solved.empty()
    if inp is not None:
        x = plan(planner, inp)
        e, j = np.nonzero(x)
        sol = Solved(e=e, j=j, shots=x[e, j], pk=inp.pk[e, j], value=inp.value[j], t_launch=icp.t_launch[e, j],
                     t_intercept=icp.t_intercept[e, j], point=icp.point[e, j], threats={}, stage_s={})
    w2, c2 = time.perf_counter(), time.process_time()
    sol.threats = threats
    sol.stage_s = {"assess": w1 - w0, "assess_cpu": c1 - c0, "solve": w2 - w1, "solve_cpu": c2 - c1}
    return sol
