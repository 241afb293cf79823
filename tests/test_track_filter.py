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


# -- the vectorised kernels against plain per-row references (session 3 speed work) --

def _random_tracks(rng, k, m):
    """k tracks spread over the theatre with m mode states each (SPD covariances)."""
    lat, lon = rng.uniform(44.0, 53.0, k), rng.uniform(22.0, 40.0, k)
    pos = np.stack(geo.geodetic_to_ecef(lat, lon, rng.uniform(50.0, 3000.0, k)), -1)
    R = np.asarray(geo.enu_to_ecef_rotation(lat, lon)).reshape(k, 3, 3)
    xm = np.repeat(np.c_[pos, rng.normal(0, 80.0, (k, 3))][:, None], m, axis=1)
    xm += rng.normal(0, 30.0, xm.shape)
    A = rng.normal(size=(k, m, 6, 6)) * np.array([60.0, 60, 60, 5, 5, 5])[:, None]
    Pm = A @ np.swapaxes(A, -1, -2) + np.diag([100.0, 100, 100, 1, 1, 1])
    mu = rng.dirichlet(np.ones(m), k)
    return xm, Pm, mu, R


def _enu_transition(w, dt, tau):
    """F of one mode built in ENU, independently of motion.py's ECEF pieces."""
    if abs(w) < 1e-9:
        A2, B2 = dt * np.eye(2), np.eye(2)
    else:
        s, c = np.sin(w * dt), np.cos(w * dt)
        A2 = np.array([[s, -(1 - c)], [1 - c, s]]) / w
        B2 = np.array([[c, -s], [s, c]])
    b = 0.0 if not np.isfinite(tau) else 1.0 - np.exp(-dt / tau)
    g = 0.0 if not np.isfinite(tau) else dt - tau * b
    F = np.eye(6)
    F[:2, 3:5], F[3:5, 3:5] = A2, B2
    F[2, 5], F[5, 5] = dt - g, 1.0 - b
    return F


def test_imm_prediction_equals_a_per_row_reference():
    """Mixing, the per-mode ECEF transition (turns and vertical decay built in
    ENU and rotated) and process noise, one row at a time with plain numpy."""
    from airshield.track.motion import markov, models_from_config
    from airshield.track.predict import predict_modes
    rng = np.random.default_rng(21)
    models = models_from_config(TrackerConfig())
    k, m = 40, models.M
    xm, Pm, mu, R = _random_tracks(rng, k, m)
    dt = rng.uniform(0.2, 6.0, k)
    xp, Pp, cbar = predict_modes(xm, Pm, mu, dt, R, models)
    taus = np.broadcast_to(models.vu_tau_s, (m,))
    for r in range(k):
        pi = markov(models, dt[r:r + 1])[0]
        c = mu[r] @ pi
        assert np.allclose(cbar[r], c, rtol=1e-12)
        T = np.kron(np.eye(2), R[r])  # ENU -> ECEF for position and velocity
        for j in range(m):
            w = mu[r] * pi[:, j] / c[j]
            x0 = w @ xm[r]
            P0 = sum(w[i] * (Pm[r, i] + np.outer(xm[r, i] - x0, xm[r, i] - x0)) for i in range(m))
            F = T @ _enu_transition(models.omega[j], dt[r], taus[j]) @ T.T
            Q = T @ np.kron([[dt[r] ** 3 / 3, dt[r] ** 2 / 2], [dt[r] ** 2 / 2, dt[r]]],
                            np.diag([models.q_h[j], models.q_h[j], models.q_v[j]])) @ T.T
            assert np.allclose(xp[r, j], F @ x0, rtol=1e-12, atol=1e-6)
            ref = F @ P0 @ F.T + Q
            assert np.allclose(Pp[r, j], ref, rtol=1e-9, atol=1e-9 * np.abs(ref).max())


def test_mode_combination_and_ncv_carry_equal_per_row_references():
    from airshield.track.predict import combine, predict_ncv
    rng = np.random.default_rng(22)
    xm, Pm, mu, R = _random_tracks(rng, 30, 4)
    x, P = combine(xm, Pm, mu)
    for r in range(30):
        xr = mu[r] @ xm[r]
        Pr = sum(mu[r, i] * (Pm[r, i] + np.outer(xm[r, i] - xr, xm[r, i] - xr)) for i in range(4))
        assert np.allclose(x[r], xr, rtol=1e-14, atol=1e-7)
        assert np.allclose(P[r], Pr, rtol=1e-12, atol=1e-9 * np.abs(Pr).max())
    dt = rng.uniform(-5.0, 8.0, 30)  # backwards too (late reports)
    xn, Pn = predict_ncv(x, P, dt, R, 2.0, 50.0, 30.0)
    models = MotionModels(np.zeros(1), np.array([2.0]), np.array([50.0]), np.ones(1), 30.0)
    F, Q = transition(models, dt, R)[:, 0], process_noise(models, dt, R)[:, 0]
    for r in range(30):
        assert np.allclose(xn[r], F[r] @ x[r], rtol=1e-14, atol=1e-7)
        ref = F[r] @ P[r] @ F[r].T + Q[r]
        assert np.allclose(Pn[r], ref, rtol=1e-10, atol=1e-10 * np.abs(ref).max())


@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("mtype", [ms.POS, ms.POLAR_RR, ms.AZ])
def test_imm_update_equals_a_per_row_ekf(mtype, shared):
    """Every mode updated by the textbook EKF (numpy inverse), mode
    probabilities from the Gaussian likelihoods: the batched kernel (selection
    instead of products for positions, Cholesky for 4x4) agrees. With
    ``shared`` (TrackerConfig.shared_linearisation, session 6) a nonlinear measurement is linearised
    once per row at the predicted mixture mean x_bar (h(x_bar) + H (x_j - x_bar)
    for mode j); without, at each mode's own prediction."""
    from airshield.track.update import imm_update
    rng = np.random.default_rng(23)
    k, m = 25, 4
    xm, Pm, mu, _ = _random_tracks(rng, k, m)
    S_ = ts.sensors(ts.radar(lat=48.5, lon=31.0))
    s_ecef = np.repeat(np.stack(geo.geodetic_to_ecef(S_.lat, S_.lon, S_.alt), -1).reshape(1, 3), k, 0)
    s_R = np.repeat(geo.enu_to_ecef_rotation(S_.lat, S_.lon).reshape(1, 3, 3), k, 0)
    if mtype == ms.POS:
        lat, lon, _ = geo.ecef_to_geodetic(*xm[:, 0, :3].T)
        s_R = np.asarray(geo.enu_to_ecef_rotation(lat, lon)).reshape(k, 3, 3)
    sig = np.tile([40.0, np.radians(0.7), np.radians(1.2), 2.0], (k, 1))
    if mtype == ms.POS:
        sig[:, :2] = [60.0, 90.0]
    zhat0, _ = ms.predict_measurement(mtype, xm[:, 0], s_ecef, s_R)
    z = np.zeros((k, 4))
    z[:, :ms.DIM[mtype]] = zhat0 + rng.normal(0, 1.0, zhat0.shape) * sig[:, :ms.DIM[mtype]]
    x1, P1, mu1 = imm_update(mtype, xm, Pm, mu, z, sig, s_ecef, s_R, shared=shared)
    for r in range(k):
        lik = np.empty(m)
        xbar = mu[r] @ xm[r]
        for j in range(m):
            if shared and mtype != ms.POS:
                zh, H = ms.predict_measurement(mtype, xbar[None], s_ecef[r:r + 1], s_R[r:r + 1])
                y = ms.residual(mtype, z[r:r + 1, :ms.DIM[mtype]], zh)[0] - H[0] @ (xm[r, j] - xbar)
            else:
                zh, H = ms.predict_measurement(mtype, xm[r, j][None], s_ecef[r:r + 1], s_R[r:r + 1])
                y = ms.residual(mtype, z[r:r + 1, :ms.DIM[mtype]], zh)[0]
            Rn = ms.noise(mtype, sig[r:r + 1], s_R[r:r + 1])[0]
            S = H[0] @ Pm[r, j] @ H[0].T + Rn
            K = Pm[r, j] @ H[0].T @ np.linalg.inv(S)
            assert np.allclose(x1[r, j], xm[r, j] + K @ y, rtol=1e-13, atol=1e-6)
            Pr = Pm[r, j] - K @ S @ K.T
            assert np.allclose(P1[r, j], 0.5 * (Pr + Pr.T), rtol=1e-9, atol=1e-9 * np.abs(Pr).max())
            lik[j] = np.exp(-0.5 * y @ np.linalg.solve(S, y)) / np.sqrt(np.linalg.det(2 * np.pi * S))
        ref = np.maximum(mu[r] * lik / (mu[r] * lik).sum(), 1e-6)
        assert np.allclose(mu1[r], ref / ref.sum(), rtol=1e-9, atol=1e-12)


def test_inverse_and_log_det_of_innovation_covariances():
    from airshield.track.linalg import inv_logdet
    rng = np.random.default_rng(24)
    for m in (1, 2, 3, 4):
        A = rng.normal(size=(200, m, m)) * rng.uniform(0.01, 3e3, (200, 1, m))
        S = A @ np.swapaxes(A, -1, -2) + np.eye(m) * 1e-3
        Si, ld = inv_logdet(S)
        assert np.allclose(Si @ S, np.eye(m), atol=1e-6)
        assert np.allclose(ld, np.linalg.slogdet(S)[1], rtol=1e-10, atol=1e-9)


def test_range_pregate_never_drops_a_pair_inside_the_gate():
    """The pre-gate on range alone (gate.range_pregate) may only drop pairs that
    the full 4-D chi-square gate also rejects, and it must drop far ones."""
    from airshield.track.gate import gate_thresholds, range_pregate
    from airshield.track.predict import predict_ncv
    from airshield.track.update import innovation, mahalanobis
    rng = np.random.default_rng(25)
    k = 3000
    xm, Pm, _, R = _random_tracks(rng, k, 1)
    scale = rng.uniform(0.05, 50.0, k)
    x, P = xm[:, 0], Pm[:, 0] * scale[:, None, None]  # tight and vague tracks
    S_ = ts.sensors(ts.radar(lat=48.5, lon=31.0))
    s_ecef = np.repeat(np.stack(geo.geodetic_to_ecef(S_.lat, S_.lon, S_.alt), -1).reshape(1, 3), k, 0)
    s_R = np.repeat(geo.enu_to_ecef_rotation(S_.lat, S_.lon).reshape(1, 3, 3), k, 0)
    dt = rng.uniform(-3.0, 3.0, k)
    sig = np.tile([30.0, np.radians(0.5), np.radians(1.0), 1.0], (k, 1))
    xc, Pc = predict_ncv(x, P, dt, R, 2.0, 50.0, 30.0)
    zhat, _ = ms.predict_measurement(ms.POLAR_RR, xc, s_ecef, s_R)
    # plots of this track, and of other objects 0-5 km off in range
    z = zhat + rng.normal(0, 1.0, (k, 4)) * sig * rng.uniform(0.5, 4.0, (k, 1))
    z[k // 2:, 0] += rng.uniform(-5e3, 5e3, k - k // 2)
    y, _, S, _, _ = innovation(ms.POLAR_RR, xc, Pc, z, sig, s_ecef, s_R)
    d2 = mahalanobis(y, S)[0]
    lim = np.full(k, gate_thresholds(0.9999)[4])
    keep = range_pregate(x, P, dt, R, 2.0, 50.0, 30.0, np.zeros(k, np.int8), z, sig, s_ecef, lim)
    assert keep[d2 < lim].all()
    far_tight = np.arange(k) >= k // 2
    far_tight &= scale < 1.0
    assert (~keep[far_tight]).mean() > 0.8  # and it has teeth
    assert range_pregate(x, P, dt, R, 2.0, 50.0, 30.0, np.full(k, ms.POS, np.int8), z, sig, s_ecef,
                         lim).all()  # other report kinds pass


@pytest.mark.parametrize("mtype", [ms.AZ, ms.AZEL])
def test_bearing_pregate_never_drops_a_pair_inside_the_gate(mtype):
    """The pre-gate on azimuth alone (gate.bearing_pregate) may only drop pairs
    that the full chi-square gate also rejects (checked against predict_ncv +
    innovation + mahalanobis on random tracks, sensors and bearings, tight and
    vague, late and early), and it must drop bearings pointing elsewhere."""
    from airshield.track.gate import bearing_pregate, gate_thresholds
    from airshield.track.predict import predict_ncv
    from airshield.track.update import innovation, mahalanobis
    rng = np.random.default_rng(27)
    k = 4000
    xm, Pm, _, R = _random_tracks(rng, k, 1)
    scale = rng.uniform(0.05, 50.0, k)
    x, P = xm[:, 0], Pm[:, 0] * scale[:, None, None]
    # a microphone 1-20 km from each track, anywhere around it
    lat, lon, alt = geo.ecef_to_geodetic(*x[:, :3].T)
    rng_m, brg = rng.uniform(1e3, 20e3, k), rng.uniform(0.0, 2 * np.pi, k)
    s_lat, s_lon, _ = geo.enu_to_geodetic(rng_m * np.sin(brg), rng_m * np.cos(brg), -alt, lat, lon, alt)
    s_ecef = np.stack(geo.geodetic_to_ecef(s_lat, s_lon, np.zeros(k)), -1)
    s_R = geo.enu_to_ecef_rotation(s_lat, s_lon).reshape(k, 3, 3)
    dt = rng.uniform(-4.0, 4.0, k)
    sig = np.tile([np.radians(2.0), np.radians(3.0), np.nan, np.nan], (k, 1))
    xc, Pc = predict_ncv(x, P, dt, R, 2.0, 50.0, 30.0)
    zhat, _ = ms.predict_measurement(mtype, xc, s_ecef, s_R)
    z = np.full((k, 4), np.nan)
    m = ms.DIM[mtype]
    z[:, :m] = zhat + rng.normal(0, 1.0, (k, m)) * sig[:, :m] * rng.uniform(0.5, 4.0, (k, 1))
    z[k // 2:, 0] += rng.uniform(-np.pi, np.pi, k - k // 2)  # bearings of other objects
    y, _, S, _, _ = innovation(mtype, xc, Pc, z, sig, s_ecef, s_R)
    d2 = mahalanobis(y, S)[0]
    lim = np.full(k, gate_thresholds(0.9999)[m])
    types = np.full(k, mtype, np.int8)
    keep = bearing_pregate(x, P, dt, R, 2.0, 50.0, 30.0, types, z, sig, s_ecef, s_R, lim)
    assert keep[d2 < lim].all()
    far = (np.arange(k) >= k // 2) & (d2 > 10 * lim)
    assert (~keep[far]).mean() > 0.5  # and it has teeth
    assert bearing_pregate(x, P, dt, R, 2.0, 50.0, 30.0, np.full(k, ms.POLAR_RR, np.int8), z, sig,
                           s_ecef, s_R, lim).all()  # other report kinds pass


def test_assignment_with_lone_pairs_is_still_optimal():
    """associate.assign takes lone pairs directly and clusters the rest: its total
    cost equals the optimum of the whole augmented problem."""
    from airshield.track.associate import assign
    rng = np.random.default_rng(26)
    for _ in range(200):
        n = int(rng.integers(25, 90))
        ti = rng.integers(0, int(rng.integers(10, 60)), n)
        pj = rng.integers(0, int(rng.integers(10, 60)), n)
        key = np.unique(ti * 1000 + pj)
        ti, pj = key // 1000, key % 1000
        cost = rng.uniform(0.0, 30.0, ti.size)
        miss = 12.0
        sel = assign(ti, pj, cost, miss, miss)
        assert np.unique(ti[sel]).size == sel.size and np.unique(pj[sel]).size == sel.size
        got = cost[sel].sum() + miss * (np.unique(ti).size - sel.size + np.unique(pj).size - sel.size)
        assert np.isclose(got, _assignment_optimum(ti, pj, cost, miss))


def _assignment_optimum(ti, pj, cost, miss):
    from scipy.optimize import linear_sum_assignment
    ut, a = np.unique(ti, return_inverse=True)
    up, b = np.unique(pj, return_inverse=True)
    C = np.full((ut.size + up.size, up.size + ut.size), 1e9)
    C[a, b] = cost
    C[np.arange(ut.size), up.size + np.arange(ut.size)] = miss
    C[ut.size + np.arange(up.size), np.arange(up.size)] = miss
    C[ut.size:, up.size:] = 0.0
    r, c = linear_sum_assignment(C)
    return C[r, c].sum()


def test_assignment_of_small_problems_and_stars_is_optimal():
    """Every path of associate.assign (one pair, one track or one report, a
    small whole problem, clusters numbered all at once) reaches the optimum of
    the whole augmented problem solved by linear_sum_assignment."""
    from airshield.track.associate import assign
    rng = np.random.default_rng(28)
    for trial in range(400):
        n = int(rng.integers(1, 60))
        if trial % 4 == 0:  # a star: one report, several tracks
            ti, pj = rng.choice(80, n, replace=False), np.zeros(n, np.int64)
        elif trial % 4 == 1:  # one track, several reports
            ti, pj = np.zeros(n, np.int64), rng.choice(80, n, replace=False)
        else:
            key = np.unique(rng.integers(0, 12, n) * 1000 + rng.integers(0, 12, n))
            ti, pj = key // 1000, key % 1000
        cost = rng.uniform(0.0, 30.0, ti.size)
        miss = 12.0
        sel = assign(ti, pj, cost, miss, miss)
        assert np.unique(ti[sel]).size == sel.size and np.unique(pj[sel]).size == sel.size
        got = cost[sel].sum() + miss * (np.unique(ti).size - sel.size + np.unique(pj).size - sel.size)
        assert got == pytest.approx(_assignment_optimum(ti, pj, cost, miss), abs=1e-9)


def test_column_sums_equal_numpy_reductions():
    """linalg.sum_last / max_last (column by column) give exactly numpy's sum and
    max over a small last axis, the reductions they replace."""
    from airshield.track.linalg import max_last, sum_last
    rng = np.random.default_rng(29)
    for w in range(1, 8):
        a = rng.normal(0, 1e3, (257, 3, w)) * rng.uniform(1e-6, 1e6, (257, 1, 1))
        assert np.array_equal(sum_last(a), a.sum(axis=-1))
        assert np.array_equal(max_last(a), a.max(axis=-1))
    v = rng.normal(0, 100.0, (500, 4, 3))
    assert np.array_equal(np.sqrt(sum_last(v * v)), np.linalg.norm(v, axis=-1))


def test_small_batch_candidates_match_the_kd_tree_search():
    """gate.spatial_candidates and reach_candidates test every track directly for
    a handful of plots or sensors: the same pairs as the KD-tree search."""
    from airshield.track import gate
    rng = np.random.default_rng(30)
    nt = 1500
    tpos = rng.uniform(-2e5, 2e5, (nt, 3))
    tsig = np.exp(rng.uniform(np.log(30.0), np.log(3e4), nt))  # tight and loose tracks
    sens = rng.uniform(-2e5, 2e5, (40, 3))
    reach = rng.uniform(5e3, 6e4, 40)
    saved = gate.BRUTE_PLOTS
    try:
        for npl in (1, 2, 5, 8):
            ppos = tpos[rng.choice(nt, npl)] + rng.normal(0, 2e3, (npl, 3))
            psig = rng.uniform(20.0, 500.0, npl)
            of = rng.integers(0, 40, 3 * npl)
            got = []
            for brute in (gate.BRUTE_PLOTS, 0):
                gate.BRUTE_PLOTS = brute
                a, b = gate.spatial_candidates(tpos, tsig, ppos, psig, 3.7, 150.0)
                c, d = gate.reach_candidates(tpos, sens, reach, of, np.arange(of.size))
                got.append((sorted(zip(a.tolist(), b.tolist())), sorted(zip(c.tolist(), d.tolist()))))
            gate.BRUTE_PLOTS = saved
            assert got[0] == got[1]
            assert got[0][0] and got[0][1]  # not vacuous
    finally:
        gate.BRUTE_PLOTS = saved


def test_ncv_transition_and_mode_spread_match_the_straightforward_formulas():
    """predict.ncv_transition equals motion.transition of the one-mode straight
    model (tau infinite: bit for bit); predict._spread (moment matching with
    flattened outer products) equals the textbook mixture moments."""
    from airshield.track.predict import _spread, ncv_transition
    rng = np.random.default_rng(31)
    k = 300
    xm, Pm, _, R = _random_tracks(rng, k, 4)
    dt = rng.uniform(-30.0, 30.0, k)
    ncv = MotionModels(np.zeros(1), np.array([2.0]), np.array([0.5]), np.array([np.inf]))
    assert np.array_equal(ncv_transition(dt, R), transition(ncv, dt, R)[:, 0])
    tau = 30.0
    ncv_tau = MotionModels(np.zeros(1), np.array([2.0]), np.array([0.5]), np.array([np.inf]), tau)
    assert np.allclose(ncv_transition(dt, R, tau), transition(ncv_tau, dt, R)[:, 0], atol=1e-9)
    w = rng.dirichlet(np.ones(4), (k, 4))  # (K, J, M): weights of mixture j over modes
    x0, P0 = _spread(w, xm, Pm)
    for j in range(4):
        mean = np.einsum("km,kmi->ki", w[:, j], xm)
        e = xm - mean[:, None]
        cov = np.einsum("km,kmij->kij", w[:, j], Pm + e[..., :, None] * e[..., None, :])
        assert np.allclose(x0[:, j], mean, rtol=0, atol=1e-6)
        assert np.allclose(P0[:, j], cov, rtol=1e-9, atol=1e-6)
