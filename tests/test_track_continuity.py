"""Track continuity: the dive mode of the IMM, continuation of lost tracks
(stitch.py), late reports older than a track, and the speed limit."""

from __future__ import annotations

import numpy as np

import tracksim as ts
from airshield import geo
from airshield.track.config import TrackerConfig
from airshield.track.stitch import co_observed, slack
from airshield.track.tracker import Tracker
from airshield.track.update import limit_speed


def _ids(pics, x, steps, max_m):
    ids, seen = [], 0
    for k in steps:
        p = pics[k]
        if len(p) == 0:
            continue
        d = np.linalg.norm(p.ecef - x[k], axis=1)
        j = int(np.argmin(d))
        if d[j] < max_m:
            ids.append(int(p.ids[j]))
            seen += 1
    return set(ids), seen


def _dive_truth(t, t_dive=60.0, h0=1500.0, speed=50.0, g=9.81, vu_max=100.0):
    """Level flight east at h0, then a 1 g pitch-over into a 100 m/s descent (the
    simulator's terminal dive), down to 50 m. ECEF (T,3), vel (T,3)."""
    vu = -np.clip((t - t_dive) * g, 0.0, vu_max)
    u = h0 + np.concatenate([[0.0], np.cumsum(0.5 * (vu[1:] + vu[:-1]) * np.diff(t))])
    e = -3000.0 + speed * t
    keep = u > 50.0
    e, u, vu, tt = e[keep], u[keep], vu[keep], t[keep]
    x = np.stack(geo.geodetic_to_ecef(*geo.enu_to_geodetic(e, np.full_like(e, 8000.0), u, ts.LAT0,
                                                            ts.LON0, 0.0)), -1)
    v = np.stack(geo.enu_to_ecef_vectors(np.full_like(e, speed), np.zeros_like(e), vu, ts.LAT0, ts.LON0), -1)
    return tt, x, v


def _dive_errors(dive: bool, seed: int):
    rng = np.random.default_rng(seed)
    S = ts.sensors(ts.radar(sid="R1", lat=ts.LAT0 - 0.02, lon=ts.LON0 - 0.05))
    t, x, v = _dive_truth(np.arange(0.0, 200.0, 1.0))
    det = ts.polar_reports(S, 0, t, x, v, rng)
    # continuation off: this is about the filter following the dive, not about
    # re-labelling a new track afterwards
    pics = ts.run(Tracker(S, TrackerConfig(dive=dive, stitch=False)), det)
    err, ids = [], set()
    for k in range(int(np.flatnonzero(t >= 60)[0]), len(t) - 2):
        p = pics[k]
        if len(p):
            d = np.linalg.norm(p.ecef - x[k], axis=1)
            err.append(d.min())
            ids.add(int(p.ids[np.argmin(d)]))
    before, _ = _ids(pics, x, range(10, 58), 200.0)
    return np.array(err), ids, before


def test_terminal_dive_is_followed_by_the_dive_mode():
    """A drone pitching over at 1 g into a 100 m/s dive, seen by a radar every
    second: with the dive mode the track follows it to the ground under the id
    it had in level flight, at about half the error of the three-mode IMM, which
    loses it (a second track takes over)."""
    for seed in (5, 6):
        err, ids, before = _dive_errors(True, seed)
        err0, ids0, _ = _dive_errors(False, seed)
        assert len(err) >= 16 and ids == before and len(before) == 1
        assert err.mean() < 150.0 and err.mean() < 0.7 * err0.mean()
        assert len(ids0) > 1


def test_dive_mode_probability_rises_in_the_dive_only():
    rng = np.random.default_rng(6)
    S = ts.sensors(ts.radar(sid="R1", lat=ts.LAT0 - 0.02, lon=ts.LON0 - 0.05))
    t, x, v = _dive_truth(np.arange(0.0, 200.0, 1.0))
    det = ts.polar_reports(S, 0, t, x, v, rng)
    tracker = Tracker(S)
    mu_dive = []
    for k, now in enumerate(t):
        tracker.step(det.take(np.flatnonzero(det.t == now)), float(now))
        mu_dive.append(tracker.state.mu[0, 3] if tracker.state.n == 1 else np.nan)
    mu_dive = np.array(mu_dive)
    level = (t > 20) & (t < 58)
    diving = (t > 75) & (t < t[-1] - 2)
    assert np.nanmax(mu_dive[level]) < 0.2
    assert np.nanmedian(mu_dive[diving]) > 0.5


def test_track_lost_in_a_gap_continues_under_its_id():
    """A drone seen by a radar for 40 s, unseen for 70 s (past the 30 s deletion
    of a young track), then seen again on its course: the new track continues the
    old id (from the graveyard). Without continuation it gets a new one."""
    rng = np.random.default_rng(7)
    S = ts.sensors(ts.radar(sid="R1", lat=ts.LAT0 - 0.1, lon=ts.LON0))
    t = np.arange(0.0, 180.0, 1.0)
    x, v = ts.line(t, -5000.0, 2000.0, 800.0, 45.0, 12.0)
    seen = (t < 40) | (t >= 110)
    det = ts.polar_reports(S, 0, t[seen], x[seen], v[seen], rng)
    pics = ts.run(Tracker(S), det)
    before, n0 = _ids(pics, x, range(10, 40), 300.0)
    after, n1 = _ids(pics, x, range(120, 178), 300.0)
    assert n0 >= 25 and n1 >= 50 and len(before) == 1
    assert after == before
    plain = ts.run(Tracker(S, TrackerConfig(stitch=False)), det)
    b2, _ = _ids(plain, x, range(10, 40), 300.0)
    a2, _ = _ids(plain, x, range(120, 178), 300.0)
    assert a2.isdisjoint(b2)


def test_long_silence_is_bridged_only_when_unambiguous():
    """Out of the radar's cover for 600 s (past stitch_max_silence_s, 300 s):
    with stitch_long_silence_s one drone that comes back on its course keeps
    its id, without it gets a new one; two drones 2 km apart that come back
    together are not continued (each new track fits either old one)."""
    rng = np.random.default_rng(9)
    S = ts.sensors(ts.radar(sid="R1", lat=ts.LAT0 - 0.1, lon=ts.LON0, range_max_m=300e3))
    t = np.arange(0.0, 720.0, 1.0)
    seen = (t < 40) | (t >= 640)
    xa, va = ts.line(t, -5000.0, 2000.0, 800.0, 45.0, 0.0)
    xb, vb = ts.line(t, -5000.0, 4000.0, 800.0, 45.0, 0.0)
    one = ts.polar_reports(S, 0, t[seen], xa[seen], va[seen], rng)
    two = ts.merge(one, ts.polar_reports(S, 0, t[seen] + 0.2, xb[seen], vb[seen], rng))
    long = TrackerConfig(stitch_long_silence_s=900.0)
    for cfg, det, same in ((long, one, True), (TrackerConfig(), one, False), (long, two, False)):
        pics = ts.run(Tracker(S, cfg), det)
        before, n0 = _ids(pics, xa, range(10, 40), 300.0)
        after, n1 = _ids(pics, xa, range(660, 718), 300.0)
        assert n0 >= 25 and n1 >= 50 and len(before) == 1 and len(after) == 1
        assert (after == before) == same, (cfg.stitch_long_silence_s, len(det))


def test_two_drones_in_formation_keep_two_ids():
    """Two drones 700 m apart on parallel courses, both seen by one radar in the
    same scans, one of them only from t = 30 s: its new track is another object
    (co-observed), never a continuation of the first."""
    rng = np.random.default_rng(8)
    S = ts.sensors(ts.radar(sid="R1", lat=ts.LAT0 - 0.1, lon=ts.LON0))
    t = np.arange(0.0, 120.0, 1.0)
    xa, va = ts.line(t, -5000.0, 2000.0, 800.0, 50.0, 0.0)
    xb, vb = ts.line(t, -5000.0, 2700.0, 800.0, 50.0, 0.0)
    late = t >= 30
    det = ts.merge(ts.polar_reports(S, 0, t, xa, va, rng),
                   ts.polar_reports(S, 0, t[late], xb[late], vb[late], rng))
    pics = ts.run(Tracker(S), det)
    ida, na = _ids(pics, xa, range(10, 118), 250.0)
    idb, nb = _ids(pics, xb, range(45, 118), 250.0)
    assert na >= 100 and nb >= 65
    assert len(ida) == 1 and len(idb) == 1 and ida.isdisjoint(idb)


def test_late_report_older_than_a_track_does_not_steer_it():
    """A crowd report 70 s old, 1.5 km sigma, arrives just after a radar started a
    track near where it was made: it must not give the young track a velocity
    (it was a 500 m/s "explanation" before); the track's speed stays the truth's."""
    rng = np.random.default_rng(9)
    crowd = {"id": "crowd", "kind": "visual", "lat": ts.LAT0, "lon": ts.LON0, "alt": 0.0,
             "sigma_h_m": 1500.0, "sigma_v_m": 1000.0}
    S = ts.sensors(ts.radar(sid="R1", lat=ts.LAT0 - 0.1, lon=ts.LON0), crowd)
    t = np.arange(100.0, 140.0, 1.0)
    x, v = ts.line(t, 0.0, 0.0, 800.0, 40.0, 0.0)
    radar = ts.polar_reports(S, 0, t, x, v, rng)
    xo, _ = ts.line(np.array([30.0]), 5000.0, 0.0, 800.0, 0.0, 0.0)  # 5 km off, 70 s earlier
    rep = ts.pos_reports(1, [30.0], xo, rng, sigma_h=1500.0, sigma_v=1000.0)
    tracker = Tracker(S)
    for now in np.arange(100.0, 140.0, 1.0):
        parts = [radar.take(np.flatnonzero(radar.t == now))]
        if now == 103.0:
            parts.append(rep)
        tracker.step(ts.merge(*parts), float(now))
    assert tracker.state.n == 1
    speed = np.linalg.norm(tracker.state.x[0, 3:])
    assert abs(speed - 40.0) < 5.0
    assert tracker.stats.updated == tracker.stats.processed - 1 - tracker.stats.initiated


def test_co_observed_and_slack():
    src_a = np.array([[3, 5, -1, -1], [3, -1, -1, -1]])
    t_a = np.array([[10.0, 9.0, -np.inf, -np.inf], [10.0, -np.inf, -np.inf, -np.inf]])
    src_b = np.array([[5, -1, -1, -1], [4, -1, -1, -1]])
    t_b = np.array([[9.4, -np.inf, -np.inf, -np.inf], [10.0, -np.inf, -np.inf, -np.inf]])
    assert co_observed(src_a, t_a, src_b, t_b, 1.0).tolist() == [True, False]
    cfg = TrackerConfig()
    sh, sv, sa = slack(np.array([0.0, 2.0, 300.0]), cfg)
    assert sh[0] == sv[0] == sa[0] == 0.0
    assert np.isclose(sh[1], 0.5 * cfg.stitch_accel_mps2 * 4.0)  # a t^2 / 2 early on
    assert np.isclose(sh[2], cfg.stitch_drift_mps * 300.0)  # a bounded drift later
    assert np.isclose(sv[2], cfg.stitch_vdrift_mps * 300.0) and sv[2] < sh[2]
    assert sa[2] == cfg.stitch_vel_sigma_mps


def test_limit_speed_projects_only_what_is_too_fast():
    xm = np.zeros((3, 2, 6))
    xm[0, 0, 3:] = [400.0, 300.0, 0.0]  # 500 m/s
    xm[1, 1, 3:] = [100.0, 0.0, -20.0]
    xm[2, 0, :3] = [1.0, 2.0, 3.0]
    before = xm.copy()
    limit_speed(xm, 300.0)
    assert np.allclose(xm[0, 0, 3:], [240.0, 180.0, 0.0])
    assert np.allclose(xm[1:], before[1:]) and np.allclose(xm[0, 1], before[0, 1])


def test_merge_keeps_the_older_id_and_the_better_estimate():
    """Two confirmed tracks of one object: the older went vague (1.5 km sigma), the
    younger holds it to 50 m. The merge keeps the older id with the younger's
    estimate; without merge_keeps_better_state the vague estimate survives."""
    from airshield.track import manage
    from airshield.track.state import CONFIRMED, TrackState

    x0 = np.array(geo.geodetic_to_ecef(ts.LAT0, ts.LON0, 500.0), float)
    v = np.array([30.0, -20.0, 0.0])
    for better in (True, False):
        st = TrackState(1)
        P_old, P_new = np.eye(6) * 1500.0 ** 2, np.eye(6) * 50.0 ** 2
        P_old[3:, 3:] = P_new[3:, 3:] = np.eye(3) * 25.0
        xs = np.array([np.r_[x0 + [600.0, -500.0, 300.0], v], np.r_[x0, v]])
        st.append(x=xs, P=np.stack([P_old, P_new]), xm=xs[:, None], Pm=np.stack([P_old, P_new])[:, None],
                  mu=np.ones((2, 1)), t=np.array([100.0, 100.0]), t_hit=np.array([70.0, 100.0]),
                  t_birth=np.array([0.0, 90.0]), status=np.array([CONFIRMED, CONFIRMED], np.int8))
        cfg = TrackerConfig(merge_keeps_better_state=better)
        dup = manage.duplicates(st, 100.0, cfg)
        assert dup.tolist() == [False, True]  # the younger row goes, the older id stays
        kept = xs[1] if better else xs[0]
        assert np.allclose(st.x[0], kept) and st.t_hit[0] == (100.0 if better else 70.0)
        assert np.allclose(np.trace(st.P[0, :3, :3]), 3 * (50.0 if better else 1500.0) ** 2)
    # comparable estimates are fused by covariance intersection: between the two,
    # no larger than the better one, never overconfident (P^-1 <= Pa^-1 + Pb^-1)
    st = TrackState(1)
    Pa = np.diag([400.0, 100.0, 100.0, 4.0, 4.0, 4.0]) ** 2
    Pb = np.diag([100.0, 400.0, 100.0, 4.0, 4.0, 4.0]) ** 2
    xs = np.array([np.r_[x0 + [300.0, 0.0, 0.0], v], np.r_[x0, v]])
    st.append(x=xs, P=np.stack([Pa, Pb]), xm=xs[:, None], Pm=np.stack([Pa, Pb])[:, None], mu=np.ones((2, 1)),
              t=np.array([100.0, 100.0]), t_hit=np.array([100.0, 100.0]), t_birth=np.array([0.0, 90.0]),
              status=np.array([CONFIRMED, CONFIRMED], np.int8))
    Pb_trace = np.trace(Pb)
    st.P[1, 0, 0] -= 1.0  # the younger is (just) the more precise
    cfg = TrackerConfig(merge_keeps_better_state=True)
    assert manage.duplicates(st, 100.0, cfg).tolist() == [False, True]
    assert 0.0 < st.x[0, 0] - x0[0] < 300.0
    assert np.trace(st.P[0]) < Pb_trace
    gap = np.linalg.inv(Pa) + np.linalg.inv(Pb) - np.linalg.inv(st.P[0])
    assert np.linalg.eigvalsh(0.5 * (gap + gap.T)).min() > -1e-9
