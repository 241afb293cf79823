"""The run directory: writer output read back by the contract readers,
determinism per seed, objects.json, and the ``airshield simulate`` verb."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airshield import CLASSES, SENSOR_KINDS
from airshield.errors import Skipped
from airshield.io.jsonl import FieldError
from airshield.io.records import BEARING, POLAR, POS, SENSOR_PARAMS, Detections, Sensors
from airshield.io.run import (parse_detection, read_detections, read_scenario_json, read_sensors,
                              read_truth)
from airshield.sim.run import run_to_dir
from airshield.sim.scenario import load_scenario_text
from airshield.sim.state import Observations
from airshield.sim.writer import detection_lines, string_token

SCENARIO = textwrap.dedent("""\
    name: small
    description: a small raid for run-directory tests
    epoch: "2025-09-07T00:00:00Z"
    duration_s: 300
    seed: 11
    origin: {lat: 50.45, lon: 30.52}
    places:
      city: {lat: 50.45, lon: 30.52}
    raids:
      - {class: shahed, count: 6, launch: {lat: 50.52, lon: 30.58, radius_km: 2}, airborne: true,
         targets: [{place: city, radius_km: 1}], spacing_s: 20}
      - {class: jet_drone, count: 2, launch: {lat: 50.9, lon: 31.0}, airborne: true, targets: [city], start: 50}
    traffic:
      - {route: [{lat: 50.0, lon: 30.0}, {lat: 51.0, lon: 31.0}], icao24: 4b1805}
    birds:
      - {count: 3, area: {place: city, radius_km: 4}}
    assets:
      - {name: city, lat: 50.45, lon: 30.52, radius_m: 3000, value: 1000000, kind: city}
""")


class FakeSuite:
    """One crowd-like sensor that reports every flying object once per step
    (at a random time in the step, some late), plus the odd false report."""

    def __init__(self, extra_draws: int = 0):
        self.extra_draws = extra_draws

    def contract_records(self):
        return [{"id": "eye", "kind": "visual", "lat": 50.45, "lon": 30.52, "alt": 0.0,
                 "sigma_h_m": 100.0, "sigma_v_m": 50.0},
                {"id": "mic", "kind": "acoustic", "lat": 50.5, "lon": 30.6, "alt": 2.0, "sigma_az_deg": 4.0}]

    def observe(self, st, t0, t1, rng):
        rng.random(self.extra_draws)
        rows = np.flatnonzero(st.alive)
        n_false = int(rng.random() < 0.2)
        n = rows.size + n_false
        d = Detections.empty(n)
        d.t[:] = rng.uniform(t0, t1, n)
        d.kind[: rows.size] = POS
        d.sensor[: rows.size] = 0
        d.z[: rows.size, 0], d.z[: rows.size, 1], d.z[: rows.size, 2] = st.lat[rows], st.lon[rows], st.alt[rows]
        d.sigma[: rows.size, :2] = (100.0, 50.0)
        d.kind[rows.size:] = BEARING
        d.sensor[rows.size:] = 1
        d.z[rows.size:, 0] = rng.uniform(0, 360, n_false)
        truth_row = np.concatenate([rows, -np.ones(n_false, int)]).astype(np.int32)
        delay = np.where(rng.random(n) < 0.3, rng.uniform(1, 30, n), 0.0)
        o = np.argsort(d.t, kind="stable")
        return Observations(d.take(o), truth_row[o], delay[o])


def run(tmp_path, name="run", seed=None, suite=None, text=SCENARIO, **kw):
    scn = load_scenario_text(text, "small.yaml")
    out = tmp_path / name
    summary = run_to_dir(scn, out, seed=seed, suite=suite or FakeSuite(), **kw)
    return out, summary


def test_run_directory_round_trip(tmp_path):
    out, summary = run(tmp_path)
    doc = read_scenario_json(out)
    assert doc["name"] == "small" and doc["epoch"] == "2025-09-07T00:00:00Z" and doc["seed"] == 11
    assert doc["duration_s"] == 300 and doc["origin"]["lat"] == 50.45 and doc["assets"][0]["name"] == "city"
    sensors = read_sensors(out)
    assert sensors.ids == ["eye", "mic"]
    skipped: list[Skipped] = []
    det = read_detections(out, sensors, skipped)
    truth = read_truth(out, skipped)
    assert skipped == []
    assert len(det) == summary["detections"] and len(truth) == summary["truth"]
    assert np.all(np.diff(det.t) >= 0)  # written in time order
    # truth: one line per flying object per step, at whole truth steps
    assert np.allclose(truth.t, np.round(truth.t)) and truth.t.max() < 300
    per_t = np.bincount(truth.t.astype(int))
    assert per_t[0] == 1 + 1 + 3  # the first shahed (the others launch later), the airliner, 3 birds
    assert set(truth.ids) >= {"w1-shahed-001", "w2-jet_drone-001", "ac1-001", "bird1-001"}
    # the fake reports every flying object each step, at its truth position
    assert (det.kind == POS).sum() == len(truth)


def test_objects_json_and_late_reports(tmp_path):
    out, summary = run(tmp_path)
    objs = orjson.loads((out / "objects.json").read_bytes())["objects"]
    assert len(objs) == summary["objects"] == 6 + 2 + 1 + 3
    by_id = {o["id"]: o for o in objs}
    assert {o["fate"] for o in objs} <= {"hit", "expended", "landed", "defeated", "flying"}
    assert by_id["w1-shahed-001"]["fate"] == "hit" and by_id["w1-shahed-001"]["target"] == "city"
    assert by_id["bird1-001"]["fate"] == "flying" and by_id["bird1-001"]["t_end"] is None
    assert by_id["ac1-001"]["icao24"] == "4b1805"
    lines = [orjson.loads(x) for x in (out / "detections.jsonl").read_bytes().splitlines()]
    late = [x for x in lines if "t_rx" in x]
    assert 0.15 < len(late) / len(lines) < 0.45 and all(x["t_rx"] > x["t"] for x in late)
    # first_detected_t and n_detections from the detections the fake made of each object
    truth = read_truth(out)
    for oid in ("w1-shahed-003", "w2-jet_drone-002", "bird1-002"):
        rows = np.flatnonzero(np.array(truth.ids)[truth.obj] == oid)
        o = by_id[oid]
        assert o["n_detections"] == rows.size
        assert o["t_launch"] <= o["first_detected_t"] < o["t_launch"] + 1.0
        assert by_id[oid]["t_launch"] == pytest.approx(truth.t[rows].min(), abs=1.0)


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    a, _ = run(tmp_path, "a")
    b, _ = run(tmp_path, "b")
    c, _ = run(tmp_path, "c", seed=12)
    for f in ("scenario.json", "sensors.json", "truth.jsonl", "detections.jsonl", "objects.json"):
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    assert (a / "truth.jsonl").read_bytes() != (c / "truth.jsonl").read_bytes()
    assert orjson.loads((c / "scenario.json").read_bytes())["seed"] == 12


def test_sensors_never_move_the_threats(tmp_path):
    a, _ = run(tmp_path, "a")
    b, _ = run(tmp_path, "b", suite=FakeSuite(extra_draws=17))
    assert (a / "truth.jsonl").read_bytes() == (b / "truth.jsonl").read_bytes()
    assert (a / "detections.jsonl").read_bytes() != (b / "detections.jsonl").read_bytes()


def test_duration_override_and_progress(tmp_path, capsys):
    out, summary = run(tmp_path, duration_s=60.0, progress=True)
    truth = read_truth(out)
    assert truth.t.max() == 59.0
    assert orjson.loads((out / "scenario.json").read_bytes())["duration_s"] == 60.0


# --- the column writer against the contract reader

def _sensors(n: int) -> Sensors:
    return Sensors(ids=[f"s{i}" for i in range(n)], kind=np.zeros(n, np.int8), lat=np.zeros(n),
                   lon=np.zeros(n), alt=np.zeros(n), nation=[None] * n,
                   params=np.full((n, len(SENSOR_PARAMS)), np.nan))


maybe = st.one_of(st.just(np.nan), st.floats(0.01, 500.0))


@st.composite
def detection_sets(draw):
    n = draw(st.integers(1, 25))
    d = Detections.empty(n)
    d.t[:] = draw(st.lists(st.floats(0, 1e5), min_size=n, max_size=n))
    d.sensor[:] = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    for i in range(n):
        k = draw(st.sampled_from([POLAR, POS, BEARING]))
        d.kind[i] = k
        if k == POLAR:
            d.z[i] = [draw(st.floats(0, 4e5)), draw(st.floats(0, 359.99)), draw(st.floats(-89, 89)),
                      draw(st.one_of(st.just(np.nan), st.floats(-900, 900)))]
            d.sigma[i] = [draw(maybe) for _ in range(4)]
        elif k == POS:
            d.z[i, :3] = [draw(st.floats(-89, 89)), draw(st.floats(-179, 179)),
                          draw(st.one_of(st.just(np.nan), st.floats(0, 20000)))]
            d.sigma[i, :2] = [draw(maybe), draw(maybe)]
        else:
            d.z[i, :2] = [draw(st.floats(0, 359.99)), draw(st.one_of(st.just(np.nan), st.floats(-89, 89)))]
            d.sigma[i, :2] = [draw(maybe), draw(maybe)]
        if draw(st.booleans()):
            p = np.array(draw(st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0]), min_size=7, max_size=7)))
            if p.sum() > 0:
                d.p_class[i] = p / p.sum()
        if draw(st.booleans()):
            d.snr_db[i] = draw(st.floats(-20, 60))
        if draw(st.booleans()):
            d.icao24[i] = draw(st.sampled_from(["4b1805", "abcdef"]))
        if draw(st.booleans()):
            d.msg_id[i] = draw(st.text(max_size=6))
    delay = np.array([draw(st.sampled_from([0.0, 0.0, 2.5, 61.25])) for _ in range(n)])
    return d, delay


@settings(max_examples=120, deadline=None)
@given(detection_sets())
def test_writer_lines_read_back_as_written(case):
    d, delay = case
    sensors = _sensors(3)
    data = detection_lines(d, [string_token(s) for s in sensors.ids], delay)
    lines = data.splitlines()
    assert data.endswith(b"\n") and len(lines) == len(d)
    order = np.argsort(d.t, kind="stable")
    idx = sensors.index()
    for line, i in zip(lines, order):
        obj = orjson.loads(line)
        try:
            t, si, kind, z, s, pc, snr, icao, mid = parse_detection(obj, idx, sensors)
        except FieldError as e:  # pragma: no cover - the assertion names the field
            raise AssertionError(f"{line!r}: {e}") from None
        assert t == pytest.approx(d.t[i], abs=5e-4 + 1e-6) and si == d.sensor[i] and kind == d.kind[i]
        tol = {POLAR: [0.05, 5e-5, 5e-5, 5e-3], POS: [5e-8, 5e-8, 0.05, 0], BEARING: [5e-5, 5e-5, 0, 0]}[kind]
        for j in range(4):
            if np.isnan(d.z[i, j]):
                assert np.isnan(z[j])
            else:
                want = d.z[i, j] % 360.0 if (kind, j) in ((POLAR, 1), (BEARING, 0)) else d.z[i, j]
                assert z[j] == pytest.approx(want, abs=tol[j] + 1e-6)
            assert (np.isnan(s[j]) and np.isnan(d.sigma[i, j])) or s[j] == pytest.approx(d.sigma[i, j], abs=5e-3 + 1e-6)
        if np.isnan(d.p_class[i, 0]):
            assert pc is None
        else:
            assert np.allclose(pc, d.p_class[i], atol=1e-3)
        assert (np.isnan(snr) and np.isnan(d.snr_db[i])) or snr == pytest.approx(d.snr_db[i], abs=0.05 + 1e-6)
        assert icao == d.icao24.get(i) and mid == d.msg_id.get(i)
        if delay[i] > 0:
            assert obj["t_rx"] == pytest.approx(d.t[i] + delay[i], abs=5e-4 + 1e-6)
        else:
            assert "t_rx" not in obj


# --- the command line (a real process: exit codes, stderr, no traceback)

def cli(*args, cwd=None):
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "airshield.cli", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=300)


def test_cli_simulate_demo_writes_a_readable_run_directory(tmp_path):
    out = tmp_path / "demo"
    r = cli("simulate", "demo", "--out", out, "--duration", "40", "--seed", "3", "-q")
    assert r.returncode == 0, r.stderr
    assert "detections" in r.stderr and "Traceback" not in r.stderr
    for f in ("scenario.json", "sensors.json", "truth.jsonl", "detections.jsonl", "objects.json"):
        assert (out / f).is_file(), f
    sensors = read_sensors(out)
    assert {SENSOR_KINDS[k] for k in sensors.kind} == set(SENSOR_KINDS)
    skipped: list[Skipped] = []
    det = read_detections(out, sensors, skipped)
    truth = read_truth(out, skipped)
    assert skipped == [] and len(det) > 100 and len(truth) > 500
    assert set(CLASSES[c] for c in truth.cls) >= {"shahed", "decoy", "aircraft", "bird"}


def test_cli_scenarios_lists_builtins():
    r = cli("scenarios")
    assert r.returncode == 0
    names = [line.split()[0] for line in r.stdout.splitlines() if line.strip()]
    assert {"demo", "poland-2025-09-10", "mass-raid-800", "raid-300", "raid-1000"} <= set(names)


def test_cli_bad_scenario_key_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(SCENARIO.replace("spacing_s: 20}", "spacing_s: 20, bogus: 1}"))
    r = cli("simulate", bad, "--out", tmp_path / "o", "-q")
    assert r.returncode == 2
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in r.stderr
    assert str(bad) in err and "raids[0].bogus" in err and "unknown key" in err
    assert not (tmp_path / "o" / "truth.jsonl").exists()


def test_cli_yaml_error_and_unknown_builtin_exit_2(tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("name: x\nraids: [\n  {class: shahed\n")
    r = cli("simulate", bad, "--out", tmp_path / "o", "-q")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert f"{bad}:" in r.stderr and "YAML syntax error" in r.stderr
    r = cli("simulate", "no-such-raid", "--out", tmp_path / "o", "-q")
    assert r.returncode == 2 and "unknown built-in scenario 'no-such-raid'" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_cli_bad_sensor_spec_names_the_key(tmp_path):
    bad = tmp_path / "badsensor.yaml"
    bad.write_text(SCENARIO + "sensors:\n  - {kind: radar, id: r1, lat: 50.0, lon: 30.0, range_max_m: -5}\n")
    r = cli("simulate", bad, "--out", tmp_path / "o", "-q")
    assert r.returncode == 2 and "sensors[0].range_max_m" in r.stderr
    line = len(bad.read_text().splitlines())  # the sensor is on the last line of the file
    assert f"{bad}:{line}:" in r.stderr
    assert Path(tmp_path / "o").exists() is False


def test_bad_overrides_are_input_errors(tmp_path):
    from airshield.errors import InputError

    with pytest.raises(InputError, match="duration_s"):
        run(tmp_path, duration_s=0.0)
    with pytest.raises(InputError, match="seed"):
        run(tmp_path, seed=-1)
