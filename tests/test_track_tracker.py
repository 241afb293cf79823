"""The multi-target tracker on synthetic scenarios: ids, clutter, bearings-only
initiation, identity and class, late reports, duplicates, bad sensor data."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as hs

import tracksim as ts
from airshield import CLASS_INDEX, geo
from airshield.track.associate import assign
from airshield.track.config import TrackerConfig
from airshield.track.state import TrackState
from airshield.track.tracker import Tracker


def _truth_id_at(pic, x_true, max_m=500.0):
    """Id of the picture track nearest the truth position (None beyond max_m)."""
    if len(pic) == 0:
        return None
    d = np.linalg.norm(pic.ecef - x_true, axis=1)
    k = int(np.argmin(d))
    return int(pic.ids[k]) if d[k] < max_m else None


def test_assign_hand_case_prefers_the_global_optimum():
    # two tracks, two reports; greedy would give track 0 report 0 (cost 1) and
    # leave track 1 with report 1 (cost 10) = 11; optimum is 2 + 3 = 5
    ti = np.array([0, 0, 1, 1])
    pj = np.array([0, 1, 0, 1])
    cost = np.array([1.0, 2.0, 3.0, 10.0])
    chosen = assign(ti, pj, cost, 50.0, 50.0)
    assert sorted(zip(ti[chosen].tolist(), pj[chosen].tolist())) == [(0, 1), (1, 0)]
    # a pair dearer than leaving both free is refused
    assert assign(np.array([0]), np.array([0]), np.array([30.0]), 10.0, 10.0).size == 0
    # independent clusters are solved each on its own
    chosen = assign(ti + 0, pj, cost, 50.0, 50.0)
    assert chosen.size == 2


def test_state_rows_compact_and_ids_stay():
    st = TrackState(3)
    rows = st.append(x=np.arange(30, dtype=float).reshape(5, 6), t=np.arange(5.0))
    assert rows.tolist() == [0, 1, 2, 3, 4] and st.id.tolist() == [1, 2, 3, 4, 5]
    st.keep(np.array([True, False, True, False, True]))
    assert st.id.tolist() == [1, 3, 5] and st.t.tolist() == [0.0, 2.0, 4.0]
    st.append(x=np.zeros((300, 6)))  # grows past the initial capacity
    assert st.n == 303 and st.id[-1] == 305 and st.x[2, 0] == 24.0


def test_two_crossing_targets_keep_their_ids():
    rng = np.random.default_rng(2)
    S = ts.sensors(ts.radar())
    t = np.arange(0.0, 200.0, 1.0)
    x1, v1 = ts.line(t, 15e3, 5e3, 800.0, 0.0, 50.0)  # they cross at t = 100 s
    x2, v2 = ts.line(t, 10e3, 10e3, 800.0, 50.0, 0.0)
    det = ts.merge(ts.polar_reports(S, 0, t, x1, v1, rng, pd=0.9),
                   ts.polar_reports(S, 0, t, x2, v2, rng, pd=0.9))
    tr = Tracker(S)
    pics = ts.run(tr, det)
    early = pics[40]
    late = pics[180]
    a0, b0 = _truth_id_at(early, x1[40]), _truth_id_at(early, x2[40])
    a1, b1 = _truth_id_at(late, x1[180]), _truth_id_at(late, x2[180])
    assert a0 is not None and b0 is not None and a0 != b0
    assert (a1, b1) == (a0, b0)
    ids = set(np.concatenate([p.ids for p in pics]).tolist())
    assert ids == {a0, b0}


def test_clutter_alone_confirms_no_track():
    rng = np.random.default_rng(4)
    S = ts.sensors(ts.radar(false_per_scan=20.0))
    t = np.arange(0.0, 150.0, 1.0)
    det = ts.merge(ts.clutter_reports(S, 0, t, rng, per_scan=20))
    tr = Tracker(S)
    pics = ts.run(tr, det)
    assert sum(len(p) for p in pics) == 0
    assert tr.stats.confirmed == 0
    assert tr.stats.initiated > 1000  # the clutter was seen and tried, not ignored


def _acoustic_net():
    spots = [(50.0, 30.0), (50.03, 30.0), (50.0, 30.045), (50.03, 30.045), (50.015, 30.09)]
    return [{"id": f"A{i}", "kind": "acoustic", "lat": la, "lon": lo, "alt": 100.0,
             "sigma_az_deg": 2.0, "range_max_m": 5000.0, "period_s": 1.0}
            for i, (la, lo) in enumerate(spots)]


def test_acoustic_only_target_is_tracked_by_crossing_bearings():
    rng = np.random.default_rng(6)
    S = ts.sensors(*_acoustic_net())
    t = np.arange(0.0, 200.0, 1.0)
    x, _ = ts.line(t, -2500.0, 1700.0, 400.0, 48.0, 4.0)
    parts = []
    lat, lon, alt = geo.ecef_to_geodetic(*x.T)
    for i in range(len(S)):
        _, _, r = geo.geodetic_to_aer(lat, lon, alt, S.lat[i], S.lon[i], S.alt[i])
        m = r < 5000.0
        parts.append(ts.bearing_reports(S, i, t[m], x[m], rng, sigma_deg=2.0))
    tr = Tracker(S)
    pics = ts.run(tr, ts.merge(*parts))
    assert tr.stats.in_fixes >= 2  # born from a crossing (track/triangulate.py)
    ids = set()
    seen = 0
    for k in range(40, 180):
        p = pics[k]
        if len(p) == 0:
            continue
        d = geo.geodetic_to_enu(p.lat, p.lon, p.alt, *geo.ecef_to_geodetic(*x[k]))
        horiz = np.hypot(d[0], d[1])
        assert horiz.min() < 400.0, (k, horiz)
        ids.update(p.ids.tolist())
        seen += 1
    assert seen >= 120 and len(ids) == 1


def test_adsb_aircraft_is_classed_aircraft_and_keeps_its_icao():
    rng = np.random.default_rng(8)
    S = ts.sensors({"id": "ADSB", "kind": "adsb", "lat": 50.0, "lon": 30.0, "alt": 0.0},
                   ts.radar(sid="R2"))
    t = np.arange(0.0, 60.0, 1.0)
    x, v = ts.line(t, 30e3, -20e3, 9500.0, -220.0, 40.0)
    det = ts.merge(ts.pos_reports(0, t, x, rng, sigma_h=30.0, sigma_v=15.0, icao="4CA2B1"),
                   ts.polar_reports(S, 1, t + 0.3, x, v, rng))
    tr = Tracker(S)
    pics = ts.run(tr, det)
    recs = pics[-3].to_records()
    assert len(recs) == 1
    assert recs[0]["class"] == "aircraft" and recs[0]["p_class"]["aircraft"] > 0.9
    assert recs[0]["icao24"] == "4ca2b1"
    assert set(recs[0]["sources"]) == {"ADSB", "R2"}


def test_slow_low_drone_with_attack_hints_is_classed_shahed():
    rng = np.random.default_rng(9)
    S = ts.sensors(ts.radar(), {"id": "EYE", "kind": "visual", "lat": 50.0, "lon": 30.0, "alt": 0.0})
    t = np.arange(0.0, 90.0, 1.0)
    x, v = ts.line(t, 8e3, 6e3, 300.0, -40.0, -30.0)  # 50 m/s at 300 m
    det = ts.merge(ts.polar_reports(S, 0, t, x, v, rng),
                   ts.pos_reports(1, t[::10] + 0.5, x[::10], rng, sigma_h=300.0, sigma_v=200.0,
                                  hint={"shahed": 0.6, "decoy": 0.3, "unknown": 0.1}))
    tr = Tracker(S)
    pics = ts.run(tr, det)
    rec = pics[-3].to_records()[0]
    assert rec["class"] == "shahed", rec["p_class"]
    assert np.argmax(tr.state.p_class[0]) == CLASS_INDEX["shahed"]


def test_late_reports_are_used_or_counted_never_lost():
    rng = np.random.default_rng(10)
    S = ts.sensors(ts.radar(), {"id": "CROWD", "kind": "visual", "lat": 50.0, "lon": 30.0,
                                "alt": 0.0, "sigma_h_m": 200.0, "sigma_v_m": 200.0})
    t = np.arange(0.0, 100.0, 1.0)
    x, v = ts.line(t, 8e3, 6e3, 800.0, -40.0, 10.0)
    radar = ts.polar_reports(S, 0, t, x, v, rng)
    crowd = ts.pos_reports(1, t[10:90:5], x[10:90:5], rng, sigma_h=200.0, sigma_v=200.0)
    cfg = TrackerConfig(reorder_s=1.0, max_late_s=60.0)
    tr = Tracker(S, cfg)
    # crowd reports arrive 30 s late; two more arrive 70 s late (beyond max_late_s)
    arrivals = [(radar.t[k], radar.take(np.array([k]))) for k in range(len(radar))]
    arrivals += [(crowd.t[k] + 30.0, crowd.take(np.array([k]))) for k in range(len(crowd) - 2)]
    arrivals += [(crowd.t[k] + 70.0, crowd.take(np.array([k]))) for k in (len(crowd) - 2, len(crowd) - 1)]
    arrivals.sort(key=lambda a: a[0])
    now = 0.0
    k = 0
    while now <= 170.0:
        batch = []
        while k < len(arrivals) and arrivals[k][0] <= now:
            batch.append(arrivals[k][1])
            k += 1
        from airshield.io.records import Detections
        tr.step(Detections.concat(batch) if batch else None, now)
        now += 1.0
    s = tr.stats
    assert s.reports_in == len(radar) + len(crowd)
    assert s.late_dropped == 2
    assert s.late == len(crowd) - 2
    assert s.retrodicted >= len(crowd) - 4  # the late crowd reports updated the track
    assert s.processed + s.late_dropped == s.reports_in
    assert s.used + (s.processed - s.used) == s.processed


def test_one_object_seen_by_two_far_radars_gives_one_track():
    rng = np.random.default_rng(12)
    S = ts.sensors(ts.radar(), ts.radar(sid="R2", lat=50.4, lon=30.3))
    t = np.arange(0.0, 120.0, 1.0)
    x, v = ts.line(t, 20e3, 20e3, 1500.0, -30.0, -35.0)
    det = ts.merge(ts.polar_reports(S, 0, t, x, v, rng),
                   ts.polar_reports(S, 1, t + 0.5, x + v * 0.5, v, rng))
    tr = Tracker(S)
    pics = ts.run(tr, det)
    assert all(len(p) <= 1 for p in pics[20:])
    assert len(pics[-3]) == 1 and set(pics[-3].sources[0]) == {"R1", "R2"}


def test_sensor_without_sigmas_gets_defaults_and_one_warning():
    rng = np.random.default_rng(13)
    S = ts.sensors({"id": "BARE", "kind": "radar", "lat": 50.0, "lon": 30.0, "alt": 10.0})
    t = np.arange(0.0, 40.0, 1.0)
    x, v = ts.line(t, 5e3, 5e3, 500.0, 20.0, 0.0)
    full = ts.sensors(ts.radar())
    det = ts.merge(ts.polar_reports(full, 0, t, x, v, rng, sigmas=False))
    det.sensor[:] = 0
    tr = Tracker(S, source="d.jsonl")
    pics = ts.run(tr, det)
    w = tr.warnings.items
    assert sorted(i.field for i in w) == ["sigma_az_deg", "sigma_el_deg", "sigma_range_m", "sigma_rr_mps"]
    assert all(i.file == "d.jsonl" and i.line >= 1 and "BARE" in i.message for i in w)
    assert len(pics[-3]) == 1  # tracked all the same


def test_zero_sigmas_and_extreme_geometry_stay_finite():
    # contract readers accept sigma 0, a plot straight overhead, azimuth 359.99:
    # the tracker must neither crash nor produce non-finite states
    rng = np.random.default_rng(14)
    S = ts.sensors(ts.radar(sigma_range_m=0.0, sigma_az_deg=0.0, sigma_el_deg=0.0,
                            sigma_rr_mps=0.0),
                   {"id": "P", "kind": "visual", "lat": 50.0, "lon": 30.0, "alt": 0.0})
    t = np.arange(0.0, 30.0, 1.0)
    x, v = ts.line(t, 0.0, -300.0, 3000.0, 0.0, 20.0)  # passes over the radar
    radar = ts.polar_reports(S, 0, t, x, v, rng)
    radar.sigma[:] = 0.0
    pos = ts.pos_reports(1, t + 0.5, x, rng, sigma_h=0.0, sigma_v=0.0)
    tr = Tracker(S)
    pics = ts.run(tr, ts.merge(radar, pos))
    assert np.isfinite(tr.state.x).all() and np.isfinite(tr.state.P).all()
    for p in pics:
        for r in p.to_records():
            assert all(np.isfinite(r[k]) for k in ("lat", "lon", "alt", "ve", "vn", "vu"))
    assert tr.stats.processed == 2 * t.size and tr.stats.used == tr.stats.processed


@hs.composite
def _reports(draw):
    """Any values the contract reader lets through (its ranges), any mix of kinds."""
    from airshield.io.records import BEARING, POLAR, POS, Detections

    n = draw(hs.integers(1, 12))
    d = Detections.empty(n)
    fl = lambda lo, hi: hs.floats(lo, hi, allow_nan=False)  # noqa: E731
    for i in range(n):
        d.t[i] = draw(fl(0.0, 20.0))
        d.sensor[i] = draw(hs.integers(0, 2))
        k = draw(hs.sampled_from([POLAR, POS, BEARING]))
        d.kind[i] = k
        if k == POLAR:
            d.z[i] = [draw(fl(0.0, 3e5)), draw(fl(0.0, 360.0)), draw(fl(-90.0, 90.0)),
                      draw(hs.one_of(hs.just(np.nan), fl(-5000.0, 5000.0)))]
            d.sigma[i] = [draw(fl(0.0, 1e4)), draw(fl(0.0, 90.0)), draw(fl(0.0, 90.0)), draw(fl(0.0, 100.0))]
        elif k == POS:
            d.z[i, :3] = [draw(fl(-90.0, 90.0)), draw(fl(-180.0, 180.0)),
                          draw(hs.one_of(hs.just(np.nan), fl(-500.0, 60000.0)))]
            d.sigma[i, :2] = [draw(fl(0.0, 1e5)), draw(fl(0.0, 1e5))]
        else:
            d.z[i, :2] = [draw(fl(0.0, 360.0)), draw(hs.one_of(hs.just(np.nan), fl(-90.0, 90.0)))]
            d.sigma[i, :2] = [draw(hs.one_of(hs.just(np.nan), fl(0.0, 180.0))), draw(fl(0.0, 90.0))]
    return d.take(np.argsort(d.t, kind="stable"))


@settings(max_examples=40, deadline=None)
@given(batches=hs.lists(_reports(), min_size=1, max_size=4))
def test_any_reader_valid_reports_keep_the_tracker_finite(batches):
    S = ts.sensors(ts.radar(), {"id": "P", "kind": "visual", "lat": 89.9, "lon": 179.9, "alt": 0.0},
                   {"id": "A", "kind": "acoustic", "lat": 50.0, "lon": 30.0, "alt": 0.0})
    tr = Tracker(S)
    now = 0.0
    for d in batches:
        d.t[:] = d.t + now
        now = float(d.t.max()) + 1.0
        pic = tr.step(d, now)
        for r in pic.to_records():
            assert all(np.isfinite(r[k]) for k in ("lat", "lon", "alt", "ve", "vn", "vu"))
    tr.flush(now + 5.0)
    assert tr.stats.processed == sum(len(d) for d in batches)
    st = tr.state
    assert np.isfinite(st.x).all() and np.isfinite(st.P).all() and np.isfinite(st.p_class).all()


def _heard(S, x, t, rng, sigma_deg=2.0):
    """Bearings of every microphone of S (ids A0..) within its 5 km of the object."""
    lat, lon, alt = geo.ecef_to_geodetic(*x.T)
    parts = []
    for i in np.flatnonzero(np.char.startswith(np.asarray(S.ids, str), "A")):  # _acoustic_net
        _, _, r = geo.geodetic_to_aer(lat, lon, alt, S.lat[i], S.lon[i], S.alt[i])
        m = r < 5000.0
        parts.append(ts.bearing_reports(S, i, t[m], x[m], rng, sigma_deg=sigma_deg))
    return parts


def _ids_near(pics, x, steps, max_m=1000.0):
    ids, seen = set(), 0
    for k in steps:
        tid = _truth_id_at(pics[k], x[k], max_m)
        if tid is not None:
            ids.add(tid)
            seen += 1
    return ids, seen


def test_one_object_seen_by_radar_and_microphones_gives_one_track():
    rng = np.random.default_rng(21)
    S = ts.sensors(ts.radar(sid="R1", lat=49.9, lon=29.9), *_acoustic_net())
    t = np.arange(0.0, 200.0, 1.0)
    x, v = ts.line(t, -2500.0, 1700.0, 400.0, 48.0, 4.0)
    det = ts.merge(ts.polar_reports(S, 0, t, x, v, rng, pd=0.8), *_heard(S, x, t, rng))
    pics = ts.run(Tracker(S), det)
    ids, seen = _ids_near(pics, x, range(20, 190))
    assert seen >= 165 and len(ids) == 1
    shown = [len(pics[k]) for k in range(20, 190)]
    assert np.mean(np.array(shown) == 1) > 0.95  # no bearing-only twin of the radar track


def test_low_drone_lost_by_radar_keeps_its_id_when_microphones_hear_it():
    """Radar holds a drone for 100 s, loses it under its horizon, nothing hears it
    for about 45 s, then microphones do: the held track is re-acquired, same id,
    and keeps the height the radar measured. A fixed 30 s deletion starts anew."""
    rng = np.random.default_rng(22)
    S = ts.sensors(ts.radar(sid="R1", lat=49.95, lon=29.8), *_acoustic_net())
    t = np.arange(0.0, 230.0, 1.0)
    x, v = ts.line(t, -12000.0, 1500.0, 150.0, 50.0, 2.0)
    radar = ts.polar_reports(S, 0, t[t < 100], x[t < 100], v[t < 100], rng)
    det = ts.merge(radar, *_heard(S, x, t, rng))
    pics = ts.run(Tracker(S), det)
    before, n0 = _ids_near(pics, x, range(20, 100), max_m=300.0)
    after, n1 = _ids_near(pics, x, range(170, 228), max_m=300.0)
    assert n0 >= 75 and n1 >= 50
    assert len(before) == 1 and after == before
    # silent for longer than delete_after_s (30 s): held, but not shown
    assert all(len(pics[k]) == 0 for k in range(132, 145))
    # deleted after 30 s, the track is continued from the graveyard (stitch.py) ...
    short = ts.run(Tracker(S, TrackerConfig(delete_after_max_s=30.0)), det)
    assert _ids_near(short, x, range(170, 228), max_m=300.0)[0] == before
    # ... and without continuation it starts anew
    fixed = ts.run(Tracker(S, TrackerConfig(delete_after_max_s=30.0, stitch=False)), det)
    assert _ids_near(fixed, x, range(170, 228), max_m=5000.0)[0].isdisjoint(before)


def test_track_quality_hides_a_vague_track_but_keeps_its_id():
    """A radar track coasting through a silence grows vague: past show_max_rms_m
    (RMS 3-D position error) it leaves the picture, is still held, and when the
    radar sees the drone again it is shown under the same id."""
    from airshield.track import manage

    P = np.zeros((3, 6, 6))
    P[:, [0, 1, 2], [0, 1, 2]] = np.array([[300.0 ** 2] * 3, [500.0 ** 2] * 3, [10.0, 10.0, 760.0 ** 2]])
    assert manage.shown(P, TrackerConfig()).tolist() == [True, False, False]  # 520, 866, 760 m RMS
    assert manage.shown(P, TrackerConfig(show_max_rms_m=None)).all()

    rng = np.random.default_rng(23)
    S = ts.sensors(ts.radar(sid="R1"))
    t = np.arange(0.0, 160.0, 1.0)
    x, v = ts.line(t, 15e3, 5e3, 800.0, 0.0, 50.0)
    seen = (t < 60) | (t >= 85)  # 25 s unseen: still within delete_after_s
    det = ts.merge(ts.polar_reports(S, 0, t[seen], x[seen], v[seen], rng))
    tight = TrackerConfig(show_max_rms_m=80.0)  # the radar track is ~50 m RMS; ~130 m after 25 s
    for cfg in (TrackerConfig(), tight):
        pics = ts.run(Tracker(S, cfg), det)
        for p in pics:  # every shown track within the quality bound
            rms = np.sqrt(np.trace(p.cov_enu, axis1=1, axis2=2))
            assert (rms <= cfg.show_max_rms_m + 1e-6).all()
        before, _ = _ids_near(pics, x, range(30, 60), max_m=300.0)
        after, n_after = _ids_near(pics, x, range(100, 158), max_m=300.0)
        assert len(before) == 1 and after == before and n_after >= 50
    # the tight bound hides the coasting track for part of the silence; the default
    # (750 m) shows it throughout, its error still small
    shown_tight = sum(len(p) for p in pics[62:84])
    shown_default = sum(len(p) for p in ts.run(Tracker(S), det)[62:84])
    assert shown_tight < shown_default == 22
