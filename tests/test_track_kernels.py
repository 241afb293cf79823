"""Session 5's rewritten kernels against the formulations they replaced: the same
numbers bit for bit (byte comparison, so even the sign of a zero counts), on
random inputs; and the tracker's no-copy paths against its gather paths."""

from __future__ import annotations

import numpy as np
import pytest

import tracksim as ts
from airshield.track import linalg, motion, update
from airshield.track import measure as ms
from airshield.track.config import TrackerConfig
from airshield.track.motion import models_from_config
from airshield.track.tracker import Tracker


def _rotations(rng, k):
    q, _ = np.linalg.qr(rng.normal(size=(k, 3, 3)))
    return q


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.tobytes() == b.tobytes()


def _old_turn_coefficients(models, dt):
    """The session-4 formulation: six (K, M) arrays stacked and transposed."""
    d = dt[:, None]
    b, g = motion.vertical_decay(dt, models.vu_tau_s)
    if b.ndim == 1:
        b, g = b[:, None], g[:, None]
    w, straight, w_safe = motion._turn_rates(models)
    s, c = np.sin(w * d), np.cos(w * d)
    sw = np.where(straight, d, s / w_safe)
    cw = (1.0 - c) / w_safe
    coef = np.stack([sw, d - g - sw, cw, c, 1.0 - b - c, s], axis=1)
    return coef.reshape(dt.size, 2, 3, models.M).transpose(0, 1, 3, 2).reshape(dt.size, -1, 3)


def _old_transition(models, dt, R):
    """The session-4 formulation: zero-filled F and F^T with strided block writes."""
    k, m = dt.size, models.M
    AB = motion._blocks(models, dt, R)
    F = np.zeros((k, m, 36))
    F[..., motion._F_DIAG] = 1.0
    F[..., motion._F_A] = AB[:, :m]
    F[..., motion._F_B] = AB[:, m:]
    Ft = np.zeros((k, m, 36))
    Ft[..., motion._F_DIAG[:3]] = 1.0
    Ft[..., motion._F_AT] = AB[:, :m]
    Ft[..., motion._F_BT] = AB[:, m:]
    return F.reshape(k, m, 6, 6), Ft.reshape(k, m, 6, 6)


@pytest.mark.parametrize("imm", [True, False])
def test_transition_and_turn_coefficients_equal_the_old_formulation(imm):
    models = models_from_config(TrackerConfig(imm=imm))
    rng = np.random.default_rng(51)
    for k in (1, 5, 300):
        dt = rng.uniform(-3.0, 8.0, k)
        dt[0] = 0.0  # no time: the identity
        R = _rotations(rng, k)
        assert _same(motion._turn_coefficients(models, dt), _old_turn_coefficients(models, dt))
        F, Ft = motion.transition(models, dt, R, transposed=True)
        F0, Ft0 = _old_transition(models, dt, R)
        assert _same(F, F0) and _same(Ft, Ft0)
        assert _same(motion.transition(models, dt, R), F0)
        assert _same(Ft, np.swapaxes(F, -1, -2))  # and it is the transpose
        assert np.array_equal(F[0], np.broadcast_to(np.eye(6), F[0].shape))


def _old_inv3(S):
    a, b, c = S[:, 0, 0], S[:, 0, 1], S[:, 0, 2]
    d, e, f = S[:, 1, 0], S[:, 1, 1], S[:, 1, 2]
    g, h, i = S[:, 2, 0], S[:, 2, 1], S[:, 2, 2]
    c00, c01, c02 = e * i - f * h, f * g - d * i, d * h - e * g
    det = a * c00 + b * c01 + c * c02
    out = np.empty_like(S)
    out[:, 0, 0], out[:, 1, 0], out[:, 2, 0] = c00, c01, c02
    out[:, 0, 1], out[:, 1, 1], out[:, 2, 1] = c * h - b * i, a * i - c * g, b * g - a * h
    out[:, 0, 2], out[:, 1, 2], out[:, 2, 2] = b * f - c * e, c * d - a * f, a * e - b * d
    return out / det[:, None, None], det


def test_inverse_3x3_equals_the_old_cofactors_and_inverts():
    rng = np.random.default_rng(52)
    for k in (1, 4, 1000):
        A = rng.normal(size=(k, 3, 3)) * rng.uniform(1.0, 1e3, (k, 1, 1))
        S = A @ np.swapaxes(A, -1, -2) + np.eye(3)
        inv, det = linalg._inv3(S)
        inv0, det0 = _old_inv3(S)
        assert _same(inv, inv0) and _same(det, det0)
        assert inv.flags.c_contiguous  # a fast matmul operand
        assert np.allclose(inv @ S, np.eye(3), atol=1e-8)
        # a strided view (the position block of 6x6 covariances) gives the same
        big = np.zeros((k, 6, 6))
        big[:, :3, :3] = S
        assert _same(linalg._inv3(big[:, :3, :3])[0], inv0)


def test_position_innovation_covariance_equals_the_block_sum():
    rng = np.random.default_rng(53)
    k = 200
    A = rng.normal(size=(k, 6, 6)) * 30.0
    P = A @ np.swapaxes(A, -1, -2)
    x = rng.normal(size=(k, 6)) * 1e5
    z = np.zeros((k, 4))
    z[:, :3] = x[:, :3] + rng.normal(size=(k, 3)) * 50.0
    sig = np.tile([50.0, 80.0, np.nan, np.nan], (k, 1))
    R = ms.noise(ms.POS, sig, _rotations(rng, k))
    y, H, S, Rn, PHt = update.innovation(ms.POS, x, P, z, sig, None, None, R)
    assert _same(S, P[:, :3, :3] + R)
    assert _same(S, (H @ P @ np.swapaxes(H, -1, -2)) + R)  # H = [I 0] selects exactly
    # a non-contiguous P (a gather of every other row's view) too
    assert _same(update.innovation(ms.POS, x[::2], P[::2], z[::2], sig[::2], None, None,
                                   R[::2])[2], P[::2, :3, :3] + R[::2])


def _scene(seed):
    rng = np.random.default_rng(seed)
    S = ts.sensors({"id": "F", "kind": "eo", "lat": ts.LAT0, "lon": ts.LON0, "alt": 0.0,
                    "sigma_h_m": 50.0, "sigma_v_m": 50.0, "period_s": 1.0})
    t = np.arange(0.0, 40.0, 1.0)
    parts = []
    for i in range(12):
        ti = t + 0.3 + 0.01 * i  # one bin per second, in time order
        x, _ = ts.line(ti, 5e3 * i, 2e3 * (i % 3), 500.0 + 50 * i, 40.0, -30.0 + 5 * i)
        parts.append(ts.pos_reports(0, ti, x, rng))
    return S, ts.merge(*parts)


def test_time_ordered_feed_takes_no_copy_paths_with_the_same_result(monkeypatch):
    """A feed in time order and updating every track goes through slices (the
    ready prefix, the batch, every row of the state); the same reports shuffled
    within each step, with the every-row shortcut off, go through the gathers:
    the same tracks, bit for bit."""
    from airshield.track import tracker as tracker_module
    S, det = _scene(55)
    pics = []
    for shuffle in (False, True):
        if shuffle:
            monkeypatch.setattr(tracker_module, "_rows", lambda r, n: r)
        rng = np.random.default_rng(0)
        tr = Tracker(S, TrackerConfig())
        now = 0.0
        while now <= det.t.max() + 3.0:
            sel = np.flatnonzero((det.t > now - 1.0) & (det.t <= now))
            if shuffle:
                sel = rng.permutation(sel)
            pics.append(tr.step(det.take(sel) if sel.size else None, now))
            now += 1.0
        pics.append(tr.state)
    half = len(pics) // 2
    a, b = pics[half - 1], pics[-1]
    assert a.n == b.n >= 12
    for name in ("x", "P", "xm", "Pm", "mu", "t", "id"):
        assert _same(getattr(a, name), getattr(b, name)), name
    for p, q in zip(pics[:half - 1], pics[half:-1]):
        assert np.array_equal(p.ids, q.ids) and _same(p.ecef, q.ecef)


# -- session 6: quality-neutral changes of the mathematics --------------------------


def _radar_modes(rng, k, m, spread_m):
    """k tracks 10-140 km from a radar, m mode predictions spread by ``spread_m``
    (position) and spread_m / 20 m/s (velocity) about a common mean, and a
    radar plot of each drawn from mode 0."""
    from airshield import geo
    lat0, lon0 = 49.0, 32.0
    s_ecef = np.repeat(np.stack(geo.geodetic_to_ecef(lat0, lon0, 30.0), -1).reshape(1, 3), k, 0)
    s_R = np.repeat(geo.enu_to_ecef_rotation(lat0, lon0).reshape(1, 3, 3), k, 0)
    rng_m, az = rng.uniform(10e3, 140e3, k), rng.uniform(0, 2 * np.pi, k)
    e, n, u = rng_m * np.sin(az), rng_m * np.cos(az), rng.uniform(100.0, 3000.0, k)
    pos = s_ecef + (s_R @ np.stack([e, n, u], -1)[:, :, None])[:, :, 0]
    vel = (s_R @ np.stack([rng.normal(0, 60, k), rng.normal(0, 60, k), rng.normal(0, 2, k)],
                          -1)[:, :, None])[:, :, 0]
    xp = np.repeat(np.c_[pos, vel][:, None], m, axis=1)
    xp[..., :3] += rng.normal(0, spread_m, (k, m, 3))
    xp[..., 3:] += rng.normal(0, spread_m / 20.0, (k, m, 3))
    A = rng.normal(size=(k, m, 6, 6)) * np.array([40.0, 40, 40, 4, 4, 4])[:, None]
    Pp = A @ np.swapaxes(A, -1, -2) + np.diag([400.0, 400, 400, 4, 4, 4])
    cbar = rng.dirichlet(np.ones(m), k)
    sig = np.tile([30.0, np.radians(0.5), np.radians(1.0), 1.0], (k, 1))
    zhat, _ = ms.predict_measurement(ms.POLAR_RR, xp[:, 0], s_ecef, s_R)
    z = zhat + rng.normal(size=zhat.shape) * sig
    return xp, Pp, cbar, z, sig, s_ecef, s_R


@pytest.mark.parametrize("mtype", [ms.POLAR_RR, ms.POLAR, ms.AZEL, ms.AZ])
def test_shared_linearisation_stays_within_a_small_part_of_the_noise(mtype):
    """One linearisation per (track, report) at the mixture mean instead of one
    per mode: with mode predictions tens of metres apart (as in a radar raid)
    the updated mode states differ from the per-mode EKF by a small fraction of
    their own standard deviation, covariances and mode probabilities likewise."""
    rng = np.random.default_rng(61)
    k, m = 400, 4
    xp, Pp, cbar, z, sig, s_ecef, s_R = _radar_modes(rng, k, m, spread_m=30.0)
    if mtype in (ms.AZ, ms.AZEL):  # a bearing: azimuth (and elevation) of the plot
        z = z[:, 1:] if mtype == ms.AZEL else z[:, 1:2]
        z = np.c_[z, np.zeros((k, 4 - z.shape[1]))]
        sig = np.c_[sig[:, 1:], np.full(k, np.nan)]
    out = []
    for shared in (False, True):
        out.append(update.imm_update(mtype, xp, Pp, cbar, z, sig, s_ecef, s_R, shared=shared))
    (x0, P0, mu0), (x1, P1, mu1) = out
    sd = np.sqrt(np.diagonal(P0, axis1=-2, axis2=-1))
    assert np.abs(x1 - x0).max() > 0  # a different formulation ...
    assert np.max(np.abs(x1 - x0) / sd) < 0.02  # ... within 2 % of a standard deviation
    assert np.max(np.abs(P1 - P0) / (sd[..., :, None] * sd[..., None, :])) < 0.05
    assert np.abs(mu1 - mu0).max() < 0.02
    # positions: the per-row formulation is untouched
    zp = np.c_[xp[:, 0, :3] + rng.normal(0, 50.0, (k, 3)), np.zeros(k)]
    sp = np.tile([50.0, 50.0, np.nan, np.nan], (k, 1))
    a = update.imm_update(ms.POS, xp, Pp, cbar, zp, sp, None, s_R, shared=True)
    b = update.imm_update(ms.POS, xp, Pp, cbar, zp, sp, None, s_R, shared=False)
    assert all(_same(p, q) for p, q in zip(a, b))


def test_predict_modes_mix_once_options():
    """``mixing=False`` predicts every mode from its own state (mode-matched,
    cbar = mu); ``mix_dt`` changes only the mixing's Markov step, not the
    prediction interval."""
    from airshield.track.predict import mix, predict_modes
    models = models_from_config(TrackerConfig())
    rng = np.random.default_rng(62)
    k, m = 50, models.M
    xp, Pp, mu, *_ = _radar_modes(rng, k, m, spread_m=30.0)
    R = np.repeat(_rotations(rng, 1), k, 0)
    dt = rng.uniform(0.0, 1.0, k)
    F, Ft = motion.transition(models, dt, R, transposed=True)
    Q = motion.process_noise(models, dt, R)
    x, P, c = predict_modes(xp, Pp, mu, dt, R, models, mixing=False)
    assert _same(c, mu)
    assert np.allclose(x, (F @ xp[..., None])[..., 0], rtol=0, atol=1e-6)
    assert np.allclose(P, F @ Pp @ Ft + Q, rtol=1e-12, atol=1e-9)
    span = dt + rng.uniform(0.0, 1.0, k)
    x, P, c = predict_modes(xp, Pp, mu, dt, R, models, mix_dt=span)
    x0, P0, c0 = mix(xp, Pp, mu, span, models)
    assert _same(c, c0)
    assert np.allclose(x, (F @ x0[..., None])[..., 0], rtol=0, atol=1e-6)
    assert np.allclose(P, F @ P0 @ Ft + Q, rtol=1e-12, atol=1e-9)
    # the default mixes over dt itself
    assert all(_same(p, q) for p, q in zip(predict_modes(xp, Pp, mu, dt, R, models),
                                             predict_modes(xp, Pp, mu, dt, R, models, mix_dt=dt)))


@pytest.mark.parametrize("mtype", [ms.POLAR_RR, ms.POLAR, ms.POS, ms.AZ, ms.AZEL])
def test_carried_innovation_equals_the_carried_covariance(mtype):
    """The gate's S = G P G^T + H Q H^T + R (gate.carried_innovation) against
    predict_ncv's carried state put through update.innovation: the same
    residuals and covariances to rounding, forward and backward in time."""
    from airshield import geo
    from airshield.track.gate import carried_innovation
    from airshield.track.predict import predict_ncv
    rng = np.random.default_rng(63)
    k = 300
    xp, Pp, _, z, sig, s_ecef, s_R = _radar_modes(rng, k, 1, 30.0)
    x, P = xp[:, 0], Pp[:, 0]
    lat, lon, _ = geo.ecef_to_geodetic(*x[:, :3].T)
    R = geo.enu_to_ecef_rotation(lat, lon).reshape(k, 3, 3)
    dt = rng.uniform(-2.0, 3.0, k)
    dt[0] = 0.0
    if mtype in (ms.AZ, ms.AZEL):
        z = np.c_[z[:, 1:3] if mtype == ms.AZEL else z[:, 1:2], np.zeros((k, 3 - (mtype == ms.AZEL)))]
        sig = np.c_[sig[:, 1:], np.full(k, np.nan)]
    elif mtype == ms.POS:
        z = np.c_[x[:, :3] + rng.normal(0, 50.0, (k, 3)), np.zeros(k)]
        sig = np.tile([50.0, 80.0, np.nan, np.nan], (k, 1))
        s_R = R
    for q in ((2.0, 50.0, 30.0), (0.5, 0.05, np.inf)):
        xc, Pc = predict_ncv(x, P, dt, R, *q)
        y0, _, S0, _, _ = update.innovation(mtype, xc, Pc, z, sig, s_ecef, s_R)
        y, S = carried_innovation(mtype, x, P, dt, R, *q, z, sig, s_ecef, s_R)
        scale = np.sqrt(np.diagonal(S0, axis1=1, axis2=2))
        assert np.allclose(y / scale, y0 / scale, rtol=0, atol=1e-6)
        assert np.allclose(S, S0, rtol=1e-9, atol=1e-9 * np.abs(S0).max())


def test_nearest_neighbour_search_gives_the_pairs_of_the_dual_tree():
    """spatial_candidates' k-nearest path (sparse plots) and the dual-tree path
    give the same pairs, with tracks that have more than KNN plots in reach."""
    from airshield.track import gate
    rng = np.random.default_rng(64)
    for n_t, n_p, crowd in ((1000, 1000, 0), (300, 400, 30), (50, 60, 12)):
        tp = rng.uniform(-3e5, 3e5, (n_t, 3))
        tp[:, 2] = rng.uniform(0, 3e3, n_t)
        pp = tp[rng.integers(0, n_t, n_p)] + rng.normal(0, 80.0, (n_p, 3))
        pp[:crowd] = tp[0] + rng.normal(0, 100.0, (crowd, 3))  # many plots near one track
        ts_, ps = rng.uniform(20, 200, n_t), rng.uniform(30, 90, n_p)
        ts_[:3] *= 50.0  # loose tracks
        reach = 4.3 * (3 * np.median(ts_) + ps.max())
        out = []
        for sparse in (True, False):
            orig = gate._sparse
            gate._sparse = lambda *a, s=sparse: s
            try:
                ti, pj = gate.spatial_candidates(tp, ts_, pp, ps, 4.3, 10.0)
            finally:
                gate._sparse = orig
            out.append(np.sort(ti * n_p + pj))
        assert np.array_equal(out[0], out[1]) and out[0].size >= n_p // 2
        assert gate._sparse(pp, 1e3) and not gate._sparse(pp, 1e5)


def _three_radar_scene(seed):
    """Six objects (two turning) seen by three radars within each second, so a
    track takes up to three reports per scan batch (three update rounds)."""
    rng = np.random.default_rng(seed)
    S = ts.sensors(ts.radar("R1"), ts.radar("R2", lat=ts.LAT0 + 0.2),
                   ts.radar("R3", lon=ts.LON0 + 0.3))
    t = np.arange(0.0, 60.0, 1.0)
    parts, truth = [], []
    for i in range(6):
        if i < 4:
            x, v = ts.line(t, 8e3 * i - 2e4, 1.5e4 + 3e3 * i, 600.0 + 100 * i, 45.0, -20.0 + 10 * i)
        else:
            x, v = ts.turn(t, 4e3 * i, 2e4, 800.0, 50.0, 90.0 * i, 4.0 * (-1) ** i)
        truth.append(x)
        for s in range(3):
            off = 0.15 + 0.3 * s + 0.01 * i  # three looks within the second
            xs, vs = x + v * off, v
            parts.append(ts.polar_reports(S, s, t + off, xs, vs, rng, pd=0.95))
    return S, ts.merge(*parts), t, np.stack(truth, 1)


def test_mix_once_and_gate_in_update_track_as_the_per_round_formulation():
    """Session 6's update rounds (mix once per batch, later rounds gated by the
    IMM update's own innovations) against the per-round IMM with its separate
    NCV regate, on a scene with three reports per track per batch: the same
    tracks (one per object), the same reports used, errors within a few percent."""
    S, det, t, truth = _three_radar_scene(65)
    out = []
    for new in (False, True):
        tr = Tracker(S, TrackerConfig(mix_once_per_batch=new, gate_in_update=new))
        pics = ts.run(tr, det)
        errs = []
        for pic in pics:
            k = np.flatnonzero(np.isclose(t, pic.t))
            if k.size and len(pic) and pic.t > 20:
                d = np.linalg.norm(pic.ecef[:, None, :] - truth[k[0]][None], axis=2)
                errs.append(d.min(axis=0))
        out.append((tr.stats.updated, tr.stats.confirmed, len(pics[-1]), np.mean(errs)))
    (u0, c0, n0, e0), (u1, c1, n1, e1) = out
    assert n0 == n1 == 6 and c0 == c1
    assert abs(u1 - u0) <= 0.01 * u0
    assert e1 < 1.1 * e0 + 5.0, (e0, e1)


def test_plot_rotation_and_floors_equal_the_old_formulation():
    """make_plots' rotation builder writes geo.enu_to_ecef_rotation's numbers;
    the sigma floors by table lookup are np.select's."""
    from airshield import geo
    from airshield.track import plots
    rng = np.random.default_rng(66)
    lat, lon = rng.uniform(-80, 80, 500), rng.uniform(-180, 180, 500)
    out = plots._enu_rotation(lat, lon, np.empty((500, 3, 3)))
    assert _same(out, geo.enu_to_ecef_rotation(lat, lon).reshape(500, 3, 3))
    mtype = rng.integers(0, 5, 300)
    old = np.select([(mtype <= ms.POLAR)[:, None], (mtype == ms.POS)[:, None]],
                    [plots._FLOOR_POLAR, plots._FLOOR_POS], plots._FLOOR_BEARING)
    new = plots._FLOORS[np.where(mtype <= ms.POLAR, 0, np.where(mtype == ms.POS, 1, 2))]
    assert _same(new, old)
