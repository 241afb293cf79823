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

import math
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
    pi = (1.0 - stay)[:, :, None] * _leave_to(models)[None]
    idx = np.arange(m)
    pi[:, idx, idx] = stay
    return pi


_LEAVE: dict[int, tuple[MotionModels, np.ndarray]] = {}


def _leave_to(models: MotionModels) -> np.ndarray:
    """(M, M): where the mass that leaves mode i goes, in proportion to the entry
    weights of the other modes (equal without them); built once per model set."""
    hit = _LEAVE.get(id(models))
    if hit is not None and hit[0] is models:
        return hit[1]
    m = models.M
    entry = np.ones(m) if models.entry is None else np.asarray(models.entry, float)
    w = np.broadcast_to(entry, (m, m)).copy()
    w[np.arange(m), np.arange(m)] = 0.0
    w /= w.sum(axis=1, keepdims=True)
    if len(_LEAVE) > 64:
        _LEAVE.clear()
    _LEAVE[id(models)] = (models, w)
    return w


def vertical_decay(dt: np.ndarray, tau: float):
    """Vertical velocity as an integrated Ornstein-Uhlenbeck process: drones hold
    height, so a climb seen once decays instead of being carried for ever (a
    track that loses its height measurement, e.g. to azimuth-only microphones,
    otherwise drifts kilometres up or underground). Over dt > 0 the vertical
    velocity is scaled by 1 - b and the vertical displacement is dt - g times it:
    b = 1 - exp(-dt/tau), g = dt - tau b. Backward (dt <= 0) and tau = inf: NCV."""
    dt = np.asarray(dt, float)
    if isinstance(tau, float):  # one for all (math.isfinite: np.any on a scalar costs more)
        if not math.isfinite(tau):
            z = np.zeros(dt.shape)
            return z, z
        f = np.maximum(dt, 0.0)
        b = -np.expm1(-f / tau)
        return b, f - tau * b
    if np.ndim(tau):  # one per mode: (K, M)
        dt = dt[:, None]
    if not np.any(np.isfinite(tau)):
        z = np.zeros(np.broadcast_shapes(dt.shape, np.shape(tau)))
        return z, z
    f = np.maximum(dt, 0.0)
    b = -np.expm1(-f / tau)  # 0 where tau is infinite
    if np.ndim(tau) and not np.all(np.isfinite(tau)):
        # tau b is inf * 0 there: take g = 0 without forming it (no errstate: this
        # runs for every small batch and np.errstate costs more than the arithmetic)
        finite = np.isfinite(tau)
        return b, (f - np.where(finite, tau, 0.0) * b) * finite
    return b, f - tau * b


_UI, _UJ = np.divmod(np.arange(9), 3)


def up_frame(R: np.ndarray):
    """(K,9) each, flattened 3x3: u u^T and [u]x for the local up u of each track
    (the pieces every ENU-defined block is built from in ECEF)."""
    u = R[:, :, 2]
    uu = u[:, _UI] * u[:, _UJ]
    ux = np.zeros((u.shape[0], 9))
    ux[:, 1], ux[:, 2], ux[:, 5] = -u[:, 2], u[:, 1], -u[:, 0]
    ux[:, 3], ux[:, 6], ux[:, 7] = u[:, 2], -u[:, 1], u[:, 0]
    return uu, ux


_EYE9 = np.eye(3).reshape(9)


def _turn_coefficients(models: MotionModels, dt: np.ndarray):
    """(K, 2M, 3): per mode the weights of I, u u^T and [u]x in A, then in B.
    A = sw (I - uu) + cw [u]x + (dt - g) uu, B = c (I - uu) + s [u]x + (1 - b) uu
    with s, c = sin, cos(w dt), sw = s / w, cw = (1 - c) / w (dt and 0 when
    straight). Few numpy calls: this runs for every small batch."""
    d = dt[:, None]
    b, g = vertical_decay(dt, models.vu_tau_s)
    if b.ndim == 1:
        b, g = b[:, None], g[:, None]
    w, straight, w_safe = _turn_rates(models)
    wd = w * d
    s, c = np.sin(wd), np.cos(wd)
    sw = np.where(straight, d, s / w_safe)
    coef = np.empty((dt.size, 2, models.M, 3))  # written in place: no stack and transpose
    coef[:, 0, :, 0] = sw
    np.subtract(d - g, sw, out=coef[:, 0, :, 1])
    np.divide(1.0 - c, w_safe, out=coef[:, 0, :, 2])  # 0 where straight (c = 1)
    coef[:, 1, :, 0] = c
    np.subtract(1.0 - b, c, out=coef[:, 1, :, 1])
    coef[:, 1, :, 2] = s
    return coef.reshape(dt.size, -1, 3)


_RATES: dict[int, tuple] = {}


def _turn_rates(models: MotionModels):
    """(omega, straight, omega with straight modes set to 1), built once per model set."""
    hit = _RATES.get(id(models))
    if hit is not None and hit[0] is models:
        return hit[1]
    w = models.omega[None, :].astype(float)
    straight = np.abs(w) < 1e-9
    val = (w, straight, np.where(straight, 1.0, w))
    if len(_RATES) > 64:
        _RATES.clear()
    _RATES[id(models)] = (models, val)
    return val


def transition_blocks(models: MotionModels, dt: np.ndarray, R: np.ndarray, frame=None):
    """The ECEF transition of each mode over dt (any sign) as its two 3x3 blocks,
    F = [[I, A], [0, B]]: A (K,M,3,3) maps velocity into displacement, B turns the
    velocity. R (K,3,3) are the tracks' ENU->ECEF rotations.

    In ECEF the ENU pieces are the horizontal projector I - u u^T, the vertical
    u u^T and the horizontal quarter-turn n e^T - e n^T, which is [u]x (the cross
    product with the local up u): each block is a per-mode weighting of three
    per-track matrices, i.e. one small matrix product for all modes."""
    dt = np.asarray(dt, float)
    k, m = dt.size, models.M
    AB = _blocks(models, dt, R, frame).reshape(k, 2 * m, 3, 3)
    return AB[:, :m], AB[:, m:]


def _blocks(models: MotionModels, dt: np.ndarray, R: np.ndarray, frame=None) -> np.ndarray:
    """(K, 2M, 9): A of each mode, then B, flattened."""
    uu, ux = up_frame(R) if frame is None else frame
    basis = np.empty((dt.size, 3, 9))
    basis[:, 0], basis[:, 1], basis[:, 2] = _EYE9, uu, ux
    return _turn_coefficients(models, dt) @ basis


def transition(models: MotionModels, dt: np.ndarray, R: np.ndarray, frame=None,
               transposed: bool = False):
    """(K, M, 6, 6) ECEF state transition of each mode (see transition_blocks);
    with ``transposed`` also F^T, built as its own contiguous array (a product
    with a transposed view costs more than building it)."""
    dt = np.asarray(dt, float)
    k, m = dt.size, models.M
    AB = _blocks(models, dt, R, frame).reshape(k, 2, m, 9)
    # F and F^T are gathers (one np.take each) from [0, 1, A, B] per row and mode:
    # fewer passes than zero-filling and three strided block writes each
    src = np.empty((k, m, 20))
    src[..., 0], src[..., 1] = 0.0, 1.0
    src[..., 2:].reshape(k, m, 2, 9)[:] = AB.transpose(0, 2, 1, 3)
    F = np.take(src, _F_SRC, axis=2).reshape(k, m, 6, 6)
    if not transposed:
        return F
    return F, np.take(src, _FT_SRC, axis=2).reshape(k, m, 6, 6)


# flat (row-major 6x6) places of the blocks of F = [[I, A], [0, B]] and of F^T
_F_DIAG = np.arange(6) * 7
_F_A = 6 * _UI + 3 + _UJ
_F_B = 6 * (3 + _UI) + 3 + _UJ
_F_AT = 6 * (3 + _UJ) + _UI
_F_BT = 6 * (3 + _UJ) + 3 + _UI
# where each flat entry of F (and of F^T) is taken from in [0, 1, A (9), B (9)]
_F_SRC, _FT_SRC = np.zeros(36, np.intp), np.zeros(36, np.intp)
for _src, _a, _b in ((_F_SRC, _F_A, _F_B), (_FT_SRC, _F_AT, _F_BT)):
    _src[_F_DIAG[:3]] = 1
    _src[_a], _src[_b] = 2 + np.arange(9), 11 + np.arange(9)


def noise_density(models: MotionModels, R: np.ndarray, frame=None) -> np.ndarray:
    """(K, M, 3, 3) ECEF white-acceleration density: diag(q_h, q_h, q_v) in ENU
    is q_h I + (q_v - q_h) u u^T in ECEF, u the local up."""
    uu = (up_frame(R) if frame is None else frame)[0]
    k = uu.shape[0]
    basis = np.empty((k, 2, 9))
    basis[:, 0], basis[:, 1] = _EYE9, uu
    coef = np.stack([models.q_h, models.q_v - models.q_h], axis=-1)  # (M, 2)
    return (coef @ basis).reshape(k, models.M, 3, 3)


# Q = kron([[a^3/3, dt a/2], [dt a/2, a]], D) flattened: for each of the 36 entries,
# which entry of D (3x3) and which of the three time factors it takes
_R6, _C6 = np.divmod(np.arange(36), 6)
_Q_D = (_R6 % 3) * 3 + _C6 % 3
_Q_T = (_R6 // 3) + (_C6 // 3)  # 0: position-position, 1: cross, 2: velocity-velocity


def process_noise(models: MotionModels, dt: np.ndarray, R: np.ndarray, frame=None) -> np.ndarray:
    """(K, M, 6, 6) ECEF process noise of each mode over dt.

    White acceleration with density diag(q_h, q_h, q_v) in ENU; in ECEF that is
    D = q_h I + (q_v - q_h) u u^T with u the local up. For a negative dt (a
    late report, predicted back) the position-velocity term changes sign.
    Built from two per-track 36-entry pieces (no strided 3x3 blocks).
    """
    dt = np.asarray(dt, float)
    k, m = dt.size, models.M
    a = np.abs(dt)
    uu = (up_frame(R) if frame is None else frame)[0]
    c = np.stack([a ** 3 / 3.0, dt * a / 2.0, a], axis=1)[:, _Q_T]  # (K, 36)
    G0 = c * _EYE9[_Q_D]  # kron(c, I)
    G1 = c * uu[:, _Q_D]  # kron(c, u u^T)
    if m == 1:
        G0 *= models.q_h[0]
        G1 *= models.q_v[0] - models.q_h[0]
        Q = G0 + G1
    else:
        Q = np.stack([models.q_h, models.q_v - models.q_h], axis=-1) @ np.stack([G0, G1], axis=1)
    return Q.reshape(k, m, 6, 6)


def predict_positions(x: np.ndarray, t_state: np.ndarray, t: float | np.ndarray) -> np.ndarray:
    """Straight-line positions at t (for spatial search only, never for filtering)."""
    dt = np.asarray(t, float) - t_state
    return x[:, :3] + x[:, 3:] * dt[..., None]
