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
