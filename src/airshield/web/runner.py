"""Steps a chain (live) or a recording (replay) against the wall clock and
publishes every step to the hub and the event log.

The chain is not thread-safe and a step at 1,000 tracks takes a noticeable slice
of a second, so steps run in a worker thread under one lock (the event loop keeps
serving the display meanwhile) and an operator's decision takes the same lock: a
decision lands between two steps, never inside one.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections import deque
from typing import Any, Protocol

from airshield.record import reports_columns
from airshield.web.hub import Hub

MAX_SPEED = 1000.0


class Source(Protocol):
    """What the runner steps: ``airshield.live.chain.Chain`` or a replay."""

    t: float
    finished: bool

    def step(self, dt: float | None = None) -> Any: ...
    def approve(self, rec_id: str, by: str = "operator") -> dict: ...
    def reject(self, rec_id: str, by: str = "operator") -> dict: ...
    def static_layers(self) -> dict: ...


class ReadOnly(Exception):
    """A decision or control the source cannot take (a replay is read-only)."""


class Runner:
    def __init__(self, source: Source, hub: Hub, *, speed: float = 1.0, recorder=None, paused: bool = False):
        self.source = source
        self.hub = hub
        self.recorder = recorder
        self.lock = threading.Lock()
        self.speed = check_speed(speed)
        self.paused = paused
        self.dt = 1.0  # scenario seconds per step; learnt from the snapshots
        self.step_wall = deque(maxlen=600)  # wall seconds each step took
        self.started = time.time()
        self._anchor = (time.monotonic(), float(source.t))
        self._wake: asyncio.Event | None = None
        self._early: set[tuple] = set()  # decisions already published, which the chain echoes next step
        self.error: str | None = None  # the step that failed, if one did: the picture stays up, paused
        self._sync_clock()

    # -- the loop -------------------------------------------------------------
    async def run(self) -> None:
        """Step until the source is finished (then idle: the picture stays up)."""
        self._wake = asyncio.Event()
        while True:
            if self.source.finished:
                self._sync_clock()
                self.hub.broadcast({"type": "clock", "clock": self.hub.clock})
                await self._sleep(None)
                continue
            if self.paused:
                await self._sleep(None)
                continue
            w0, t0 = self._anchor
            due = w0 + (float(self.source.t) + self.dt - t0) / self.speed
            now = time.monotonic()
            if due - now > 0.002:
                await self._sleep(due - now)
                continue
            if now - due > 1.0:  # fell behind (slow step, stall): run flat out, don't burst later
                self._anchor = (now, float(self.source.t))
            try:
                await self.step_once()
            except Exception as e:  # noqa: BLE001 - one bad step must not take the server down
                self._fail(e)

    def _fail(self, e: Exception) -> None:
        self.error = f"step at t={float(self.source.t):.0f}s failed: {type(e).__name__}: {e}"
        print(f"airshield: error: {self.error} (paused)", file=sys.stderr)
        self.paused = True
        self._sync_clock()
        self.hub.broadcast({"type": "error", "error": self.error, "fatal": True, "clock": self.hub.clock})

    async def _sleep(self, timeout: float | None) -> None:
        assert self._wake is not None
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def step_once(self) -> dict | None:
        """One step of the source, published. Returns the tick message."""
        if self.source.finished:
            return None
        w0 = time.time()
        snap = await asyncio.to_thread(self._locked, self.source.step)
        w1 = time.time()
        self.step_wall.append(w1 - w0)
        return self.publish(snap, (w0, w1))

    def _locked(self, fn, *args):
        with self.lock:
            return fn(*args)

    def publish(self, snap: Any, wall: tuple[float, float] | None = None) -> dict:
        prev = self.hub.t
        if prev is not None and float(snap.t) > prev:
            self.dt = float(snap.t) - prev
        events = []
        for ev in getattr(snap, "events", None) or []:
            key = _event_key(ev)
            if key in self._early:
                self._early.discard(key)
            else:
                events.append(ev)
        if self.recorder is not None:
            for ev in events:
                self.recorder.event(ev, snap.t)
            self.recorder.frame(snap, reports=self._reports())
        msg = self.hub.ingest(snap, wall, events)
        self._sync_clock()
        self.hub.broadcast(msg)
        return msg

    def _reports(self):
        """The step's reports as columns (the chain keeps its latest observations)."""
        obs = getattr(self.source, "last_obs", None)
        det = getattr(obs, "detections", None)
        return None if det is None else reports_columns(det)

    # -- operator decisions ---------------------------------------------------
    async def decide(self, rec_id: str, verdict: str, by: str = "operator") -> dict:
        """Approve or reject a recommendation; KeyError (unknown id), ValueError
        (already closed) and ReadOnly (a replay) go back to the caller."""
        if verdict not in ("approve", "reject"):
            raise ValueError(f"unknown verdict {verdict!r}")
        fn = getattr(self.source, verdict)
        ev = await asyncio.to_thread(self._locked, fn, rec_id, by)
        self._early.add(_event_key(ev))
        ev = dict(ev)
        if "type" not in ev:
            ev.setdefault("kind", "approval" if verdict == "approve" else "rejection")
        ev.setdefault("rec", rec_id)
        ev.setdefault("by", by)
        if self.recorder is not None:
            self.recorder.event(ev, self.source.t)
        self.hub.mark_decided(rec_id, "approved" if verdict == "approve" else "rejected")
        msg = self.hub.add_events([ev])
        self.hub.broadcast(msg)
        return msg["events"][0]

    # -- clock controls -------------------------------------------------------
    def control(self, *, paused: bool | None = None, speed: float | None = None,
                seek_t: float | None = None) -> dict:
        if speed is not None:
            self.speed = check_speed(speed)
        if paused is not None:
            self.paused = bool(paused)
            if not self.paused:
                self.error = None  # the operator chose to try again
        if seek_t is not None:
            self._seek(float(seek_t))
        self._anchor = (time.monotonic(), float(self.source.t))
        self._sync_clock()
        self.hub.broadcast({"type": "clock", "clock": self.hub.clock})
        self._poke()
        return dict(self.hub.clock)

    def _seek(self, t: float) -> None:
        seek = getattr(self.source, "seek", None)
        if seek is None:
            raise ReadOnly("a live run cannot seek (replay a recording to move in time)")
        with self.lock:
            snap = seek(t)
        self.hub.reset()
        self.hub.ingest(snap)
        self.hub.resync_all()

    def _sync_clock(self) -> None:
        c = self.hub.clock
        c.update(t=float(self.hub.t if self.hub.t is not None else self.source.t), speed=self.speed,
                 paused=self.paused, finished=bool(self.source.finished), mode=self.hub.mode)
        dur = getattr(self.source, "duration_s", None)
        if dur is not None:
            c["duration_s"] = float(dur)
        start = getattr(self.source, "start_t", None)
        if start is not None:
            c["start_t"] = float(start)
        c["seekable"] = hasattr(self.source, "seek")

    # -- reporting --------------------------------------------------------------
    def status_line(self) -> str:
        k = self.hub.counters
        return (f"t={self.hub.clock['t']:7.0f}s  live tracks {int(k.get('live_tracks', 0)):5d}  "
                f"defeated {int(k.get('defeated', 0)):4d}  leaked {int(k.get('leaked', 0)):4d}  "
                f"money spent ${float(k.get('money_spent', 0.0)):,.0f}")


def _event_key(ev: dict) -> tuple:
    return (ev.get("type", ev.get("kind")), str(ev.get("rec")), ev.get("t"), ev.get("by"))


def check_speed(speed: float) -> float:
    s = float(speed)
    if not (0.0 < s <= MAX_SPEED):
        raise ValueError(f"speed must be > 0 and <= {MAX_SPEED:g} (got {speed})")
    return s
