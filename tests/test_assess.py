"""Protected assets and threat assessment: hand-built geometry on the WGS84
ellipsoid (tracks aimed at, away from and past assets), class-driven expected
loss, normalised target probabilities, and a fuzzed asset loader."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airshield import CLASS_INDEX, CLASSES, geo
from airshield.assess import ASSET_KINDS, ThreatParams, assess, describe, load_assets
from airshield.assess.assets import ASSET_KEYS
from airshield.errors import InputError

PLANT = {"name": "Kozienice PP", "kind": "power_plant", "lat": 51.58, "lon": 21.55, "radius_m": 1_500,
         "value": 50e6, "nation": "PL"}
CITY = {"name": "Lublin centre", "kind": "city_district", "lat": 51.25, "lon": 22.57, "radius_m": 3_000,
        "value": 20e6}
BASE = {"name": "Rzeszow", "kind": "airport", "lat": 50.11, "lon": 22.02, "radius_m": 2_000, "value": 30e6}


def one_hot(name, n=1):
    return np.tile(np.eye(len(CLASSES))[CLASS_INDEX[name]], (n, 1))


def track_at(asset, dist_m, from_az, speed, heading, alt=300.0):
    """A track ``dist_m`` from the asset in direction ``from_az`` (deg), flying
    course ``heading`` (deg, or "at": straight at the asset; "away") at
    ``speed``: ECEF position and ENU velocity."""
    lat, lon = geo.geodesic_destination(asset["lat"], asset["lon"], dist_m, from_az)
    pos = np.ravel(geo.geodetic_to_ecef(lat, lon, alt))
    if heading in ("at", "away"):  # the bearing back differs from from_az + 180 (meridians converge)
        heading = heading_to(asset, pos) + (0.0 if heading == "at" else 180.0)
    h = math.radians(heading)
    return pos, np.array([speed * math.sin(h), speed * math.cos(h), 0.0])


def heading_to(asset, pos):
    lat, lon, alt = geo.ecef_to_geodetic(*pos)
    az, _, _ = geo.geodetic_to_aer(asset["lat"], asset["lon"], 0.0, lat, lon, alt)
    return float(az)


@pytest.fixture
def assets():
    return load_assets([PLANT, CITY, BASE], "scenario.yaml")


# --------------------------------------------------------------------- assets
def test_assets_load_as_columns(assets):
    assert assets.names == ["Kozienice PP", "Lublin centre", "Rzeszow"]
    assert assets.kind_name(0) == "power_plant" and assets.nation == ["PL", None, None]
    np.testing.assert_allclose(assets.value, [50e6, 20e6, 30e6])
    np.testing.assert_allclose(assets.ecef[1], np.ravel(geo.geodetic_to_ecef(51.25, 22.57, 0.0)))
    assert load_assets(assets.to_records()).names == assets.names


def test_asset_kind_default_and_alias():
    a = load_assets([{"name": "x", "lat": 50, "lon": 20, "radius_m": 10, "value": 1, "description": "depot"},
                     {"name": "y", "kind": "city", "lat": 50, "lon": 20, "radius_m": 10, "value": 1}])
    assert [a.kind_name(0), a.kind_name(1)] == ["other", "city_district"]


@pytest.mark.parametrize("bad,field", [
    ({**CITY, "kind": "hospital"}, "assets[1].kind"),
    ({**CITY, "lat": 91}, "assets[1].lat"),
    ({k: v for k, v in CITY.items() if k != "value"}, "assets[1].value"),
    ({**CITY, "value": -5}, "assets[1].value"),
    ({**CITY, "value": "a lot"}, "assets[1].value"),
    ({**CITY, "radius_m": 0}, "assets[1].radius_m"),
    ({**CITY, "raduis_m": 10}, "assets[1].raduis_m"),
    ({**CITY, "name": ""}, "assets[1].name"),
    ({**CITY, "name": PLANT["name"]}, "assets[1].name"),
    ({**CITY, "nation": 7}, "assets[1].nation"),
    ([1, 2], "assets[1]"),
])
def test_bad_asset_names_the_field(bad, field):
    with pytest.raises(InputError) as e:
        load_assets([PLANT, bad], "scenario.yaml")
    assert e.value.field == field
    assert str(e.value).startswith(f"scenario.yaml: {field}: ") and "\n" not in str(e.value)


values = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**9), st.text(max_size=6),
                   st.floats(allow_nan=True, allow_infinity=True), st.lists(st.integers(), max_size=2))
asset_items = st.dictionaries(st.sampled_from(list(ASSET_KEYS) + ["junk"]),
                              st.one_of(values, st.sampled_from(ASSET_KINDS)), max_size=9)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.lists(st.one_of(asset_items, values), max_size=4), values))
def test_asset_loader_never_crashes(items):
    try:
        a = load_assets(items, "fuzz.yaml")
    except InputError as e:
        assert "\n" not in str(e) and str(e).startswith("fuzz.yaml")
    else:
        assert np.all(a.radius > 0) and np.all(a.value >= 0) and a.ecef.shape == (len(a), 3)


# ----------------------------------------------------------------- assessment
def test_track_flying_at_an_asset(assets):
    pos, vel = track_at(PLANT, 50_000.0, 200.0, 51.0, "at")  # 50 km SSW, flying at it
    a = assess(pos[None], vel[None], one_hot("shahed"), assets)
    assert np.argmax(a.p_target[0]) == 0 and a.likely_target[0] == 0
    assert a.p_target[0, 0] > 0.8
    assert a.distance_m[0, 0] == pytest.approx(50_000.0, rel=1e-6)
    assert a.time_to_reach[0, 0] == pytest.approx(50_000.0 / 51.0, rel=1e-6)
    assert a.time_to_target[0] == pytest.approx(50_000.0 / 51.0, rel=1e-6)
    assert a.ca_distance_m[0, 0] < 5.0 and a.ca_time_s[0, 0] == pytest.approx(50_000 / 51.0, rel=1e-3)
    assert a.expected_loss[0] == pytest.approx(a.p_target[0, 0] * 50e6, rel=0.05)


def test_track_flying_away(assets):
    pos, vel = track_at(PLANT, 50_000.0, 200.0, 51.0, "away")  # same place, flying away
    a = assess(pos[None], vel[None], one_hot("shahed"), assets)
    assert math.isinf(a.time_to_reach[0, 0])
    assert a.p_target[0, 0] < 0.01
    assert a.ca_distance_m[0, 0] == pytest.approx(50_000.0, rel=1e-6) and a.ca_time_s[0, 0] == 0.0


def test_decoy_carries_little_loss_and_shahed_at_a_plant_does(assets):
    pos, vel = track_at(PLANT, 30_000.0, 180.0, 50.0, "at")
    pos, vel = np.vstack([pos, pos]), np.vstack([vel, vel])
    pc = np.vstack([one_hot("shahed"), one_hot("decoy")])
    a = assess(pos, vel, pc, assets)
    np.testing.assert_allclose(a.p_target[0], a.p_target[1], rtol=1e-12)  # same flight, same inference
    assert a.expected_loss[0] > 0.5 * PLANT["value"]
    # a decoy's loss is the shahed's times the lethality ratio (0.02 / 1)
    assert a.expected_loss[1] == pytest.approx(0.02 * a.expected_loss[0], rel=1e-12)
    assert a.rank[0] == 0


def test_birds_and_aircraft_carry_no_impact_time(assets):
    """A bird circling inside a protected area (or an airliner over it) is not
    about to hit it: no time to target, no likely target."""
    pos, vel = track_at(PLANT, 500.0, 0.0, 10.0, "at")  # inside the plant's radius
    pos, vel = np.vstack([pos] * 4), np.vstack([vel] * 4)
    bird_ish = 0.6 * one_hot("bird")[0] + 0.4 * one_hot("shahed")[0]
    pc = np.vstack([one_hot("bird"), one_hot("aircraft"), bird_ish, one_hot("shahed")])
    a = assess(pos, vel, pc, assets)
    assert list(a.non_threat) == [True, True, True, False]
    assert np.all(np.isinf(a.time_to_target[:3])) and np.all(a.likely_target[:3] == -1)
    assert a.time_to_target[3] == 0.0 and a.likely_target[3] == 0  # a shahed there is hitting it now
    # the bird-ish track still weighs its 40 % chance of being a shahed (the
    # target odds differ a little: a bird's short range rules out far assets)
    assert a.expected_loss[2] == pytest.approx(0.4 * a.expected_loss[3], rel=0.02)


def test_probabilities_sum_to_one_on_random_tracks(assets):
    rng = np.random.default_rng(3)
    n = 200
    lat, lon = rng.uniform(49.5, 52.5, n), rng.uniform(20.0, 24.5, n)
    pos = np.stack(geo.geodetic_to_ecef(lat, lon, rng.uniform(50, 3_000, n)), axis=-1)
    vel = rng.normal(0, 60, (n, 3)) * [1, 1, 0.05]
    vel[:5] = 0.0  # hovering tracks too
    pc = rng.dirichlet(np.ones(len(CLASSES)), n)
    pc[:3] = np.nan  # no class information
    a = assess(pos, vel, pc, assets)
    total = a.p_target.sum(axis=1) + a.p_none
    np.testing.assert_allclose(total, 1.0, atol=1e-12)
    assert np.all((a.p_target >= 0) & (a.p_target <= 1)) and np.all(np.isfinite(a.expected_loss))
    assert sorted(a.rank.tolist()) == list(range(n))
    assert np.all(np.diff(a.score[a.rank]) <= 0)


def test_ecef_and_enu_velocities_agree(assets):
    pos, vel = track_at(CITY, 40_000.0, 250.0, 45.0, 60.0)
    lat, lon, _ = geo.ecef_to_geodetic(*pos)
    vel_ecef = np.ravel(geo.enu_to_ecef_vectors(*vel, lat, lon))
    a = assess(pos[None], vel[None], one_hot("shahed"), assets)
    b = assess(pos[None], vel_ecef[None], one_hot("shahed"), assets, vel_frame="ecef")
    np.testing.assert_allclose(a.p_target, b.p_target, rtol=1e-9)
    np.testing.assert_allclose(a.time_to_reach, b.time_to_reach, rtol=1e-9)


def test_heading_picks_between_two_assets(assets):
    pos, _ = track_at(CITY, 60_000.0, 300.0, 50.0, 0.0)
    to_city, to_plant = heading_to(CITY, pos), heading_to(PLANT, pos)
    vels = [[50 * math.sin(math.radians(h)), 50 * math.cos(math.radians(h)), 0.0] for h in (to_city, to_plant)]
    a = assess(np.vstack([pos, pos]), np.array(vels), one_hot("shahed", 2), assets)
    assert a.likely_target.tolist() == [1, 0]


def test_hovering_track_falls_back_to_the_prior(assets):
    pos, _ = track_at(CITY, 20_000.0, 90.0, 0.0, 0.0)
    p = ThreatParams()
    a = assess(pos[None], np.zeros((1, 3)), one_hot("shahed"), assets, params=p)
    assert a.p_none[0] == pytest.approx(p.p_none)
    w = assets.value ** p.value_exponent * np.array([p.kind_weight[k] for k in ("power_plant", "city_district",
                                                                                 "airport")])
    np.testing.assert_allclose(a.p_target[0], (1 - p.p_none) * w / w.sum(), rtol=1e-6)
    assert np.all(np.isinf(a.time_to_reach[0]))


def test_position_uncertainty_widens_the_heading_cone(assets):
    pos, _ = track_at(PLANT, 20_000.0, 180.0, 50.0, 0.0)
    h = heading_to(PLANT, pos) + 25.0  # 25 degrees off the plant
    vel = np.array([[50 * math.sin(math.radians(h)), 50 * math.cos(math.radians(h)), 0.0]])
    sharp = assess(pos[None], vel, one_hot("shahed"), assets)
    blurred = assess(pos[None], vel, one_hot("shahed"), assets, pos_cov_enu=np.diag([8e6, 8e6, 1e4])[None])
    assert blurred.p_target[0, 0] > sharp.p_target[0, 0]


def test_target_beyond_remaining_range_is_unlikely(assets):
    pos, vel = track_at(PLANT, 50_000.0, 200.0, 51.0, "at")
    far = assess(pos[None], vel[None], one_hot("shahed"), assets, range_left_m=[20_000.0])
    near = assess(pos[None], vel[None], one_hot("shahed"), assets, range_left_m=[200_000.0])
    assert far.p_target[0, 0] < 0.05 < 0.8 < near.p_target[0, 0]


def test_predicted_path_follows_the_geodesic(assets):
    pos, vel = track_at(CITY, 100_000.0, 45.0, 60.0, 225.0)
    a = assess(pos[None], vel[None], one_hot("shahed"), assets, params=ThreatParams(horizon_s=600, path_step_s=60))
    assert a.path_t.tolist() == [60.0 * k for k in range(11)]
    d = geo.geodesic_distance_m(a.lat[0], a.lon[0], a.path_lat[0], a.path_lon[0])
    np.testing.assert_allclose(d, 60.0 * a.path_t, rtol=1e-6, atol=1e-3)
    np.testing.assert_allclose(a.path_alt[0], 300.0, atol=1e-6)
    np.testing.assert_allclose(a.path_ecef[0, 0], pos, atol=1e-3)


def test_ranking_by_expected_loss_and_time(assets):
    at_plant, v1 = track_at(PLANT, 20_000.0, 180.0, 50.0, "at")
    far_plant, v2 = track_at(PLANT, 120_000.0, 180.0, 50.0, "at")
    away, v3 = track_at(PLANT, 20_000.0, 0.0, 50.0, "away")  # north of it, flying north: nothing there
    a = assess(np.vstack([away, far_plant, at_plant]), np.vstack([v3, v2, v1]), one_hot("shahed", 3), assets)
    assert a.rank.tolist() == [2, 1, 0]
    out = describe(a, ["away", "far", "near"], assets, top=2)
    assert [r["track"] for r in out] == ["near", "far", "away"]
    assert out[0]["targets"][0]["asset"] == "Kozienice PP" and out[2]["time_to_target_s"] is None


def test_empty_inputs(assets):
    a = assess(np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((0, len(CLASSES))), assets)
    assert a.p_target.shape == (0, 3) and a.expected_loss.shape == (0,)
    pos, vel = track_at(CITY, 10_000.0, 0.0, 50.0, 180.0)
    b = assess(pos[None], vel[None], one_hot("shahed"), load_assets([]))
    assert b.p_none[0] == 1.0 and b.expected_loss[0] == 0.0 and b.likely_target[0] == -1
