"""Inverse and log-determinant of many small symmetric positive-definite matrices.

Innovation covariances are 1x1 to 4x4. LAPACK's batched inverse pays a fixed
cost per matrix that dwarfs the arithmetic at this size; closed forms over
arrays (cofactors for 3x3, a Schur complement on top of it for 4x4) are an order
of magnitude faster and exact to rounding for well-conditioned S.
"""

from __future__ import annotations

import numpy as np


def _inv3(S: np.ndarray):
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


def inv_logdet(S: np.ndarray):
    """S^-1 (K,m,m) and log det S (K,) for K symmetric positive-definite m x m."""
    m = S.shape[-1]
    if m == 1:
        return 1.0 / S, np.log(S[:, 0, 0])
    if m == 2:
        a, b, c, d = S[:, 0, 0], S[:, 0, 1], S[:, 1, 0], S[:, 1, 1]
        det = a * d - b * c
        out = np.empty_like(S)
        out[:, 0, 0], out[:, 0, 1], out[:, 1, 0], out[:, 1, 1] = d, -b, -c, a
        return out / det[:, None, None], np.log(det)
    if m == 3:
        inv, det = _inv3(S)
        return inv, np.log(det)
    if m == 4:
        # [[A, u], [v^T, s]]: with A^-1 closed-form, k = s - v^T A^-1 u (Schur)
        Ai, detA = _inv3(np.ascontiguousarray(S[:, :3, :3]))
        u, v, s = S[:, :3, 3], S[:, 3, :3], S[:, 3, 3]
        Aiu = (Ai @ u[:, :, None])[:, :, 0]
        vAi = (v[:, None, :] @ Ai)[:, 0, :]
        k = s - (v * Aiu).sum(axis=1)
        out = np.empty_like(S)
        out[:, :3, :3] = Ai + Aiu[:, :, None] * vAi[:, None, :] / k[:, None, None]
        out[:, :3, 3] = -Aiu / k[:, None]
        out[:, 3, :3] = -vAi / k[:, None]
        out[:, 3, 3] = 1.0 / k
        return out, np.log(detA) + np.log(k)
    inv = np.linalg.inv(S)
    return inv, np.linalg.slogdet(S)[1]
