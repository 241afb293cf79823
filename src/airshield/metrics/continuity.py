"""Track continuity from the per-step GOSPA assignment: id switches, gaps,
tracks per truth object, and how long a detected object waited for a track.

Each truth object's samples, in time order, carry the id of the track the
GOSPA assignment gave it at that step (pairs closer than c), or none:

- an **id switch** is an assigned sample whose track differs from the one at
  the object's previous assigned sample (gaps in between do not matter);
- a **gap** is a run of unassigned samples with an assigned sample before and
  after it (before the first track and after the last one are not gaps);
- ``track_breaks`` = id switches + gaps, so A, gap, B counts two.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Continuity:
    id_switches: np.ndarray  # (n_obj,) per truth object
    track_gaps: np.ndarray  # (n_obj,)
    tracks_used: np.ndarray  # (n_obj,) distinct track ids ever assigned
    first_assigned_step: np.ndarray  # (n_obj,) step index, -1 if never assigned
    assigned_tracks: np.ndarray  # distinct track ids assigned to any truth

    @property
    def track_breaks(self) -> int:
        return int(self.id_switches.sum() + self.track_gaps.sum())

    @property
    def tracked(self) -> np.ndarray:
        return self.first_assigned_step >= 0

    @property
    def tracks_per_truth(self) -> float | None:
        """Mean distinct tracks per truth object, over objects tracked at least once."""
        used = self.tracks_used[self.tracked]
        return float(used.mean()) if len(used) else None


def track_continuity(obj: np.ndarray, step: np.ndarray, assigned: np.ndarray,
                     n_obj: int) -> Continuity:
    """``obj``, ``step``: truth object and step index of each truth sample;
    ``assigned``: the track id given to that sample, -1 for none."""
    obj = np.asarray(obj, np.int64)
    order = np.lexsort((np.asarray(step), obj))
    o, s, a = obj[order], np.asarray(step, np.int64)[order], np.asarray(assigned, np.int64)[order]
    is_a = a >= 0
    same_prev = np.zeros(len(o), bool)
    same_prev[1:] = o[1:] == o[:-1]

    ao, at, as_ = o[is_a], a[is_a], s[is_a]
    switch = (ao[1:] == ao[:-1]) & (at[1:] != at[:-1])
    switches = np.bincount(ao[1:][switch], minlength=n_obj)

    # Assigned samples of the same object before each sample.
    before = np.cumsum(is_a) - is_a
    block = np.cumsum(~same_prev) - 1
    before = before - before[~same_prev][block]
    back = np.zeros(len(o), bool)
    back[1:] = same_prev[1:] & is_a[1:] & ~is_a[:-1] & (before[1:] > 0)
    gaps = np.bincount(o[back], minlength=n_obj)

    first = np.ones(len(ao), bool)
    first[1:] = ao[1:] != ao[:-1]
    first_step = np.full(n_obj, -1, np.int64)
    first_step[ao[first]] = as_[first]

    width = int(at.max()) + 1 if len(at) else 1
    pairs = np.unique(ao * width + at)
    used = np.bincount(pairs // width, minlength=n_obj)
    return Continuity(id_switches=switches, track_gaps=gaps, tracks_used=used,
                      first_assigned_step=first_step, assigned_tracks=np.unique(at))


def latency_stats(first_track_t: np.ndarray, reference_t: np.ndarray) -> dict:
    """Time from each object's reference (first detection, or first truth) to
    its first assigned track. NaN marks "never tracked" / "no reference"."""
    first_track_t = np.asarray(first_track_t, float)
    reference_t = np.asarray(reference_t, float)
    has_ref = np.isfinite(reference_t)
    tracked = np.isfinite(first_track_t)
    both = has_ref & tracked
    lat = first_track_t[both] - reference_t[both]
    return {
        "latency_median_s": float(np.median(lat)) if len(lat) else None,
        "latency_p90_s": float(np.percentile(lat, 90)) if len(lat) else None,
        "latency_objects": int(both.sum()),
        "latency_not_tracked": int((has_ref & ~tracked).sum()),
        "latency_no_reference": int((~has_ref).sum()),
    }
