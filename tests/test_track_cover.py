"""Negative information and dead reckoning: ``track.cover.Cover`` agrees with
the coverage metric's reach, and a track that falls silent beyond every
sensor's reach is carried and shown (coasting) while one silent inside a
radar's reach is dropped."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import tracksim as ts
from airshield import CLASSES, geo
from airshield.io.run import sensors_from_records
from airshield.metrics.coverage import truth_coverage
from airshield.track.config import TrackerConfig
from airshield.track.cover import Cover
from airshield.track.tracker import Tracker

RECORDS = [
    {"id": "R1", "kind": "radar", "lat": 50.0, "lon": 30.0, "alt": 150.0, "range_max_m": 120e3,
     "pd": 0.9, "pfa": 1e-6, "ref_range_m": 40e3, "ref_rcs_m2": 1.0, "range_min_m": 500.0,
     "rcs_m2": {"shahed": 0.3, "decoy": 0.1, "aircraft": 10.0, "bird": 0.01}, "el_max_deg": 60.0},
    {"id": "R2", "kind": "radar", "lat": 50.3, "lon": 31.0, "alt": 50.0, "range_max_m": 30e3},
    {"id": "m1", "kind": "acoustic", "lat": 50.1, "lon": 30.2, "alt": 2.0, "range_max_m": 5e3,
     "range_by_class_m": {"shahed": 4000.0, "bird": 0.0}},
    {"id": "eo1", "kind": "eo", "lat": 49.9, "lon": 30.4, "alt": 10.0, "range_max_m": 15e3,
     "sectors": [{"az_from_deg": 300.0, "az_to_deg": 60.0}], "el_min_deg": -5.0, "el_max_deg": 85.0},
    {"id": "ads", "kind": "adsb", "lat": 50.0, "lon": 30.5, "alt": 0.0, "range_max_m": 250e3},
    {"id": "crowd", "kind": "visual", "lat": 50.0, "lon": 30.0, "alt": 0.0},
    {"id": "m2", "kind": "acoustic", "lat": 50.2, "lon": 30.0, "alt": 2.0},  # no reach: sees nothing
]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_cover_agrees_with_the_coverage_metric(seed):
    rng = np.random.default_rng(seed)
    n = 400
    lat = 50.0 + rng.uniform(-0.6, 0.8, n)
    lon = 30.0 + rng.uniform(-0.8, 1.6, n)
    # many low points, where the horizon and the elevation limits matter
    alt = np.where(rng.random(n) < 0.5, rng.uniform(0, 300, n), rng.uniform(0, 12e3, n))
    cls = rng.integers(0, len(CLASSES), n)
    ref = truth_coverage(lat, lon, alt, cls, RECORDS)
    ecef = np.stack(geo.geodetic_to_ecef(lat, lon, alt), axis=-1)
    seen = Cover.build(sensors_from_records(RECORDS)).seen(ecef, alt, cls)
    np.testing.assert_array_equal(seen, ref.radar | (ref.n_direction >= 1))


def test_cover_with_no_reach_known_sees_nothing():
    recs = [{"id": "m", "kind": "acoustic", "lat": 50.0, "lon": 30.0, "alt": 2.0},
            {"id": "c", "kind": "visual", "lat": 50.0, "lon": 30.0, "alt": 0.0}]
    cover = Cover.build(sensors_from_records(recs))
    ecef = np.stack(geo.geodetic_to_ecef(50.0, 30.0, 100.0))[None, :]
    assert not cover.seen(ecef, np.array([100.0]), np.array([0])).any()


def _two_drones(rng):
    """Radar R1 (30 km reach) sees drone A fly east out of its reach and drone B
    fly east inside it; B's reports stop at 150 s (defeated), A's when it leaves
    the reach (~ 190 s)."""
    sens = ts.sensors(ts.radar("R1", range_max_m=30e3, period_s=2.0))
    times = np.arange(0.0, 600.0, 2.0)
    xa, va = ts.line(times, 15e3, 3e3, 800.0, 80.0, 0.0)
    xb, vb = ts.line(times, -20e3, -5e3, 800.0, 50.0, 0.0)
    ra = np.linalg.norm(xa - sens_ecef(sens), axis=1) < 30e3
    rep_a = ts.polar_reports(sens, 0, times[ra], xa[ra], va[ra], rng)
    kb = times < 150.0
    rep_b = ts.polar_reports(sens, 0, times[kb], xb[kb], vb[kb], rng)
    return sens, ts.merge(rep_a, rep_b), times, xa, times[ra].max()


def sens_ecef(sens):
    return np.stack(geo.geodetic_to_ecef(sens.lat[0], sens.lon[0], sens.alt[0]))


def _shown(pics, t0, t1):
    return [p for p in pics if t0 <= p.t <= t1]


def test_a_track_silent_beyond_every_reach_is_dead_reckoned_and_one_silent_inside_is_dropped():
    rng = np.random.default_rng(3)
    sens, det, times, xa, t_last_a = _two_drones(rng)
    cfg = TrackerConfig(dead_reckon_s=240.0)
    pics = ts.run(Tracker(sens, cfg), det, t_end=t_last_a + 300.0)
    # A's track: the one near A's truth just before it left the radar's reach
    pic = next(p for p in pics if p.t == np.floor(t_last_a) - 4.0)
    k = int(np.argmin(np.linalg.norm(pic.ecef - xa[times == pic.t][0], axis=1)))
    a_id = int(pic.ids[k])
    # carried out of the radar's reach, coasting, near the truth (until its RMS error
    # passes show_max_rms_m, ~2 min here)
    for p in _shown(pics, t_last_a + 40.0, t_last_a + 100.0):
        hit = np.flatnonzero(p.ids == a_id)
        assert hit.size == 1, p.t
        assert p.status[hit[0]] == 1  # coasting
        truth = xa[np.searchsorted(times, p.t)] if p.t in times else None
        if truth is not None:
            assert np.linalg.norm(p.ecef[hit[0]] - truth) < 500.0
    assert all(a_id not in p.ids for p in _shown(pics, t_last_a + 250.0, t_last_a + 300.0))
    # B went silent inside the radar's reach: gone from the picture after delete_after_s
    late = _shown(pics, 150.0 + cfg.delete_after_s + 2.0, t_last_a)
    assert late and all(len(p) == 1 and p.ids[0] == a_id for p in late)


def test_without_dead_reckoning_the_silent_track_leaves_the_picture():
    rng = np.random.default_rng(3)
    sens, det, times, xa, t_last_a = _two_drones(rng)
    pics = ts.run(Tracker(sens, TrackerConfig(dead_reckon_s=None)), det, t_end=t_last_a + 120.0)
    assert all(len(p) == 0 for p in _shown(pics, t_last_a + 40.0, t_last_a + 120.0))


def test_the_closed_loop_tracks_without_dead_reckoning():
    from airshield.live.chain import closed_loop_tracker

    assert TrackerConfig().dead_reckon_s == 300.0  # on for `airshield track` and the library
    cfg = closed_loop_tracker(reorder_s=0.0)
    assert cfg.dead_reckon_s is None and cfg.reorder_s == 0.0
    assert closed_loop_tracker(dead_reckon_s=120.0).dead_reckon_s == 120.0  # unless asked for
