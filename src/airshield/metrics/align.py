"""Time alignment for scoring: the truth steps, and which track record stands
for each track at each step.

Truth steps are the distinct truth sample times (equal within
1e-6 * max(1, |t|) seconds). When those times lie on a regular grid the
empty grid points between them (a lull between two waves) are steps too, so
tracks that live on after every object has gone are still charged as false.

A track is present at a step if it has a record within half the tracker's
output interval of it; the record nearest in time stands for the track there
and is moved to the step time with its own velocity. When the tracker writes at
the truth times (the contract's default, 1 s) that record is at the step itself
and nothing is moved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

REL_TOL = 1e-6  # two times are equal within REL_TOL * max(1, |t|) seconds
MAX_GRID_FILL = 20  # fill a regular grid only up to this many times the truth steps


def time_tolerance(t) -> np.ndarray:
    return REL_TOL * np.maximum(1.0, np.abs(np.asarray(t, float)))


def truth_steps(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Step times (S,) ascending, and the step index of each truth sample (N,)."""
    t = np.asarray(t, float)
    if len(t) == 0:
        return np.empty(0), np.empty(0, np.int64)
    u, inv = np.unique(t, return_inverse=True)
    new = np.ones(len(u), bool)
    new[1:] = np.diff(u) > time_tolerance(u[1:])
    group = np.cumsum(new) - 1
    step_t = u[new]
    step_t, where = _fill_regular_grid(step_t)
    return step_t, where[group[inv]]


def _fill_regular_grid(step_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Insert the missing points of a regular grid. Returns the new step times
    and the new index of each old step."""
    keep = (step_t, np.arange(len(step_t)))
    if len(step_t) < 3:
        return keep
    dt = float(np.median(np.diff(step_t)))
    if not dt > 0:
        return keep
    k = (step_t - step_t[0]) / dt
    kr = np.rint(k)
    # Generous: simulators accumulate t += dt and the grid only decides which
    # empty steps exist, never which samples belong together.
    if np.any(np.abs(k - kr) > 1e-3):
        return keep
    n = int(kr[-1]) + 1
    if n == len(step_t) or n > MAX_GRID_FILL * len(step_t):
        return keep
    grid = step_t[0] + np.arange(n) * dt
    idx = kr.astype(np.int64)
    grid[idx] = step_t  # keep the truth's own times exactly
    return grid, idx


def output_interval(t: np.ndarray, track: np.ndarray) -> float | None:
    """The tracker's output interval: median gap between successive records of
    the same track; None when no track has two records at different times."""
    t = np.asarray(t, float)
    track = np.asarray(track)
    order = np.lexsort((t, track))
    return _interval(t[order], track[order])


def _interval(ts: np.ndarray, tr: np.ndarray) -> float | None:
    """``output_interval`` of records already sorted by (track, t)."""
    same = tr[1:] == tr[:-1]
    gaps = np.diff(ts)[same]
    gaps = gaps[gaps > time_tolerance(ts[1:][same])]
    return float(np.median(gaps)) if len(gaps) else None


@dataclass
class TrackSamples:
    """Which track record stands for each (track, step) where the track is present."""

    rec: np.ndarray  # (K,) record index
    step: np.ndarray  # (K,) step index
    dt: np.ndarray  # (K,) step time - record time; 0 for a record at the step
    interval: float | None  # the tracker's output interval used (s)


def sample_tracks(step_t: np.ndarray, t: np.ndarray, track: np.ndarray,
                  interval: float | None = None) -> TrackSamples:
    """For every (track, step) where the track is present: the record nearest
    in time within half the output interval, and how far to move it.

    ``interval`` is the tracker's output interval (estimated from the records
    when None; the truth step when no track has two records).
    """
    step_t = np.asarray(step_t, float)
    t = np.asarray(t, float)
    track = np.asarray(track)
    if len(t) == 0 or len(step_t) == 0:
        return TrackSamples(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0), interval)
    order = np.lexsort((t, track))
    ts, tr = t[order], track[order]
    if interval is None:
        interval = _interval(ts, tr)
    window = interval
    if window is None:
        window = float(np.median(np.diff(step_t))) if len(step_t) > 1 else 0.0
    tol = time_tolerance(ts)
    half = np.maximum(window / 2.0, tol)
    same_prev = np.zeros(len(ts), bool)
    same_prev[1:] = tr[1:] == tr[:-1]
    same_next = np.zeros(len(ts), bool)
    same_next[:-1] = same_prev[1:]
    mid = 0.5 * (ts[1:] + ts[:-1])[same_prev[1:]]
    mid_prev = np.full(len(ts), -np.inf)
    mid_prev[same_prev] = mid
    mid_next = np.full(len(ts), np.inf)
    mid_next[same_next] = mid
    # Each record covers the steps nearer to it than to its neighbours of the
    # same track, and no farther than half an interval: [lo, hi).
    lo = np.maximum(ts - half, mid_prev)
    hi = np.minimum(ts + half, mid_next)
    a = np.searchsorted(step_t, lo, side="left")
    b = np.searchsorted(step_t, hi, side="left")
    n = np.maximum(b - a, 0)
    rec = np.repeat(order, n)
    start = np.repeat(a, n)
    offset = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    step = start + offset
    dt = step_t[step] - t[rec]
    dt[np.abs(dt) <= time_tolerance(t[rec])] = 0.0
    return TrackSamples(rec, step, dt, interval)
