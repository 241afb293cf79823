"""The IMM predictor, vectorised over K rows (tracks, or track-report pairs) and
M modes: mixing, per-mode prediction, moment-matched combination.

dt may be negative: a report older than a track's state is met by predicting
the track back to the report's time (process noise grows with |dt|), which is
the retrodiction-free treatment of late reports.
"""

from __future__ import annotations

import numpy as np

from airshield.track.motion import (MotionModels, markov, noise_density, transition_blocks,
                                    vertical_decay)


def _spread(w: np.ndarray, xm: np.ndarray, Pm: np.ndarray):
    """For weights w (K, J, M) over the M mode Gaussians (xm, Pm) of each row:
    the J mixtures' means (K,J,6) and covariances (K,J,6,6) by moment matching.

    sum_i w_i (P_i + (x_i - x)(x_i - x)^T) is computed as
    sum_i w_i P_i + sum_i w_i d_i d_i^T - d d^T with d_i = x_i - x_ref (metres, not
    ECEF magnitudes, so no cancellation), all as small matrix products."""
    k, m = xm.shape[:2]
    d = xm - xm[:, :1]  # offsets from mode 0
    dbar = w @ d  # (K, J, 6)
    outer = (d[..., :, None] * d[..., None, :]).reshape(k, m, 36)
    P = (w @ (Pm.reshape(k, m, 36) + outer)).reshape(k, -1, 6, 6)
    P -= dbar[..., :, None] * dbar[..., None, :]
    return xm[:, :1] + dbar, P


def mix(xm: np.ndarray, Pm: np.ndarray, mu: np.ndarray, dt: np.ndarray, models: MotionModels):
    """IMM interaction: mixed initial states x0 (K,M,6), P0 (K,M,6,6) and the
    predicted mode probabilities cbar (K,M)."""
    if models.M == 1:
        return xm, Pm, mu
    pi = markov(models, dt)  # (K, i, j)
    joint = mu[:, :, None] * pi
    cbar = joint.sum(axis=1)  # (K, j)
    w = joint / np.maximum(cbar[:, None, :], 1e-300)  # P(i | j)
    x0, P0 = _spread(np.swapaxes(w, 1, 2), xm, Pm)
    return x0, P0, cbar


def predict_modes(xm, Pm, mu, dt, R, models: MotionModels):
    """Mix and predict every mode over dt (K,) for tracks with ENU rotations R.
    Returns xp (K,M,6), Pp (K,M,6,6), cbar (K,M).

    With F = [[I, A], [0, B]] the products are done blockwise in 3x3 pieces
    (about a third of the arithmetic of 6x6 products, and no F to build)."""
    dt = np.asarray(dt, float)
    x0, P0, cbar = mix(xm, Pm, mu, dt, models)
    A, B = transition_blocks(models, dt, R)
    At, Bt = np.swapaxes(A, -1, -2), np.swapaxes(B, -1, -2)
    p, v = x0[..., :3], x0[..., 3:]
    xp = np.empty_like(x0)
    xp[..., :3] = p + (A * v[..., None, :]).sum(axis=-1)
    xp[..., 3:] = (B * v[..., None, :]).sum(axis=-1)
    P11, P12, P21, P22 = P0[..., :3, :3], P0[..., :3, 3:], P0[..., 3:, :3], P0[..., 3:, 3:]
    X = P12 + A @ P22  # (P12 + A P22)
    Pp = np.empty_like(P0)
    Pp[..., :3, :3] = P11 + A @ P21 + X @ At  # P11 + A P21 + P12 A^T + A P22 A^T
    Pp[..., :3, 3:] = X @ Bt
    Pp[..., 3:, 3:] = B @ P22 @ Bt
    D = noise_density(models, R)
    a = np.abs(dt)[:, None, None, None]
    d = dt[:, None, None, None]
    Pp[..., :3, :3] += D * (a ** 3 / 3.0)
    Pp[..., :3, 3:] += D * (d * a / 2.0)
    Pp[..., 3:, 3:] += D * a
    Pp[..., 3:, :3] = np.swapaxes(Pp[..., :3, 3:], -1, -2)
    return xp, Pp, cbar


def combine(xm: np.ndarray, Pm: np.ndarray, mu: np.ndarray):
    """Moment-matched single Gaussian (K,6), (K,6,6) of the mode mixture."""
    if xm.shape[1] == 1:
        return xm[:, 0], Pm[:, 0]
    x, P = _spread(mu[:, None, :], xm, Pm)
    return x[:, 0], P[:, 0]


def predict_ncv(x: np.ndarray, P: np.ndarray, dt: np.ndarray, R: np.ndarray, q_h: float,
                q_v: float, vu_tau_s: float = np.inf):
    """One Gaussian per row carried over dt by nearly-constant velocity (vertical
    velocity decaying with vu_tau_s, motion.vertical_decay), with block algebra (no
    6x6 products): for gating, output ticks and late reports.
    Process noise as in motion.process_noise (ENU densities q_h, q_v)."""
    dt = np.asarray(dt, float)
    d = dt[:, None, None]
    a = np.abs(d)
    P11, P12, P21, P22 = P[:, :3, :3], P[:, :3, 3:], P[:, 3:, :3], P[:, 3:, 3:]
    up = R[:, :, 2]
    uu = up[:, :, None] * up[:, None, :]
    D = q_h * np.eye(3) + (q_v - q_h) * uu
    b, g = vertical_decay(dt, vu_tau_s)
    Pn = np.empty_like(P)
    if np.any(b):
        # F = [[I, A], [0, B]] with A = dt I - g u u^T, B = I - b u u^T: rank-one
        # corrections of the NCV blocks, so no 3x3 matrix products
        g3, b3 = g[:, None, None], b[:, None, None]
        uc, ur = up[:, :, None], up[:, None, :]

        def left(M):  # u u^T M
            return uc * (ur @ M)

        def right(M):  # M u u^T
            return (M @ uc) * ur
        X = P12 + d * P22 - g3 * left(P22)  # P12 + A P22
        Pn[:, :3, :3] = P11 + d * P21 - g3 * left(P21) + d * X - g3 * right(X) + D * (a ** 3 / 3.0)
        Pn[:, :3, 3:] = X - b3 * right(X) + D * (d * a / 2.0)
        Pn[:, 3:, :3] = np.swapaxes(Pn[:, :3, 3:], -1, -2)
        BP = P22 - b3 * left(P22)
        Pn[:, 3:, 3:] = BP - b3 * right(BP) + D * a
        v = x[:, 3:]
        vu = (v * up).sum(axis=1)[:, None]
        xn = np.concatenate([x[:, :3] + v * dt[:, None] - (g[:, None] * vu) * up,
                             v - (b[:, None] * vu) * up], axis=1)
        return xn, Pn
    Pn[:, :3, :3] = P11 + d * (P12 + P21) + d * d * P22 + D * (a ** 3 / 3.0)
    Pn[:, :3, 3:] = P12 + d * P22 + D * (d * a / 2.0)
    Pn[:, 3:, :3] = P21 + d * P22 + D * (d * a / 2.0)
    Pn[:, 3:, 3:] = P22 + D * a
    xn = np.concatenate([x[:, :3] + x[:, 3:] * dt[:, None], x[:, 3:]], axis=1)
    return xn, Pn
