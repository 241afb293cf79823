"""A small, deterministic stand-in for ``airshield.live.chain.Chain`` with the same
interface and conventions (events keyed by "type", an approval echoed in the
next step's events, ``tti_s``/``target`` threats, ``last_obs`` reports), so the
web layer's tests pin exact behaviour (which recommendation
exists, when an approved one is carried out) independent of the real chain's
tuning. Hostile drones fly straight at one asset; each gets a recommendation on
the first step; an approved one is defeated on the next step; one left alone
leaks when it arrives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from types import SimpleNamespace

import numpy as np

from airshield import geo
from airshield.io.records import POS, Detections

ORIGIN = (50.45, 30.52, 0.0)


@dataclass
class _Obs:
    detections: Detections


@dataclass
class FakeSnapshot:
    t: float
    tracks: list
    threats: list
    recommendations: list
    events: list
    counters: dict
    effectors: list


class FakeChain:
    def __init__(self, scenario: str = "fake", seed=None, policy: str = "manual", cost_cap=None,
                 duration_s: float | None = 300.0, n_hostile: int = 4, speed_mps: float = 50.0):
        self.scenario = SimpleNamespace(name=scenario, epoch=datetime(2025, 9, 6, 21, 0, tzinfo=timezone.utc))
        self.t = 0.0
        self.duration_s = duration_s
        self.policy = policy
        rng = np.random.default_rng(0 if seed is None else seed)
        n = n_hostile + 2
        # East-north positions (m) from the asset; the last two are an airliner and a bird.
        dist = np.concatenate([np.linspace(6_000.0, 30_000.0, n_hostile), [25_000.0, 4_000.0]])
        brg = np.radians(np.concatenate([rng.uniform(40, 140, n_hostile), [0.0, 200.0]]))
        self.e, self.n = dist * np.sin(brg), dist * np.cos(brg)
        self.alt = np.concatenate([np.full(n_hostile, 300.0), [10_000.0, 150.0]])
        head = np.arctan2(-self.e, -self.n)  # straight at the asset
        spd = np.concatenate([np.full(n_hostile, speed_mps), [230.0, 12.0]])
        self.ve, self.vn = spd * np.sin(head), spd * np.cos(head)
        self.ve[-2], self.vn[-2] = 0.0, -230.0  # the airliner flies south, past the asset
        self.cls = ["shahed"] * (n_hostile - 1) + ["decoy", "aircraft", "bird"]
        self.ids = [f"T{i + 1}" for i in range(n)]
        self.alive = np.ones(n, bool)
        self.recs: dict[str, dict] = {}
        self.candidates: dict[str, dict] = {}  # what a plan would recommend
        self.recommend_in_step = True
        self.pending: list[dict] = []
        self.events: list[dict] = []  # since the last snapshot, like the real chain's
        self.last_obs = None
        self.stock = 20
        self.counters = {"live_tracks": n, "threats_total": n_hostile, "defeated": 0, "leaked": 0,
                         "value_lost": 0.0, "shots": 0, "money_spent": 0.0}

    @property
    def finished(self) -> bool:
        return self.duration_s is not None and self.t >= self.duration_s

    def static_layers(self) -> dict:
        return {"origin": {"lat": ORIGIN[0], "lon": ORIGIN[1], "alt": ORIGIN[2]},
                "sensors": [{"id": "radar-1", "kind": "radar", "lat": 50.60, "lon": 30.45, "alt": 25.0,
                             "nation": "UA", "range_max_m": 60_000.0}],
                "assets": [{"name": "city", "lat": ORIGIN[0], "lon": ORIGIN[1], "radius_m": 3000.0,
                            "value": 5e7, "kind": "city"}],
                "effectors": self._effectors()}

    def _effectors(self) -> list[dict]:
        return [{"id": "gun-1", "kind": "spaag", "lat": 50.43, "lon": 30.70, "stock": self.stock,
                 "max_range_m": 5500.0, "cost_per_shot": 4000.0, "busy": len(self.pending)}]

    def step(self, dt: float | None = None):
        dt = 1.0 if dt is None else dt
        self.t += dt
        events, self.events = self.events, []
        for rec in self.pending:  # approved last step: carried out now
            i = self.ids.index(rec["threat"])
            self.alive[i] = False
            rec["status"] = "done"
            self.stock -= rec["shots"]
            self.counters["defeated"] += 1
            self.counters["shots"] += rec["shots"]
            self.counters["money_spent"] += rec["cost"]
            events.append({"t": self.t, "type": "outcome", "engagement": "G" + rec["id"][1:], "rec": rec["id"],
                           "effector": rec["effector"], "threat": rec["threat"], "result": "defeated"})
        self.pending = []
        self.e = self.e + self.ve * dt
        self.n = self.n + self.vn * dt
        hostile = np.array([c != "aircraft" and c != "bird" for c in self.cls])
        arrived = self.alive & hostile & (np.hypot(self.e, self.n) < 1000.0)
        for i in np.flatnonzero(arrived):
            self.alive[i] = False
            self.counters["leaked"] += 1
            self.counters["value_lost"] += 1e6
            events.append({"t": self.t, "type": "impact", "object": f"obj-{i}", "class": self.cls[i],
                           "asset": "city", "value_lost": 1e6})
        lat, lon, alt = geo.enu_to_geodetic(self.e, self.n, self.alt, *ORIGIN)
        tracks, threats = [], []
        for i in np.flatnonzero(self.alive):
            d = {"t": self.t, "track": self.ids[i], "lat": float(lat[i]), "lon": float(lon[i]),
                 "alt": float(alt[i]), "ve": float(self.ve[i]), "vn": float(self.vn[i]), "vu": 0.0,
                 "status": "confirmed", "class": self.cls[i], "p_class": {self.cls[i]: 0.9, "unknown": 0.1},
                 "cov_pos_enu": [400.0, 50.0, 0.0, 50.0, 100.0, 0.0, 0.0, 0.0, 900.0], "sources": ["radar-1"],
                 "nation": "TR" if self.cls[i] == "aircraft" else None}
            if hostile[i]:
                tti = float(np.hypot(self.e[i], self.n[i]) / np.hypot(self.ve[i], self.vn[i]))
                d["threat"] = {"target": "city", "p_target": 0.8, "tti_s": tti, "expected_loss": 1e6}
                threats.append({"track": self.ids[i], "class": self.cls[i], "confidence": 0.9, "target": "city",
                                "tti_s": tti, "expected_loss": 1e6})
                rid = f"R{i + 1}"
                if rid not in self.recs:
                    rec = {"id": rid, "effector": "gun-1", "effector_kind": "spaag",
                           "threat": self.ids[i], "shots": 2, "cost": 8000.0, "pk": 0.84,
                           "value_saved": 8.4e5, "created_t": self.t, "status": "open"}
                    self.candidates[rid] = rec
                    if self.recommend_in_step:
                        self.recs[rid] = rec
                        events.append({"t": self.t, "type": "recommendation", **rec})
            tracks.append(d)
        threats.sort(key=lambda x: x["tti_s"])
        for r in self.recs.values():
            if r["status"] == "open" and not self.alive[self.ids.index(r["threat"])]:
                r["status"] = "expired"
        self.counters["live_tracks"] = len(tracks)
        self.last_obs = _Obs(self._reports(lat, lon, alt))
        return FakeSnapshot(t=self.t, tracks=tracks, threats=threats,
                            recommendations=[dict(r) for r in self.recs.values() if r["status"] == "open"],
                            events=events, counters=dict(self.counters), effectors=self._effectors())

    def _reports(self, lat, lon, alt) -> Detections:
        """One position report per live object (a stand-in for the sensors)."""
        rows = np.flatnonzero(self.alive)
        d = Detections.empty(rows.size)
        d.t[:] = self.t
        d.kind[:] = POS
        d.z[:, 0], d.z[:, 1], d.z[:, 2] = lat[rows], lon[rows], alt[rows]
        d.sigma[:, 0], d.sigma[:, 1] = 50.0, 30.0
        return d

    def _decide(self, rec_id: str, by: str, status: str) -> dict:
        rec = self.recs[rec_id]  # KeyError: unknown id
        if rec["status"] != "open":
            raise ValueError(f"already {rec['status']}")
        rec["status"] = status
        ev = {"t": self.t, "type": "approval" if status == "approved" else "rejection", "rec": rec_id, "by": by,
              "effector": rec["effector"], "threat": rec["threat"], "cost": rec["cost"]}
        self.events.append(ev)  # echoed in the next snapshot, as the real chain does
        if status == "approved":
            self.pending.append(rec)
            self.events.append({"t": self.t, "type": "engagement", "id": "G" + rec_id[1:], "rec": rec_id,
                                "effector": rec["effector"], "threat": rec["threat"], "shots": rec["shots"]})
        return ev

    def approve(self, rec_id: str, by: str = "operator") -> dict:
        return self._decide(rec_id, by, "approved")

    def reject(self, rec_id: str, by: str = "operator") -> dict:
        return self._decide(rec_id, by, "rejected")



class SplitFakeChain(FakeChain):
    """The fake with the live chain's two-phase step: ``track_step`` moves the
    picture; recommendations come only from a plan (``plan_begin`` -> solve ->
    ``plan_end``), due every ``replan_s``, as ``Chain`` does."""

    def __init__(self, *a, replan_s: float = 2.0, **kw):
        super().__init__(*a, **kw)
        self.recommend_in_step = False
        self.replan_s = replan_s
        self._next_plan = replan_s
        self._snap = None
        self.plans_applied: list[tuple[float, float]] = []  # (plan time, time applied)
        self.stage_s: dict = {}
        self.wall_track = None

    def track_step(self) -> None:
        import time

        w0 = time.time()
        self._snap = FakeChain.step(self)
        self.wall_track = (w0, time.time())
        self.stage_s = {"sense": 0.0, "track": self.wall_track[1] - w0}

    @property
    def plan_due(self) -> bool:
        return self.t + 1e-9 >= self._next_plan

    def plan_begin(self):
        while self._next_plan <= self.t + 1e-9:
            self._next_plan += self.replan_s
        return SimpleNamespace(now=self.t, planner="fake", inp=sorted(self.candidates))

    def plan_end(self, job, x) -> None:
        for rid in x:
            rec = self.candidates.get(rid)
            if rid not in self.recs and rec is not None and self.alive[self.ids.index(rec["threat"])]:
                self.recs[rid] = rec = dict(rec, created_t=job.now)
                self.events.append({"t": job.now, "type": "recommendation", **rec})
        self.plans_applied.append((job.now, self.t))

    def snapshot(self, tracks: bool = True):
        snap, self._snap = self._snap, None
        events, self.events = self.events, []
        return FakeSnapshot(t=self.t, tracks=snap.tracks if tracks else [], threats=snap.threats if snap else [],
                            recommendations=[dict(r) for r in self.recs.values() if r["status"] == "open"],
                            events=(snap.events if snap else []) + events, counters=dict(self.counters),
                            effectors=self._effectors())
