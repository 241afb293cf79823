"""Continuation of a track held by one microphone (stitch.py, ``stitch_ray``):
its range is only what the filter carried, so it is compared with a new track
across the microphone's ray, not in range."""

from __future__ import annotations

import numpy as np

import tracksim as ts
from airshield import geo
from airshield.track.config import TrackerConfig
from airshield.track.state import CONFIRMED, TrackState
from airshield.track.stitch import Rays, continuation_pairs, continue_tracks, ray_sensor

NOW = 100.0


def _state(points_enu, sigmas, src_rows, t_hit, t_birth):
    """Confirmed tracks at ENU points (m) flying north at 50 m/s."""
    k = len(points_enu)
    st = TrackState(1)
    x = np.zeros((k, 6))
    for i, (e, n, u) in enumerate(points_enu):
        p, v = ts.line(np.array([0.0]), e, n, u, 0.0, 50.0)
        x[i, :3], x[i, 3:] = p[0], v[0]
    R = geo.enu_to_ecef_rotation(np.full(k, ts.LAT0), np.full(k, ts.LON0)).reshape(k, 3, 3)
    P = np.zeros((k, 6, 6))
    for i, s in enumerate(sigmas):
        P[i, :3, :3] = np.eye(3) * s ** 2
        P[i, 3:, 3:] = np.eye(3) * 4.0
    src = np.full((k, 4), -1, np.int32)
    for i, r in enumerate(src_rows):
        src[i, :len(r)] = r
    src_t = np.where(src >= 0, np.asarray(t_hit, float)[:, None], -np.inf)
    st.append(x=x, P=P, xm=x[:, None], Pm=P[:, None], mu=np.ones((k, 1)), t=np.full(k, NOW),
              t_hit=np.asarray(t_hit, float), t_birth=np.asarray(t_birth, float),
              hist=np.ones(k, np.uint32), n_hits=np.full(k, 5, np.int32), icao=np.full(k, -1, np.int32),
              R=R, src=src, src_t=src_t, p_class=np.full((k, 7), 1 / 7))
    st.status[:] = CONFIRMED
    return st


def _rays():
    mic, _ = ts.line(np.array([0.0]), 0.0, 0.0, 0.0, 0.0, 0.0)
    radar, _ = ts.line(np.array([0.0]), 0.0, -40e3, 0.0, 0.0, 0.0)
    return Rays(np.array([True, False]), np.vstack([mic, radar]), np.array([5000.0, 150e3]))


def test_ray_sensor_needs_one_range_free_sensor_alone():
    rays = _rays()
    src = np.array([[0, 0, 0, 0], [0, -1, -1, -1], [0, 1, 0, 0], [1, 1, 1, 1], [-1, -1, -1, -1]])
    assert ray_sensor(src, rays).tolist() == [0, 0, -1, -1, -1]
    assert ray_sensor(src, None).tolist() == [-1] * 5


def test_mic_held_track_off_in_range_is_continued_on_its_ray():
    """Old track held by microphone 0 (north of it, 3 km too far out along its
    ray, 866 m RMS: hidden); a radar track confirms at the true point 3 km north
    of the microphone: the same drone. A second mic-held track whose ray points
    90 degrees away is not. The continued track takes the radar track's state."""
    pts = [(0.0, 6000.0, 500.0), (3000.0 * np.sin(np.radians(90)), 3000.0 * np.cos(np.radians(90)), 500.0),
           (0.0, 3000.0, 500.0)]
    st = _state(pts, [500.0, 500.0, 60.0], [[0, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1]],
                t_hit=[NOW - 1, NOW - 1, NOW], t_birth=[0.0, 0.0, NOW - 20])
    rays, fresh = _rays(), np.array([2])
    old, new = continuation_pairs(st, fresh, NOW, TrackerConfig(), None, rays)
    assert old.size == 0  # off by default: 3 km in range is far outside the covariance
    cfg = TrackerConfig(stitch_ray=True)
    old, new = continuation_pairs(st, fresh, NOW, cfg, None, rays)
    assert old.tolist() == [0] and new.tolist() == [2]
    x_radar = st.x[2].copy()
    continue_tracks(st, old, new, None, cfg, rays)
    assert st.n == 2 and st.id.tolist() == [1, 2]
    assert np.allclose(st.x[0], x_radar)  # the guess in range is dropped, not fused


def test_shown_mic_track_is_compared_as_it_is():
    """With ``stitch_ray_hidden_only`` (default) a mic-held track still precise
    enough to show (300 m RMS) keeps its range: 3 km off, it is another drone."""
    pts = [(0.0, 6000.0, 500.0), (0.0, 3000.0, 500.0)]
    st = _state(pts, [300.0, 60.0], [[0, 0, 0, 0], [1, 1, 1]], t_hit=[NOW - 1, NOW],
                t_birth=[0.0, NOW - 20])
    rays = _rays()
    old, _ = continuation_pairs(st, np.array([1]), NOW, TrackerConfig(stitch_ray=True), None, rays)
    assert old.size == 0
    old, _ = continuation_pairs(st, np.array([1]), NOW,
                                TrackerConfig(stitch_ray=True, stitch_ray_hidden_only=False), None, rays)
    assert old.tolist() == [0]
