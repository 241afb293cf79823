"""Scenario files: built-ins load, every mistake is one line naming file,
line and key path, and nothing but InputError ever escapes the loader."""

from __future__ import annotations

import textwrap

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airshield.errors import InputError
from airshield.sim.scenario import builtin_scenarios, load_scenario, load_scenario_text

GOOD = textwrap.dedent("""\
    name: tiny
    description: a tiny test scenario
    epoch: "2025-09-09T21:00:00Z"
    duration_s: 600
    seed: 7
    origin: {lat: 50.0, lon: 30.0}
    places:
      city: {lat: 50.0, lon: 30.0}
    raids:
      - class: shahed
        count: 3
        launch: {lat: 50.5, lon: 31.0, radius_km: 5}
        targets: [city]
        start: "2025-09-09T21:15:00Z"
        spacing_s: 10
      - class: decoy
        count: 2
        launch: [{lat: 50.5, lon: 31.0}, {lat: 49.5, lon: 31.0}]
        targets: [{place: city, radius_km: 2}]
      - class: jet_drone
        count: 1
        launch: {lat: 50.5, lon: 31.0}
        targets: city
    traffic:
      - route: [{lat: 49.0, lon: 28.0}, {lat: 51.0, lon: 32.0}]
        icao24: 4b1805
    birds:
      - {count: 2, area: {place: city, radius_km: 5}}
    assets:
      - {name: city, lat: 50.0, lon: 30.0, radius_m: 3000, value: 1000000, kind: city}
    effectors:
      - {id: mfg-1, kind: mobile_fire_group}
""")


def write(tmp_path, text: str, name: str = "s.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_builtin_scenarios_listed_and_load():
    names = dict(builtin_scenarios())
    assert set(names) >= {"demo", "poland-2025-09-10", "mass-raid-800", "raid-300", "raid-1000"}
    for name, desc in names.items():
        assert desc and "\n" not in desc
        s = load_scenario(name)
        assert s.name == name
        assert s.epoch.endswith("Z")
    drones = {n: sum(w.count for w in load_scenario(n).raids) for n in names}
    assert 50 <= drones["demo"] <= 70
    assert drones["mass-raid-800"] == 810
    assert drones["raid-300"] == 300 and drones["raid-1000"] == 1000
    assert 18 <= drones["poland-2025-09-10"] <= 24
    pl = load_scenario("poland-2025-09-10")
    assert pl.epoch == "2025-09-09T21:00:00Z"
    assert sum(w.count for w in pl.raids if w.cls == "decoy") > drones["poland-2025-09-10"] / 2
    assert any(s.get("alt", 0) >= 8000 for s in pl.sensors)  # the airborne early-warning radar


def test_good_file_parses_with_times_places_and_defaults(tmp_path):
    s = load_scenario(write(tmp_path, GOOD))
    assert s.truth_step_s == 1.0 and s.seed == 7
    w0, w1, w2 = s.raids
    assert w0.start_s == 900.0  # ISO start, 15 minutes after the epoch
    assert w0.launch[0].radius_m == 5000.0
    assert w0.targets[0].name == "city" and w0.targets[0].lat == 50.0
    assert len(w1.launch) == 2 and w1.targets[0].radius_m == 2000.0
    assert w2.targets[0].name == "city"
    assert s.traffic[0].icao24 == ["4b1805"]
    assert s.birds[0].area.radius_m == 5000.0
    doc = s.to_json()
    for key in ("name", "epoch", "duration_s", "seed", "origin", "assets", "effectors", "description"):
        assert key in doc
    assert doc["origin"] == {"lat": 50.0, "lon": 30.0, "alt": 0.0}
    assert doc["assets"][0]["value"] == 1000000


def _mutate(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


BAD = [
    # (old, new, field in the error, word in the message)
    ("seed: 7", "seed: 7\nbogus: 1", "bogus", "unknown key"),
    ("    count: 1\n", "    count: -4\n", "raids[2].count", "outside"),
    ("class: decoy", "class: cruise_missile", "raids[1].class", "not one of"),
    ("    targets: city\n", "    targets: nowhere\n", "raids[2].targets", "unknown place"),
    ("    targets: city\n", "", "raids[2].targets", "missing"),
    ("spacing_s: 10", "spacing_s: ten", "raids[0].spacing_s", "expected a number"),
    ('start: "2025-09-09T21:15:00Z"', 'start: "2025-09-09T20:00:00Z"', "raids[0].start", "before"),
    ('start: "2025-09-09T21:15:00Z"', 'start: "yesterday"', "raids[0].start", "ISO 8601"),
    ('epoch: "2025-09-09T21:00:00Z"', 'epoch: "soon"', "epoch", "ISO 8601"),
    ("radius_km: 5}", "radius_km: 5, height: 3}", "raids[0].launch.height", "unknown key"),
    ("origin: {lat: 50.0, lon: 30.0}", "origin: {lat: 95.0, lon: 30.0}", "origin.lat", "outside"),
    ("duration_s: 600", "duration_s: 0", "duration_s", "outside"),
    ("icao24: 4b1805", "icao24: zz1805", "traffic[0].icao24[0]", "hex"),
    ("{count: 2, area: {place: city, radius_km: 5}}", "{count: 2, area: city}", "birds[0].area", "radius_km > 0"),
    ("radius_m: 3000", "radius_m: -1", "assets[0].radius_m", "outside"),
    ("  - {id: mfg-1, kind: mobile_fire_group}", "  - 17", "effectors[0]", "mapping"),
    ("    spacing_s: 10\n", "    spacing_s: 10\n    speed_kmh: [200, 100]\n", "raids[0].speed_kmh", "above"),
    ("    spacing_s: 10\n", "    spacing_s: 10\n    low_level_legs: 2\n", "raids[0].low_level_legs",
     "outside"),
    ("seed: 7", "seed: 7\nsensors: {kind: radar}", "sensors", "expected a list"),
]


@pytest.mark.parametrize("old,new,field,word", BAD)
def test_bad_values_name_file_line_and_key(tmp_path, old, new, field, word):
    p = write(tmp_path, _mutate(GOOD, old, new))
    with pytest.raises(InputError) as ei:
        load_scenario(p)
    e = ei.value
    assert e.field == field
    assert word in e.message
    assert e.file == str(p)
    msg = str(e)
    assert "\n" not in msg and str(p) in msg and field in msg
    # the line points at the offending key (or its nearest parent the parser saw)
    assert e.line is not None
    line = p.read_text().splitlines()[e.line - 1]
    if word == "missing":  # the key is absent: the line of the mapping that lacks it
        assert line.startswith("  - ")
    elif field.endswith("]"):  # a list item: its own line
        assert new.split()[-1] in line
    else:
        assert field.rsplit(".", 1)[-1].split("[")[0] in line


def test_yaml_syntax_error_names_the_line(tmp_path):
    text = GOOD.replace("    spacing_s: 10\n", "    spacing_s: [10\n", 1)
    p = write(tmp_path, text)
    with pytest.raises(InputError) as ei:
        load_scenario(p)
    bad_line = text.splitlines().index("    spacing_s: [10") + 1
    assert ei.value.line is not None and abs(ei.value.line - bad_line) <= 2
    assert "YAML syntax error" in str(ei.value) and str(p) in str(ei.value)


def test_duplicate_key_is_an_error_with_its_line(tmp_path):
    text = GOOD.replace("seed: 7\n", "seed: 7\nseed: 8\n")
    with pytest.raises(InputError) as ei:
        load_scenario(write(tmp_path, text))
    assert ei.value.field == "seed" and ei.value.line == 6


def test_unknown_builtin_and_missing_file():
    with pytest.raises(InputError, match="unknown built-in scenario 'nope'"):
        load_scenario("nope")
    with pytest.raises(InputError, match="no such scenario file"):
        load_scenario("/nonexistent/x.yaml")


def test_wave_names_must_keep_ids_unique(tmp_path):
    from airshield.sim.engine import Simulation

    text = GOOD.replace("  - class: decoy\n", "  - class: decoy\n    name: w\n").replace(
        "  - class: jet_drone\n", "  - class: jet_drone\n    name: w\n")
    with pytest.raises(InputError, match="'w-001'"):
        Simulation(load_scenario(write(tmp_path, text)))


# --- fuzzing: whatever the file holds, the loader answers with a Scenario or an InputError

values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True)
    | st.text(max_size=8) | st.sampled_from(["shahed", "city", "2025-09-09T21:00:00Z", "round_robin"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["lat", "lon", "radius_km", "place", "count", "class", "x"]), inner, max_size=4),
    max_leaves=12,
)
WAVE_KEYS = ["class", "count", "launch", "targets", "waypoints", "start", "spacing_s", "speed_kmh",
             "altitude_m", "range_km", "airborne", "target_assign", "waypoint_jitter_km", "name", "bogus"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(section=st.sampled_from(["raids", "traffic", "birds", "assets", "places", "origin"]),
       key=st.sampled_from(WAVE_KEYS + ["route", "generator", "area", "icao24", "value"]), value=values)
def test_fuzzed_fields_never_crash(section, key, value):
    doc = yaml.safe_load(GOOD)
    target = doc[section]
    if isinstance(target, list):
        target = target[0]
    target[key] = value
    try:
        load_scenario_text(yaml.safe_dump(doc), "fuzz.yaml")
    except InputError as e:
        assert "\n" not in str(e) and str(e).startswith("fuzz.yaml")


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_fuzzed_text_never_crashes(text):
    try:
        load_scenario_text(text, "fuzz.yaml")
    except InputError as e:
        assert str(e).startswith("fuzz.yaml")
