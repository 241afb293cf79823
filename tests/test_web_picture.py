"""What the server precomputes for the display: uncertainty ellipses, local
scales, symbols, coverage circles."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airshield import geo
from airshield.web.picture import CHI2_95_2D, FIELDS, circles, ellipses, local_scale, symbol_key, track_rows


def test_ellipse_hand_cases():
    cov = np.array([[100.0, 0, 0, 0, 25.0, 0, 0, 0, 9.0],   # major axis east
                    [25.0, 0, 0, 0, 100.0, 0, 0, 0, 9.0],   # major axis north
                    [50.0, 30.0, 0, 30.0, 50.0, 0, 0, 0, 1.0]])  # 45 deg: eigenvalues 80 and 20
    a, b, brg = ellipses(cov)
    k = math.sqrt(CHI2_95_2D)
    assert a == pytest.approx([10 * k, 10 * k, math.sqrt(80) * k])
    assert b == pytest.approx([5 * k, 5 * k, math.sqrt(20) * k])
    assert brg == pytest.approx([90.0, 0.0, 45.0])


@settings(max_examples=200, deadline=None)
@given(sx=st.floats(1.0, 1e4), sy=st.floats(1.0, 1e4), rho=st.floats(-0.99, 0.99))
def test_ellipse_axes_are_the_covariance_eigenvectors(sx, sy, rho):
    c = np.array([[sx * sx, rho * sx * sy], [rho * sx * sy, sy * sy]])
    cov = np.zeros((1, 9))
    cov[0, [0, 1, 3, 4]] = c[0, 0], c[0, 1], c[1, 0], c[1, 1]
    a, b, brg = ellipses(cov)
    assert a[0] >= b[0] >= 0
    assert a[0] ** 2 + b[0] ** 2 == pytest.approx(CHI2_95_2D * np.trace(c), rel=1e-9)
    lam = np.linalg.eigvalsh(c)
    assert a[0] ** 2 == pytest.approx(CHI2_95_2D * lam[1], rel=1e-6, abs=1e-6)
    u = np.array([math.sin(math.radians(brg[0])), math.cos(math.radians(brg[0]))])  # east, north
    if lam[1] - lam[0] > 1e-6 * lam[1]:  # a circle has no major axis to check
        assert c @ u == pytest.approx(lam[1] * u, rel=1e-5, abs=1e-6 * lam[1])


def test_missing_covariance_gives_no_ellipse():
    a, b, brg = ellipses(np.full((2, 9), np.nan))
    assert np.isnan(a).all() and np.isnan(b).all()


def test_local_scale_matches_the_geodesic():
    lat, lon, alt = np.array([50.45, 0.0, 69.0]), np.array([30.52, 10.0, -20.0]), np.zeros(3)
    dlon, dlat = local_scale(lat, lon, alt)
    la, lo = geo.geodesic_destination(lat, lon, np.full(3, 1000.0), np.full(3, 90.0))
    assert dlon * 1000 == pytest.approx(lo - lon, rel=1e-4)
    la, lo = geo.geodesic_destination(lat, lon, np.full(3, 1000.0), np.zeros(3))
    assert dlat * 1000 == pytest.approx(la - lat, rel=1e-4)


def test_symbols():
    home = frozenset({"UA", "PL"})
    assert symbol_key("shahed", None, home) == "shahed"
    assert symbol_key("decoy", None, home) == "decoy"
    assert symbol_key("aircraft", "PL", home) == "aircraft-friend"
    assert symbol_key("aircraft", "TR", home) == "aircraft-neutral"
    assert symbol_key("aircraft", None, home) == "aircraft-neutral"
    assert symbol_key("bird", None, home) == "bird"
    assert symbol_key(None, None, home) == "unknown"


def test_track_rows_tolerate_sparse_tracks():
    rows = track_rows([{"track": "T9", "lat": 50.0, "lon": 30.0, "alt": 100.0, "ve": 1.0, "vn": 2.0, "vu": 0.0,
                        "status": "coasting"}], frozenset())
    r = dict(zip(FIELDS, rows[0]))
    assert r["track"] == "T9" and r["status"] == "coasting" and r["sym"] == "unknown"
    assert r["ell_a"] is None and r["conf"] is None and r["tti"] is None and r["dlat_m"] > 0


def test_circles_are_geodesic():
    rings = circles([50.0, 60.0], [30.0, 20.0], [90_000.0, 500.0], n=36)
    for (lat0, lon0, r), ring in zip([(50.0, 30.0, 90_000.0), (60.0, 20.0, 500.0)], rings):
        assert len(ring) == 37 and ring[0] == ring[-1]
        d = geo.geodesic_distance_m(lat0, lon0, [p[1] for p in ring], [p[0] for p in ring])
        assert d == pytest.approx(r, rel=1e-4, abs=1.5)  # vertices rounded to 1e-5 deg (about 1 m)


def test_threat_list_holds_threats_by_time_to_impact_only():
    from airshield.web.picture import threat_list

    src = [
        {"track": "T1", "class": "bird", "confidence": 0.9, "target": "city", "tti_s": 0.0, "expected_loss": 10.0},
        {"track": "T2", "class": "aircraft", "confidence": 0.99, "target": "city", "tti_s": 0.0},
        {"track": "T3", "class": "shahed", "confidence": 0.8, "target": "city", "tti_s": 300.0, "expected_loss": 5.0},
        {"track": "T4", "class": "decoy", "confidence": 0.6, "target": None, "tti_s": None},
        {"track": "T5", "class": "unknown", "confidence": 0.5, "target": "plant", "tti_s": 120.04},
        {"track": "T6", "class": "unknown", "confidence": 0.5, "target": None, "tti_s": None},
        {"track": "T7", "confidence": 0.7, "time_to_target_s": float("inf"), "target": "city"},
        {"track": "T8", "class": "jet_drone", "confidence": 0.9, "target": "city", "tti_s": 300.0,
         "expected_loss": 9.0},
        "garbage",
    ]
    tracks = {"T7": {"class": "recon"}}
    got = threat_list(src, tracks)
    # Soonest first; equal times by expected loss; untimed last; birds, aircraft and aimless unknowns out.
    assert [(t["track"], t["class"], t["tti_s"]) for t in got] == [
        ("T5", "unknown", 120.0), ("T8", "jet_drone", 300.0), ("T3", "shahed", 300.0),
        ("T4", "decoy", None), ("T7", "recon", None)]
    assert src[0]["tti_s"] == 0.0  # the source's dicts are not changed


def test_track_rows_show_no_time_to_impact_for_non_threats():
    d = {"track": "T1", "lat": 50.0, "lon": 30.0, "alt": 100.0, "ve": 1.0, "vn": 0.0, "vu": 0.0,
         "status": "confirmed", "p_class": {"bird": 0.9}, "threat": {"tti_s": 0.0, "target": "city"}}
    rows = track_rows([{**d, "class": "bird"}, {**d, "track": "T2", "class": "shahed"}], frozenset())
    tti = FIELDS.index("tti")
    assert rows[0][tti] is None and rows[1][tti] == 0.0
