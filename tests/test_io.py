"""Contract readers: every field checked, bad lines reported with file/line/field,
good lines never lost, and the parsers never crash on arbitrary input."""

import json
import math

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airshield.errors import InputError
from airshield.io.jsonl import iter_jsonl, read_json, write_jsonl
from airshield.io.records import BEARING, POLAR, POS, Detections
from airshield.io.run import (parse_detection, read_detections, read_sensors, read_tracks,
                              read_truth, sensors_from_records)

SENSORS = [
    {"id": "R1", "kind": "radar", "lat": 50.0, "lon": 24.0, "alt": 200.0, "nation": "PL",
     "sigma_range_m": 50.0, "sigma_az_deg": 0.5, "sigma_el_deg": 0.7, "sigma_rr_mps": 1.0, "pd": 0.9},
    {"id": "A1", "kind": "acoustic", "lat": 50.1, "lon": 24.1, "alt": 180.0, "sigma_az_deg": 4.0,
     "mast": "roof"},
    {"id": "C1", "kind": "visual", "lat": 50.2, "lon": 24.2, "alt": 0.0},
]


@pytest.fixture
def run_dir(tmp_path):
    (tmp_path / "sensors.json").write_text(json.dumps({"sensors": SENSORS}))
    return tmp_path


def test_sensors_read_with_defaults_and_extras(run_dir):
    s = read_sensors(run_dir)
    assert s.ids == ["R1", "A1", "C1"]
    assert s.kind_name(1) == "acoustic"
    assert s.param("sigma_range_m")[0] == 50.0
    assert math.isnan(s.param("sigma_range_m")[1])
    recs = s.to_records()
    assert recs[1]["mast"] == "roof"  # unknown fields survive a round trip
    assert recs[0]["nation"] == "PL"


@pytest.mark.parametrize("bad,field", [
    ({"id": "X", "kind": "sonar", "lat": 0, "lon": 0, "alt": 0}, "sensors[0].kind"),
    ({"id": "X", "kind": "radar", "lat": 91, "lon": 0, "alt": 0}, "sensors[0].lat"),
    ({"id": "X", "kind": "radar", "lat": 0, "lon": 0}, "sensors[0].alt"),
    ({"id": "X", "kind": "radar", "lat": 0, "lon": 0, "alt": 0, "pd": 1.5}, "sensors[0].pd"),
    ({"kind": "radar", "lat": 0, "lon": 0, "alt": 0}, "sensors[0].id"),
])
def test_bad_sensor_names_field(bad, field):
    with pytest.raises(InputError) as e:
        sensors_from_records([bad], file="s.json")
    assert e.value.field == field
    assert str(e.value).startswith("s.json: " + field)


def test_duplicate_sensor_id():
    with pytest.raises(InputError, match="duplicate"):
        sensors_from_records([SENSORS[0], SENSORS[0]])


def test_detections_all_kinds_and_sensor_defaults(run_dir):
    lines = [
        {"t": 1.0, "sensor": "R1", "polar": {"range_m": 10000, "az_deg": 370, "el_deg": 1.0, "rr_mps": -40}},
        {"t": 2.0, "sensor": "A1", "bearing": {"az_deg": 45.0}, "class": {"shahed": 3, "decoy": 1}},
        {"t": 3.0, "sensor": "C1", "pos": {"lat": 50.3, "lon": 24.3, "alt": 500, "sigma_h_m": 800,
                                            "sigma_v_m": 300}, "id": "m-7", "extra": 1},
    ]
    write_jsonl(run_dir / "detections.jsonl", lines)
    s = read_sensors(run_dir)
    skipped = []
    d = read_detections(run_dir, s, skipped)
    assert skipped == []
    assert d.kind.tolist() == [POLAR, BEARING, POS]
    assert d.z[0, 1] == pytest.approx(10.0)  # azimuth wrapped into 0..360
    assert d.sigma[0].tolist() == [50.0, 0.5, 0.7, 1.0]  # sensor defaults filled in
    assert d.sigma[1, 0] == 4.0
    np.testing.assert_allclose(d.p_class[1, :2], [0.75, 0.25])
    assert np.isnan(d.p_class[0]).all()
    assert d.msg_id == {2: "m-7"}
    # Records round trip.
    recs = d.to_records(s.ids)
    assert recs[0]["polar"]["rr_mps"] == -40 and recs[2]["pos"]["sigma_h_m"] == 800


def test_bad_detection_lines_are_reported_and_good_ones_kept(run_dir):
    good = {"t": 1.0, "sensor": "R1", "polar": {"range_m": 1000, "az_deg": 1, "el_deg": 1}}
    text = "\n".join([
        json.dumps(good),
        "{not json",
        json.dumps({"t": 2.0, "sensor": "ZZ", "polar": good["polar"]}),
        json.dumps({"t": 2.0, "sensor": "R1", "polar": {"range_m": -5, "az_deg": 1, "el_deg": 1}}),
        json.dumps({"t": "x", "sensor": "R1", "polar": good["polar"]}),
        json.dumps({"t": 2.0, "sensor": "R1"}),
        json.dumps({"t": 2.0, "sensor": "R1", "polar": good["polar"], "pos": {}}),
        "[1, 2]",
        "",
        json.dumps({**good, "t": 3.0}),
    ]) + "\n"
    (run_dir / "detections.jsonl").write_text(text)
    skipped = []
    d = read_detections(run_dir, read_sensors(run_dir), skipped)
    assert d.t.tolist() == [1.0, 3.0]
    assert d.line.tolist() == [1, 10]
    got = [(s.line, s.field) for s in skipped]
    assert got == [(2, None), (3, "sensor"), (4, "polar.range_m"), (5, "t"),
                   (6, "polar|pos|bearing"), (7, "polar|pos|bearing"), (8, None)]
    assert "unknown sensor id 'ZZ'" in str(skipped[1])
    assert str(skipped[1]).startswith(str(run_dir / "detections.jsonl") + ":3: sensor:")


def test_nan_is_rejected(run_dir):
    (run_dir / "detections.jsonl").write_text(
        '{"t": 1.0, "sensor": "A1", "bearing": {"az_deg": NaN}}\n')
    skipped = []
    d = read_detections(run_dir, read_sensors(run_dir), skipped)
    assert len(d) == 0 and len(skipped) == 1 and skipped[0].line == 1


def test_out_of_order_detections_are_sorted_not_dropped(run_dir):
    write_jsonl(run_dir / "detections.jsonl", [
        {"t": 5.0, "sensor": "A1", "bearing": {"az_deg": 1}},
        {"t": 2.0, "sensor": "A1", "bearing": {"az_deg": 2}},
    ])
    d = read_detections(run_dir, read_sensors(run_dir), [])
    assert d.t.tolist() == [2.0, 5.0] and d.line.tolist() == [2, 1]


def test_missing_file_and_malformed_json(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_sensors(tmp_path)
    (tmp_path / "sensors.json").write_text('{"sensors": [\n  {"id": 1,,}\n]}')
    with pytest.raises(InputError) as e:
        read_sensors(tmp_path)
    assert e.value.line == 2


def test_truth_and_tracks_readers(tmp_path):
    write_jsonl(tmp_path / "truth.jsonl", [
        {"t": 0, "id": "D1", "class": "shahed", "lat": 50, "lon": 30, "alt": 500, "ve": 40, "vn": 0, "vu": 0},
        {"t": 1, "id": "D1", "class": "shahed", "lat": 50, "lon": 30.0005, "alt": 500, "ve": 40, "vn": 0, "vu": 0},
    ])
    tr = read_truth(tmp_path)
    assert tr.ids == ["D1"] and tr.vel.shape == (2, 3)
    write_jsonl(tmp_path / "tracks.jsonl", [
        {"t": 0, "track": "T1", "lat": 50, "lon": 30, "alt": 500, "ve": 40, "vn": 0, "vu": 0,
         "status": "confirmed", "class": "decoy"},
        {"t": 0, "track": "T2", "lat": 50, "lon": 30, "alt": 500, "ve": 40, "vn": 0, "vu": 0,
         "status": "lost"},
    ])
    with pytest.raises(InputError) as e:
        read_tracks(tmp_path)
    assert e.value.line == 2 and e.value.field == "status"
    skipped = []
    tk = read_tracks(tmp_path, skipped)
    assert len(tk) == 1 and len(skipped) == 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True) | st.text(max_size=5),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.sampled_from(
        ["t", "sensor", "polar", "pos", "bearing", "range_m", "az_deg", "el_deg", "rr_mps", "lat",
         "lon", "alt", "sigma_h_m", "class", "shahed", "snr_db", "icao24", "id"]), c, max_size=6),
    max_leaves=20)


@given(st.dictionaries(st.sampled_from(["t", "sensor", "polar", "pos", "bearing", "class", "snr_db",
                                        "icao24", "id"]), json_values, max_size=6))
@settings(max_examples=400, deadline=None)
def test_fuzz_parse_detection_never_crashes(obj):
    s = sensors_from_records(SENSORS)
    try:
        row = parse_detection(obj, s.index(), s)
    except ValueError:  # FieldError: the only allowed failure
        return
    t, si, kind, z, sig, pc, snr, icao, mid = row
    assert math.isfinite(t) and 0 <= si < 3 and kind in (POLAR, POS, BEARING)


@given(st.binary(max_size=300))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_fuzz_detection_file_bytes(tmp_path_factory, data):
    d = tmp_path_factory.mktemp("fz")
    (d / "sensors.json").write_text(json.dumps({"sensors": SENSORS}))
    (d / "detections.jsonl").write_bytes(
        data + b"\n" + orjson.dumps({"t": 1, "sensor": "A1", "bearing": {"az_deg": 3}}) + b"\n")
    skipped = []
    det = read_detections(d, read_sensors(d), skipped)
    assert isinstance(det, Detections)
    assert 3.0 in det.z[:, 0].tolist()  # the good line after the junk survives


def test_iter_jsonl_raises_with_line_without_skip_list(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"a": 1}\n\n{oops\n')
    with pytest.raises(InputError) as e:
        list(iter_jsonl(p))
    assert e.value.line == 3


def test_read_json_names_file(tmp_path):
    with pytest.raises(InputError) as e:
        read_json(tmp_path / "nope.json")
    assert "nope.json" in str(e.value) and "no such file" in str(e.value)
