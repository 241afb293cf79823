"""The IMM predictor, vectorised over K rows (tracks, or track-report pairs) and
M modes: mixing, per-mode prediction, moment-matched combination.

dt may be negative: a report older than a track's state is met by predicting
the track back to the report's time (process noise grows with |dt|), which is
the retrodiction-free treatment of late reports.
"""

from __future__ import annotations

import numpy as np

from airshield.track.linalg import sum_last
from airshield.track.motion import (MotionModels, markov, process_noise, transition, up_frame,
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
    P = _outer36(d)
    P += Pm.reshape(k, m, 36)
    P = w @ P
    P -= _outer36(dbar)
    return xm[:, :1] + dbar, P.reshape(k, -1, 6, 6)


def _outer36(v: np.ndarray) -> np.ndarray:
    """v v^T of every 6-vector of v (..., 6), flattened row-major to (..., 36):
    entry 6i + j is v_i v_j. Repeat and tile are contiguous copies; the
    broadcast product v[..., :, None] * v[..., None, :] (the same numbers) runs
    an inner loop of six and costs about twice as much."""
    out = np.repeat(v, 6, axis=-1)
    out *= np.tile(v, 6)
    return out


def mix(xm: np.ndarray, Pm: np.ndarray, mu: np.ndarray, dt: np.ndarray, models: MotionModels):
    """IMM interaction: mixed initial states x0 (K,M,6), P0 (K,M,6,6) and the
    predicted mode probabilities cbar (K,M)."""
    if models.M == 1:
        return xm, Pm, mu
    pi = markov(models, dt)  # (K, i, j)
    joint = mu[:, :, None] * pi
    cbar = sum_last(np.swapaxes(joint, 1, 2))  # (K, j): joint.sum(axis=1), cheaper
    w = joint / np.maximum(cbar[:, None, :], 1e-300)  # P(i | j)
    x0, P0 = _spread(np.ascontiguousarray(np.swapaxes(w, 1, 2)), xm, Pm)  # (K, j, i)
    return x0, P0, cbar


def predict_modes(xm, Pm, mu, dt, R, models: MotionModels, mix_dt=None, mixing: bool = True):
    """Mix and predict every mode over dt (K,) for tracks with ENU rotations R.
    Returns xp (K,M,6), Pp (K,M,6,6), cbar (K,M).

    ``mix_dt`` (K,), default dt: the interval whose mode transitions the mixing
    applies; ``mixing=False`` predicts each mode from its own state (mode-matched,
    cbar = mu). A track updated several times in one scan batch mixes once, over
    the whole span to its last report of the batch, and its later updates in the
    batch predict mode-matched: over the batch's fraction of a second the Markov
    matrix is nearly the identity, and the span's transitions are all applied,
    only at its start.

    F P F^T as two stacked 6x6 matrix products: numpy's matmul over (K, M) stacks
    costs about as much as one elementwise pass, where the 3x3 blockwise algebra
    took a dozen strided passes."""
    dt = np.asarray(dt, float)
    if mixing:
        x0, P0, cbar = mix(xm, Pm, mu, dt if mix_dt is None else np.asarray(mix_dt, float), models)
    else:
        x0, P0, cbar = xm, Pm, mu
    frame = up_frame(R)
    F, Ft = transition(models, dt, R, frame, transposed=True)
    xp = (F @ x0[..., None])[..., 0]
    Pp = F @ P0 @ Ft
    Pp += process_noise(models, dt, R, frame)
    return xp, Pp, cbar


def combine(xm: np.ndarray, Pm: np.ndarray, mu: np.ndarray):
    """Moment-matched single Gaussian (K,6), (K,6,6) of the mode mixture:
    sum_i mu_i (P_i + e_i e_i^T), e_i the mode's offset from the mean, with the
    spread term as one (6 x M)(M x 6) product per track."""
    k, m = mu.shape
    if m == 1:
        return xm[:, 0], Pm[:, 0]
    d = xm - xm[:, :1]  # offsets from mode 0 (metres, not ECEF magnitudes)
    dbar = (mu[:, None, :] @ d)[:, 0]
    e = d - dbar[:, None, :]
    P = (mu[:, None, :] @ Pm.reshape(k, m, 36)).reshape(k, 6, 6)
    P += np.swapaxes(e * mu[:, :, None], 1, 2) @ e
    P += np.swapaxes(P, 1, 2)  # exactly symmetric, as the modes are
    P *= 0.5
    return xm[:, 0] + dbar, P


def predict_ncv(x: np.ndarray, P: np.ndarray, dt: np.ndarray, R: np.ndarray, q_h: float,
                q_v: float, vu_tau_s: float = np.inf):
    """One Gaussian per row carried over dt by nearly-constant velocity (vertical
    velocity decaying with vu_tau_s, motion.vertical_decay): for gating, output
    ticks and late reports. The same transition and process noise as one IMM
    mode with these densities (motion.transition / process_noise), built
    directly: F = [[I, A], [0, B]] with A = dt I - g u u^T and B = I - b u u^T,
    both symmetric, so F^T has the same entries at mirrored places."""
    dt = np.asarray(dt, float)
    uu = _up_outer(R)
    F, Ft = _ncv_transition(dt, uu, vu_tau_s, transposed=True)
    xn = (F @ x[:, :, None])[:, :, 0]
    Pn = F @ P @ Ft
    Pn += process_noise(_one_mode(q_h, q_v, vu_tau_s), dt, R, (uu, None))[:, 0]
    return xn, Pn


def ncv_transition(dt: np.ndarray, R: np.ndarray, vu_tau_s: float = np.inf) -> np.ndarray:
    """(K, 6, 6) the NCV transition of predict_ncv (motion.transition of a
    one-mode straight model, the same numbers) without the turn machinery."""
    return _ncv_transition(np.asarray(dt, float), _up_outer(R), vu_tau_s)


def _up_outer(R: np.ndarray) -> np.ndarray:
    """u u^T (K, 9) of each local up u (NCV needs no [u]x: up_frame's other half)."""
    u = R[:, :, 2]
    return u[:, _I3] * u[:, _J3]


def _ncv_transition(dt, uu, vu_tau_s, transposed: bool = False):
    k = dt.size
    b, g = vertical_decay(dt, vu_tau_s)
    F = np.zeros((k, 36))
    F[:, _DIAG6] = 1.0
    F[:, _A] = uu * -g[:, None]
    F[:, _A_DIAG] += dt[:, None]
    F[:, _B] -= uu * b[:, None]
    if not transposed:
        return F.reshape(k, 6, 6)
    Ft = np.zeros((k, 36))
    Ft[:, _A_T] = F[:, _A]
    Ft[:, _B] = F[:, _B]
    Ft[:, _DIAG6[:3]] = 1.0
    return F.reshape(k, 6, 6), Ft.reshape(k, 6, 6)


_ONE: dict[tuple, MotionModels] = {}


def _one_mode(q_h: float, q_v: float, vu_tau_s: float) -> MotionModels:
    """The NCV model with these densities (built once: this runs per small batch)."""
    key = (float(q_h), float(q_v), float(vu_tau_s))
    one = _ONE.get(key)
    if one is None:
        if len(_ONE) > 64:
            _ONE.clear()
        one = _ONE[key] = MotionModels(_ZERO, np.array([key[0]]), np.array([key[1]]), _INF, key[2])
    return one


_ZERO, _INF = np.zeros(1), np.full(1, np.inf)
_I3, _J3 = np.divmod(np.arange(9), 3)
_DIAG6 = np.arange(6) * 7
_A = 6 * _I3 + 3 + _J3  # the A block (rows 0-2, columns 3-5), row-major
_A_T = 6 * (3 + _J3) + _I3  # where A[i, j] sits in F^T
_B = 6 * (3 + _I3) + 3 + _J3
_A_DIAG = _A[[0, 4, 8]]
