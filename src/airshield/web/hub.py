"""The picture the server holds and pushes: the latest step's tracks, threats,
recommendations, counters and effectors, a bounded event log, track trails, and
the set of connected WebSocket clients.

Each step becomes one compact message (changed track rows, removed ids, threats,
open recommendations, new events, counters), encoded once and queued to every
client. A client that falls behind is not allowed to grow a backlog: its queue is
cleared and it gets one full picture instead (every message is idempotent, so a
full picture followed by a step it already contains is harmless).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from typing import Any

import orjson

from airshield.web.picture import (FIELDS, home_nations, picture_rows, plain, static_layers, threat_list,
                                   track_rows)

FULL = object()  # queue marker: build and send the whole picture now
CHATTY = frozenset({"recommendation", "withdrawn"})  # the planner re-plans every few seconds


def encode(msg: dict) -> str:
    return orjson.dumps(msg, option=orjson.OPT_SERIALIZE_NUMPY, default=plain).decode()


class Client:
    """One WebSocket subscriber: a short queue of encoded messages."""

    _ids = itertools.count(1)

    def __init__(self, maxsize: int = 8):
        self.id = next(self._ids)
        self.queue: asyncio.Queue = asyncio.Queue(maxsize)
        self.resyncs = 0

    def offer(self, text: str) -> None:
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(FULL)
            self.resyncs += 1


class Hub:
    def __init__(self, layers: dict, *, mode: str = "live", meta: dict | None = None,
                 trail_len: int = 60, keep_events: int = 5000, threat_top: int = 100):
        self.home = home_nations(layers)
        self.static = static_layers(plain(layers), self.home)
        self._assets = {a.get("name"): a for a in self.static.get("assets") or []}
        self.mode = mode
        self.meta = dict(meta or {})
        self.trail_len = trail_len
        self.threat_top = threat_top
        self.keep_events = keep_events
        self.clients: set[Client] = set()
        self.clock: dict = {"t": 0.0, "speed": 1.0, "paused": False, "finished": False, "mode": mode}
        self.epoch = 0
        self.reset()

    def reset(self) -> None:
        """Forget the picture (a replay seeks): the next step is sent as full, and
        clients drop their event log (a new ``epoch``)."""
        self.epoch += 1
        self.t: float | None = None
        self._snap: Any = None  # the step whose TRACK dicts ``tracks`` gives (built on demand)
        self._tracks: dict[str, dict] | None = {}
        self._brief: dict[str, dict] = {}  # track id -> lat, lon, class (for events and threats)
        self.rows: dict[str, list] = {}
        self.trails: dict[str, deque] = {}
        self.threats: list[dict] = []
        self.recommendations: list[dict] = []
        self.counters: dict = {}
        self.effectors: list[dict] = []
        self.events: deque[dict] = deque(maxlen=self.keep_events)
        self.engagements: dict[str, dict] = {}  # approved and in flight, until their outcome
        self.seq = 0
        self.steps = 0

    # -- state updates (called on the event loop, between awaits) -------------
    def ingest(self, snap: Any, wall: tuple[float, float] | None = None, events: list | None = None) -> dict:
        """Take one step's Snapshot; return the tick message (changes only).
        ``events`` replaces the snapshot's own when the runner has filtered them."""
        # A live chain's step comes as the tracker's arrays: rows straight from
        # them (no TRACK dict per track on this hot path); other sources (replay,
        # tests) give plain JSON-ready dicts, kept as they are, never deep-copied.
        pic = getattr(snap, "picture", None)
        if pic is not None:
            rows = picture_rows(pic, getattr(snap, "threat_of", None) or {}, self.home)
        else:
            rows = track_rows(list(getattr(snap, "tracks", None) or []), self.home)
        new_rows = {r[0]: r for r in rows}
        brief = {r[0]: {"lat": r[2], "lon": r[1], "class": r[8]} for r in rows}
        changed = [r for tid, r in new_rows.items() if self.rows.get(tid) != r]
        removed = [tid for tid in self.rows if tid not in new_rows]
        for tid in removed:
            self.trails.pop(tid, None)
        for r in changed:
            trail = self.trails.get(r[0])
            if trail is None:
                trail = self.trails[r[0]] = deque(maxlen=self.trail_len)
            # tuples of floats: the collector stops tracking them (60,000 trail points
            # as lists would be scanned by every full garbage collection)
            if not trail or trail[-1] != (r[1], r[2]):
                trail.append((r[1], r[2]))
        self.t = float(snap.t)
        events = self._log(events if events is not None else getattr(snap, "events", None) or [], brief)
        self._snap, self._tracks, self._brief, self.rows = snap, None, brief, new_rows
        self.threats = threat_list(getattr(snap, "threats", None) or [], brief)
        self.recommendations = [dict(r) for r in getattr(snap, "recommendations", None) or []]
        self.counters = {**dict(getattr(snap, "counters", None) or {}), "live_tracks": len(new_rows)}
        effectors = list(getattr(snap, "effectors", None) or [])
        eff_changed = effectors != self.effectors
        self.effectors = effectors
        self.steps += 1
        self.clock["t"] = self.t
        msg = {"type": "tick", "t": self.t, "fields": FIELDS, "tracks": changed, "removed": removed,
               "threats": self.threats[: self.threat_top], "threats_total": len(self.threats),
               "recommendations": self.recommendations, "events": events, "counters": self.counters,
               "engagements": list(self.engagements.values()), "clock": self.clock}
        if eff_changed:
            msg["effectors"] = self.effectors
        if wall is not None:
            msg["wall"] = list(wall)  # step start / end, Unix seconds: lets clients measure latency
        return msg

    def plan(self, snap: Any, events: list | None = None, stages: dict | None = None,
             plan_t: float | None = None) -> dict:
        """A plan applied between two steps (no track rows): a ``plan`` message
        with the threats, open recommendations, new events and counters."""
        events = self._log(events if events is not None else getattr(snap, "events", None) or [])
        self.threats = threat_list(getattr(snap, "threats", None) or [], self._brief)
        self.recommendations = [dict(r) for r in getattr(snap, "recommendations", None) or []]
        self.counters = {**dict(getattr(snap, "counters", None) or {}), "live_tracks": len(self.rows)}
        effectors = list(getattr(snap, "effectors", None) or [])
        msg = {"type": "plan", "t": self.t, "plan_t": float(snap.t if plan_t is None else plan_t), "threats": self.threats[: self.threat_top],
               "threats_total": len(self.threats), "recommendations": self.recommendations, "events": events,
               "counters": self.counters, "engagements": list(self.engagements.values())}
        if effectors and effectors != self.effectors:
            self.effectors = msg["effectors"] = effectors
        if stages:
            msg["stages_ms"] = stages
        return msg

    def add_events(self, events: list[dict]) -> dict:
        """Events between steps (an operator's decision): an events-only message."""
        return {"type": "events", "t": self.t, "events": self._log(events),
                "recommendations": self.recommendations, "engagements": list(self.engagements.values())}

    def mark_decided(self, rec_id: str, status: str) -> None:
        """Show a decision at once, before the next step closes the recommendation."""
        for r in self.recommendations:
            if str(r.get("id")) == str(rec_id):
                r["status"] = status

    def _log(self, events, newer: dict | None = None) -> list[dict]:
        out = []
        for ev in events:
            ev = dict(ev)
            self.seq += 1
            ev["seq"] = self.seq
            ev.setdefault("t", self.t)
            ev.setdefault("kind", ev.get("type", "event"))  # the chain says "type"; messages use "type" too
            if "lat" not in ev:  # place it for the map: where its track last was, or the asset hit
                ref = next((str(ev[k]) for k in ("track", "threat") if ev.get(k) is not None), None)
                d = (newer or {}).get(ref) or self._brief.get(ref) or self._assets.get(ev.get("asset"))
                if d is not None:
                    ev["lat"], ev["lon"] = d.get("lat"), d.get("lon")
            self.events.append(ev)
            out.append(ev)
            self._follow(ev)
        return out

    def _follow(self, ev: dict) -> None:
        """Keep the engagements in flight (the map draws effector -> threat lines)."""
        if ev["kind"] == "engagement":
            key = str(ev.get("id") or ev.get("rec"))
            self.engagements[key] = {k: ev.get(k) for k in ("id", "rec", "effector", "threat", "shots",
                                                            "t_intercept")}
        elif ev["kind"] == "outcome":
            self.engagements.pop(str(ev.get("engagement") or ev.get("rec")), None)

    # -- views ----------------------------------------------------------------
    @property
    def tracks(self) -> dict[str, dict]:
        """The latest step's TRACK dicts by id (with ``threat`` where assessed)."""
        if self._tracks is None:
            self._tracks = {str(d.get("track")): d for d in getattr(self._snap, "tracks", None) or []}
        return self._tracks

    def full(self) -> dict:
        """The whole picture, for a client that just connected or fell behind."""
        return {"type": "full", "t": self.t, "fields": FIELDS, "tracks": list(self.rows.values()),
                "trails": {tid: list(tr) for tid, tr in self.trails.items()},
                "threats": self.threats[: self.threat_top], "threats_total": len(self.threats),
                "recommendations": self.recommendations, "events": self.recent_events(),
                "engagements": list(self.engagements.values()),
                "counters": self.counters, "effectors": self.effectors, "clock": self.clock,
                "mode": self.mode, "meta": self.meta, "epoch": self.epoch}

    def recent_events(self, decisive: int = 300, chatty: int = 50) -> list[dict]:
        """The log a (re)connecting client starts from: the last decisions,
        engagements, outcomes and impacts, and only the last few of the planner's
        recommendations and withdrawals, which would otherwise crowd them out."""
        keep, n_dec, n_chat = [], 0, 0
        for e in reversed(self.events):
            if e["kind"] in CHATTY:
                n_chat += 1
                if n_chat > chatty:
                    continue
            else:
                n_dec += 1
                if n_dec > decisive:
                    continue
            keep.append(e)
            if n_dec >= decisive and n_chat >= chatty:
                break
        return keep[::-1]

    def events_since(self, since: int = 0, limit: int = 1000, kind: str | None = None) -> list[dict]:
        out = [e for e in self.events if e["seq"] > since and (kind is None or e["kind"] == kind)]
        return out[:limit]

    # -- fan-out --------------------------------------------------------------
    def subscribe(self, maxsize: int = 8) -> Client:
        c = Client(maxsize)
        self.clients.add(c)
        c.queue.put_nowait(FULL)
        return c

    def unsubscribe(self, c: Client) -> None:
        self.clients.discard(c)

    def broadcast(self, msg: dict) -> None:
        if not self.clients:
            return
        text = encode(msg)
        for c in list(self.clients):
            c.offer(text)

    def resync_all(self) -> None:
        for c in list(self.clients):
            while not c.queue.empty():
                c.queue.get_nowait()
            c.queue.put_nowait(FULL)
