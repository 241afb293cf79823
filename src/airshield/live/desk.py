"""The recommendation desk: the live chain's open recommendations, the
operator's (or the policy's) decisions on them, and the engagements they start.

A plan (``planning.Solved``) becomes recommendations here, one per (effector,
track): a pair already open is updated in place, a pair no longer in the plan is
withdrawn. Every new recommendation goes to the approval policy; an approval
commits stock and channels in the ``Arsenal`` and starts an ``Engagement``; a
rejection keeps that effector off that track for good.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from airshield.engage.effectors import Effectors
from airshield.live.outcome import Arsenal, Engagement
from airshield.live.planning import Solved


@dataclass
class Rec:
    """One recommendation: ``shots`` of effector row ``e`` at ``track``."""

    id: str
    e: int
    track: str
    shots: int
    pk: float
    cost: float
    value_saved: float
    created_t: float
    updated_t: float
    t_launch: float  # absolute, as of the latest plan
    t_intercept: float
    point: np.ndarray
    status: str = "open"  # open | approved | rejected | withdrawn


class Desk:
    def __init__(self, effectors: Effectors, arsenal: Arsenal, policy, event: Callable[..., dict]):
        self.effectors, self.arsenal, self.policy, self.event = effectors, arsenal, policy, event
        self.recs: dict[str, Rec] = {}
        self.open: dict[tuple[int, str], str] = {}  # (effector row, track) -> open rec id
        self.rejected: dict[str, set[int]] = {}  # track -> effector rows the operator said no to
        self.engagements: list[Engagement] = []
        self.active: list[Engagement] = []  # flying or looking

    def publish(self, sol: Solved, ids: list[str], now: float) -> None:
        """Turn the shots due now into recommendations; withdraw the rest; ask the policy."""
        eff = self.effectors
        seen: set[tuple[int, str]] = set()
        fresh: list[Rec] = []
        for k, (e, j) in enumerate(zip(sol.e.tolist(), sol.j.tolist())):
            key = (e, ids[j])
            seen.add(key)
            shots, pk = int(sol.shots[k]), float(sol.pk[k])
            kw = dict(shots=shots, pk=pk, cost=shots * float(eff.cost[e]),
                      value_saved=float(sol.value[k]) * (1.0 - (1.0 - pk) ** shots), updated_t=now,
                      t_launch=now + float(sol.t_launch[k]), t_intercept=now + float(sol.t_intercept[k]),
                      point=sol.point[k].copy())
            rid = self.open.get(key)
            if rid is not None:
                self.recs[rid].__dict__.update(kw)
                continue
            rec = Rec(id=f"R{len(self.recs) + 1:05d}", e=e, track=ids[j], created_t=now, **kw)
            self.recs[rec.id] = rec
            self.open[key] = rec.id
            fresh.append(rec)
            self.event("recommendation", now, **self.rec_dict(rec))
        for key in [k for k in self.open if k not in seen]:
            rec = self.recs[self.open.pop(key)]
            rec.status = "withdrawn"
            self.event("withdrawn", now, rec=rec.id, effector=eff.ids[rec.e], threat=rec.track)
        for rec in fresh:
            verdict = self.policy.decide(self.rec_dict(rec))
            if verdict == "approve":
                try:
                    self.approve(rec, self.policy.who, now)
                except ValueError:  # no channel or stock after all: the next plan will know
                    self.close(rec, "withdrawn")
                    self.event("withdrawn", now, rec=rec.id, effector=eff.ids[rec.e], threat=rec.track)
            elif verdict == "reject":
                self.reject(rec, self.policy.who, now)

    def open_rec(self, rec_id: str) -> Rec:
        if rec_id not in self.recs:
            raise KeyError(f"no recommendation {rec_id!r}")
        rec = self.recs[rec_id]
        if rec.status != "open":
            raise ValueError(f"recommendation {rec_id} is {rec.status}, not open")
        return rec

    def close(self, rec: Rec, status: str) -> None:
        rec.status = status
        self.open.pop((rec.e, rec.track), None)

    def approve(self, rec: Rec, by: str, now: float) -> dict:
        eff = self.effectors
        # An approval later than the plan that made it slips the whole engagement.
        slip = max(0.0, now - rec.updated_t)
        t_launch, t_int = rec.t_launch + slip, rec.t_intercept + slip
        until = max(now + float(eff.launch_interval[rec.e]), t_int)
        fired = self.arsenal.fire(rec.e, rec.shots, now, until)
        if fired == 0:
            raise ValueError(f"{eff.ids[rec.e]} has no free channel or no stock left for {rec.id}")
        self.close(rec, "approved")
        ev = self.event("approval", now, rec=rec.id, by=by, effector=eff.ids[rec.e], threat=rec.track,
                         cost=round(rec.cost, 2))
        g = Engagement(id=f"G{len(self.engagements) + 1:05d}", rec=rec.id, effector=rec.e, track=rec.track,
                       shots=fired, pk=rec.pk, cost=fired * float(eff.cost[rec.e]), t_approved=now,
                       t_launch=t_launch, t_intercept=t_int, point=rec.point)
        self.engagements.append(g)
        self.active.append(g)
        self.event("engagement", now, id=g.id, rec=rec.id, effector=eff.ids[rec.e],
                    effector_kind=eff.kind_name(rec.e), threat=rec.track, shots=fired, cost=round(g.cost, 2),
                    pk=round(g.pk, 4), t_launch=round(t_launch, 3), t_intercept=round(t_int, 3))
        return ev

    def reject(self, rec: Rec, by: str, now: float) -> dict:
        self.close(rec, "rejected")
        self.rejected.setdefault(rec.track, set()).add(rec.e)  # not recommended again for this track
        return self.event("rejection", now, rec=rec.id, by=by, effector=self.effectors.ids[rec.e],
                           threat=rec.track, cost=round(rec.cost, 2))

    def rec_dict(self, rec: Rec) -> dict:
        e = rec.e
        return {"id": rec.id, "effector": self.effectors.ids[e], "effector_kind": self.effectors.kind_name(e),
                "threat": rec.track, "shots": rec.shots, "cost": round(rec.cost, 2), "pk": round(rec.pk, 4),
                "value_saved": round(rec.value_saved, 2), "created_t": round(rec.created_t, 3),
                "status": rec.status, "t_launch": round(rec.t_launch, 3), "t_intercept": round(rec.t_intercept, 3)}
