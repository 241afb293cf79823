"""The live chain: sense -> track -> assess -> plan -> recommend -> approve ->
engage -> outcome, one truth step at a time.

``Chain`` owns a ``Simulation`` (truth), the scenario's sensors, a streaming
``Tracker``, the assets and the effectors. Each ``step``:

1. settles the engagements whose intercept time falls in this step against
   truth (``outcome.resolve``): a kill ends the object (``sim.defeat``);
2. observes the step with the sensors; reports reach the tracker at their
   arrival time (``t_rx`` = t + delay for crowd and relayed reports);
3. flies the truth on; attack drones that reach their target are impacts,
   costing the value of the asset they fall in (times their class lethality);
4. updates the tracker to the new time;
5. every ``replan_s``: gathers what a plan needs (``live.planning``), which
   assesses the tracks, works out who can engage whom (``engage.feasibility``)
   and plans (``live.doctrine``), in line or in another process; then emits
   the shots due now as recommendations and puts each new one to the approval
   policy.

Nothing is fired without an approval event: the policy stands in for the
operator (``approve_all``, ``cost_cap``) or waits for ``approve()`` (``manual``).
The planner sees only tracks; outcomes are drawn against truth from a seeded
random stream of their own, so a run is reproducible from its seed.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from airshield import CLASSES
from airshield.assess import ThreatParams, load_assets
from airshield.engage.effectors import load_effectors
from airshield.errors import InputError
from airshield.io.records import Detections
from airshield.io.run import sensors_from_records
from airshield.live.doctrine import PLANNERS, Reserve, is_missile
from airshield.live.outcome import (Arsenal, OutcomeParams, aim_points, impact_losses, in_flight,
                                   resolve)
from airshield.live.desk import Desk
from airshield.live.planning import PlanRequest, Solved, solve
from airshield.live.policy import Roe, make_policy
from airshield.live.snapshot import THREAT_KEYS, Snapshot, track_ids
from airshield.sim.engine import HIT_T, Simulation
from airshield.sim.run import build_suite
from airshield.sim.scenario import THREAT_CLASSES, Scenario, load_scenario
from airshield.track.config import TrackerConfig
from airshield.track.picture import Picture
from airshield.track.tracker import Tracker


@dataclass
class PlanJob:
    """One plan set up at ``now``: its assessment and solve
    (``planning.solve(planner, inp)``) may run elsewhere (another process)
    while the chain steps on; ``Chain.plan_end`` applies the answer."""

    now: float
    ids: list[str]
    inp: PlanRequest
    planner: str


@dataclass
class _Truth:
    """Truth counters for the summary (simulation only)."""

    defeated: dict = field(default_factory=dict)  # class -> count
    leaked: dict = field(default_factory=dict)
    value_lost: float = 0.0


def closed_loop_tracker(**settings) -> TrackerConfig:
    """The tracker settings of the closed loop: the defaults, without dead
    reckoning out of cover (TrackerConfig.dead_reckon_s). The engagement side
    does not yet treat a dead-reckoned track as one: an interceptor in flight
    aims at its carried position as at a tracked one (``aim_points``), and the
    tracker hears nothing of kills, so a drone defeated beyond every sensor's
    reach would fly on in the picture. With it on, the whole-night comparison
    moved (optimal 724 defeated against nearest's 731; NOTES.md, session 6)."""
    return TrackerConfig(**{"dead_reckon_s": None, **settings})


class Chain:
    def __init__(self, scenario: str | Scenario, *, seed: int | None = None, policy: str = "approve_all",
                 cost_cap: float | None = None, planner: str = "optimal", replan_s: float = 2.0,
                 duration_s: float | None = None, lam: float = 1.0, horizon_s: float = 300.0,
                 tracker_config: TrackerConfig | None = None, outcome: OutcomeParams | None = None,
                 threat_params: ThreatParams | None = None, roe: Roe | None = None,
                 reserve: Reserve | None = None):
        scn = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        if planner not in PLANNERS:
            raise InputError(f"unknown planner {planner!r} (use one of {', '.join(PLANNERS)})", field="--planner")
        if not (math.isfinite(replan_s) and replan_s > 0):
            raise InputError(f"must be a positive number of seconds, got {replan_s}", field="replan_s")
        self.scenario, self.planner, self.replan_s = scn, planner, float(replan_s)
        self.lam, self.horizon_s = float(lam), float(horizon_s)
        self.policy = make_policy(policy, cost_cap)
        self.outcome = outcome or OutcomeParams()
        self.roe = roe or Roe()
        self.reserve = reserve or Reserve()
        self.threat_params = threat_params or ThreatParams()
        self.sim = Simulation(scn, seed=seed, duration_s=duration_s)
        self.suite = build_suite(scn, self.sim.ss_deploy)
        self.sensor_records = self.suite.contract_records()
        self.tracker = Tracker(sensors_from_records(self.sensor_records),
                               tracker_config or closed_loop_tracker(), source="live")
        try:
            self.assets = load_assets(scn.assets, scn.file)
            self.effectors = load_effectors(scn.effectors, scn.file)
        except InputError as e:
            raise scn.located(e) from None
        self.arsenal = Arsenal(self.effectors)
        self.missile = is_missile(self.effectors)
        self.cheap = self.effectors.cost < self.reserve.min_cost
        self.held = self.reserve.held(self.effectors)
        self.lethality = self.threat_params.class_vector(self.threat_params.lethality)
        self._obs_rng = np.random.default_rng(self.sim.ss_observe)
        # Outcomes draw from a fifth child of the seed: the sim's four streams
        # (plans, birds, deployment, noise) are the first four.
        self._out_rng = np.random.default_rng(np.random.SeedSequence(self.sim.seed).spawn(5)[4])
        self.n_steps = max(1, math.ceil(self.sim.duration_s / self.sim.dt - 1e-9))
        self.picture = Picture.empty(0.0)
        self.last_obs = None  # the latest step's Observations (for writers)
        self._pending = Detections.empty()
        self._pending_rx = np.zeros(0)
        self.killed_tracks: set[str] = set()
        self._first_seen: dict[str, float] = {}
        self.threat_info: dict[str, dict] = {}
        self.threat_tracks: set[str] = set()
        self.truth = _Truth()
        self.events: list[dict] = []
        self.desk = Desk(self.effectors, self.arsenal, self.policy, self._event)
        self._snap_ptr = 0
        self._next_plan = self.replan_s
        # Wall-clock stamps of the latest step, for the live picture's latency figures.
        self.stage_s: dict[str, float] = {}  # seconds per stage: sense, track, assess, solve
        # Unix time the reports released by this step entered the tracker, and it returned.
        self.wall_track: tuple[float, float] | None = None
        self._wall_in: deque[float] = deque(maxlen=64)  # entry time of the latest steps' reports

    # -- public ---------------------------------------------------------------
    @property
    def t(self) -> float:
        return self.sim.t

    @property
    def finished(self) -> bool:
        return self.sim.k >= self.n_steps

    def step(self, dt: float | None = None) -> Snapshot:
        n = 1 if dt is None else max(1, int(round(dt / self.sim.dt)))
        for _ in range(n):
            if self.finished:
                break
            self.advance()
        return self.snapshot()

    def approve(self, rec_id: str, by: str = "operator") -> dict:
        return self.desk.approve(self.desk.open_rec(rec_id), by, self.t)

    def reject(self, rec_id: str, by: str = "operator") -> dict:
        return self.desk.reject(self.desk.open_rec(rec_id), by, self.t)

    def static_layers(self) -> dict:
        eff = self.effectors
        return {
            "origin": dict(self.scenario.origin),
            "sensors": [{k: r[k] for k in ("id", "kind", "lat", "lon", "alt", "range_max_m", "nation") if k in r}
                        for r in self.sensor_records],
            "assets": self.assets.to_records(),
            "effectors": [{"id": eff.ids[e], "kind": eff.kind_name(e), "lat": float(eff.lat[e]),
                           "lon": float(eff.lon[e]), "min_range_m": float(eff.min_range[e]),
                           "max_range_m": float(eff.max_range[e]), "cost_per_shot": float(eff.cost[e]),
                           "stock": int(eff.stock[e])} for e in range(len(eff))],
        }

    # -- one truth step -------------------------------------------------------
    def advance(self) -> None:
        self.track_step()
        self.plan_step()

    @property
    def plan_due(self) -> bool:
        return self.t + 1e-9 >= self._next_plan

    def plan_step(self) -> bool:
        """Assess and plan now if a plan is due (``advance``'s second half)."""
        if not self.plan_due:
            return False
        self._plan(self.t)
        self._next_plan += self.replan_s
        return True

    def plan_begin(self) -> PlanJob | None:
        """Set up a plan now whose assessment and solve (``planning.solve``) run
        elsewhere: the live picture runs them in another process so tracking
        never waits on them. None: nothing to solve (no tracks; applied already)."""
        now = self.t
        while self._next_plan <= now + 1e-9:  # a slow solve does not queue up plans
            self._next_plan += self.replan_s
        return self._plan_job(now)

    def plan_end(self, job: PlanJob, sol: Solved) -> None:
        """Apply a solved plan: the threat list and recommendations as of the
        plan's time ``job.now``."""
        t0 = time.perf_counter()
        killed = self.killed_tracks  # defeated while the plan was being solved: not threats any more
        self.threat_info = {k: v for k, v in sol.threats.items() if k not in killed}
        self.threat_tracks.update(sol.threats)
        self.desk.publish(sol, job.ids, job.now)
        self.stage_s.update(sol.stage_s, publish=time.perf_counter() - t0)

    def track_step(self) -> None:
        """Settle, sense, fly the truth and update the tracker (``advance``'s first half)."""
        sim = self.sim
        w0 = time.perf_counter()
        t0 = sim.t
        t1 = min((sim.k + 1) * sim.dt, sim.duration_s)
        self._settle(t0, t1)
        obs = self.suite.observe(sim.state, t0, t1, self._obs_rng)
        self.last_obs = obs
        flying = np.flatnonzero(sim.alive)
        sim.step()
        ended = flying[~sim.alive[flying]]
        self._impacts(ended[sim.fate[ended] == HIT_T])
        now = sim.t
        arrived = self._arrived(obs, now)
        w1, c1 = time.time(), time.thread_time()
        self.picture = self.tracker.step(arrived, now)
        w2, c2 = time.time(), time.thread_time()
        # An on-time report waits in the reorder window for ceil(reorder_s / dt)
        # steps before the tracker uses it: its latency counts from when it entered.
        self._wall_in.append(w1)
        held = min(math.ceil(self.tracker.cfg.reorder_s / sim.dt - 1e-9), len(self._wall_in) - 1)
        self.wall_track = (self._wall_in[-1 - held], w2)
        desk = self.desk
        for g in [g for g in desk.active if g.state == "looking" and g.t_intercept + self.outcome.look_s <= now]:
            g.state = "done"
        desk.active = [g for g in desk.active if g.state != "done"]
        # updated, not replaced: the latest plan's stages (assess, solve) stay readable
        self.stage_s.update(sense=time.perf_counter() - w0 - (w2 - w1), track=w2 - w1, track_cpu=c2 - c1)

    def _arrived(self, obs, now: float) -> Detections | None:
        """Reports that have reached the tracker by ``now``, in arrival order."""
        d = obs.detections
        if len(d):
            rx = d.t + np.asarray(obs.delay_s, float)
            if len(self._pending):
                d, rx = Detections.concat([self._pending, d]), np.concatenate([self._pending_rx, rx])
        elif len(self._pending):
            d, rx = self._pending, self._pending_rx
        else:
            return None
        ready = rx <= now + 1e-9
        self._pending, self._pending_rx = d.take(~ready), rx[~ready]
        idx = np.flatnonzero(ready)
        if idx.size == 0:
            return None
        return d.take(idx[np.argsort(rx[idx], kind="stable")])

    def _impacts(self, rows: np.ndarray) -> None:
        """Attack drones that reached their target: value lost where they fell."""
        sim = self.sim
        cls = sim.fleet.cls[rows]
        threat = np.isin(np.array(CLASSES, dtype=object)[cls], THREAT_CLASSES)
        rows, cls = rows[threat], cls[threat]
        if rows.size == 0:
            return
        a = self.assets
        asset, lost = impact_losses(sim.fleet.lat[rows], sim.fleet.lon[rows], cls, a, self.lethality)
        for r, c, k, v in zip(rows.tolist(), cls.tolist(), asset.tolist(), lost.tolist()):
            name = CLASSES[c]
            self.truth.leaked[name] = self.truth.leaked.get(name, 0) + 1
            self.truth.value_lost += v
            self._event("impact", self.t, object=sim.objects.ids[r], **{"class": name},
                        asset=a.names[k] if k >= 0 else None, value_lost=round(v, 2))

    def _settle(self, t0: float, t1: float) -> None:
        """Engagements meeting their threat before ``t1``, against truth at ``t0``."""
        due = [g for g in self.desk.active if g.state == "flying" and g.t_intercept < t1 - 1e-9]
        if not due:
            return
        pic, sim = self.picture, self.sim
        aim, lost = aim_points(due, {t: k for k, t in enumerate(track_ids(pic))}, pic)
        st = sim.state
        res = resolve(due, aim, lost, self.effectors, st.ecef, st.cls, st.alive, self._out_rng, self.outcome)
        for i, g in enumerate(due):
            row = int(res.truth_row[i])
            t_hit = max(g.t_intercept, t0)
            if res.killed[i]:
                sim.defeat([row], t_hit)
                g.state, g.result = "done", "defeated"
                self.killed_tracks.add(g.track)
                name = CLASSES[int(st.cls[row])]
                self.truth.defeated[name] = self.truth.defeated.get(name, 0) + 1
            else:
                g.state, g.result = "looking", "lost" if lost[i] else "missed"
            g.truth = sim.objects.ids[row] if row >= 0 else None
            self._event("outcome", t_hit, engagement=g.id, rec=g.rec, effector=self.effectors.ids[g.effector],
                        threat=g.track, result=g.result, truth=g.truth,
                        truth_class=CLASSES[int(st.cls[row])] if row >= 0 else None,
                        miss_distance_m=round(float(res.distance_m[i]), 1) if np.isfinite(res.distance_m[i])
                        else None, p_kill=round(float(res.p_kill[i]), 4))

    # -- planning -------------------------------------------------------------
    def _plan(self, now: float) -> None:
        job = self._plan_job(now)
        if job is not None:
            self.plan_end(job, solve(job.planner, job.inp))

    def _plan_job(self, now: float) -> PlanJob | None:
        """What a plan at ``now`` needs, detached from the chain (cheap: no
        assessment). With no tracks there is nothing to assess: the open
        recommendations are withdrawn here and None returned."""
        pic = self.picture
        ids = track_ids(pic)
        n = len(ids)
        if n == 0:
            self.threat_info = {}
            self.desk.publish(Solved.empty(), ids, now)
            return None
        killed = np.array([i in self.killed_tracks for i in ids], bool)
        seen = self._first_seen
        age = now - np.array([seen.setdefault(i, now) for i in ids])
        col = {t: j for j, t in enumerate(ids)}
        rej = [(e, col[t]) for t, rows in self.desk.rejected.items() if t in col for e in sorted(rows)]
        rejected = tuple(np.array(v, np.int64).reshape(-1) for v in (zip(*rej) if rej else ([], [])))
        survival, look_at, engaged = in_flight(self.desk.active, col, n, now, self.outcome.look_s)
        req = PlanRequest(now=now, ids=ids, picture=pic, assets=self.assets, view=self.arsenal.view(now),
                          free=self.arsenal.free(now), held=self.held, missile=self.missile, cheap=self.cheap,
                          killed=killed, age=age, rejected=rejected, survival=survival, look_at=look_at,
                          engaged=engaged, threat_params=self.threat_params, roe=self.roe, lam=self.lam,
                          horizon_s=self.horizon_s, replan_s=self.replan_s, look_s=self.outcome.look_s,
                          cheap_pk=self.reserve.cheap_pk)
        return PlanJob(now, ids, req, self.planner)

    # -- output ---------------------------------------------------------------
    def _event(self, kind: str, t: float, **fields) -> dict:
        ev = {"t": round(float(t), 3), "type": kind, **fields}
        self.events.append(ev)
        return ev

    def counters(self) -> dict:
        tr = self.truth
        return {"live_tracks": len(self.picture), "threats_total": len(self.threat_tracks),
                "defeated": sum(tr.defeated.values()), "leaked": sum(tr.leaked.values()),
                "value_lost": round(tr.value_lost, 2), "shots": int(self.arsenal.shots.sum()),
                "money_spent": round(float(self.arsenal.spent.sum()), 2)}

    def snapshot(self, tracks: bool = True) -> Snapshot:
        """The picture now and the events since the last snapshot. ``tracks=False``
        leaves the track records out (a plan's update between two steps)."""
        pic = self.picture
        live = set(track_ids(pic))
        threat_of = {k: {f: v[f] for f in THREAT_KEYS} for k, v in self.threat_info.items() if k in live} \
            if tracks else {}
        threats = [{"track": k, "class": v["class"], "confidence": v["confidence"], "target": v["target"],
                    "tti_s": v["tti_s"], "expected_loss": v["expected_loss"]}
                   for k, v in self.threat_info.items() if k in live and k not in self.killed_tracks]
        threats.sort(key=lambda d: (d["tti_s"] is None, d["tti_s"] or 0.0, -d["expected_loss"]))
        desk = self.desk
        recs = [desk.rec_dict(desk.recs[r]) for r in desk.open.values()]
        events = self.events[self._snap_ptr:]
        self._snap_ptr = len(self.events)
        eff, free = self.effectors, self.arsenal.free(self.t)
        effectors = [{"id": eff.ids[e], "kind": eff.kind_name(e), "lat": float(eff.lat[e]), "lon": float(eff.lon[e]),
                      "stock": int(self.arsenal.stock[e]), "busy": int(eff.channels[e] - free[e])}
                     for e in range(len(eff))]
        return Snapshot(self.t, pic if tracks else None, threat_of, threats, recs, events, self.counters(),
                        effectors)
