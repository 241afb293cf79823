"""Track initiation: single-point initiation with a velocity prior bounded by the
fastest object expected.

A report's position (radar plot, position report, or a bearing-crossing fix)
gives the position and its covariance; velocity starts at zero with a standard
deviation of v_max/2 horizontally (so the 2-sigma gate reaches v_max) and a small
vertical one. A radar range rate is folded in as a scalar Kalman update of that
prior along the line of sight, so a radar-born track knows its radial speed at
birth. The second report then gates inside the speed-bounded region and fixes the
velocity (two-point initiation falls out of the filter).
"""

from __future__ import annotations

import numpy as np

from airshield.track.config import TrackerConfig


def velocity_prior(R: np.ndarray, cfg: TrackerConfig) -> np.ndarray:
    """(K,3,3) ECEF velocity covariance from the ENU prior at each point."""
    sh2 = (0.5 * cfg.v_max_mps) ** 2
    sv2 = cfg.vu_sigma_mps ** 2
    up = R[:, :, 2]
    return sh2 * np.eye(3) + (sv2 - sh2) * (up[:, :, None] * up[:, None, :])


def initial_state(pos: np.ndarray, pos_cov: np.ndarray, R: np.ndarray, cfg: TrackerConfig,
                  los: np.ndarray | None = None, rr: np.ndarray | None = None,
                  sig_rr: np.ndarray | None = None):
    """x (K,6), P (K,6,6) for new tracks at ``pos`` with covariance ``pos_cov``.

    los (K,3) unit sensor-to-target vectors with range rates rr (K,) and their
    sigmas (NaN rr = none) refine the velocity along the line of sight.
    """
    k = pos.shape[0]
    V = velocity_prior(R, cfg)
    v = np.zeros((k, 3))
    if rr is not None:
        ok = np.isfinite(rr) & np.isfinite(sig_rr)
        if ok.any():
            u, Vo = los[ok], V[ok]
            Vu = (Vo @ u[:, :, None])[:, :, 0]  # V u
            s = np.einsum("ki,ki->k", u, Vu) + sig_rr[ok] ** 2
            gain = Vu / s[:, None]
            v[ok] = gain * rr[ok, None]
            V[ok] = Vo - gain[:, :, None] * Vu[:, None, :]
    x = np.concatenate([pos, v], axis=1)
    P = np.zeros((k, 6, 6))
    P[:, :3, :3] = pos_cov
    P[:, 3:, 3:] = V
    return x, P


def initial_modes(x: np.ndarray, P: np.ndarray, n_modes: int):
    """Every mode starts from the same Gaussian; most weight on straight flight."""
    k = x.shape[0]
    xm = np.repeat(x[:, None, :], n_modes, axis=1)
    Pm = np.repeat(P[:, None, :, :], n_modes, axis=1)
    if n_modes == 1:
        mu = np.ones((k, 1))
    else:
        mu = np.full((k, n_modes), 0.2 / (n_modes - 1))
        mu[:, 0] = 0.8
    return xm, Pm, mu
