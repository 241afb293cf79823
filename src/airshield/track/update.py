"""The (extended) Kalman updater and the IMM mode update, vectorised over rows.

Every function takes K rows at once; a batch of one sensor's reports is a handful
of calls here whatever the number of tracks.
"""

from __future__ import annotations

import numpy as np

from airshield.track import measure as ms
from airshield.track.linalg import inv_logdet, max_last, sum_last

LOG_2PI = np.log(2.0 * np.pi)


_H_POS = np.eye(3, 6)
_POS_BLOCK = np.array([0, 1, 2, 6, 7, 8, 12, 13, 14])


def innovation(mtype: int, x: np.ndarray, P: np.ndarray, z: np.ndarray, sig: np.ndarray,
               s_ecef: np.ndarray, s_R: np.ndarray, R: np.ndarray | None = None):
    """Residual y (K,m), Jacobian H (K,m,6), innovation covariance S (K,m,m) and
    measurement noise R for states x, P against measurements z of one type
    (``R`` may be given when the caller already has it)."""
    m = ms.DIM[mtype]
    if R is None:
        R = ms.noise(mtype, sig, s_R)
    if mtype == ms.POS:
        # H = [I 0] selects: P H^T and H P H^T are slices (exactly what the products give)
        y = z[:, :3] - x[:, :3]
        PHt = P[:, :, :3]
        k = x.shape[0]
        # the position block by one gather of the flat covariances (a strided 3x3
        # view costs twice as much to add to)
        S = np.take(P.reshape(k, 36), _POS_BLOCK, axis=1).reshape(k, 3, 3)
        S += R
        return y, np.broadcast_to(_H_POS, (k, 3, 6)), S, R, PHt
    zhat, H = ms.predict_measurement(mtype, x, s_ecef, s_R)
    y = ms.residual(mtype, z[:, :m], zhat)
    PHt = P @ np.ascontiguousarray(np.swapaxes(H, -1, -2))  # (transposed views are slow operands)
    S = H @ PHt + R
    return y, H, S, R, PHt


def mahalanobis(y: np.ndarray, S: np.ndarray):
    """d^2 = y^T S^-1 y (K,), log det S (K,), and S^-1 (K,m,m)."""
    Si, logdet = inv_logdet(S)
    d2 = sum_last((Si @ y[:, :, None])[:, :, 0] * y)
    return d2, logdet, Si


def kalman_update(x, P, y, S, PHt, Si=None, out=None):
    """EKF update with precomputed pieces. Returns x+, P+ (symmetrised), written
    into ``out`` = (x+, P+) arrays when given (the tracker's state columns: no
    copy afterwards; the same numbers)."""
    if Si is None:
        Si = inv_logdet(S)[0]
    K = PHt @ Si
    Ky = (K @ y[:, :, None])[:, :, 0]
    x_new = x + Ky if out is None else np.add(x, Ky, out=out[0])
    # P - K S K^T, since K S = P H^T; H P as its own array (a product with a
    # transposed view is about twice as slow)
    P_new = K @ np.ascontiguousarray(np.swapaxes(PHt, -1, -2))
    np.subtract(P, P_new, out=P_new)
    sym = P_new + np.swapaxes(P_new, -1, -2) if out is None else \
        np.add(P_new, np.swapaxes(P_new, -1, -2), out=out[1])
    sym *= 0.5
    return x_new, sym


def imm_update(mtype: int, xp: np.ndarray, Pp: np.ndarray, cbar: np.ndarray, z, sig, s_ecef, s_R,
               with_d2: bool = False, out=None, shared: bool = False):
    """Update every mode of K tracks with one measurement each (linearised at
    each mode's own prediction, or with ``shared`` once per row at the predicted
    mixture mean, see SHARED_TYPES), then the
    mode probabilities from the modes' measurement likelihoods. Returns xm+,
    Pm+, mu+ ((K,M,...) each), and with ``with_d2`` each mode's squared
    Mahalanobis distance of the measurement (K,M). ``out`` = (xm, Pm) arrays
    (K,M,6), (K,M,6,6) to write the updated modes into."""
    k, M = cbar.shape
    rep = (lambda a: np.repeat(a, M, axis=0)) if M > 1 else (lambda a: a)
    xf, Pf = xp.reshape(k * M, 6), Pp.reshape(k * M, 6, 6)
    if mtype == ms.POS:  # H = [I 0] selects; R the same for every mode (broadcast, no repeats)
        y = (z[:, None, :3] - xp[..., :3]).reshape(k * M, 3)
        PHt = Pf[:, :, :3]
        S = np.take(Pp.reshape(k, M, 36), _POS_BLOCK, axis=2).reshape(k, M, 3, 3)
        S += ms.noise(mtype, sig, s_R)[:, None]
        S = S.reshape(k * M, 3, 3)
    elif M == 1 or not shared or mtype not in SHARED_TYPES:
        R = rep(ms.noise(mtype, sig, s_R))  # the same for every mode: built once per report
        y, H, S, R, PHt = innovation(mtype, xf, Pf, rep(z), None, rep(s_ecef), rep(s_R), R)
    else:
        R = rep(ms.noise(mtype, sig, s_R))
        y, H, S, PHt = _shared_innovation(mtype, xp, Pp, cbar, z, s_ecef, s_R, R)
    d2, logdet, Si = mahalanobis(y, S)
    if out is not None:
        out = out[0].reshape(k * M, 6), out[1].reshape(k * M, 6, 6)
    xn, Pn = kalman_update(xf, Pf, y, S, PHt, Si, out)
    if M == 1:
        out = xn.reshape(k, 1, 6), Pn.reshape(k, 1, 6, 6), cbar
        return out + (d2.reshape(k, 1),) if with_d2 else out
    loglik = (-0.5 * (d2 + logdet + ms.DIM[mtype] * LOG_2PI)).reshape(k, M)
    logmu = np.log(np.maximum(cbar, 1e-300)) + loglik
    logmu -= max_last(logmu)[:, None]
    mu = np.exp(logmu)
    mu /= sum_last(mu)[:, None]
    mu = np.maximum(mu, 1e-6)  # no mode may die: a manoeuvre must stay detectable
    mu /= sum_last(mu)[:, None]
    out = xn.reshape(k, M, 6), Pn.reshape(k, M, 6, 6), mu
    return out + (d2.reshape(k, M),) if with_d2 else out


# Nonlinear measurements (radar, bearings) are linearised once per (track, report)
# pair at the predicted mixture mean, not at each mode's own prediction: the
# modes' predictions differ by metres at kilometres of range, so each mode's
# predicted measurement h(x_bar) + H (x_m - x_bar) differs from h(x_m) by
# second-order terms (|x_m - x_bar|^2 / range), far below any sensor's noise.
# h and H are then computed on K rows instead of K * M (TrackerConfig.shared_linearisation).
SHARED_TYPES = (ms.POLAR_RR, ms.POLAR, ms.AZ, ms.AZEL)


def _shared_innovation(mtype: int, xp, Pp, cbar, z, s_ecef, s_R, R):
    """Residuals y (K*M, m), S (K*M, m, m) and P H^T (K*M, 6, m) of every mode,
    with h and H taken once per row at the predicted mixture mean."""
    k, M = cbar.shape
    d = xp - xp[:, :1]  # offsets from mode 0 (metres, not ECEF magnitudes)
    dbar = (cbar[:, None, :] @ d)[:, 0]
    xbar = xp[:, 0] + dbar
    m = ms.DIM[mtype]
    zhat, H = ms.predict_measurement(mtype, xbar, s_ecef, s_R)
    y0 = ms.residual(mtype, z[:, :m], zhat)  # (K, m), angles wrapped at the mean
    # y_m = z - h(x_bar) - H (x_m - x_bar); x_m - x_bar = d_m - dbar
    Ht = np.ascontiguousarray(np.swapaxes(H, 1, 2))  # (K, 6, m)
    e = d - dbar[:, None, :]
    y = (y0[:, None, :] - e @ Ht).reshape(k * M, m)
    # every mode's P H^T as one (6M x 6)(6 x m) product per row (modes stacked)
    PHt = (Pp.reshape(k, M * 6, 6) @ Ht).reshape(k, M, 6, m)
    S = (H[:, None] @ PHt).reshape(k * M, m, m)
    S += R
    return y, None, S, PHt.reshape(k * M, 6, m)


def oosm_update(mtype: int, x, P, F_back, Q_back, z, sig, s_ecef, s_R):
    """Out-of-sequence update without retrodiction (Bar-Shalom's one-step
    "Bl1" approximation): the report is compared with the track predicted back
    to the report's time (x_b = F_back x, P_b = F_back P F_back^T + Q_back), and
    the correction is applied to the *current* state through the cross
    covariance P F_back^T H^T. The track keeps its time; its covariance only
    shrinks, so a report minutes late cannot inflate a good track.
    Returns x+, P+ (K,6), (K,6,6)."""
    xb = (F_back @ x[:, :, None])[:, :, 0]
    Pb = F_back @ P @ np.swapaxes(F_back, -1, -2) + Q_back
    zhat, H = ms.predict_measurement(mtype, xb, s_ecef, s_R)
    m = ms.DIM[mtype]
    y = ms.residual(mtype, z[:, :m], zhat)
    S = H @ Pb @ np.swapaxes(H, -1, -2) + ms.noise(mtype, sig, s_R)
    Pxz = P @ np.swapaxes(F_back, -1, -2) @ np.swapaxes(H, -1, -2)
    return kalman_update(x, P, y, S, Pxz)


def limit_speed(xm: np.ndarray, v_max: float) -> None:
    """Nothing we track flies faster than ``v_max``: a mode state (..., 6) whose
    speed came out above it (a wrong pairing, a bearing explained by velocity on a
    track that did not know its velocity yet) is scaled back onto the limit, in
    place (estimate projection; the covariance is kept)."""
    v = xm[..., 3:]
    sp = np.sqrt(sum_last(v * v))[..., None]  # np.linalg.norm's sums, cheaper
    over = sp > v_max
    if over.any():
        v *= np.where(over, v_max / np.maximum(sp, 1e-9), 1.0)
