"""WGS84 geodetic <-> ECEF <-> local east-north-up: the only module that knows
the Earth is round.

Every function is vectorised: pass scalars or numpy arrays of any matching shape.
Conversions go through pymap3d (exact WGS84, no flat-Earth shortcut), so they stay
correct across a 1,500 km theatre. Heights are metres above the WGS84 ellipsoid, as
the contract says.
"""

from __future__ import annotations

import numpy as np
import pymap3d as pm

ELL = pm.Ellipsoid.from_name("wgs84")
EARTH_RADIUS_M = 6_371_008.8  # mean radius, for refraction rules of thumb only
K_EFFECTIVE = 4.0 / 3.0  # standard-atmosphere refraction: effective Earth radius factor


def geodetic_to_ecef(lat, lon, alt):
    """Degrees, degrees, metres -> ECEF x, y, z in metres (arrays)."""
    x, y, z = pm.geodetic2ecef(np.asarray(lat, float), np.asarray(lon, float),
                               np.asarray(alt, float), ell=ELL, deg=True)
    return np.asarray(x), np.asarray(y), np.asarray(z)


def ecef_to_geodetic(x, y, z):
    """ECEF metres -> lat, lon (degrees), alt (metres above ellipsoid)."""
    lat, lon, alt = pm.ecef2geodetic(np.asarray(x, float), np.asarray(y, float),
                                     np.asarray(z, float), ell=ELL, deg=True)
    return np.asarray(lat), np.asarray(lon), np.asarray(alt)


def geodetic_to_enu(lat, lon, alt, lat0, lon0, alt0):
    """Points -> east, north, up (m) in the local frame at (lat0, lon0, alt0)."""
    e, n, u = pm.geodetic2enu(np.asarray(lat, float), np.asarray(lon, float),
                              np.asarray(alt, float), lat0, lon0, alt0, ell=ELL, deg=True)
    return np.asarray(e), np.asarray(n), np.asarray(u)


def enu_to_geodetic(e, n, u, lat0, lon0, alt0):
    """Local east, north, up (m) at (lat0, lon0, alt0) -> lat, lon, alt."""
    lat, lon, alt = pm.enu2geodetic(np.asarray(e, float), np.asarray(n, float),
                                    np.asarray(u, float), lat0, lon0, alt0, ell=ELL, deg=True)
    return np.asarray(lat), np.asarray(lon), np.asarray(alt)


def enu_to_ecef_rotation(lat0, lon0):
    """Rotation matrices R with ecef_vector = R @ enu_vector at each origin.

    Shape (..., 3, 3) for array inputs. Columns are the east, north and up unit
    vectors in ECEF; use it for velocities and covariances (R P R^T).
    """
    lat = np.radians(np.asarray(lat0, float))
    lon = np.radians(np.asarray(lon0, float))
    sl, cl = np.sin(lat), np.cos(lat)
    so, co = np.sin(lon), np.cos(lon)
    zero = np.zeros_like(sl)
    east = np.stack([-so, co, zero], axis=-1)
    north = np.stack([-sl * co, -sl * so, cl], axis=-1)
    up = np.stack([cl * co, cl * so, sl], axis=-1)
    return np.stack([east, north, up], axis=-1)


def ecef_to_enu_vectors(vx, vy, vz, lat0, lon0):
    """Rotate ECEF vectors (e.g. velocities) into ENU at each origin."""
    e, n, u = pm.uvw2enu(np.asarray(vx, float), np.asarray(vy, float),
                         np.asarray(vz, float), lat0, lon0, deg=True)
    return np.asarray(e), np.asarray(n), np.asarray(u)


def enu_to_ecef_vectors(ve, vn, vu, lat0, lon0):
    """Rotate ENU vectors at each origin into ECEF."""
    x, y, z = pm.enu2uvw(np.asarray(ve, float), np.asarray(vn, float),
                         np.asarray(vu, float), lat0, lon0, deg=True)
    return np.asarray(x), np.asarray(y), np.asarray(z)


def geodetic_to_aer(lat, lon, alt, lat0, lon0, alt0):
    """Azimuth (deg, clockwise from true north, 0..360), elevation (deg), slant
    range (m) of points seen from an observer."""
    az, el, rng = pm.geodetic2aer(np.asarray(lat, float), np.asarray(lon, float),
                                  np.asarray(alt, float), lat0, lon0, alt0, ell=ELL, deg=True)
    return np.mod(np.asarray(az), 360.0), np.asarray(el), np.asarray(rng)


def aer_to_geodetic(az, el, rng, lat0, lon0, alt0):
    """Point at azimuth/elevation (deg) and slant range (m) from an observer."""
    lat, lon, alt = pm.aer2geodetic(np.asarray(az, float), np.asarray(el, float),
                                    np.asarray(rng, float), lat0, lon0, alt0, ell=ELL, deg=True)
    return np.asarray(lat), np.asarray(lon), np.asarray(alt)


def geodesic_distance_m(lat1, lon1, lat2, lon2):
    """Distance along the WGS84 ellipsoid (Vincenty, via pymap3d), metres."""
    from pymap3d.vincenty import vdist

    d, _ = vdist(np.asarray(lat1, float), np.asarray(lon1, float),
                 np.asarray(lat2, float), np.asarray(lon2, float), ell=ELL)
    return np.asarray(d)


def radar_horizon_m(sensor_height_m, target_height_m, k: float = K_EFFECTIVE):
    """Longest ground distance at which a target at ``target_height_m`` clears
    the horizon of a sensor at ``sensor_height_m`` (both above the surface),
    with refraction modelled as an effective Earth radius k*R (k = 4/3)."""
    re = k * EARTH_RADIUS_M
    hs = np.maximum(np.asarray(sensor_height_m, float), 0.0)
    ht = np.maximum(np.asarray(target_height_m, float), 0.0)
    return np.sqrt(2.0 * re * hs + hs * hs) + np.sqrt(2.0 * re * ht + ht * ht)


def above_radar_horizon(sensor_ecef, sensor_alt, target_ecef, target_alt, k: float = K_EFFECTIVE):
    """True where the straight-line distance between sensor and target is within
    the 4/3-Earth radar horizon for their heights. Arrays broadcast: sensor_ecef
    (..., 3), target_ecef (..., 3)."""
    d = np.linalg.norm(np.asarray(target_ecef) - np.asarray(sensor_ecef), axis=-1)
    return d <= radar_horizon_m(sensor_alt, target_alt, k)


def geodesic_destination(lat, lon, dist_m, az_deg):
    """Point reached from (lat, lon) along the WGS84 geodesic of initial azimuth
    ``az_deg`` (clockwise from north) after ``dist_m`` metres (Vincenty direct,
    via pymap3d). Returns lat, lon in degrees."""
    from pymap3d.vincenty import vreckon

    la, lo = vreckon(np.asarray(lat, float), np.asarray(lon, float),
                     np.asarray(dist_m, float), np.asarray(az_deg, float), ell=ELL)
    return np.asarray(la), np.mod(np.asarray(lo) + 180.0, 360.0) - 180.0


def geodesic_inverse(lat1, lon1, lat2, lon2):
    """Distance (m) and initial azimuth (deg, clockwise from north, 0..360)
    of the WGS84 geodesic from point 1 to point 2 (Vincenty, via pymap3d)."""
    from pymap3d.vincenty import vdist

    args = [np.asarray(a, float) for a in (lat1, lon1, lat2, lon2)]
    try:
        d, az = vdist(*args, ell=ELL)
    except (ValueError, TypeError):
        # pymap3d's array path trips on geodesics along the equator; its scalar path does not.
        b = np.broadcast_arrays(*args)
        pairs = [vdist(*(float(x[i]) for x in b), ell=ELL) for i in np.ndindex(b[0].shape)]
        d = np.array([p[0] for p in pairs], float).reshape(b[0].shape)
        az = np.array([p[1] for p in pairs], float).reshape(b[0].shape)
    return np.asarray(d), np.mod(np.asarray(az), 360.0)
