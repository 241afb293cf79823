"""Motion models: nearly-constant velocity and horizontal coordinated turns, as
one family indexed by turn rate (omega = 0 is NCV), vectorised over tracks and
modes.

The state lives in ECEF but the physics is local: turns happen in the horizontal
plane of the local ENU frame at the track and process noise is white acceleration
with separate horizontal and vertical densities in that frame. Both are built in
ENU and rotated with R = geo.enu_to_ecef_rotation at the track (F_ecef = R F R^T
blockwise), so a track is modelled the same anywhere in the theatre.

A straight line in ECEF departs from constant height by d^2 / 2R_earth: 0.3 m over
2 km, so NCV in ECEF is exact enough between updates seconds apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from airshield.track.config import TrackerConfig


@dataclass(frozen=True)
class MotionModels:
    omega: np.ndarray  # (M,) turn rate, rad/s, positive = counter-clockwise seen from above
    q_h: np.ndarray  # (M,) horizontal white-acceleration density, m^2/s^3
    q_v: np.ndarray  # (M,) vertical
    sojourn_s: np.ndarray  # (M,) mean time spent in each mode (IMM Markov chain)
    vu_tau_s: float | np.ndarray = np.inf  # vertical velocity decay time constant, one or (M,)
    entry: np.ndarray | None = None  # (M,) relative weight of entering each mode (None: equal)

    @property
    def M(self) -> int:
        return int(self.omega.size)


def models_from_config(cfg: TrackerConfig) -> MotionModels:
    """NCV alone, or the IMM set (NCV, left turn, right turn, and with
    ``cfg.dive`` a dive mode: NCV with a large vertical noise and no vertical
    decay, for the 1 g pitch-over and the 100 m/s descent of a terminal dive)."""
    if not cfg.imm:
        return MotionModels(np.zeros(1), np.array([cfg.q_h]), np.array([cfg.q_v]),
                            np.array([np.inf]), cfg.vu_tau_s)
    w = np.radians(cfg.turn_rate_dps)
    omega, q_h = [0.0, w, -w], [cfg.q_h, cfg.q_turn_h, cfg.q_turn_h]
    q_v, tau = [cfg.q_v, cfg.q_turn_v, cfg.q_turn_v], [cfg.vu_tau_s] * 3
    sojourn = list(cfg.sojourn_s)
    entry = None
    if cfg.dive:
        entry = np.array([1.0, 1.0, 1.0, cfg.dive_entry])
        omega.append(0.0)
        q_h.append(cfg.q_h)
        q_v.append(cfg.q_dive_v)
        tau.append(np.inf)
        sojourn.append(cfg.dive_sojourn_s)
    return MotionModels(np.array(omega), np.array(q_h), np.array(q_v), np.array(sojourn, float),
                        vu_tau_s=np.array(tau, float), entry=entry)


def markov(models: MotionModels, dt: np.ndarray) -> np.ndarray:
    """(K, M, M) mode transition probabilities over |dt|: Pi[k, i, j] = P(j | i).
    A mode is left at rate 1/sojourn to any other mode with equal probability."""
    dt = np.abs(np.asarray(dt, float))
    m = models.M
    if m == 1:
        return np.ones((dt.size, 1, 1))
    stay = np.exp(-dt[:, None] / models.sojourn_s[None, :])  # (K, M)
    idx = np.arange(m)
    if models.entry is None:
        pi = np.repeat(((1.0 - stay) / (m - 1))[:, :, None], m, axis=2)
    else:  # the mass that leaves mode i goes to j != i in proportion to entry[j]
        w = np.broadcast_to(models.entry, (m, m)).copy()
        w[idx, idx] = 0.0
        w /= w.sum(axis=1, keepdims=True)
        pi = (1.0 - stay)[:, :, None] * w[None]
    pi[:, idx, idx] = stay
    return pi


def vertical_decay(dt: np.ndarray, tau: float):
    """Vertical velocity as an integrated Ornstein-Uhlenbeck process: drones hold
    height, so a climb seen once decays instead of being carried for ever (a
    track that loses its height measurement, e.g. to azimuth-only microphones,
    otherwise drifts kilometres up or underground). Over dt > 0 the vertical
    velocity is scaled by 1 - b and the vertical displacement is dt - g times it:
    b = 1 - exp(-dt/tau), g = dt - tau b. Backward (dt <= 0) and tau = inf: NCV."""
    dt = np.asarray(dt, float)
    if np.ndim(tau):  # one per mode: (K, M)
        dt = dt[:, None]
    if not np.any(np.isfinite(tau)):
        z = np.zeros(np.broadcast_shapes(dt.shape, np.shape(tau)))
        return z, z
    f = np.maximum(dt, 0.0)
    with np.errstate(invalid="ignore"):
        b = -np.expm1(-f / tau)
        g = np.where(np.isfinite(tau), f - tau * b, 0.0)
    return b, g


def transition_blocks(models: MotionModels, dt: np.ndarray, R: np.ndarray):
    """The ECEF transition of each mode over dt (any sign) as its two 3x3 blocks,
    F = [[I, A], [0, B]]: A (K,M,3,3) maps velocity into displacement, B turns the
    velocity. R (K,3,3) are the tracks' ENU->ECEF rotations.

    In ECEF the ENU pieces are the horizontal projector I - u u^T, the vertical
    u u^T and the horizontal quarter-turn n e^T - e n^T, which is [u]x (the cross
    product with the local up u): a turn needs no per-track matrix product."""
    dt = np.asarray(dt, float)
    k, m = dt.size, models.M
    d = dt[:, None]
    e = (..., None, None)
    b, g = vertical_decay(dt, models.vu_tau_s)
    if not np.any(models.omega) and not np.any(b):
        A = np.broadcast_to(d[e] * np.eye(3), (k, m, 3, 3))
        return A, np.broadcast_to(np.eye(3), (k, m, 3, 3))
    w = models.omega[None, :]
    straight = np.abs(w) < 1e-9
    ws = np.where(straight, 1.0, w)
    s, c = np.sin(w * d), np.cos(w * d)
    sw = np.where(straight, d, s / ws)  # integral of cos over the interval, /w
    cw = np.where(straight, 0.0, (1.0 - c) / ws)
    u = R[:, :, 2]
    uu = (u[:, :, None] * u[:, None, :])[:, None]
    hor = np.eye(3) - uu
    ux = np.zeros((k, 1, 3, 3))
    ux[:, 0, 0, 1], ux[:, 0, 0, 2], ux[:, 0, 1, 2] = -u[:, 2], u[:, 1], -u[:, 0]
    ux[:, 0, 1, 0], ux[:, 0, 2, 0], ux[:, 0, 2, 1] = u[:, 2], -u[:, 1], u[:, 0]
    if b.ndim == 1:
        b, g = b[:, None], g[:, None]
    dv, bv = (d - g)[e], (1.0 - b)[e]
    return sw[e] * hor + cw[e] * ux + dv * uu, c[e] * hor + s[e] * ux + bv * uu


def transition(models: MotionModels, dt: np.ndarray, R: np.ndarray) -> np.ndarray:
    """(K, M, 6, 6) ECEF state transition of each mode (see transition_blocks)."""
    A, B = transition_blocks(models, dt, R)
    F = np.zeros(A.shape[:2] + (6, 6))
    F[..., [0, 1, 2], [0, 1, 2]] = 1.0
    F[..., :3, 3:] = A
    F[..., 3:, 3:] = B
    return F


def noise_density(models: MotionModels, R: np.ndarray) -> np.ndarray:
    """(K, M, 3, 3) ECEF white-acceleration density: diag(q_h, q_h, q_v) in ENU
    is q_h I + (q_v - q_h) u u^T in ECEF, u the local up."""
    up = R[:, :, 2]
    uu = up[:, :, None] * up[:, None, :]
    return (models.q_h[None, :, None, None] * np.eye(3)
            + (models.q_v - models.q_h)[None, :, None, None] * uu[:, None])


def process_noise(models: MotionModels, dt: np.ndarray, R: np.ndarray) -> np.ndarray:
    """(K, M, 6, 6) ECEF process noise of each mode over dt.

    White acceleration with density diag(q_h, q_h, q_v) in ENU; in ECEF that is
    D = q_h I + (q_v - q_h) u u^T with u the local up. For a negative dt (a
    late report, predicted back) the position-velocity term changes sign.
    """
    dt = np.asarray(dt, float)
    a = np.abs(dt)
    D = noise_density(models, R)
    Q = np.empty((dt.size, models.M, 6, 6))
    Q[..., :3, :3] = D * (a ** 3 / 3.0)[:, None, None, None]
    Q[..., :3, 3:] = Q[..., 3:, :3] = D * (dt * a / 2.0)[:, None, None, None]
    Q[..., 3:, 3:] = D * a[:, None, None, None]
    return Q


def predict_positions(x: np.ndarray, t_state: np.ndarray, t: float | np.ndarray) -> np.ndarray:
    """Straight-line positions at t (for spatial search only, never for filtering)."""
    dt = np.asarray(t, float) - t_state
    return x[:, :3] + x[:, 3:] * dt[..., None]
