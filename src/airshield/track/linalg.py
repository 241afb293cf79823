"""Inverse and log-determinant of many small symmetric positive-definite matrices.

Innovation covariances are 1x1 to 4x4. LAPACK's batched inverse pays a fixed
cost per matrix that dwarfs the arithmetic at this size; closed forms over
arrays (cofactors for 2x2 and 3x3; for 4x4 a Cholesky factor written out entry
by entry, or for a handful of rows a Schur complement, which takes fewer numpy
calls) are an order of magnitude faster and exact to rounding for
well-conditioned S.
"""

from __future__ import annotations

import numpy as np


def _inv3(S: np.ndarray):
    # entries as contiguous rows of a (9, K) copy: the cofactor arithmetic then runs
    # over contiguous memory instead of stride-9 columns (same operations, same numbers)
    k = S.shape[0]
    a, b, c, d, e, f, g, h, i = S.reshape(k, 9).T.copy()
    c00, c01, c02 = e * i - f * h, f * g - d * i, d * h - e * g
    det = a * c00 + b * c01 + c * c02
    out = np.empty((9, k))
    out[0], out[3], out[6] = c00, c01, c02
    out[1], out[4], out[7] = c * h - b * i, a * i - c * g, b * g - a * h
    out[2], out[5], out[8] = b * f - c * e, c * d - a * f, a * e - b * d
    out /= det
    return np.ascontiguousarray(out.T).reshape(k, 3, 3), det


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
        if S.shape[0] >= 32:
            return _inv_chol(S)
        return _inv4_schur(S)  # fewer numpy calls: cheaper for a handful of rows
    inv = np.linalg.inv(S)
    return inv, np.linalg.slogdet(S)[1]


def _inv4_schur(S: np.ndarray):
    """4x4 by blocks [[A, u], [v^T, s]]: A^-1 closed-form, k = s - v^T A^-1 u
    (Schur). Fewer numpy calls than the Cholesky form: cheaper for a handful of
    rows, less accurate for ill-scaled S."""
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


def _inv_chol(S: np.ndarray):
    """S^-1 and log det S through the Cholesky factor L, written out entry by
    entry over all K at once (S^-1 = W^T W with W = L^-1): for 4x4 about three
    times faster than a 3x3 cofactor inverse plus a Schur complement built from
    small matrix products."""
    k, m = S.shape[0], S.shape[-1]
    L = [[None] * m for _ in range(m)]
    logdet = np.zeros(k)
    for j in range(m):
        acc = S[:, j, j].copy()
        for p in range(j):
            acc -= L[j][p] * L[j][p]
        L[j][j] = np.sqrt(acc)
        logdet += np.log(acc)
        inv = 1.0 / L[j][j]
        for i in range(j + 1, m):
            a = S[:, i, j].copy()
            for p in range(j):
                a -= L[i][p] * L[j][p]
            L[i][j] = a * inv
    W = [[None] * m for _ in range(m)]  # L^-1, lower triangular
    for i in range(m):
        W[i][i] = 1.0 / L[i][i]
        for j in range(i - 1, -1, -1):
            a = L[i][j] * W[j][j]
            for p in range(j + 1, i):
                a = a + L[i][p] * W[p][j]
            W[i][j] = -a * W[i][i]
    out = np.empty_like(S)
    for i in range(m):
        for j in range(i + 1):
            a = W[i][i] * W[i][j]
            for p in range(i + 1, m):
                a = a + W[p][i] * W[p][j]
            out[:, i, j] = out[:, j, i] = a
    return out, logdet


def sum_last(a: np.ndarray) -> np.ndarray:
    """a.sum(axis=-1) for a small last axis (modes, measurement components, 3-D
    vectors), added column by column: the same sums (numpy adds fewer than eight
    numbers in order) without a reduction's per-row overhead, several times
    cheaper on a thousand rows of four."""
    w = a.shape[-1]
    if w == 1:
        return a[..., 0].copy()
    out = a[..., 0] + a[..., 1]
    for k in range(2, w):
        out += a[..., k]
    return out


def max_last(a: np.ndarray) -> np.ndarray:
    """a.max(axis=-1) for a small last axis, column by column (exact)."""
    out = a[..., 0].copy()
    for k in range(1, a.shape[-1]):
        np.maximum(out, a[..., k], out=out)
    return out
