"""Geodesy: round trips, known distances, theatre-scale correctness, radar horizon."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airshield import geo

lat_s = st.floats(-85, 85)
lon_s = st.floats(-180, 180)
alt_s = st.floats(-400, 20_000)


@given(lat_s, lon_s, alt_s)
@settings(max_examples=200, deadline=None)
def test_geodetic_ecef_round_trip(lat, lon, alt):
    x, y, z = geo.geodetic_to_ecef(lat, lon, alt)
    lat2, lon2, alt2 = geo.ecef_to_geodetic(x, y, z)
    assert abs(lat2 - lat) < 1e-8
    assert abs(((lon2 - lon) + 180) % 360 - 180) < 1e-8
    assert abs(alt2 - alt) < 1e-3


def test_ecef_known_point():
    # On the equator at the prime meridian, ECEF x is the WGS84 semi-major axis.
    x, y, z = geo.geodetic_to_ecef(0.0, 0.0, 0.0)
    assert x == pytest.approx(6_378_137.0, abs=1e-6)
    assert abs(y) < 1e-6 and abs(z) < 1e-6
    # At the pole, z is the semi-minor axis.
    _, _, z = geo.geodetic_to_ecef(90.0, 0.0, 0.0)
    assert z == pytest.approx(6_356_752.314245, abs=1e-3)


def test_known_distance_kyiv_warsaw():
    # Kyiv (50.4501 N, 30.5234 E) to Warsaw (52.2297 N, 21.0122 E): about 690 km on the ellipsoid.
    d = geo.geodesic_distance_m(50.4501, 30.5234, 52.2297, 21.0122)
    assert 685e3 < d < 695e3


def test_enu_round_trip_across_theatre():
    # 1,500 km apart: Kharkiv origin, a point near Warsaw. Round trip must be exact,
    # and the "up" of a far point is strongly negative (the Earth curves away).
    lat0, lon0, alt0 = 49.99, 36.23, 150.0
    lat, lon, alt = np.array([52.23, 46.5]), np.array([21.0, 30.7]), np.array([300.0, 5000.0])
    e, n, u = geo.geodetic_to_enu(lat, lon, alt, lat0, lon0, alt0)
    lat2, lon2, alt2 = geo.enu_to_geodetic(e, n, u, lat0, lon0, alt0)
    np.testing.assert_allclose(lat2, lat, atol=1e-9)
    np.testing.assert_allclose(lon2, lon, atol=1e-9)
    np.testing.assert_allclose(alt2, alt, atol=1e-3)
    assert u[0] == pytest.approx(-(1093e3**2) / (2 * 6371e3), rel=0.03)  # ~1,100 km: drop ~ d^2/2R
    # Straight-line ENU distance equals the ECEF chord.
    p = np.stack(geo.geodetic_to_ecef(lat, lon, alt), -1)
    p0 = np.array(geo.geodetic_to_ecef(lat0, lon0, alt0))
    np.testing.assert_allclose(np.linalg.norm(np.stack([e, n, u], -1), axis=1),
                               np.linalg.norm(p - p0, axis=1), rtol=1e-9)


@given(lat_s, lon_s)
@settings(max_examples=100, deadline=None)
def test_rotation_is_orthonormal_and_matches_pymap3d(lat, lon):
    R = geo.enu_to_ecef_rotation(lat, lon)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    v = np.array([3.0, -4.0, 5.0])
    np.testing.assert_allclose(R @ v, np.array(geo.enu_to_ecef_vectors(*v, lat, lon)), atol=1e-9)
    back = geo.ecef_to_enu_vectors(*(R @ v), lat, lon)
    np.testing.assert_allclose(np.array(back), v, atol=1e-9)


def test_rotation_vectorised_shape():
    R = geo.enu_to_ecef_rotation(np.array([10.0, 50.0]), np.array([20.0, 30.0]))
    assert R.shape == (2, 3, 3)
    np.testing.assert_allclose(R[1], geo.enu_to_ecef_rotation(50.0, 30.0))


def test_aer_round_trip():
    az, el, rng = geo.geodetic_to_aer(50.5, 30.6, 1000.0, 50.45, 30.52, 100.0)
    assert 0 <= az < 360
    lat, lon, alt = geo.aer_to_geodetic(az, el, rng, 50.45, 30.52, 100.0)
    assert lat == pytest.approx(50.5, abs=1e-9) and lon == pytest.approx(30.6, abs=1e-9)
    assert alt == pytest.approx(1000.0, abs=1e-3)


def test_radar_horizon_four_thirds_earth():
    # Rule of thumb: d_km ≈ 4.12 (sqrt(h_s) + sqrt(h_t)) with heights in metres.
    d = geo.radar_horizon_m(10.0, 100.0)
    assert d == pytest.approx(4120 * (np.sqrt(10) + np.sqrt(100)), rel=0.01)
    # A 50 m drone is beyond the horizon of a 10 m mast at 100 km; a 3,000 m aircraft is not.
    s = np.array(geo.geodetic_to_ecef(50.0, 24.0, 10.0))
    lat, lon, _ = geo.aer_to_geodetic(90.0, 0.0, 100e3, 50.0, 24.0, 10.0)
    low = np.array(geo.geodetic_to_ecef(lat, lon, 50.0))
    high = np.array(geo.geodetic_to_ecef(lat, lon, 3000.0))
    assert not geo.above_radar_horizon(s, 10.0, low, 50.0)
    assert geo.above_radar_horizon(s, 10.0, high, 3000.0)
    # Vectorised over targets.
    vis = geo.above_radar_horizon(s, 10.0, np.stack([low, high]), np.array([50.0, 3000.0]))
    assert vis.tolist() == [False, True]
