"""expand_deployments: generators place the right number of sensors where
asked, defaults are filled, and a bad spec is one InputError naming its key."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airshield import geo
from airshield.errors import InputError
from airshield.sim.sensors import SensorSuite, expand_deployments
from airshield.sim.sensors.params import KIND_PARAMS
from airshield.sim.sensors.regions import inside_polygon, parse_region
from sensor_truth import ORIGIN

LAT, LON = ORIGIN["lat"], ORIGIN["lon"]


def expand(*specs, seed=0):
    return expand_deployments(list(specs), ORIGIN, np.random.default_rng(seed), "scn.yaml")


def test_acoustic_network_count_is_density_times_area_spread_uniformly():
    recs = expand({"generate": "acoustic_network", "area": {"lat": 49.0, "lon": 31.0, "radius_km": 40.0},
                   "density_per_km2": 0.5, "nation": "UA"})
    area = np.pi * 40.0 ** 2
    assert len(recs) == round(0.5 * area)
    assert [r["id"] for r in recs[:2]] == ["ac-00001", "ac-00002"] and recs[-1]["id"] == f"ac-{len(recs):05d}"
    assert all(r["kind"] == "acoustic" and r["nation"] == "UA" and r["sigma_az_deg"] == 4.0 for r in recs)
    d, az = geo.geodesic_inverse(49.0, 31.0, [r["lat"] for r in recs], [r["lon"] for r in recs])
    assert d.max() <= 40_000.0
    n = len(recs)
    # Uniform over the disc: half the sensors within r / sqrt(2), a quarter per quadrant.
    for k, p in [(np.count_nonzero(d < 40_000.0 / np.sqrt(2.0)), 0.5), (np.count_nonzero(az < 90.0), 0.25)]:
        assert abs(k / n - p) < 4.5 * np.sqrt(p * (1 - p) / n)


def test_polygon_area_count_and_containment():
    poly = [[49.0, 30.0], [49.0, 30.5], [49.3, 30.5], [49.3, 30.0]]
    reg = parse_region({"polygon": poly}, "area", ORIGIN)
    # Independent area: the quadrilateral as two geodesic-sided triangles (Heron on side lengths).
    def tri(a, b, c):
        x, y, z = (float(geo.geodesic_distance_m(*p, *q)) / 1000 for p, q in ((a, b), (b, c), (c, a)))
        s = (x + y + z) / 2
        return np.sqrt(s * (s - x) * (s - y) * (s - z))
    area = tri(poly[0], poly[1], poly[2]) + tri(poly[0], poly[2], poly[3])
    assert reg.area_km2() == pytest.approx(area, rel=0.005)
    recs = expand({"generate": "acoustic_network", "area": {"polygon": poly}, "density_per_km2": 1.0})
    assert len(recs) == round(reg.area_km2())
    lat = np.array([r["lat"] for r in recs])
    lon = np.array([r["lon"] for r in recs])
    assert reg.contains(lat, lon).all()
    assert lat.min() >= 49.0 and lat.max() <= 49.3 + 1e-3 and lon.min() >= 30.0 - 1e-3 and lon.max() <= 30.5 + 1e-3
    # The fast chord bounds agree with the exact test on points scattered around the edge.
    rng = np.random.default_rng(1)
    plat, plon = 48.9 + 0.5 * rng.random(3000), 29.9 + 0.7 * rng.random(3000)
    x, y = reg.to_plane(plat, plon)
    assert np.array_equal(reg.contains(plat, plon), inside_polygon(x, y, reg.poly_xy))


def test_circle_contains_matches_geodesic_distance():
    reg = parse_region({"radius_km": 300.0}, "region", ORIGIN)
    rng = np.random.default_rng(2)
    lat, lon = LAT + rng.uniform(-3.5, 3.5, 5000), LON + rng.uniform(-5, 5, 5000)
    d = geo.geodesic_distance_m(LAT, LON, lat, lon)
    assert np.array_equal(reg.contains(lat, lon), d <= 300_000.0)


def test_explicit_sensors_sites_ring_crowd_and_defaults():
    recs = expand(
        {"kind": "radar", "id": "aew", "lat": 51.0, "lon": 29.0, "alt": 9000.0, "range_max_m": 400_000.0},
        {"generate": "radar_sites", "sites": [{"id": "r-kyiv", "lat": 50.4, "lon": 30.5},
                                              {"lat": 49.8, "lon": 24.0, "pd": 0.8}], "nation": "UA"},
        {"generate": "eo_cameras", "ring": {"radius_km": 5.0}, "count": 4, "face_outward_deg": 90.0},
        {"generate": "crowd", "region": {"lat": 50.0, "lon": 30.0, "radius_km": 100.0}, "delay_s": [10, 60]},
        {"kind": "adsb", "id": "adsb-1", "lat": 50.0, "lon": 30.0},
    )
    ids = [r["id"] for r in recs]
    assert ids == ["aew", "r-kyiv", "radar-00002", "eo-00001", "eo-00002", "eo-00003", "eo-00004", "crowd", "adsb-1"]
    assert recs[0]["alt"] == 9000.0 and recs[0]["range_max_m"] == 400_000.0 and recs[0]["period_s"] == 4.0
    assert recs[1]["pd"] == 0.9 and recs[2]["pd"] == 0.8 and recs[1]["nation"] == "UA"
    # Ring cameras face outward: camera k sits at bearing 90k from the centre, sector centred there.
    for k, r in enumerate(recs[3:7]):
        d, az = geo.geodesic_inverse(LAT, LON, r["lat"], r["lon"])
        assert d == pytest.approx(5000.0, abs=0.01) and float(az) == pytest.approx(90.0 * k, abs=1e-6)
        sec = r["sectors"][0]
        assert (sec["az_from_deg"], sec["az_to_deg"]) == (pytest.approx((90.0 * k - 45) % 360),
                                                          pytest.approx((90.0 * k + 45) % 360))
    crowd = recs[7]
    assert crowd["kind"] == "visual" and crowd["delay_s"] == [10.0, 60.0] and crowd["region"]["radius_km"] == 100.0
    assert recs[8]["sigma_h_m"] == 30.0
    for r in recs:  # every record carries the kind's defaults
        for key, (default, _) in KIND_PARAMS[r["kind"]].items():
            if default is not None and key not in ("range_max_m", "sigma_h_m", "region"):
                assert key in r, (r["id"], key)


@pytest.mark.parametrize("spec,field", [
    ({"generate": "acoustic_network", "area": {"radius_km": 10}, "density_per_km2": -1}, "sensors[1].density_per_km2"),
    ({"generate": "acoustic_network", "area": {"radius_km": 10}}, "sensors[1].count"),
    ({"generate": "acoustic_network", "area": {"radius_km": "far"}, "count": 3}, "sensors[1].area.radius_km"),
    ({"generate": "acoustic_network", "area": {"radius_km": 10}, "count": 3, "sigma_az": 3}, "sensors[1].sigma_az"),
    ({"generate": "acoustic_network", "area": {"polygon": [[50, 30], [50.1, 30]]}, "count": 3}, "sensors[1].area.polygon"),
    ({"generate": "acoustic_network", "area": {"radius_km": 10}, "count": 3,
      "range_by_class_m": {"drone": 4000}}, "sensors[1].range_by_class_m.drone"),
    ({"generate": "radar_sites", "sites": [{"lat": 50, "lon": 30}, {"lon": 30}]}, "sensors[1].sites[1].lat"),
    ({"generate": "radar_sites", "sites": [{"lat": 50, "lon": 30}], "pd": 1.5}, "sensors[1].pd"),
    ({"generate": "eo_cameras", "area": {"radius_km": 3}, "count": 2, "face_outward_deg": 90}, "sensors[1].face_outward_deg"),
    ({"generate": "crowd", "region": {"radius_km": 10}, "false_fraction": 1.0}, "sensors[1].false_fraction"),
    ({"generate": "crowd", "region": {"radius_km": 10}, "delay_s": [90, 20]}, "sensors[1].delay_s"),
    ({"generate": "satellites"}, "sensors[1].generate"),
    ({"kind": "sonar", "id": "x", "lat": 50, "lon": 30}, "sensors[1].kind"),
    ({"kind": "radar", "lat": 50, "lon": 30}, "sensors[1].id"),
    ({"kind": "radar", "id": "r0", "lat": 50, "lon": 30}, "sensors[1].id"),
    ({"kind": "radar", "id": "x", "lat": 50, "lon": 30, "pfa": 0.5}, "sensors[1].pfa"),
    ({"kind": "radar", "id": "x", "lat": 50, "lon": 30, "nation": "Poland"}, "sensors[1].nation"),
    ({"kind": "radar", "id": "x", "lat": 50, "lon": 30, "sectors": [{"az_from_deg": 10, "az_to_deg": 10}]},
     "sensors[1].sectors[0]"),
    ({"kind": "eo", "id": "x", "lat": 50, "lon": 30, "el_min_deg": 30, "el_max_deg": 10}, "sensors[1].el_min_deg"),
    ({"kind": "visual", "id": "c", "lat": 10, "lon": 30, "region": {"radius_km": 5}}, "sensors[1].lat"),
    ("radar", "sensors[1]"),
])
def test_bad_spec_is_one_input_error_naming_the_key(spec, field):
    with pytest.raises(InputError) as e:
        expand({"kind": "radar", "id": "r0", "lat": 50, "lon": 30}, spec)
    assert e.value.field == field
    assert str(e.value).startswith(f"scn.yaml: {field}: ") and "\n" not in str(e.value)


def test_not_a_list_and_bad_origin():
    with pytest.raises(InputError, match="sensors"):
        expand_deployments({"kind": "radar"}, ORIGIN, np.random.default_rng(0), "s.yaml")
    with pytest.raises(InputError, match="origin"):
        expand_deployments([], {"lat": 123}, np.random.default_rng(0), "s.yaml")
    assert expand_deployments(None, ORIGIN, np.random.default_rng(0), "s.yaml") == []


def test_from_records_rejects_bad_records_with_field():
    recs = expand({"kind": "radar", "id": "r0", "lat": 50, "lon": 30})
    with pytest.raises(InputError) as e:
        SensorSuite.from_records([dict(recs[0], sigma_range_m=-3)], file="sensors.json")
    assert e.value.field == "sensors[0].sigma_range_m"
    with pytest.raises(InputError, match="duplicate"):
        SensorSuite.from_records(recs + recs)


KEYS = sorted({"kind", "generate", "id", "lat", "lon", "alt", "nation", "sites", "area", "ring", "count",
               "density_per_km2", "id_prefix", "face_outward_deg", "region", "polygon", "radius_km",
               "az_from_deg", "az_to_deg", *[k for t in KIND_PARAMS.values() for k in t]})
WORDS = ["radar", "acoustic", "eo", "visual", "adsb", "radar_sites", "acoustic_network", "eo_cameras",
         "adsb_receivers", "crowd", "rotating", "staring", "shahed", "bird", "UA", "x"]
scalars = (st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True, allow_infinity=True)
           | st.sampled_from(WORDS) | st.text(max_size=5))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4), inner, max_size=5), max_leaves=12)
specs = st.dictionaries(st.sampled_from(KEYS), values, max_size=8)
small = st.fixed_dictionaries({"lat": st.floats(49.5, 50.5), "lon": st.floats(29.5, 30.5)})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(specs | values, max_size=3), st.sampled_from(WORDS[:10]), st.sampled_from(["sites", "area", "ring"]))
def test_fuzz_expand_deployments_raises_only_input_error(items, word, place):
    # Mix arbitrary items with near-valid ones so the fuzz reaches the deep checks.
    if word in ("radar_sites", "acoustic_network", "eo_cameras", "adsb_receivers"):
        near = {"generate": word, place: [{"lat": 50, "lon": 30}] if place == "sites" else {"radius_km": 2.0},
                "count": 3}
        if place == "sites":
            del near["count"]
    elif word in ("crowd", "visual"):
        near = {"generate": "crowd", "region": {"radius_km": 5.0}}
    else:
        near = {"kind": word, "id": "k", "lat": 50.0, "lon": 30.0}
    for spec in ([near] + items, items, [{**near, **i} if isinstance(i, dict) else i for i in items]):
        try:
            recs = expand_deployments(spec, ORIGIN, np.random.default_rng(0), "f.yaml")
        except InputError as e:
            assert e.field and str(e).startswith("f.yaml: ") and "\n" not in str(e)
            continue
        assert SensorSuite.from_records(recs).records == recs  # what expands, loads


@settings(max_examples=200, deadline=None)
@given(st.lists(specs | values, max_size=3))
def test_fuzz_from_records_raises_only_input_error(items):
    try:
        SensorSuite.from_records(items, file="sensors.json")
    except InputError as e:
        assert e.field and "\n" not in str(e)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.floats(-90, 90), st.floats(-180, 180)), min_size=3, max_size=6))
def test_fuzz_polygons_anywhere_on_earth(pts):
    area = {"polygon": [list(p) for p in pts]}
    try:
        recs = expand({"generate": "acoustic_network", "area": area, "count": 20})
    except InputError as e:
        assert e.field == "sensors[0].area.polygon"
        return
    reg = parse_region(area, "area", ORIGIN)
    inside = reg.contains([r["lat"] for r in recs], [r["lon"] for r in recs])
    assert inside.mean() >= 0.9  # sampled in the plane, tested back on the ellipsoid
