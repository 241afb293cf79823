"""Track continuation: a track that confirms where a lost track should be carries
on under the lost track's id.

A track is lost when its object does something its filter did not expect (a
terminal dive at 1 g, a sharp turn under the radar horizon, a long silence between
microphones): the reports fall outside its gate, start a new tentative track, and
that one confirms a few seconds later while the old one coasts on, unfed, and is
deleted. For an operator that is the same drone under a new number, with its
history and class evidence gone. Real trackers re-associate such a pair; so does
this one, when the new track is **freshly confirmed**, the old one has **not been
updated since the new one was born** (so they cannot be two objects seen at once),
the two agree in position and velocity within their covariances widened by the
manoeuvre that could have happened meanwhile (``stitch_accel_mps2`` sustained over
the silence), and the old one is within ``stitch_radius_m``. Several candidates
are resolved by optimal assignment on the Mahalanobis distance.

The old row takes the new track's kinematic state and revisit history; it keeps
its id, birth time, class evidence and ADS-B identity. The new row is removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

from airshield import SENSOR_KINDS
from airshield.track.config import TrackerConfig, stitch_horizon_s
from airshield.track.gate import chi2_gate
from airshield.track.manage import carry_covariance, shown
from airshield.track.motion import predict_positions
from airshield.track.state import CONFIRMED, TrackState

# copied from the new row into the old one; the rest (id, birth, class, identity) stays
_KINEMATIC = ("x", "P", "xm", "Pm", "mu", "t", "t_hit", "hist", "lat", "lon", "alt", "R",
              "src", "src_t")


@dataclass
class Graveyard:
    """Confirmed tracks deleted in the last ``stitch_max_silence_s``: what a
    continuation needs of them (a bird lost for a minute comes back under its id)."""

    cols: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.cols["id"]) if self.cols else 0

    def bury(self, state: TrackState, rows: np.ndarray) -> None:
        if rows.size == 0:
            return
        add = {name: getattr(state, name)[rows].copy() for name in _BURIED}
        self.cols = add if not self.cols else {k: np.concatenate([self.cols[k], add[k]])
                                                for k in _BURIED}

    def prune(self, now: float, max_silence_s: float) -> None:
        if self.cols:
            self.take(np.flatnonzero(now - self.cols["t_hit"] > max_silence_s))

    def take(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        """Remove entries ``idx``; returns their columns."""
        out = {k: v[idx] for k, v in self.cols.items()}
        keep = np.ones(len(self), bool)
        keep[idx] = False
        self.cols = {k: v[keep] for k, v in self.cols.items()}
        return out


_BURIED = ("id", "x", "P", "t", "t_hit", "t_birth", "p_class", "icao", "src", "src_t", "R")


@dataclass(frozen=True)
class Rays:
    """What continuation needs of the sensors that fix no range (acoustic arrays,
    EO): which they are, where they stand, how far they reach."""

    no_range: np.ndarray  # (S,) bool
    ecef: np.ndarray  # (S, 3)
    reach: np.ndarray  # (S,) m

    @classmethod
    def from_table(cls, sensors) -> "Rays":
        kind = np.asarray(sensors.kind)
        no_range = (kind == SENSOR_KINDS.index("acoustic")) | (kind == SENSOR_KINDS.index("eo"))
        return cls(no_range, sensors.ecef, sensors.reach)


def ray_sensor(src: np.ndarray, rays: Rays | None) -> np.ndarray:
    """The one range-free sensor behind all of a track's recent updates (its
    source ring), else -1: such a track is known across that sensor's ray but
    its range is only what the filter carried (a drone that turned while one
    microphone heard it is kilometres off along the ray)."""
    out = np.full(src.shape[0], -1, np.int64)
    if rays is None or src.shape[0] == 0:
        return out
    first = src[:, 0]
    valid = src >= 0
    one = valid[:, 0] & ((src == first[:, None]) | ~valid).all(axis=1)
    one &= rays.no_range[np.maximum(first, 0)]
    out[one] = first[one]
    return out


def on_ray(cand: dict, t: np.ndarray | float, rays: Rays | None, cfg: TrackerConfig) -> np.ndarray:
    """``ray_sensor`` of old tracks that their own covariance, carried to ``t``,
    no longer lets the picture show (``manage.shown``): the filter has lost
    confidence in them; a track held by one microphone for a few seconds keeps
    its range and is compared as it is."""
    ray = ray_sensor(cand["src"], rays if cfg.stitch_ray else None)
    m = np.flatnonzero(ray >= 0)
    if m.size and cfg.stitch_ray_hidden_only:
        P = carry_covariance(cand["P"][m], np.broadcast_to(t, ray.shape)[m] - cand["t"][m])
        ray[m[shown(P, cfg)]] = -1
    return ray


def continuation_pairs(state: TrackState, fresh: np.ndarray, now: float, cfg: TrackerConfig,
                       grave: Graveyard | None = None, rays: Rays | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(old, new rows): each freshly confirmed row in ``fresh`` that continues a
    lost confirmed track, one-to-one. ``old`` < state.n is a live row; old - state.n
    an entry of ``grave``. With ``rays``, an old track held by one range-free
    sensor is compared across that sensor's ray only (``_ray_widen``)."""
    st = state
    none = np.zeros(0, np.int64), np.zeros(0, np.int64)
    fresh = fresh[st.status[fresh] == CONFIRMED]
    if fresh.size == 0:
        return none
    is_fresh = np.zeros(st.n, bool)
    is_fresh[fresh] = True
    live = np.flatnonzero((st.status == CONFIRMED) & ~is_fresh
                          & (now - st.t_hit <= stitch_horizon_s(cfg)))
    cand = {k: getattr(st, k)[live] for k in _BURIED}
    ref = live
    if grave is not None and len(grave):
        cand = {k: np.concatenate([cand[k], grave.cols[k]]) for k in _BURIED}
        ref = np.concatenate([live, st.n + np.arange(len(grave))])
    if ref.size == 0:
        return none
    p_old = predict_positions(cand["x"], cand["t"], now)
    p_new = predict_positions(st.x[fresh], st.t[fresh], now)
    sh, sv, _ = slack(now - cand["t_hit"], cfg)
    ray = on_ray(cand, now, rays, cfg)
    radius = cfg.stitch_radius_m + 3.0 * np.maximum(sh, sv)
    if (ray >= 0).any():
        radius = radius + np.where(ray >= 0, 3.0 * cfg.stitch_ray_sigma_frac
                                   * rays.reach[np.maximum(ray, 0)], 0.0)
    hits = cKDTree(p_new).query_ball_point(p_old, radius)
    n_c = np.fromiter((len(h) for h in hits), np.int64, len(hits))
    if n_c.sum() == 0:
        return none
    io = np.repeat(np.arange(len(hits)), n_c)
    jn = np.concatenate([np.asarray(h, np.int64) for h in hits if h])
    b = fresh[jn]
    # two tracks that one sensor updated in the same scan are two objects; the old
    # track may still be fed by another sensor (a radar and a crossing of bearings
    # that disagree by a kilometre make two tracks of one drone)
    ok = (cand["t_hit"][io] <= st.t_birth[b]) | ~co_observed(
        cand["src"][io], cand["src_t"][io], st.src[b], st.src_t[b], cfg.batch_s)
    ok &= ~((cand["icao"][io] >= 0) & (st.icao[b] >= 0) & (cand["icao"][io] != st.icao[b]))
    io, jn, b = io[ok], jn[ok], b[ok]
    if io.size == 0:
        return none
    d2 = _distance2(cand, io, st, b, now, cfg, ray[io], rays)
    inside = d2 < chi2_gate(cfg.stitch_p, 6)
    io, b, d2 = io[inside], b[inside], d2[inside]
    long = now - cand["t_hit"][io] > cfg.stitch_max_silence_s
    if long.any():
        # past the usual silence only a pair that has no one else: the one lost
        # track and the one new track near its path (else two drones of a wave)
        alone = (np.bincount(io, minlength=ref.size)[io] == 1) & \
            (np.bincount(b, minlength=st.n)[b] == 1)
        ok = ~long | alone
        io, b, d2 = io[ok], b[ok], d2[ok]
        if io.size == 0:
            return none
    ua, ia = np.unique(io, return_inverse=True)
    ub, ib = np.unique(b, return_inverse=True)
    cost = np.full((ua.size, ub.size), 1e9)
    cost[ia, ib] = d2
    r, c = linear_sum_assignment(cost)
    keep = cost[r, c] < 1e9
    return ref[ua[r[keep]]], ub[c[keep]]


def co_observed(src_a, src_t_a, src_b, src_t_b, window_s: float) -> np.ndarray:
    """True where one sensor in both tracks' recent sources updated them within
    ``window_s`` of each other (one scan): a sensor that sees two is seeing two."""
    sa, sb = src_a[:, :, None], src_b[:, None, :]
    ta, tb = src_t_a[:, :, None], src_t_b[:, None, :]
    with np.errstate(invalid="ignore"):  # two never-set slots: -inf - -inf
        same = (sa == sb) & (sa >= 0) & (np.abs(ta - tb) < window_s)
    return same.any(axis=(1, 2))


def slack(silent: np.ndarray, cfg: TrackerConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Horizontal and vertical position sigmas and the velocity sigma (per axis)
    of what a lost object may have done in ``silent`` seconds beyond its track's
    straight line: a manoeuvre of ``stitch_accel_mps2`` (a t^2 / 2, a t) early
    on; later a drift of at most ``stitch_drift_mps`` horizontally (it still flies
    its course, a little off in speed and heading), ``stitch_vdrift_mps``
    vertically (drones hold their height), and a velocity change of at most
    ``stitch_vel_sigma_mps``. A drone that turned onto a new course while unseen
    starts a new track."""
    t = np.maximum(silent, 0.0)
    acc = 0.5 * cfg.stitch_accel_mps2 * t ** 2
    return (np.minimum(acc, cfg.stitch_drift_mps * t), np.minimum(acc, cfg.stitch_vdrift_mps * t),
            np.minimum(cfg.stitch_accel_mps2 * t, cfg.stitch_vel_sigma_mps))


def _old_carried(cand: dict, a: np.ndarray, t: np.ndarray, cfg: TrackerConfig):
    """Old tracks ``a`` carried in straight lines to times ``t``, with the slack
    of their silence added (oriented by their ENU rotation)."""
    dt = t - cand["t"][a]
    x = cand["x"][a].copy()
    x[:, :3] += x[:, 3:] * dt[:, None]
    P = carry_covariance(cand["P"][a], dt)
    sh, sv, sa = slack(t - cand["t_hit"][a], cfg)
    base = cfg.stitch_pos_sigma_m ** 2
    R = cand["R"][a]
    P[:, :3, :3] += (R * np.stack([sh ** 2 + base, sh ** 2 + base, sv ** 2 + base], 1)[:, None, :]
                     ) @ np.swapaxes(R, -1, -2)
    idx = np.arange(3, 6)
    P[:, idx, idx] += (sa ** 2)[:, None]
    return x, P


def _ray_widen(x: np.ndarray, P: np.ndarray, ray: np.ndarray, rays: Rays | None,
               cfg: TrackerConfig) -> None:
    """Widen (in place) the covariance of tracks held by one range-free sensor
    (``ray`` >= 0) along that sensor's line of sight: position by
    ``stitch_ray_sigma_frac`` of its reach (the object is somewhere on the ray
    within it), velocity by ``stitch_ray_vel_sigma_mps`` (bearings fix neither
    range nor range rate)."""
    m = np.flatnonzero(ray >= 0)
    if m.size == 0:
        return
    s = ray[m]
    u = x[m, :3] - rays.ecef[s]
    u /= np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1.0)
    uu = u[:, :, None] * u[:, None, :]
    P[m, :3, :3] += (cfg.stitch_ray_sigma_frac * rays.reach[s])[:, None, None] ** 2 * uu
    P[m, 3:, 3:] += cfg.stitch_ray_vel_sigma_mps ** 2 * uu


def _distance2(cand: dict, a, st: TrackState, b, now: float, cfg: TrackerConfig,
               ray: np.ndarray | None = None, rays: Rays | None = None) -> np.ndarray:
    """6-D Mahalanobis distance between old tracks ``a`` and new ones ``b``, both
    carried to ``now`` in straight lines; the old one's covariance widened by
    what it may have done while unseen (``slack``) and, where one range-free
    sensor held it, along that sensor's ray."""
    t = np.full(a.size, now)
    xa, Pa = _old_carried(cand, a, t, cfg)
    if ray is not None:
        _ray_widen(xa, Pa, ray, rays, cfg)
    dtb = now - st.t[b]
    dx = xa - st.x[b]
    dx[:, :3] -= st.x[b, 3:] * dtb[:, None]
    S = Pa + carry_covariance(st.P[b], dtb)
    return (dx[:, None, :] @ np.linalg.solve(S, dx[:, :, None]))[:, 0, 0]


def continue_tracks(state: TrackState, old: np.ndarray, new: np.ndarray,
                    grave: Graveyard | None = None, cfg: TrackerConfig | None = None,
                    rays: Rays | None = None) -> None:
    """Apply ``continuation_pairs``. The continued track keeps the old id, birth,
    class evidence and identity. Where the old track had lost its object, its
    estimate (carried over the silence, widened by the slack) is fused with the
    new one's (independent reports), so a height a radar measured survives a
    stretch heard only by microphones; an old track still being fed keeps its own
    state. An old track held by one range-free sensor (``ray_sensor``) takes the
    new one's state as it is: its range was a guess, and the bearings it took are
    in the new one too. The new row goes."""
    st, cfg = state, cfg or TrackerConfig()
    dead = old >= st.n
    live = old[~dead]
    if dead.any():
        g = grave.take(old[dead] - st.n)
        cand = {k: np.concatenate([getattr(st, k)[live], g[k]]) for k in _BURIED}
    else:
        cand = {k: getattr(st, k)[live] for k in _BURIED}
    order = np.r_[np.flatnonzero(~dead), np.flatnonzero(dead)]
    old, new = old[order], new[order]
    dead = dead[order]
    ai = np.arange(old.size)
    ray = on_ray(cand, st.t[new], rays, cfg) >= 0
    lost = dead | (cand["t_hit"] <= st.t_birth[new]) | ray
    # fuse the lost old estimate into the new row (track-to-track, independent)
    f = ai[lost & ~ray]
    if f.size:
        n = new[f]
        x1, P1 = _old_carried(cand, f, st.t[n], cfg)
        x2, P2 = st.x[n], st.P[n]
        K = np.linalg.solve(P1 + P2, np.swapaxes(P2, -1, -2))  # (P1+P2)^-1 P2 = K^T
        K = np.swapaxes(K, -1, -2)
        x = x2 + (K @ (x1 - x2)[:, :, None])[:, :, 0]
        P = P2 - K @ P2
        P = 0.5 * (P + np.swapaxes(P, -1, -2))
        st.x[n], st.P[n] = x, P
        st.xm[n] = x[:, None, :]
        st.Pm[n] = P[:, None]
    # a live old row: the new row's kinematics move in where the old one was lost
    lv = ~dead
    o, n = old[lv], new[lv]
    take = lost[lv]
    for name in _KINEMATIC:
        getattr(st, name)[o[take]] = getattr(st, name)[n[take]]
    st.n_hits[o] += st.n_hits[n]
    st.kin_due[o] = True
    give = (st.icao[o] < 0) & (st.icao[n] >= 0)
    st.icao[o[give]] = st.icao[n[give]]
    if dead.any():
        nd = new[dead]
        gd = ai[dead]
        st.id[nd], st.t_birth[nd], st.p_class[nd] = cand["id"][gd], cand["t_birth"][gd], cand["p_class"][gd]
        keep_icao = st.icao[nd] < 0
        st.icao[nd[keep_icao]] = cand["icao"][gd][keep_icao]
        st.kin_due[nd] = True
    keep = np.ones(st.n, bool)
    keep[new[lv]] = False
    st.keep(keep)
