"""The filter parts: motion and measurement models against independent geometry,
filter consistency (NEES) and accuracy, the late-report update."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2

import tracksim as ts
from airshield import geo
from airshield.track import measure as ms
from airshield.track.config import TrackerConfig
from airshield.track.motion import MotionModels, process_noise, transition
from airshield.track.tracker import Tracker
from airshield.track.update import kalman_update, oosm_update


def _R_at(x):
    lat, lon, _ = geo.ecef_to_geodetic(x[:, 0], x[:, 1], x[:, 2])
    return geo.enu_to_ecef_rotation(np.atleast_1d(lat), np.atleast_1d(lon)).reshape(-1, 3, 3)


def test_coordinated_turn_transition_follows_a_true_turn():
    # 50 m/s, 6 deg/s left turn in the horizontal plane: the CT model carried
    # over 10 s must land where the turning truth is (to the 0.1 % level).
    t = np.array([0.0, 10.0])
    x, v = ts.turn(t, 2000.0, 3000.0, 500.0, 50.0, 30.0, 6.0)
    s0 = np.r_[x[0], v[0]][None]
    models = MotionModels(np.radians([6.0, 0.0]), np.zeros(2), np.zeros(2), np.ones(2))
    F = transition(models, np.array([10.0]), _R_at(s0))
    turned, straight = (F[0] @ s0[0]), None
    straight = F[0, 1] @ s0[0]
    assert np.linalg.norm(turned[0, :3] - x[1]) < 2.0  # metres over a 500 m arc
    assert np.linalg.norm(turned[0, 3:] - v[1]) < 0.1
    # and the straight model misses the turn by tens of metres: the test has teeth
    assert np.linalg.norm(straight[:3] - x[1]) > 40.0


def test_process_noise_is_enu_shaped_in_ecef():
    x = np.array([[*np.stack(geo.geodetic_to_ecef(48.0, 35.0, 1000.0)), 0, 0, 0]], float)
    R = _R_at(x)
    models = MotionModels(np.zeros(1), np.array([2.0]), np.array([0.5]), np.ones(1))
    Q = process_noise(models, np.array([3.0]), R)[0, 0]
    Qenu = np.kron(np.eye(2), R[0].T) @ Q @ np.kron(np.eye(2), R[0])
    # ENU velocity block: diag(q_h, q_h, q_v) * dt ; position block dt^3/3
    assert np.allclose(np.diag(Qenu[3:, 3:]), [6.0, 6.0, 1.5])
    assert np.allclose(np.diag(Qenu[:3, :3]), np.array([2.0, 2.0, 0.5]) * 9.0)
    assert np.allclose(Qenu[:3, 3:], np.diag([2.0, 2.0, 0.5]) * 4.5)


@pytest.mark.parametrize("mtype", [ms.POLAR_RR, ms.POLAR, ms.AZ, ms.AZEL])
def test_polar_model_matches_pymap3d_and_jacobian_matches_differences(mtype):
    rng = np.random.default_rng(7)
    S = ts.sensors(ts.radar(alt=120.0))
    s_ecef = np.stack(geo.geodetic_to_ecef(S.lat, S.lon, S.alt), -1).reshape(1, 3)
    s_R = geo.enu_to_ecef_rotation(S.lat, S.lon).reshape(1, 3, 3)
    k = 6
    lat = 50.0 + rng.uniform(-0.5, 0.5, k)
    lon = 30.0 + rng.uniform(-0.5, 0.5, k)
    alt = rng.uniform(200, 5000, k)
    pos = np.stack(geo.geodetic_to_ecef(lat, lon, alt), -1)
    x = np.concatenate([pos, rng.normal(0, 80, (k, 3))], axis=1)
    sE, sR = np.repeat(s_ecef, k, 0), np.repeat(s_R, k, 0)
    zhat, H = ms.predict_measurement(mtype, x, sE, sR)
    az, el, rng_m = geo.geodetic_to_aer(lat, lon, alt, S.lat[0], S.lon[0], S.alt[0])
    if mtype in (ms.POLAR_RR, ms.POLAR):
        assert np.allclose(zhat[:, 0], rng_m, atol=1e-3)
        assert np.allclose(np.degrees(np.mod(zhat[:, 1], 2 * np.pi)), az, atol=1e-7)
        assert np.allclose(np.degrees(zhat[:, 2]), el, atol=1e-7)
    else:
        assert np.allclose(np.degrees(np.mod(zhat[:, 0], 2 * np.pi)), az, atol=1e-7)
    num = np.zeros_like(H)
    for i in range(6):
        step = 1.0 if i < 3 else 0.01
        dx = np.zeros(6)
        dx[i] = step
        zp, _ = ms.predict_measurement(mtype, x + dx, sE, sR)
        zm, _ = ms.predict_measurement(mtype, x - dx, sE, sR)
        num[:, :, i] = ms.residual(mtype, zp, zm) / (2 * step)
    assert np.allclose(H, num, rtol=1e-4, atol=1e-9)


def test_azimuth_residual_wraps():
    z = np.radians([[359.0], [1.0], [180.0]])
    zhat = np.radians([[1.0], [359.0], [-179.0]])
    y = np.degrees(ms.residual(ms.AZ, z, zhat))[:, 0]
    assert np.allclose(y, [-2.0, 2.0, -1.0])


def _nees_run(seed: int, cfg: TrackerConfig):
    rng = np.random.default_rng(seed)
    S = ts.sensors(ts.radar())
    t = np.arange(0.0, 50.0, 1.0)
    x, v = ts.ncv_truth(t, 15e3, -8e3, 1500.0, -40.0, 25.0, 0.0, cfg.q_h, cfg.q_v, rng)
    det = ts.merge(ts.polar_reports(S, 0, t, x, v, rng))
    tr = Tracker(S, cfg)
    out = []
    for k in range(t.size):
        tr.step(det.take(np.array([k])), t[k])
        st = tr.state
        if st.n != 1:
            continue
        e = np.r_[st.x[0] - np.r_[x[k], v[k]]]
        out.append((k, float(e @ np.linalg.solve(st.P[0], e))))
    return out


def test_nees_of_ncv_radar_track_is_chi_square_consistent():
    # truth is pure white-acceleration NCV, so the filter runs it (no vertical decay)
    cfg = TrackerConfig(imm=False, reorder_s=0.0, q_h=1.0, q_v=0.2, vu_tau_s=np.inf)
    runs = 40
    nees = np.full((runs, 50), np.nan)
    for r in range(runs):
        for k, val in _nees_run(100 + r, cfg):
            nees[r, k] = val
    steady = nees[:, 10:]
    assert np.isfinite(steady).all()  # exactly one track, every step
    avg = steady.mean(axis=0)  # average over runs at each step ~ chi2(6 runs)/runs
    lo, hi = chi2.ppf([0.005, 0.995], 6 * runs) / runs
    inside = (avg > lo) & (avg < hi)
    assert inside.mean() >= 0.85, (avg.round(2), lo, hi)
    # successive steps of one run are correlated: hold the time average to the
    # band of a single step's run average
    lo95, hi95 = chi2.ppf([0.025, 0.975], 6 * runs) / runs
    assert lo95 < avg.mean() < hi95, avg.mean()


def test_single_target_accuracy_near_measurement_limit():
    rng = np.random.default_rng(3)
    S = ts.sensors(ts.radar())
    t = np.arange(0.0, 120.0, 1.0)
    x, v = ts.line(t, 20e3, 12e3, 1200.0, -45.0, -20.0)
    det = ts.merge(ts.polar_reports(S, 0, t, x, v, rng))
    tr = Tracker(S, TrackerConfig(reorder_s=0.0))
    err, sig, raw = [], [], []
    st_tab = tr.sensors
    for k in range(t.size):
        d = det.take(np.array([k]))
        tr.step(d, t[k])
        if k < 30:
            continue
        st = tr.state
        assert st.n == 1
        err.append(np.linalg.norm(st.x[0, :3] - x[k]))
        sig.append(np.sqrt(np.trace(st.P[0, :3, :3])))
        z = d.z[0]
        plot = ms.polar_to_ecef(z[0], np.radians(z[1]), np.radians(z[2]), st_tab.ecef[0], st_tab.R[0])
        raw.append(np.linalg.norm(plot - x[k]))
    rms, rms_raw, rms_sig = (np.sqrt(np.mean(np.square(a))) for a in (err, raw, sig))
    # the track beats a single plot by smoothing, and its claimed sigma is honest
    assert rms < 0.6 * rms_raw, (rms, rms_raw)
    assert 0.6 < rms / rms_sig < 1.4, (rms, rms_sig)


def test_imm_follows_a_turn_better_than_ncv():
    rng_seed = 11
    S = ts.sensors(ts.radar())
    t = np.arange(0.0, 90.0, 1.0)
    x, v = ts.turn(t, 12e3, 8e3, 800.0, 60.0, 0.0, 6.0)
    errs = {}
    for imm in (True, False):
        rng = np.random.default_rng(rng_seed)
        det = ts.merge(ts.polar_reports(S, 0, t, x, v, rng))
        tr = Tracker(S, TrackerConfig(imm=imm, reorder_s=0.0))
        e = []
        for k in range(t.size):
            tr.step(det.take(np.array([k])), t[k])
            if k >= 20 and tr.state.n:
                e.append(np.linalg.norm(tr.state.x[0, 3:] - v[k]))
        errs[imm] = np.sqrt(np.mean(np.square(e)))
    assert errs[True] < 0.7 * errs[False], errs


def test_late_report_update_equals_in_order_update_at_zero_lag_and_shrinks_p():
    rng = np.random.default_rng(5)
    S = ts.sensors(ts.radar())
    sE = np.stack(geo.geodetic_to_ecef(S.lat, S.lon, S.alt), -1).reshape(1, 3)
    sR = geo.enu_to_ecef_rotation(S.lat, S.lon).reshape(1, 3, 3)
    x = np.r_[np.stack(geo.geodetic_to_ecef(50.1, 30.2, 1000.0)), [30.0, -20.0, 0.0]][None]
    A = rng.normal(size=(6, 6))
    P = (A @ A.T + np.diag([900, 900, 900, 25, 25, 4]))[None]
    z = np.array([[1.0e4, 0.5, 0.05, 3.0]])
    zhat, H = ms.predict_measurement(ms.POLAR_RR, x, sE, sR)
    z[0, :] = zhat[0] + [20.0, 0.002, 0.003, 1.0]
    sig = np.array([[30.0, np.radians(0.3), np.radians(0.5), 1.0]])
    Rm = ms.noise(ms.POLAR_RR, sig, sR)
    S_ = H @ P @ H.transpose(0, 2, 1) + Rm
    y = ms.residual(ms.POLAR_RR, z, zhat)
    x1, P1 = kalman_update(x, P, y, S_, P @ H.transpose(0, 2, 1))
    eye, zero = np.eye(6)[None], np.zeros((1, 6, 6))
    x2, P2 = oosm_update(ms.POLAR_RR, x, P, eye, zero, z, sig, sE, sR)
    assert np.allclose(x1, x2) and np.allclose(P1, P2)
    # 8 s late: still a correction, covariance shrinks, never grows
    models = MotionModels(np.zeros(1), np.ones(1), np.ones(1), np.ones(1))
    F = transition(models, np.array([-8.0]), sR)[:, 0]
    Q = process_noise(models, np.array([-8.0]), sR)[:, 0]
    x3, P3 = oosm_update(ms.POLAR_RR, x, P, F, Q, z, sig, sE, sR)
    assert np.all(np.linalg.eigvalsh(P[0] - P3[0]) > -1e-6)
    assert not np.allclose(x3, x)


def test_vertical_velocity_decays_and_both_predictors_agree():
    """A climb is not carried for ever: over dt the height changes by tau (1 - e^-dt/tau) vu,
    the horizontal motion is untouched, and predict_ncv equals the IMM block transition."""
    from airshield.track.predict import predict_ncv
    R = np.asarray(geo.enu_to_ecef_rotation(50.0, 30.0))[None]
    u, e = R[0, :, 2], R[0, :, 0]
    x = np.zeros((1, 6))
    x[0, 3:] = 40.0 * e + 10.0 * u  # 40 m/s east, climbing 10 m/s
    P = np.broadcast_to(np.diag([100.0, 100, 100, 25, 25, 25]), (1, 6, 6)).copy()
    tau, dt = 30.0, np.array([90.0])
    xn, Pn = predict_ncv(x, P, dt, R, 0.5, 0.05, tau)
    assert np.isclose(xn[0, :3] @ u, tau * (1 - np.exp(-3.0)) * 10.0, rtol=1e-9)
    assert np.isclose(xn[0, :3] @ e, 40.0 * 90.0, rtol=1e-9)
    assert np.isclose(xn[0, 3:] @ u, 10.0 * np.exp(-3.0), rtol=1e-9)
    models = MotionModels(np.zeros(1), np.array([0.5]), np.array([0.05]), np.ones(1), tau)
    F = transition(models, dt, R)[0, 0]
    Q = process_noise(models, dt, R)[0, 0]
    assert np.allclose(F @ x[0], xn[0], atol=1e-6)
    assert np.allclose(F @ P[0] @ F.T + Q, Pn[0], rtol=1e-9, atol=1e-6)
    # backwards (late reports) and tau = inf stay plain NCV
    xb, _ = predict_ncv(x, P, -dt, R, 0.5, 0.05, tau)
    assert np.allclose(xb[0, :3], -90.0 * x[0, 3:])


def test_a_track_underground_is_lifted_to_the_floor_and_stops_descending():
    from airshield.track.identity import refresh_geodetic
    from airshield.track.state import TrackState
    st = TrackState(3)
    pos = np.array([geo.geodetic_to_ecef(50.0, 30.0, -400.0),
                    geo.geodetic_to_ecef(50.1, 30.1, 700.0)])
    R = np.asarray(geo.enu_to_ecef_rotation(np.array([50.0, 50.1]), np.array([30.0, 30.1])))
    vel = R[:, :, 0] * 40.0 - R[:, :, 2] * 5.0  # 40 m/s east, descending 5 m/s
    x = np.concatenate([pos, vel], axis=1)
    rows = st.append(x=x, xm=np.repeat(x[:, None], 3, axis=1), R=R)
    refresh_geodetic(st, rows, alt_floor=50.0)
    assert np.isclose(st.alt[0], 50.0) and np.isclose(st.alt[1], 700.0)
    lat, lon, alt = geo.ecef_to_geodetic(*st.x[0, :3])
    assert np.isclose(alt, 50.0, atol=1e-3) and np.isclose(lat, 50.0, atol=1e-9)
    assert np.isclose(st.x[0, 3:] @ R[0, :, 2], 0.0, atol=1e-9)  # no longer descending
    assert np.isclose(st.x[0, 3:] @ R[0, :, 0], 40.0)  # horizontal motion kept
    assert np.allclose(st.xm[0], st.x[0]) and np.allclose(st.x[1], x[1])  # every mode lifted
