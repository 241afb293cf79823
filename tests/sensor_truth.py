"""Tiny truth states and reference geometry for the sensor-model tests
(computed through airshield.geo, independently of the models' own frames)."""

from __future__ import annotations

import numpy as np

from airshield import CLASS_INDEX, geo
from airshield.sim.sensors import SensorSuite, expand_deployments
from airshield.sim.state import TruthState

ORIGIN = {"lat": 50.0, "lon": 30.0, "alt": 0.0}


def state(lat, lon, alt, cls, vel_enu=None, t=0.0, icao=None) -> TruthState:
    lat, lon, alt = (np.atleast_1d(np.asarray(a, float)) for a in (lat, lon, alt))
    n = lat.size
    cls = np.array([CLASS_INDEX[c] if isinstance(c, str) else c for c in np.broadcast_to(cls, (n,))], np.int8)
    v = np.zeros((n, 3)) if vel_enu is None else np.broadcast_to(np.asarray(vel_enu, float), (n, 3)).copy()
    ecef = np.column_stack(geo.geodetic_to_ecef(lat, lon, alt)).reshape(n, 3)
    vecef = np.column_stack(geo.enu_to_ecef_vectors(v[:, 0], v[:, 1], v[:, 2], lat, lon)).reshape(n, 3)
    return TruthState(t=t, ids=[f"o{i}" for i in range(n)], cls=cls, alive=np.ones(n, bool), lat=lat,
                      lon=lon, alt=alt, ecef=ecef, vel_enu=v, vel_ecef=vecef,
                      icao24=list(icao) if icao is not None else [None] * n)


def around(lat0, lon0, dist_m, az_deg, alt):
    """Points at geodesic distance/azimuth from a site (arrays broadcast)."""
    dist_m, az_deg = np.broadcast_arrays(np.asarray(dist_m, float), np.asarray(az_deg, float))
    lat, lon = geo.geodesic_destination(lat0, lon0, dist_m, az_deg)
    return np.atleast_1d(lat), np.atleast_1d(lon), np.broadcast_to(np.asarray(alt, float), dist_m.shape).copy()


def suite(*specs, seed=0) -> SensorSuite:
    return SensorSuite.from_records(expand_deployments(list(specs), ORIGIN, np.random.default_rng(seed), "test"))


def run(s: SensorSuite, st: TruthState, steps: int, seed=1, dt=1.0):
    """Observe a frozen state over ``steps`` intervals (objects do not move
    unless they have velocity; the state is advanced exactly). Returns the
    concatenated detections, truth rows, delays and interval bounds."""
    rng = np.random.default_rng(seed)
    out = []
    ecef0, alt0 = st.ecef.copy(), st.alt.copy()
    for k in range(steps):
        t0 = k * dt
        st.t = t0
        st.ecef = ecef0 + st.vel_ecef * t0
        st.alt = alt0 + st.vel_enu[:, 2] * t0
        obs = s.observe(st, t0, t0 + dt, rng)
        out.append((obs, t0, t0 + dt))
    st.t, st.ecef, st.alt = 0.0, ecef0, alt0
    return out


def truth_at(st: TruthState, rows, t):
    """lat, lon, alt of objects ``rows`` at times ``t`` (straight flight)."""
    pos = st.ecef[rows] + st.vel_ecef[rows] * (np.asarray(t) - st.t)[:, None]
    return geo.ecef_to_geodetic(pos[:, 0], pos[:, 1], pos[:, 2])


def wrap(deg):
    return (np.asarray(deg) + 180.0) % 360.0 - 180.0


def merged(out):
    """Detections, truth rows and delays of every interval of ``run``."""
    from airshield.io.records import Detections

    det = Detections.concat([o.detections for o, _, _ in out])
    rows = np.concatenate([o.truth_row for o, _, _ in out]) if out else np.zeros(0, np.int32)
    delay = np.concatenate([o.delay_s for o, _, _ in out]) if out else np.zeros(0)
    return det, rows, delay


def assert_std(x, sigma, what=""):
    """Sample standard deviation within 5 standard errors of ``sigma``."""
    x = np.asarray(x, float)
    n = x.size
    assert n >= 200, f"{what}: too few samples ({n})"
    tol = 5.0 / np.sqrt(2.0 * n)
    assert abs(x.std() / sigma - 1.0) < tol, f"{what}: std {x.std():.4g} vs {sigma:.4g} (n={n}, tol {tol:.3f})"
    assert abs(x.mean()) < 5.0 * sigma / np.sqrt(n), f"{what}: bias {x.mean():.4g} (n={n})"


def assert_rate(k, n, p, what=""):
    """A binomial proportion k/n within 4.5 standard errors of ``p``."""
    tol = 4.5 * np.sqrt(max(p * (1.0 - p), 1e-4) / n)
    assert abs(k / n - p) < tol, f"{what}: {k}/{n} = {k / n:.4f} vs {p:.4f} (tol {tol:.4f})"
