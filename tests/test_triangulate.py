"""Bearing-only initiation: exact crossings, covariance consistency (NEES), ghost
rejection, gating against existing tracks, and fuzzed inputs."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airshield import geo
from airshield.track.triangulate import Fixes, initiate_from_bearings

LAT0, LON0, ALT0 = 50.0, 30.0, 150.0


def sensors_at(en, lat0=LAT0, lon0=LON0, alt0=ALT0):
    en = np.asarray(en, float).reshape(-1, 2)
    lat, lon, alt = geo.enu_to_geodetic(en[:, 0], en[:, 1], np.zeros(len(en)), lat0, lon0, alt0)
    return np.column_stack(geo.geodetic_to_ecef(lat, lon, alt)), lat, lon, alt


def bearings(sensor_en, targets_enu, sigma_deg=0.0, rng=None, lat0=LAT0, lon0=LON0, alt0=ALT0,
             max_range=6000.0, with_el=False, report_sigma=None):
    """One bearing per (sensor, target) in range, exact or with Gaussian noise.
    Returns the arguments of initiate_from_bearings and the true target of each row."""
    S, lat, lon, alt = sensors_at(sensor_en, lat0, lon0, alt0)
    tg = np.asarray(targets_enu, float).reshape(-1, 3)
    tl, tn, ta = geo.enu_to_geodetic(tg[:, 0], tg[:, 1], tg[:, 2], lat0, lon0, alt0)
    s_idx, t_idx = np.meshgrid(np.arange(len(S)), np.arange(len(tg)), indexing="ij")
    s_idx, t_idx = s_idx.ravel(), t_idx.ravel()
    az, el, rng_m = geo.geodetic_to_aer(tl[t_idx], tn[t_idx], ta[t_idx], lat[s_idx], lon[s_idx],
                                        alt[s_idx])
    keep = rng_m <= max_range
    s_idx, t_idx, az, el = s_idx[keep], t_idx[keep], az[keep], el[keep]
    if rng is not None:
        az = az + rng.normal(0.0, sigma_deg, az.size)
        el = el + rng.normal(0.0, sigma_deg, el.size)
    args = (S[s_idx], lat[s_idx], lon[s_idx], np.mod(az, 360.0),
            el if with_el else np.full(az.size, np.nan),
            np.full(az.size, report_sigma or max(sigma_deg, 3.0)),
            np.zeros(az.size), s_idx)
    return args, t_idx


def truth_ecef(targets_enu, lat0=LAT0, lon0=LON0, alt0=ALT0):
    tg = np.asarray(targets_enu, float).reshape(-1, 3)
    tl, tn, ta = geo.enu_to_geodetic(tg[:, 0], tg[:, 1], tg[:, 2], lat0, lon0, alt0)
    return np.column_stack(geo.geodetic_to_ecef(tl, tn, ta))


def to_enu(ecef, lat0=LAT0, lon0=LON0, alt0=ALT0):
    lat, lon, alt = geo.ecef_to_geodetic(ecef[:, 0], ecef[:, 1], ecef[:, 2])
    return np.column_stack(geo.geodetic_to_enu(lat, lon, alt, lat0, lon0, alt0))


def test_two_sensors_exact_bearings_hand_computed():
    # On the equator meridians are parallel, so this is the schoolbook picture:
    # sensors 2 km apart on an east-west line, a target 1 km north of the middle
    # is at 45 deg from the western sensor and 315 deg from the eastern one.
    S, lat, lon, alt = sensors_at([[0.0, 0.0], [2000.0, 0.0]], 0.0, 0.0, 0.0)
    f = initiate_from_bearings(S, lat, lon, [45.0, 315.0], [np.nan, np.nan], [3.0, 3.0],
                               [10.0, 11.0], [7, 9])
    assert len(f) == 1
    e, n, u = to_enu(f.ecef, 0.0, 0.0, 0.0)[0]
    assert e == pytest.approx(1000.0, abs=0.5)
    assert n == pytest.approx(1000.0, abs=0.5)
    assert u == pytest.approx(500.0, abs=1.0)  # the height prior: 500 m above the sensors
    assert f.t[0] == pytest.approx(10.5)
    assert sorted(f.used[0].tolist()) == [0, 1]
    # Rays cross at 90 deg, each 1414 m long with sigma 3 deg: each is uncertain
    # across by 1414.2 * 0.05236 = 74.05 m, so the fix is a 74 m circle; height 500 m.
    flat, flon, _ = geo.ecef_to_geodetic(*f.ecef[0])
    R = geo.enu_to_ecef_rotation(flat, flon)  # ENU at the fix
    P = R.T @ f.cov[0] @ R
    assert np.sqrt(P[0, 0]) == pytest.approx(74.05, rel=0.01)
    assert np.sqrt(P[1, 1]) == pytest.approx(74.05, rel=0.01)
    assert abs(P[0, 1]) < 1.0
    assert np.sqrt(P[2, 2]) == pytest.approx(500.0, rel=0.01)


def test_two_sensors_exact_bearings_mid_latitude():
    tg = [[1500.0, 2500.0, 800.0]]
    args, _ = bearings([[0, 0], [4000, 500]], tg)
    f = initiate_from_bearings(*args)
    assert len(f) == 1
    d = to_enu(f.ecef)[0] - np.asarray(tg[0])
    assert np.hypot(d[0], d[1]) < 1.0


def test_elevations_fix_the_height():
    tg = [[1500.0, 2500.0, 1800.0]]
    sens = [[0, 0], [4000, 500], [2000, 4500]]
    # Sharp elevations (0.3 deg): the 500 m height prior hardly pulls.
    args, _ = bearings(sens, tg, with_el=True, report_sigma=0.3)
    f = initiate_from_bearings(*args)
    assert len(f) == 1
    assert np.abs(to_enu(f.ecef)[0] - tg[0]).max() < 5.0
    # Acoustic-grade 3 deg elevations: the prior pulls the height down, by the
    # Bayes weight of the two: (1800 - 500) * Puu / 500^2.
    args, _ = bearings(sens, tg, with_el=True, report_sigma=3.0)
    f = initiate_from_bearings(*args)
    R = geo.enu_to_ecef_rotation(LAT0, LON0)
    puu = (R.T @ f.cov[0] @ R)[2, 2]
    pull = (1800.0 - 500.0) * puu / 500.0**2
    assert to_enu(f.ecef)[0, 2] == pytest.approx(1800.0 - pull, abs=0.3 * pull)
    assert np.sqrt(puu) < 200.0  # far better than the 500 m prior alone


def test_three_sensors_noisy_covariance_is_consistent():
    rng = np.random.default_rng(7)
    sens = [[0, 0], [4000, 0], [2000, 3500]]
    nees, nees_h, three = [], [], 0
    for _ in range(200):
        tg = [[rng.uniform(1000, 3000), rng.uniform(500, 2500), rng.normal(500.0, 500.0)]]
        args, _ = bearings(sens, tg, sigma_deg=3.0, rng=rng)
        f = initiate_from_bearings(*args)
        assert len(f) == 1
        three += f.n_sensors[0] == 3
        d = f.ecef[0] - truth_ecef(tg)[0]
        nees.append(d @ np.linalg.solve(f.cov[0], d))
        R = geo.enu_to_ecef_rotation(LAT0, LON0)
        dh, Ph = (R.T @ d)[:2], (R.T @ f.cov[0] @ R)[:2, :2]
        nees_h.append(dh @ np.linalg.solve(Ph, dh))
    # Chi-square, 3 and 2 dof: mean of 200 draws has sd 0.17 and 0.14; loose bounds
    # leave room for the bearing model's nonlinearity.
    assert 2.4 < np.mean(nees) < 3.6
    assert 1.5 < np.mean(nees_h) < 2.6
    assert np.mean(np.asarray(nees) < 7.81) > 0.9  # the 95% point of chi2(3)
    assert three >= 190  # a 3-sigma gate keeps the third bearing ~99% of the time


def test_two_targets_three_sensors_no_ghost():
    sens = [[0, 0], [3000, 0], [1500, 4000]]
    tg = [[500.0, 2000.0, 500.0], [2500.0, 2000.0, 500.0]]
    args, who = bearings(sens, tg)
    # With sensors 0 and 1 alone both ghosts (crossings of one target's bearing
    # with the other's) lie in front of both and in range.
    two = args[7] < 2
    f2 = initiate_from_bearings(*(a[two] for a in args), min_sensors=2)
    assert len(f2) == 2  # without a third sensor one ghost can't be told from a target
    f = initiate_from_bearings(*args)
    assert len(f) == 2
    got = to_enu(f.ecef)
    for k in range(2):
        d = np.hypot(*(got[:, :2] - np.asarray(tg)[k, :2]).T)
        assert d.min() < 5.0
        assert set(who[f.used[int(d.argmin())]]) == {k}
    assert np.concatenate(f.used).size == np.unique(np.concatenate(f.used)).size


def test_two_targets_noisy_ghosts_rejected_most_of_the_time():
    rng = np.random.default_rng(3)
    sens = [[0, 0], [3000, 0], [1500, 4000]]
    clean = 0
    for _ in range(40):
        tg = np.column_stack([rng.uniform(0, 3000, 2), rng.uniform(1000, 3000, 2), [500, 500]])
        if np.hypot(*(tg[0, :2] - tg[1, :2])) < 800:
            tg[1, 0] = (tg[0, 0] + 1500) % 3000
        args, _ = bearings(sens, tg, sigma_deg=3.0, rng=rng)
        f = initiate_from_bearings(*args)
        got = to_enu(f.ecef) if len(f) else np.zeros((0, 3))
        hit = [np.hypot(*(got[:, :2] - t[:2]).T).min() < 600 if len(f) else False for t in tg]
        clean += (len(f) == 2) and all(hit)
    assert clean >= 34  # >= 85% of random two-target geometries without a ghost or a miss


def test_bearings_near_existing_track_make_no_fix():
    sens = [[0, 0], [3000, 0], [1500, 4000]]
    tg = [[1500.0, 1500.0, 500.0], [1500.0, 5000.0, 500.0]]
    args, who = bearings(sens, tg)
    existing = truth_ecef([[1600.0, 1400.0, 600.0]])
    f = initiate_from_bearings(*args, existing_ecef=existing)
    assert len(f) == 1
    assert set(who[f.used[0]]) == {1}
    assert np.hypot(*(to_enu(f.ecef)[0, :2] - tg[1][:2])) < 5.0
    # And a track far away changes nothing.
    f_all = initiate_from_bearings(*args, existing_ecef=truth_ecef([[30000.0, 0.0, 0.0]]))
    assert len(f_all) == 2


def test_raid_of_ten_found_without_false_fixes():
    rng = np.random.default_rng(11)
    gx, gy = np.meshgrid(np.arange(0, 12001, 3000), np.arange(0, 9001, 3000))
    sens = np.column_stack([gx.ravel(), gy.ravel()]) + rng.normal(0, 200, (gx.size, 2))
    tg = np.column_stack([rng.uniform(0, 12000, 10), rng.uniform(0, 9000, 10),
                          rng.uniform(200, 1500, 10)])
    args, who = bearings(sens, tg, sigma_deg=4.0, rng=rng)
    keep = rng.random(who.size) < 0.85  # pd 0.85
    f = initiate_from_bearings(*(a[keep] for a in args))
    got = to_enu(f.ecef)
    d = np.hypot(got[:, None, 0] - tg[None, :, 0], got[:, None, 1] - tg[None, :, 1])
    assert (d.min(axis=1) < 500).sum() >= len(f) - 1  # at most one fix far from every target
    assert (d.min(axis=0) < 500).sum() >= 9


def test_empty_and_too_little_input():
    f = initiate_from_bearings(np.zeros((0, 3)), [], [], [], [], [], [], [])
    assert isinstance(f, Fixes) and len(f) == 0
    assert f.ecef.shape == (0, 3) and f.cov.shape == (0, 3, 3) and f.used == []
    args, _ = bearings([[0, 0]], [[1000.0, 1000.0, 500.0]])
    assert len(initiate_from_bearings(*args)) == 0
    args, _ = bearings([[0, 0], [2000, 0]], [[1000.0, 1000.0, 500.0]])
    assert len(initiate_from_bearings(*args, min_sensors=3)) == 0


def test_parallel_and_diverging_bearings_make_no_fix():
    S, lat, lon, _ = sensors_at([[0, 0], [2000, 0]])
    for az in ([0.0, 0.0], [225.0, 135.0], [90.0, 270.0]):
        assert len(initiate_from_bearings(S, lat, lon, az, [np.nan] * 2, [3, 3], [0, 0],
                                          [0, 1])) == 0


@st.composite
def bearing_batches(draw):
    m = draw(st.integers(0, 12))
    n_sites = draw(st.integers(1, 5))
    site_en = draw(st.lists(st.tuples(st.floats(-8000, 8000), st.floats(-8000, 8000)),
                            min_size=n_sites, max_size=n_sites))
    if draw(st.booleans()):
        site_en[-1] = site_en[0]  # two sensors at one place
    pick = draw(st.lists(st.integers(0, n_sites - 1), min_size=m, max_size=m))
    odd = st.sampled_from([np.nan, 0.0, -1.0, np.inf])
    az = draw(st.lists(st.one_of(st.floats(-720, 720), odd), min_size=m, max_size=m))
    if m >= 2 and draw(st.booleans()):
        az[1] = az[0]  # parallel
    el = draw(st.lists(st.one_of(st.floats(-90, 90), odd), min_size=m, max_size=m))
    sig = draw(st.lists(st.one_of(st.floats(0, 30), odd), min_size=m, max_size=m))
    t = draw(st.lists(st.one_of(st.floats(0, 5), st.just(np.nan)), min_size=m, max_size=m))
    ids = draw(st.lists(st.integers(0, 3), min_size=m, max_size=m))
    lat0 = draw(st.floats(-80, 80))
    return site_en, pick, az, el, sig, t, ids, lat0


@given(bearing_batches())
@settings(max_examples=150, deadline=None)
def test_fuzz_never_crashes_and_covariances_are_finite(batch):
    site_en, pick, az, el, sig, t, ids, lat0 = batch
    S, lat, lon, _ = sensors_at(np.asarray(site_en)[pick] if pick else np.zeros((0, 2)), lat0,
                                LON0, 100.0)
    f = initiate_from_bearings(S, lat, lon, np.asarray(az, float), np.asarray(el, float),
                               np.asarray(sig, float), np.asarray(t, float), np.asarray(ids, int))
    n = len(f)
    assert f.ecef.shape == (n, 3) and f.cov.shape == (n, 3, 3) and len(f.used) == n
    assert np.isfinite(f.ecef).all() and np.isfinite(f.cov).all() and np.isfinite(f.t).all()
    if n:
        assert (np.linalg.eigvalsh(f.cov) > 0).all()
        rows = np.concatenate(f.used)
        assert rows.size == np.unique(rows).size and rows.max() < len(az)
