"""``airshield track DIR`` end to end: contract TRACK records, bad lines, arrival
order, and fuzzed input that must never crash the verb."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

import tracksim as ts
from airshield.track.batch import load_run, track_run

REQUIRED = {"t", "track", "lat", "lon", "alt", "ve", "vn", "vu", "status"}


def _scenario(rng, n_targets=3, duration=80.0):
    sensors = [ts.radar(), ts.radar(sid="R2", lat=50.2, lon=30.25)]
    S = ts.sensors(*sensors)
    t = np.arange(0.0, duration, 1.0)
    parts, truth = [], []
    for k in range(n_targets):
        x, v = ts.line(t, 6e3 + 4e3 * k, 9e3 - 3e3 * k, 600.0 + 200 * k, -35.0 + 10 * k, 20.0)
        truth.append(x)
        parts.append(ts.polar_reports(S, 0, t, x, v, rng, pd=0.95))
        parts.append(ts.polar_reports(S, 1, t + 0.4, x + 0.4 * v, v, rng, pd=0.95))
    return sensors, S, ts.merge(*parts), truth


def test_cli_writes_contract_tracks_with_stable_ids(tmp_path):
    rng = np.random.default_rng(21)
    sensors, S, det, truth = _scenario(rng)
    run = ts.write_run(tmp_path / "run", sensors, det)
    proc = subprocess.run([sys.executable, "-m", "airshield.cli", "track", str(run), "-q"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "tracked" in proc.stderr and "reports/s" in proc.stderr
    recs = [json.loads(line) for line in (run / "tracks.jsonl").read_text().splitlines()]
    assert recs
    for r in recs:
        assert REQUIRED <= set(r)
        assert r["status"] in ("confirmed", "coasting")
        assert isinstance(r["track"], str)
        assert len(r["cov_pos_enu"]) == 9 and abs(sum(r["p_class"].values()) - 1.0) < 1e-3
        assert r["t"] == round(r["t"])  # on the 1 s output tick
    # one record per track per tick; every id lives one unbroken stretch of ticks
    by_id: dict[str, list[float]] = {}
    for r in recs:
        by_id.setdefault(r["track"], []).append(r["t"])
    for ts_ in by_id.values():
        assert len(ts_) == len(set(ts_))
        assert np.allclose(np.diff(ts_), 1.0)
    assert len(by_id) == 3  # three objects, two radars: no duplicates
    # and the tracks are where the objects are (ENU velocities at the track)
    last = max(r["t"] for r in recs)
    final = [r for r in recs if r["t"] == last - 2]
    assert len(final) == 3
    for r in final:
        assert abs(np.hypot(r["ve"], r["vn"]) - np.hypot(-35.0 + 10 * 0, 20.0)) < 30.0


def test_bad_lines_are_reported_with_file_and_line_and_the_rest_is_tracked(tmp_path):
    rng = np.random.default_rng(22)
    sensors, S, det, _ = _scenario(rng, n_targets=2, duration=60.0)
    bad = [(10, '{"t": 3.0, "sensor": "R1", "polar": {'),  # malformed JSON -> line 11
           (20, '{"t": 5.0, "sensor": "NOPE", "pos": {"lat": 50, "lon": 30, "alt": 1}}'),
           (30, '{"t": 7.0, "sensor": "R1", "polar": {"range_m": -5, "az_deg": 1, "el_deg": 1}}')]
    run = ts.write_run(tmp_path / "run", sensors, det, extra_lines=bad)
    res = track_run(run, progress=False)
    where = sorted((s.line, s.field) for s in res.skipped)
    assert where == [(11, None), (22, "sensor"), (33, "polar.range_m")]
    assert all(s.file.endswith("detections.jsonl") for s in res.skipped)
    assert res.fatal  # unreadable lines and an unknown sensor: non-zero exit
    assert res.n_tracks == 2 and res.n_reports == len(det)
    proc = subprocess.run([sys.executable, "-m", "airshield.cli", "track", str(run), "-q"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "detections.jsonl:11" in proc.stderr and "Traceback" not in proc.stderr
    assert (run / "tracks.jsonl").stat().st_size > 0  # everything good still written


def test_arrival_times_come_from_t_rx_and_bad_ones_are_reported(tmp_path):
    rng = np.random.default_rng(23)
    sensors, S, det, _ = _scenario(rng, n_targets=1, duration=20.0)
    t_rx = np.full(len(det), np.nan)
    t_rx[3] = det.t[3] + 12.5
    t_rx[5] = det.t[5] - 4.0  # arrival before measurement: reported, t used
    run = ts.write_run(tmp_path / "run", sensors, det, t_rx=t_rx)
    inp = load_run(run)
    assert inp.arrival[3] == pytest.approx(det.t[3] + 12.5)
    assert inp.arrival[5] == pytest.approx(det.t[5])
    assert [(w.line, w.field) for w in inp.warnings] == [(6, "t_rx")]
    res = track_run(run)
    assert res.stats.late == 1 and not res.fatal


_value = hs.one_of(hs.none(), hs.booleans(), hs.integers(-10**6, 10**6),
                   hs.floats(allow_nan=True, allow_infinity=True), hs.text(max_size=5))
_meas = hs.sampled_from(["polar", "pos", "bearing", "oops"])
_keys = {"polar": ["range_m", "az_deg", "el_deg", "rr_mps", "sigma_range_m"],
         "pos": ["lat", "lon", "alt", "sigma_h_m", "sigma_v_m"],
         "bearing": ["az_deg", "el_deg", "sigma_az_deg"], "oops": ["x"]}


@hs.composite
def _detection_line(draw):
    kind = draw(_meas)
    body = {k: draw(hs.one_of(_value, hs.floats(-100, 1e5))) for k in _keys[kind]}
    obj = {"t": draw(hs.one_of(_value, hs.floats(0, 50))),
           "sensor": draw(hs.sampled_from(["R1", "R2", "ZZ", 5])), kind: body}
    if draw(hs.booleans()):
        obj["t_rx"] = draw(_value)
    if draw(hs.booleans()):
        obj["class"] = draw(hs.one_of(_value, hs.dictionaries(hs.sampled_from(["shahed", "bird", "x"]),
                                                              _value, max_size=3)))
    raw = orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY).decode() if draw(hs.booleans()) \
        else draw(hs.text(max_size=30))
    return raw.replace("\n", " ")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=hs.lists(_detection_line(), max_size=12))
def test_fuzzed_detection_lines_never_crash_and_are_all_accounted_for(tmp_path_factory, lines):
    rng = np.random.default_rng(24)
    sensors, S, det, _ = _scenario(rng, n_targets=1, duration=15.0)
    run = ts.write_run(tmp_path_factory.mktemp("fz"), sensors, det,
                       extra_lines=[(3 * i, s) for i, s in enumerate(lines)])
    res = track_run(run)
    n_lines = sum(1 for ln in (run / "detections.jsonl").read_bytes().split(b"\n") if ln.strip())
    assert res.n_reports + len(res.skipped) == n_lines  # every line used or reported
    for w in res.warnings + res.skipped:
        assert w.line >= 1 and str(w).startswith(str(run / "detections.jsonl"))
    for line in (run / "tracks.jsonl").read_text().splitlines():
        r = json.loads(line)
        assert all(np.isfinite(r[k]) for k in ("lat", "lon", "alt", "ve", "vn", "vu"))


def test_a_stray_far_future_time_stamp_does_not_stall_the_replay(tmp_path):
    # one valid line at t = 1e9 s: the replay must jump the empty hours, not step them
    rng = np.random.default_rng(25)
    sensors, S, det, _ = _scenario(rng, n_targets=1, duration=20.0)
    stray = '{"t": 1000000000.0, "sensor": "R1", "polar": {"range_m": 5000, "az_deg": 10, "el_deg": 2}}'
    run = ts.write_run(tmp_path / "run", sensors, det, extra_lines=[(len(det), stray)])
    res = track_run(run)
    assert res.n_reports == len(det) + 1 and res.wall_s < 60.0
    assert res.n_tracks == 1


def test_cli_set_overrides_tracker_settings_and_rejects_bad_ones(tmp_path):
    """``airshield track --set KEY=VALUE``: a setting reaches the tracker (the
    one-model filter gives other estimates than the IMM on the same run), and a
    bad key or value stops before tracking with a one-line error naming it."""
    from airshield.track.config import TrackerConfig, with_settings

    rng = np.random.default_rng(22)
    sensors, S, det, truth = _scenario(rng, n_targets=2, duration=40.0)
    run = ts.write_run(tmp_path / "run", sensors, det)

    def track(*extra, out="t.jsonl"):
        return subprocess.run([sys.executable, "-m", "airshield.cli", "track", str(run), "-q",
                               "--out", str(tmp_path / out), *extra],
                              capture_output=True, text=True, timeout=300)

    assert track(out="imm.jsonl").returncode == 0
    p = track("--set", "imm=false", "--set", "gate_p=0.999", out="ncv.jsonl")
    assert p.returncode == 0, p.stderr
    imm, ncv = ((tmp_path / f).read_bytes() for f in ("imm.jsonl", "ncv.jsonl"))
    assert imm != ncv and len(ncv.splitlines()) > 40
    for args, field in ((["--set", "gate_p=1.5"], "gate_p"), (["--set", "nosuch=1"], "nosuch"),
                        (["--set", "imm=3"], "imm"), (["--set", "sojourn_s=[1, 2]"], "sojourn_s"),
                        (["--set", "q_h=none"], "q_h"), (["--set", "imm"], None)):
        p = track(*args, out="bad.jsonl")
        assert p.returncode == 2
        msg = p.stderr.strip().splitlines()
        assert len(msg) == 1 and msg[0].startswith("airshield: error: --set:")
        assert field is None or f" {field}: " in msg[0]
        assert not (tmp_path / "bad.jsonl").exists()  # nothing tracked, nothing written
    cfg = with_settings(["stale_gate_p=0.99", "show_again_rms_m=450", "sojourn_s=[30, 5, 5]",
                         "alt_floor_m=None", "batch_bins_max=2"])
    assert (cfg.stale_gate_p, cfg.show_again_rms_m, cfg.sojourn_s, cfg.alt_floor_m,
            cfg.batch_bins_max) == (0.99, 450.0, (30.0, 5.0, 5.0), None, 2)
    assert with_settings([]) == TrackerConfig()
