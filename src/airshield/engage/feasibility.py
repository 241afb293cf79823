"""Can effector e defeat threat n, when and where, and with what Pk? For every
effector x threat pair at once (numpy over E x N, closed form, no loops).

The threat flies at constant velocity: p(t) = p_T + v_T t (ECEF, t from now).
The effector reacts after t_r = max(reaction_s, ready_t - now), then something
leaves its site at speed s (interceptor, missile, shell, or the platform itself)
and defeats the threat once within reach R of it. Intercept at time t is
possible when all of these hold:

    reach     |p(t) - p_E| <= s (t - t_r) + R        (the classic intercept
              quadratic; R = 0 gives |p_T + v_T t - p_E| = s (t - t_r))
    envelope  min_range <= |p(t) - p_E| <= max_range
    altitude  min_alt <= h(t) - h_ground <= max_alt,  h(t) = h_T + v_up t
    time      t_r <= t <= time_to_target
    means     stock > 0 and a free channel

Each condition is a quadratic or linear inequality in t, so the feasible set is
an intersection of intervals (minus the min-range hole): its earliest point is
the intercept. An effector whose interceptor is slower than the threat, a gun
that must wait for the threat to pass within reach, and a fighter that must fly
to it are the same formula with different s and R.

``build_instance`` turns the result into the contract's static assignment
instance (CONTRACT.md "Engagement planning") for ``engage.wta.solve``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from airshield import CLASS_INDEX, geo
from airshield.assess.threat import normalise_p_class
from airshield.engage.effectors import Effectors

REASONS: tuple[str, ...] = ("ok", "withheld", "no_stock", "no_channel", "out_of_reach", "too_late")
OK, WITHHELD, NO_STOCK, NO_CHANNEL, OUT_OF_REACH, TOO_LATE = range(len(REASONS))
_EPS = 1e-9


@dataclass
class Intercepts:
    """Effector x threat feasibility, shapes (E, N) unless noted."""

    feasible: np.ndarray  # bool
    t_intercept: np.ndarray  # s from now; inf where infeasible
    t_launch: np.ndarray  # s from now: latest launch that still meets t_intercept; inf where infeasible
    point: np.ndarray  # (E, N, 3) ECEF intercept point; NaN where infeasible
    pk_eff: np.ndarray  # sum_c p_class[n, c] pk[e, c]; 0 where infeasible
    reason: np.ndarray  # int8 index into REASONS
    withheld: np.ndarray  # (N,) bool: never engaged (may be a cooperative aircraft)
    # s from now: the LAST intercept of the pair's first window before the
    # threat reaches its target (inf where infeasible): how long the effector
    # can still wait, e.g. to fire only after a cheaper shot has missed
    t_last: np.ndarray | None = None


def _roots(a, b, c):
    """Real roots (lo, hi) of a t^2 + b t + c (a != 0), NaN where complex; the
    cancellation-free form, since b^2 >> 4ac for distant threats."""
    disc = b * b - 4.0 * a * c
    sq = np.sqrt(np.maximum(disc, 0.0))
    q = -0.5 * (b + np.where(b >= 0, sq, -sq))
    with np.errstate(divide="ignore", invalid="ignore"):
        r1 = q / a
        r2 = np.where(q != 0, c / q, r1)
    lo, hi = np.minimum(r1, r2), np.maximum(r1, r2)
    bad = disc < 0
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


def _reach_window(dd, dv, vv, s, big_r, t_r):
    """Times t >= t_r with |d + v t| <= s (t - t_r) + R, as [lo, hi] (lo > hi: none)."""
    c0 = big_r - s * t_r
    a = vv - s * s
    b = 2.0 * (dv - s * c0)
    c = dd - c0 * c0
    f_r = (a * t_r + b) * t_r + c
    inside_now = f_r <= 0.0
    scale = np.maximum(vv, s * s)
    quad = np.abs(a) > 1e-9 * np.maximum(scale, 1e-12)
    a_safe = np.where(quad, a, 1.0)
    r_lo, r_hi = _roots(a_safe, b, c)
    # faster than the threat (a < 0): once reachable, reachable for good
    fast_lo = np.where(inside_now, t_r, r_hi)
    # slower (a > 0): reachable only between the roots
    slow_lo = np.where(np.isnan(r_lo), np.inf, np.maximum(r_lo, t_r))
    slow_hi = np.where(np.isnan(r_hi), -np.inf, r_hi)
    # equal speeds: linear b t + c <= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        t_lin = -c / b
    lin_lo = np.where(b < 0, np.maximum(t_r, t_lin), np.where(inside_now, t_r, np.inf))
    lin_hi = np.where(b > 0, np.where(inside_now, t_lin, -np.inf), np.inf)
    lo = np.where(quad, np.where(a < 0, fast_lo, slow_lo), lin_lo)
    hi = np.where(quad, np.where(a < 0, np.inf, slow_hi), lin_hi)
    return lo, hi


def _distance_window(dd, dv, vv, radius):
    """Times with |d + v t| <= radius as [lo, hi] (lo > hi: never)."""
    moving = vv > 0
    r_lo, r_hi = _roots(np.where(moving, vv, 1.0), 2.0 * dv, dd - radius * radius)
    static_in = dd <= radius * radius
    lo = np.where(moving, np.where(np.isnan(r_lo), np.inf, r_lo), np.where(static_in, -np.inf, np.inf))
    hi = np.where(moving, np.where(np.isnan(r_hi), -np.inf, r_hi), np.where(static_in, np.inf, -np.inf))
    return lo, hi


def _altitude_window(h0, vu, lo_h, hi_h):
    """Times with lo_h <= h0 + vu t <= hi_h."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ta, tb = (lo_h - h0) / vu, (hi_h - h0) / vu
    level_in = (h0 >= lo_h) & (h0 <= hi_h)
    lo = np.where(vu > 0, ta, np.where(vu < 0, tb, np.where(level_in, -np.inf, np.inf)))
    hi = np.where(vu > 0, tb, np.where(vu < 0, ta, np.where(level_in, np.inf, -np.inf)))
    return lo, hi


def intercept(effectors: Effectors, threat_ecef, threat_vel_ecef, time_to_target, now: float = 0.0, *,
              p_class=None, max_p_aircraft: float = 0.05) -> Intercepts:
    """Feasibility, earliest intercept and effective Pk for every effector x threat.

    threat_ecef, threat_vel_ecef: (N, 3) m, m/s; time_to_target (N,) s from
    ``now`` (inf: no known target); ``now``: scenario time (for ``ready_t``);
    p_class (N, 7) over CLASSES (None: all 'unknown'). Threats whose
    P(aircraft) exceeds ``max_p_aircraft`` are withheld from every effector.
    """
    p = np.asarray(threat_ecef, float).reshape(-1, 3)
    v = np.asarray(threat_vel_ecef, float).reshape(-1, 3)
    n, ne = p.shape[0], len(effectors)
    ttt = np.broadcast_to(np.asarray(time_to_target, float), (n,))
    ttt = np.where(np.isnan(ttt), np.inf, ttt)  # no estimate: no deadline
    pc = normalise_p_class(p_class, n)
    lat, lon, h_t = (np.atleast_1d(x) for x in geo.ecef_to_geodetic(p[:, 0], p[:, 1], p[:, 2]))
    vu = np.atleast_1d(geo.ecef_to_enu_vectors(v[:, 0], v[:, 1], v[:, 2], lat, lon)[2])

    d = p[None, :, :] - effectors.ecef[:, None, :]  # (E, N, 3)
    dd = np.einsum("enk,enk->en", d, d)
    dv = np.einsum("enk,nk->en", d, v)
    vv = np.broadcast_to(np.einsum("nk,nk->n", v, v)[None, :], (ne, n))
    col = (lambda x: np.asarray(x, float)[:, None])
    t_r = col(np.maximum(effectors.reaction, effectors.ready_t - now))
    s, big_r = col(effectors.speed), col(effectors.reach)

    lo_a, hi_a = _reach_window(dd, dv, vv, s, big_r, t_r)
    lo_b, hi_b = _distance_window(dd, dv, vv, col(effectors.max_range))
    hole_lo, hole_hi = _distance_window(dd, dv, vv, col(effectors.min_range))
    h0 = h_t[None, :] - col(effectors.ground_alt)
    lo_c, hi_c = _altitude_window(h0, vu[None, :], col(effectors.min_alt), col(effectors.max_alt))

    start = np.maximum.reduce([np.broadcast_to(t_r, (ne, n)), lo_a, lo_b, lo_c])
    end = np.minimum.reduce([hi_a, hi_b, hi_c])
    # inside the min-range hole (open interval): wait until the threat leaves it
    in_hole = (start > hole_lo) & (start < hole_hi) & (col(effectors.min_range) > 0)
    start = np.where(in_hole, hole_hi, start)
    geometric = np.isfinite(start) & (start <= end + _EPS)
    in_time = start <= ttt[None, :] + _EPS

    withheld = pc[:, CLASS_INDEX["aircraft"]] > max_p_aircraft
    free = (effectors.channels - effectors.busy) > 0
    reason = np.full((ne, n), OK, np.int8)
    reason[geometric & ~in_time] = TOO_LATE
    reason[~geometric] = OUT_OF_REACH
    reason[~free, :] = NO_CHANNEL
    reason[effectors.stock <= 0, :] = NO_STOCK
    reason[:, withheld] = WITHHELD
    feasible = reason == OK

    t_int = np.where(feasible, start, np.inf)
    # the first window closes at its end, at the target, or where the threat
    # enters the min-range hole, whichever comes first
    last = np.minimum(end, np.broadcast_to(ttt[None, :], (ne, n)))
    enters_hole = (col(effectors.min_range) > 0) & (hole_lo > start) & (hole_lo < last)
    last = np.where(enters_hole, hole_lo, last)
    t_last = np.where(feasible, np.maximum(last, start), np.inf)
    point = np.where(feasible[..., None], p[None, :, :] + v[None, :, :] * np.where(feasible, start, 0.0)[..., None],
                     np.nan)
    dist = np.sqrt(np.maximum(dd + 2 * dv * np.where(feasible, start, 0.0) + vv * np.where(feasible, start, 0.0) ** 2,
                              0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        fly = np.where(s > 0, np.maximum(dist - big_r, 0.0) / s, 0.0)
    t_launch = np.where(feasible, np.maximum(start - fly, np.broadcast_to(t_r, (ne, n))), np.inf)
    pk_eff = np.where(feasible, effectors.pk @ pc.T, 0.0)
    return Intercepts(feasible=feasible, t_intercept=t_int, t_launch=t_launch, point=point,
                      pk_eff=pk_eff, reason=reason, withheld=withheld, t_last=t_last)


def shots_available(effectors: Effectors, horizon_s: float) -> np.ndarray:
    """Shots each effector can commit within one plan of ``horizon_s``: its free
    channels firing every launch interval, never more than its stock."""
    free = np.maximum(effectors.channels - effectors.busy, 0)
    per_channel = np.maximum(np.ceil(horizon_s / effectors.launch_interval), 1).astype(np.int64)
    return np.minimum(np.maximum(effectors.stock, 0), free * per_channel)


def build_instance(threat_ids: list[str], threat_values, effectors: Effectors, intercepts: Intercepts, *,
                   lam: float = 1.0, horizon_s: float = 300.0, keep_idle: bool = False) -> dict:
    """The contract's static weapon-target assignment instance.

    ``threat_values`` (N,) is the expected loss if each threat leaks (from
    ``assess``); pk is ``intercepts.pk_eff``. Effectors with no shots or no
    feasible threat are left out unless ``keep_idle``.
    """
    values = np.asarray(threat_values, float).reshape(-1)
    if len(threat_ids) != values.shape[0] or intercepts.pk_eff.shape != (len(effectors), values.shape[0]):
        raise ValueError("threat_ids, threat_values and intercepts disagree on the number of threats")
    shots = shots_available(effectors, horizon_s)
    useful = (shots > 0) & (intercepts.pk_eff > 0).any(axis=1)
    rows = np.arange(len(effectors)) if keep_idle else np.flatnonzero(useful)
    return {
        "lambda": float(lam),
        "threats": [{"id": str(t), "value": float(x)} for t, x in zip(threat_ids, values)],
        "effectors": [{"id": effectors.ids[e], "shots": int(shots[e]), "cost": float(effectors.cost[e])}
                      for e in rows],
        "pk": [[float(x) for x in intercepts.pk_eff[e]] for e in rows],
    }
