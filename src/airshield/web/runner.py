"""Steps a chain (live) or a recording (replay) against the wall clock and
publishes every step to the hub and the event log.

The chain is not thread-safe and a step at 1,000 tracks takes a noticeable slice
of a second, so steps run in a worker thread under one lock (the event loop keeps
serving the display meanwhile) and an operator's decision takes the same lock: a
decision lands between two steps, never inside one.

A live chain's step is split so a report's track never waits on planning: the
tracker step is published at once (a ``tick``); then, when a plan is due, the
chain gathers what the plan needs (cheap, under the lock) and the assessment
and weapon-target solve run in a planner process of its own, while the chain
steps on. The solved plan is applied (its
recommendations dated to the plan's time) and published as a ``plan`` message
as soon as it is back. A plan may lag the picture by at most ``max_plan_lag_s``
scenario seconds: past that the next step waits for it, so a fast-forwarded run
plans as often as a real-time one. A plan solved while the run is paused waits
for the resume: the recommendations an operator is deciding on stay put.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sys
import threading
import time
from collections import deque
from typing import Any, Protocol

from airshield.record import reports_columns
from airshield.web.gcidle import IdleCollector
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


def _solve(planner: str, inp) -> tuple[Any, float]:
    """A weapon-target solve in this process (a thread), when there is no planner process."""
    from airshield.web.planner import solve

    return solve(planner, inp)


class Runner:
    def __init__(self, source: Source, hub: Hub, *, speed: float = 1.0, recorder=None, paused: bool = False,
                 plan_process: bool = True, max_plan_lag_s: float | None = None, idle_gc: bool = True):
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
        # Two-phase stepping (track, then plan) when the source offers it (the live chain).
        self.split = all(hasattr(source, a) for a in ("track_step", "plan_begin", "plan_end", "plan_due"))
        self.plan_process = plan_process
        self.max_plan_lag_s = (float(getattr(source, "replan_s", 2.0)) if max_plan_lag_s is None
                               else float(max_plan_lag_s))
        self._pool = None  # airshield.web.planner.PlannerProcess, started at the first plan
        self._job: tuple[Any, asyncio.Future] | None = None  # plan being solved, and its answer
        self.plan_wall = deque(maxlen=600)  # wall seconds from a plan's start to its publication
        self._plan_lock: asyncio.Lock | None = None
        self._snap_cpu = 0.0
        # Full garbage collections between steps, not inside one (see web/gcidle.py);
        # only while ``run`` drives the steps.
        self.idle_gc = idle_gc
        self._gc: IdleCollector | None = None
        self._sync_clock()

    # -- the loop -------------------------------------------------------------
    async def run(self) -> None:
        """Step until the source is finished (then idle: the picture stays up)."""
        self._wake = asyncio.Event()
        self._gc = IdleCollector() if self.idle_gc else None
        try:
            await self._loop()
        finally:
            if self._gc is not None:
                self._gc.close()
                self._gc = None

    async def _loop(self) -> None:
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
        if not self.split:
            if self._gc is not None:
                self._gc.idle()
            w0 = time.time()
            snap = await asyncio.to_thread(self._locked, self.source.step)
            w1 = time.time()
            self.step_wall.append(w1 - w0)
            return self.publish(snap, (w0, w1))
        if self._job is not None and (self._job[1].done() or
                                      float(self.source.t) + self.dt - self._job[0].now > self.max_plan_lag_s + 1e-9):
            await self._finish_plan()  # solved while paused, or may not fall further behind the picture
        if self._gc is not None:
            self._gc.idle()  # nothing in flight: the last tick is out, the next step not begun
        w0 = time.time()
        snap = await asyncio.to_thread(self._locked, self._track)
        w1 = time.time()
        self.step_wall.append(w1 - w0)
        msg = self.publish(snap, (w0, w1))
        if self._job is None and self.source.plan_due and not self.source.finished:
            await self._start_plan()
        return msg

    def _track(self):
        self.source.track_step()
        c0 = time.thread_time()
        snap = self.source.snapshot()
        self._snap_cpu = time.thread_time() - c0
        return snap

    async def _start_plan(self) -> None:
        w0 = time.time()
        job = await asyncio.to_thread(self._locked, self.source.plan_begin)
        if job is None:  # nothing to solve: the assessment alone changed the threats
            self.publish_plan(await asyncio.to_thread(self._locked, self.source.snapshot, False))
            return
        fut = asyncio.get_running_loop().create_future()
        self._job = (job, fut, w0)
        if self.plan_process:
            try:
                if self._pool is None:
                    from airshield.web.planner import PlannerProcess

                    self._pool = PlannerProcess()
                cf = self._pool.submit(job.planner, job.inp)
                asyncio.get_running_loop().call_soon(self._chain_future, cf, fut)
                return
            except Exception as e:  # noqa: BLE001 - no process to be had: solve in a thread instead
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                print(f"airshield: planner process unavailable ({first}); planning in a thread", file=sys.stderr)
                self.plan_process = False
        cf = asyncio.get_running_loop().run_in_executor(None, _solve, job.planner, job.inp)
        self._chain_future(cf, fut)

    def _chain_future(self, cf, fut: asyncio.Future) -> None:
        """When the solve is back, apply it (on the event loop, between steps)."""
        wrapped = asyncio.wrap_future(cf) if isinstance(cf, concurrent.futures.Future) else cf

        def done(f):
            if not fut.done():
                if f.cancelled():
                    fut.cancel()
                elif f.exception() is not None:
                    fut.set_exception(f.exception())
                else:
                    fut.set_result(f.result())
            asyncio.ensure_future(self._finish_plan(when_paused=False))
        wrapped.add_done_callback(done)

    async def _finish_plan(self, when_paused: bool = True) -> None:
        """Apply the plan once solved. Paused, the operator is deciding: a plan
        back meanwhile waits for the resume (the next step applies it first)."""
        if self._plan_lock is None:
            self._plan_lock = asyncio.Lock()
        async with self._plan_lock:  # the step waiting for a plan waits until it is applied
            if when_paused or not self.paused:
                await self._finish_plan_locked()

    async def _finish_plan_locked(self) -> None:
        if self._job is None:
            return
        job, fut, w0 = self._job
        try:
            x, cpu = await fut
        except Exception as e:  # noqa: BLE001 - a failed solve: no recommendations this cycle
            self._job = None
            print(f"airshield: plan at t={job.now:.0f}s failed: {type(e).__name__}: {e}", file=sys.stderr)
            return
        if self._job is None or self._job[0] is not job:
            return  # applied already (the step waited for it)
        self._job = None
        snap = await asyncio.to_thread(self._locked, self._apply, job, x)
        stages = getattr(self.source, "stage_s", None)
        if isinstance(stages, dict):
            stages.setdefault("solve_cpu", cpu)  # the live chain's plan reports its own stages
        self.plan_wall.append(time.time() - w0)
        self.publish_plan(snap, plan_t=job.now)

    def _apply(self, job, x):
        self.source.plan_end(job, x)
        return self.source.snapshot(False)

    def close(self) -> None:
        """Stop the planner process (a solve in flight is dropped)."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def _locked(self, fn, *args):
        with self.lock:
            return fn(*args)

    def _fresh(self, events) -> list:
        """Events not already published (an operator's decision goes out at once;
        the chain echoes it in its next snapshot)."""
        out = []
        for ev in events or []:
            key = _event_key(ev)
            if key in self._early:
                self._early.discard(key)
            else:
                out.append(ev)
        return out

    def publish_plan(self, snap: Any, plan_t: float | None = None) -> dict:
        """A plan applied between two steps: threats, recommendations, events.
        ``plan_t``: the scenario time of the picture it was made from."""
        events = self._fresh(getattr(snap, "events", None))
        if self.recorder is not None:
            for ev in events:
                self.recorder.event(ev, snap.t)
        msg = self.hub.plan(snap, events, self._stages(), plan_t)
        self.hub.broadcast(msg)
        return msg

    def _stages(self) -> dict | None:
        st = getattr(self.source, "stage_s", None)
        return {k: round(v * 1000.0, 2) for k, v in st.items()} if isinstance(st, dict) and st else None

    def publish(self, snap: Any, wall: tuple[float, float] | None = None) -> dict:
        prev = self.hub.t
        if prev is not None and float(snap.t) > prev:
            self.dt = float(snap.t) - prev
        c0 = time.thread_time()
        events = self._fresh(getattr(snap, "events", None))
        msg = self.hub.ingest(snap, wall, events)
        if wall is not None:
            # CPU seconds of the picture's path after the tracker: the snapshot (worker
            # thread) and the hub (here); wall figures on a busy machine are inflated.
            msg["publish_cpu_ms"] = round((self._snap_cpu + time.thread_time() - c0) * 1000.0, 2)
            stamps = getattr(self.source, "wall_track", None)
            if stamps is not None:
                msg["wall_track"] = list(stamps)  # reports entered / left the tracker (Unix s)
            stages = self._stages()
            if stages:
                msg["stages_ms"] = stages
            msg["wall_sent"] = time.time()
        if self.recorder is not None:  # after the message: the queue put is O(1), never the disk
            for ev in events:
                self.recorder.event(ev, snap.t)
            self.recorder.frame(snap, reports=self._reports())
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
