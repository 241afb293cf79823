"""Threat assessment: where is each track going, what will it hit, what is that worth.

For every track x protected asset pair at once (numpy over N x A):

- the predicted path: the track flies on along its current geodesic (the
  straight line over the ellipsoid) at its ground speed, sampled every
  ``path_step_s`` to ``horizon_s``;
- bearing and geodesic distance to every asset, closest approach along that
  path, and time to reach (distance / ground speed, infinite if receding);
- P(target = asset): heading inference. Each asset is a hypothesis "the track
  is flying to it"; the likelihood of the observed course is a von Mises density
  around the bearing to the asset (widened by the asset's angular size), with a
  concentration set by how well the heading is known (route wander, velocity
  noise, position noise). A flat "none of these / passing through" hypothesis
  competes with them. Priors favour valuable assets, the kinds attackers aim at
  and assets within the class's remaining range. Posterior normalised per track.
- expected loss = sum_a P(target=a) * P(lethal | class mix) * value_a.

All geometry goes through ``airshield.geo`` (bearing and distance on WGS84);
nothing assumes a flat theatre.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import i0e

from airshield import CLASS_INDEX, CLASSES, geo
from airshield.assess.assets import ASSET_KINDS, Assets

TWO_PI = 2.0 * np.pi


@dataclass
class ThreatParams:
    """Tunable parts of the model; defaults are documented in docs/ASSESS_ENGAGE.md."""

    horizon_s: float = 1800.0
    path_step_s: float = 30.0
    # One-way attack drones fly waypoint routes with doglegs, so even a perfect
    # track's course points at its target only roughly until the last leg.
    route_sigma_deg: float = 15.0
    vel_sigma_mps: float = 2.0  # ground-velocity noise when no velocity covariance is given
    min_speed_mps: float = 1.0  # slower than this, the course says nothing about the target
    p_none: float = 0.3  # prior that the track aims at none of the listed assets
    value_exponent: float = 0.5  # prior ~ value**exponent: valuable assets attract, without dominating
    kind_weight: dict[str, float] = field(default_factory=lambda: {
        "city_district": 1.0, "power_plant": 1.5, "substation": 1.3, "airport": 1.0,
        "base": 1.2, "other": 0.7, "fuel_depot": 1.3, "refinery": 1.3})
    # Remaining range by class, metres (no launch time is known, so a nominal
    # full range; assets beyond it are unlikely targets).
    class_range_m: dict[str, float] = field(default_factory=lambda: dict(
        shahed=2_000e3, decoy=600e3, jet_drone=1_200e3, recon=200e3, aircraft=3_000e3,
        bird=50e3, unknown=2_000e3))
    # P(a hit does the asset's value-at-risk of damage | class): a ~50 kg
    # warhead is the unit the asset values are written for.
    lethality: dict[str, float] = field(default_factory=lambda: dict(
        shahed=1.0, decoy=0.02, jet_drone=1.0, recon=0.05, aircraft=0.0, bird=0.0, unknown=0.5))
    p_min_target: float = 0.1  # time_to_target looks at assets at least this probable
    # A track at least this likely a bird or an aircraft is not an attack drone
    # on its way to an asset: no time to target, no likely target (its expected
    # loss still weighs the chance that it is one).
    p_non_threat: float = 0.5
    urgency_s: float = 600.0  # score halves when impact is this far away

    def class_vector(self, table: dict[str, float]) -> np.ndarray:
        v = np.zeros(len(CLASSES))
        for name, x in table.items():
            v[CLASS_INDEX[name]] = float(x)
        return v


@dataclass
class Assessment:
    """Threat picture for N tracks and A assets (arrays; row = track, column = asset)."""

    lat: np.ndarray  # (N,)
    lon: np.ndarray
    alt: np.ndarray
    ground_speed: np.ndarray  # (N,) m/s
    course_deg: np.ndarray  # (N,) clockwise from true north
    bearing_deg: np.ndarray  # (N, A) from the track to the asset
    distance_m: np.ndarray  # (N, A) geodesic ground distance
    off_course_deg: np.ndarray  # (N, A) bearing minus course, -180..180
    ca_distance_m: np.ndarray  # (N, A) closest approach of the predicted path
    ca_time_s: np.ndarray  # (N, A) when, from now (0..horizon)
    time_to_reach: np.ndarray  # (N, A) distance / ground speed; inf when receding
    p_target: np.ndarray  # (N, A) P(target = asset)
    p_none: np.ndarray  # (N,) P(none of the assets); p_target.sum(1) + p_none == 1
    lethality: np.ndarray  # (N,) P(lethal | class mix)
    expected_loss_by_asset: np.ndarray  # (N, A)
    expected_loss: np.ndarray  # (N,)
    time_to_target: np.ndarray  # (N,) earliest time to reach a plausible target; inf if none
    likely_target: np.ndarray  # (N,) int: most probable asset, -1 for "none"
    score: np.ndarray  # (N,) expected loss weighted by urgency
    rank: np.ndarray  # (N,) track indices, most threatening first
    path_t: np.ndarray  # (K,) seconds from now
    path_lat: np.ndarray  # (N, K)
    path_lon: np.ndarray
    path_alt: np.ndarray
    path_ecef: np.ndarray  # (N, K, 3)
    non_threat: np.ndarray | None = None  # (N,) bool: bird- or aircraft-like (no impact time, no target)

    def __len__(self) -> int:
        return int(self.lat.shape[0])


def _shaped(x, shape) -> np.ndarray:
    """pymap3d squeezes length-1 axes; put them back (or broadcast a smaller result)."""
    x = np.asarray(x, float)
    return x.reshape(shape) if x.size == int(np.prod(shape)) else np.broadcast_to(x, shape).copy()


def _reach(dist, range_m):
    """1 within 80 % of the range, falling linearly to 0 at it."""
    return np.clip((range_m - dist) / np.maximum(0.2 * range_m, 1.0), 0.0, 1.0)


def normalise_p_class(p_class, n: int) -> np.ndarray:
    """(N, len(CLASSES)) rows summing to 1; missing or empty rows -> 'unknown'."""
    p = np.zeros((n, len(CLASSES))) if p_class is None else np.array(p_class, float).reshape(n, len(CLASSES))
    p = np.where(np.isfinite(p) & (p > 0), p, 0.0)
    s = p.sum(axis=1, keepdims=True)
    unknown = np.zeros(len(CLASSES))
    unknown[CLASS_INDEX["unknown"]] = 1.0
    return np.where(s > 0, p / np.where(s > 0, s, 1.0), unknown)


def _ground_velocity(lat, lon, vel, frame: str):
    vel = np.asarray(vel, float).reshape(-1, 3)
    if frame == "ecef":
        return geo.ecef_to_enu_vectors(vel[:, 0], vel[:, 1], vel[:, 2], lat, lon)
    if frame != "enu":
        raise ValueError(f"vel_frame must be 'enu' or 'ecef', not {frame!r}")
    return vel[:, 0], vel[:, 1], vel[:, 2]


def _heading_variance(ve, vn, g, params: ThreatParams, vel_cov_enu) -> np.ndarray:
    """Variance (rad^2) of the course from velocity noise across the track."""
    if vel_cov_enu is None:
        var_cross = np.full(g.shape, params.vel_sigma_mps ** 2)
    else:
        c = np.asarray(vel_cov_enu, float).reshape(-1, 3, 3)[:, :2, :2]
        chi = np.arctan2(ve, vn)
        perp = np.stack([np.cos(chi), -np.sin(chi)], axis=-1)  # unit vector across the course
        var_cross = np.einsum("ni,nij,nj->n", perp, c, perp)
    # small-angle course error, capped at a flat heading (about pi)
    return np.minimum(var_cross / np.maximum(g, 1e-9) ** 2, np.pi ** 2)


def predict_paths(lat, lon, alt, ve, vn, vu, params: ThreatParams):
    """Each track flown on along its geodesic at constant ground speed and climb
    rate; returns t (K,), lat/lon/alt (N, K) and ECEF (N, K, 3)."""
    t = np.arange(0.0, params.horizon_s + 1e-9, params.path_step_s)
    g = np.hypot(ve, vn)
    course = np.degrees(np.arctan2(ve, vn))
    plat, plon = geo.geodesic_destination(lat[:, None], lon[:, None], g[:, None] * t[None, :],
                                          np.broadcast_to(course[:, None], (len(g), len(t))))
    shape = (len(g), len(t))
    plat, plon = _shaped(plat, shape), _shaped(plon, shape)
    floor = np.minimum(alt, 0.0)[:, None]  # a descending track stops at the ground
    palt = np.maximum(alt[:, None] + vu[:, None] * t[None, :], floor)
    ecef = np.stack(geo.geodetic_to_ecef(plat, plon, palt), axis=-1)
    return t, plat, plon, palt, ecef


def assess(pos_ecef, vel, p_class, assets: Assets, *, vel_frame: str = "enu",
           pos_cov_enu=None, vel_cov_enu=None, range_left_m=None,
           params: ThreatParams | None = None) -> Assessment:
    """Assess N tracks against the protected assets.

    pos_ecef (N, 3) m; vel (N, 3) m/s in each track's own ENU frame
    (``vel_frame="enu"``, as in TRACK records) or in ECEF; p_class (N, 7) over
    ``airshield.CLASSES`` (rows may be NaN or zero: treated as 'unknown');
    optional pos_cov_enu / vel_cov_enu (N, 3, 3); optional range_left_m (N,)
    overrides the class's nominal remaining range.
    """
    params = params or ThreatParams()
    pos = np.asarray(pos_ecef, float).reshape(-1, 3)
    n, na = pos.shape[0], len(assets)
    lat, lon, alt = geo.ecef_to_geodetic(pos[:, 0], pos[:, 1], pos[:, 2])
    lat, lon, alt = (np.atleast_1d(x).astype(float) for x in (lat, lon, alt))
    ve, vn, vu = (np.atleast_1d(x).astype(float) for x in _ground_velocity(lat, lon, vel, vel_frame))
    g = np.hypot(ve, vn)
    course = np.mod(np.degrees(np.arctan2(ve, vn)), 360.0)
    pc = normalise_p_class(p_class, n)

    # --- geometry, every track x asset pair, on the ellipsoid
    tl, tn, ta = lat[:, None], lon[:, None], alt[:, None]
    bearing, _, _ = geo.geodetic_to_aer(assets.lat[None, :], assets.lon[None, :], assets.alt[None, :],
                                        tl, tn, ta)
    bearing = _shaped(bearing, (n, na))
    dist = _shaped(geo.geodesic_distance_m(tl, tn, assets.lat[None, :], assets.lon[None, :]), (n, na))
    off = (bearing - course[:, None] + 180.0) % 360.0 - 180.0
    moving = g >= params.min_speed_mps
    inside = dist <= assets.radius[None, :]

    # closest approach: along-track time in the track's local frame, then the
    # miss measured from the point the geodesic really reaches then (a chord at
    # the asset's height: within a metre of the geodesic below ~100 km)
    along = dist * np.cos(np.radians(off))
    t_ca = np.where(moving[:, None], np.clip(along / np.maximum(g, 1e-9)[:, None], 0.0, params.horizon_s), 0.0)
    ca_lat, ca_lon = geo.geodesic_destination(tl, tn, g[:, None] * t_ca, np.broadcast_to(course[:, None], (n, na)))
    ca_ecef = np.stack(geo.geodetic_to_ecef(_shaped(ca_lat, (n, na)), _shaped(ca_lon, (n, na)),
                                            np.broadcast_to(assets.alt[None, :], (n, na))), axis=-1)
    chord = np.linalg.norm(ca_ecef - assets.ecef[None, :, :], axis=-1)
    ca_dist = np.where(t_ca > 0, np.minimum(chord, dist), dist)

    closing = moving[:, None] & ((np.abs(off) < 90.0) | inside)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_reach = np.where(closing, dist / np.where(moving, g, 1.0)[:, None], np.inf)
    t_reach = np.where(inside & moving[:, None], 0.0, t_reach)

    # --- heading likelihood (von Mises), widened by the asset's angular size
    half_width = np.degrees(np.arctan2(assets.radius[None, :], np.maximum(dist, 1e-6)))
    miss_angle = np.where(inside, 0.0, np.maximum(np.abs(off) - half_width, 0.0))
    var = np.radians(params.route_sigma_deg) ** 2 + _heading_variance(ve, vn, g, params, vel_cov_enu)[:, None]
    if pos_cov_enu is not None:
        cov = np.asarray(pos_cov_enu, float).reshape(n, 3, 3)
        sig_h2 = 0.5 * (cov[:, 0, 0] + cov[:, 1, 1])
        var = var + sig_h2[:, None] / np.maximum(dist, assets.radius[None, :]) ** 2
    kappa = np.where(moving[:, None], 1.0 / var, 0.0)
    like = np.exp(kappa * (np.cos(np.radians(miss_angle)) - 1.0)) / (TWO_PI * i0e(kappa))
    like_none = 1.0 / TWO_PI

    # --- priors: value and kind pick among assets; an asset beyond the remaining
    # range loses its share to "none" (1 up to 80 % of the range, 0 beyond it)
    kind_w = np.array([params.kind_weight.get(k, 1.0) for k in ASSET_KINDS])[assets.kind]
    w = assets.value ** params.value_exponent * kind_w
    wsum = w.sum()
    if range_left_m is None:
        r_c = params.class_vector(params.class_range_m)  # (C,)
        reach = np.einsum("nc,nac->na", pc, _reach(dist[..., None], r_c[None, None, :]))
    else:
        reach = _reach(dist, np.asarray(range_left_m, float).reshape(n, 1))
    prior = (1.0 - params.p_none) * (w / wsum if wsum > 0 else w)[None, :] * reach
    prior_none = 1.0 - prior.sum(axis=1)

    num = prior * like
    num_none = prior_none * like_none
    z = num.sum(axis=1) + num_none
    p_target = num / z[:, None]
    p_none = num_none / z

    # --- consequences and ranking
    leth = pc @ params.class_vector(params.lethality)
    el_pair = p_target * leth[:, None] * assets.value[None, :]
    el = el_pair.sum(axis=1)
    # a bird circling over a city is "inside" it, but it is not about to hit it
    non_threat = pc[:, [CLASS_INDEX["bird"], CLASS_INDEX["aircraft"]]].sum(axis=1) >= params.p_non_threat
    plausible = (p_target >= params.p_min_target) & ~non_threat[:, None]
    t_tgt = np.where(plausible, t_reach, np.inf).min(axis=1, initial=np.inf)
    best = np.argmax(p_target, axis=1) if na else np.zeros(n, int)
    likely = np.where((na > 0) & (p_target.max(axis=1, initial=0.0) > p_none) & ~non_threat, best, -1)
    urgency = params.urgency_s / (params.urgency_s + t_tgt)  # inf -> 0
    score = el * urgency
    rank = np.lexsort((t_tgt, -el, -score))

    path_t, plat, plon, palt, pecef = predict_paths(lat, lon, alt, ve, vn, vu, params)
    return Assessment(
        lat=lat, lon=lon, alt=alt, ground_speed=g, course_deg=course, bearing_deg=bearing,
        distance_m=dist, off_course_deg=off, ca_distance_m=ca_dist, ca_time_s=t_ca,
        time_to_reach=t_reach, p_target=p_target, p_none=p_none, lethality=leth,
        expected_loss_by_asset=el_pair, expected_loss=el, time_to_target=t_tgt,
        likely_target=likely, score=score, rank=rank, path_t=path_t, path_lat=plat,
        path_lon=plon, path_alt=palt, path_ecef=pecef, non_threat=non_threat,
    )


def describe(a: Assessment, track_ids: list[str], assets: Assets, top: int = 3) -> list[dict]:
    """Operator-facing summary, most threatening track first (JSON-ready)."""
    out = []
    for i in a.rank:
        order = np.argsort(-a.p_target[i])[:top]
        out.append({
            "track": track_ids[i], "expected_loss": float(a.expected_loss[i]),
            "time_to_target_s": None if not np.isfinite(a.time_to_target[i]) else float(a.time_to_target[i]),
            "p_none": float(a.p_none[i]),
            "targets": [{"asset": assets.names[j], "p": float(a.p_target[i, j]),
                         "time_to_reach_s": None if not np.isfinite(a.time_to_reach[i, j])
                         else float(a.time_to_reach[i, j]),
                         "closest_approach_m": float(a.ca_distance_m[i, j])} for j in order],
        })
    return out
