"""Measurement models: predicted measurement h(x), its Jacobian H and the noise R
for every report kind, vectorised over (track, report) pairs.

Internal measurement types (a DETECTION kind split by which fields it carries):

==========  ===  =============================================================
type        dim  z (internal units)
==========  ===  =============================================================
POLAR_RR     4   slant range m, azimuth rad, elevation rad, range rate m/s
POLAR        3   the same without range rate
POS          3   ECEF position m (from lat/lon/alt; ENU sigmas rotated)
AZ           1   azimuth rad (bearing-only)
AZEL         2   azimuth, elevation rad
==========  ===  =============================================================

Angles are in the sensor's local ENU frame (azimuth clockwise from true north,
elevation above the horizontal), exactly as pymap3d's aer functions define them;
residuals of azimuth are wrapped to (-pi, pi]. Radars are treated as fixed:
range rate is d.v / |d| with d the sensor-to-target vector (positive receding).
"""

from __future__ import annotations

import numpy as np

POLAR_RR, POLAR, POS, AZ, AZEL = 0, 1, 2, 3, 4
DIM = (4, 3, 3, 1, 2)
NAMES = ("polar+rr", "polar", "pos", "bearing", "bearing+el")
_ANGLE_COLS = {POLAR_RR: (1, 2), POLAR: (1, 2), POS: (), AZ: (0,), AZEL: (0, 1)}
_AZ_COL = {POLAR_RR: 1, POLAR: 1, AZ: 0, AZEL: 0}


def _local(x: np.ndarray, s_ecef: np.ndarray, s_R: np.ndarray):
    """Sensor-to-target vector in ECEF and in the sensor's ENU."""
    d = x[:, :3] - s_ecef
    loc = (d[:, None, :] @ s_R)[:, 0]  # R^T d
    return d, loc


def predict_measurement(mtype: int, x: np.ndarray, s_ecef: np.ndarray, s_R: np.ndarray):
    """h(x) (K, m) and H (K, m, 6) for K states x (K, 6) seen by sensors at
    s_ecef (K, 3) with ENU->ECEF rotations s_R (K, 3, 3).

    The angle gradients are formed in ENU and taken to ECEF as combinations of
    the sensor's east, north and up axes (the columns of s_R): the chain rule
    through loc = R^T d without a matrix product per row."""
    k = x.shape[0]
    m = DIM[mtype]
    H = np.zeros((k, m, 6))
    if mtype == POS:
        H[:, 0, 0] = H[:, 1, 1] = H[:, 2, 2] = 1.0
        return x[:, :3].copy(), H
    d, loc = _local(x, s_ecef, s_R)
    e, n, u = loc[:, 0], loc[:, 1], loc[:, 2]
    rho2 = np.maximum(e * e + n * n, 1.0)  # directly overhead: azimuth undefined, keep finite
    E, N = s_R[:, :, 0], s_R[:, :, 1]
    zhat = np.empty((k, m))
    row = 0
    if mtype in (POLAR_RR, POLAR):
        rho = np.sqrt(rho2)
        r2 = rho2 + u * u
        r = np.sqrt(r2)
        zhat[:, 0] = r
        H[:, 0, :3] = d / r[:, None]
        row = 1
    zhat[:, row] = np.arctan2(e, n)
    H[:, row, :3] = (n / rho2)[:, None] * E - (e / rho2)[:, None] * N
    if mtype != AZ:
        if mtype == AZEL:
            rho = np.sqrt(rho2)
            r2 = rho2 + u * u
        zhat[:, row + 1] = np.arctan2(u, rho)
        c = u / (rho * r2)
        H[:, row + 1, :3] = (-(e * c))[:, None] * E - (n * c)[:, None] * N \
            + (rho / r2)[:, None] * s_R[:, :, 2]
    if mtype == POLAR_RR:
        v = x[:, 3:]
        w = d / r[:, None]
        rr = np.einsum("ki,ki->k", w, v)
        zhat[:, 3] = rr
        H[:, 3, :3] = (v - rr[:, None] * w) / r[:, None]
        H[:, 3, 3:] = w
    return zhat, H


def residual(mtype: int, z: np.ndarray, zhat: np.ndarray) -> np.ndarray:
    """z - h(x) with azimuths wrapped to (-pi, pi]."""
    y = z - zhat
    j = _AZ_COL.get(mtype)
    if j is not None:
        y[:, j] = np.pi - np.mod(np.pi - y[:, j], 2.0 * np.pi)
    return y


def noise(mtype: int, sig: np.ndarray, s_R: np.ndarray) -> np.ndarray:
    """Measurement covariance (K, m, m) from sigmas (K, 4) in internal units.
    POS: sigma_h, sigma_v in the ENU at the reported point (s_R there), rotated."""
    k, m = sig.shape[0], DIM[mtype]
    if mtype == POS:
        h2, v2 = sig[:, 0] ** 2, sig[:, 1] ** 2
        up = s_R[:, :, 2]
        return (h2[:, None, None] * np.eye(3)
                + (v2 - h2)[:, None, None] * (up[:, :, None] * up[:, None, :]))
    R = np.zeros((k, m, m))
    idx = np.arange(m)
    R[:, idx, idx] = sig[:, :m] ** 2
    return R


def log_det_noise(mtype: int, sig: np.ndarray) -> np.ndarray:
    """log det of noise(mtype, sig, .) without building it (rotations keep det)."""
    if mtype == POS:
        return 4.0 * np.log(sig[:, 0]) + 2.0 * np.log(sig[:, 1])
    return 2.0 * np.log(sig[:, : DIM[mtype]]).sum(axis=1)


def polar_to_ecef(rng, az, el, s_ecef, s_R):
    """Radar plot (m, rad, rad) -> ECEF point: the ENU direction at the sensor,
    rotated; exact geometry, no flat-Earth step (refraction is ignored)."""
    ce = np.cos(el)
    loc = np.stack([rng * ce * np.sin(az), rng * ce * np.cos(az), rng * np.sin(el)], axis=-1)
    return s_ecef + (s_R @ loc[..., None])[..., 0]


def polar_position_cov(rng, az, el, sig, s_R):
    """ECEF covariance (K, 3, 3) of a radar plot's position (first-order)."""
    ce, se, ca, sa = np.cos(el), np.sin(el), np.cos(az), np.sin(az)
    J = np.empty(rng.shape + (3, 3))  # d(e, n, u) / d(range, az, el)
    J[..., 0, 0], J[..., 1, 0], J[..., 2, 0] = ce * sa, ce * ca, se
    J[..., 0, 1], J[..., 1, 1], J[..., 2, 1] = rng * ce * ca, -rng * ce * sa, 0.0
    J[..., 0, 2], J[..., 1, 2], J[..., 2, 2] = -rng * se * sa, -rng * se * ca, rng * ce
    RJ = s_R @ J
    S = np.zeros(rng.shape + (3, 3))
    idx = np.arange(3)
    S[..., idx, idx] = sig[..., :3] ** 2
    return RJ @ S @ np.swapaxes(RJ, -1, -2)
