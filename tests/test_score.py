"""airshield score: GOSPA against hand computations and a brute force, time
alignment, track breaks, latency, the CLI's JSON and its one-line errors."""

import itertools
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment
from typer.testing import CliRunner

from airshield.cli import app
from airshield.errors import InputError
from airshield.geo import ecef_to_enu_vectors, enu_to_ecef_vectors, enu_to_geodetic
from airshield.io.jsonl import write_json, write_jsonl
from airshield.metrics.align import sample_tracks, truth_steps
from airshield.metrics.continuity import latency_stats, track_continuity
from airshield.metrics.gospa import gospa, gospa_steps
from airshield.score import format_score, read_objects, score_run

C = 1000.0
ORIGIN = (50.45, 30.52, 0.0)


# --- run-directory helpers -------------------------------------------------

def _geo(e, n, u):
    lat, lon, alt = enu_to_geodetic(e, n, u, *ORIGIN)
    return float(lat), float(lon), float(alt)


def truth_rec(t, oid, e, n=0.0, u=500.0, cls="shahed"):
    lat, lon, alt = _geo(e, n, u)
    return {"t": t, "id": oid, "class": cls, "lat": lat, "lon": lon, "alt": alt,
            "ve": 0.0, "vn": 0.0, "vu": 0.0}


def track_rec(t, tid, e, n=0.0, u=500.0, v=(0.0, 0.0, 0.0)):
    """A TRACK at origin-ENU (e, n, u) moving with origin-ENU velocity v,
    written as the contract says: velocity in ENU at the track itself."""
    lat, lon, alt = _geo(e, n, u)
    x, y, z = enu_to_ecef_vectors(*v, ORIGIN[0], ORIGIN[1])
    ve, vn, vu = (float(a) for a in ecef_to_enu_vectors(x, y, z, lat, lon))
    return {"t": t, "track": tid, "lat": lat, "lon": lon, "alt": alt,
            "ve": ve, "vn": vn, "vu": vu, "status": "confirmed"}


def make_run(d: Path, truth, tracks, objects=None, origin=ORIGIN) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    write_json(d / "scenario.json", {"name": "test", "epoch": "2025-01-01T00:00:00Z",
                                     "duration_s": 60, "seed": 1,
                                     "origin": dict(zip(("lat", "lon", "alt"), origin))})
    write_jsonl(d / "truth.jsonl", truth)
    if tracks is not None:
        write_jsonl(d / "tracks.jsonl", tracks)
    if objects is not None:
        write_json(d / "objects.json", {"objects": objects})
    return d


# --- GOSPA by hand ---------------------------------------------------------

def test_identical_sets_score_zero():
    x = np.array([[0, 0, 0], [100, 0, 0], [0, 5000, 300]], float)
    assert gospa(x, x) == (0.0, 0.0, 0.0, 0.0)


def test_one_truth_no_track_is_c_over_root_two():
    d, loc, missed, false = gospa([[0, 0, 0]], np.empty((0, 3)))
    assert d == pytest.approx(C / math.sqrt(2)) and missed == pytest.approx(C ** 2 / 2)
    assert loc == 0 and false == 0


def test_track_300_m_away_scores_300():
    assert gospa([[0, 0, 0]], [[0, 300, 0]])[:2] == pytest.approx((300.0, 300.0 ** 2))


def test_track_beyond_c_leaves_both_unassigned():
    d, loc, missed, false = gospa([[0, 0, 0]], [[2000, 0, 0]])
    assert d == pytest.approx(C)
    assert (loc, missed, false) == (0.0, C ** 2 / 2, C ** 2 / 2)


def test_two_truths_one_track_by_hand():
    # Truths at 0 and 600 m, track at 400 m: the 200 m pair wins,
    # 200^2 + c^2/2 = 540,000 < 400^2 + c^2/2 = 660,000.
    d, loc, missed, false = gospa([[0, 0, 0], [600, 0, 0]], [[400, 0, 0]])
    assert d == pytest.approx(math.sqrt(540_000.0))
    assert (loc, missed, false) == pytest.approx((40_000.0, 500_000.0, 0.0))


def test_greedy_is_not_optimal_but_gospa_is():
    # Nearest-first would pair T1-Y1 (10 m), leaving T2 with Y2 at 990 m;
    # the optimum pairs T1-Y2 (20 m) and T2-Y1 (30 m).
    x = [[0, 0, 0], [40, 0, 0]]
    y = [[10, 0, 0], [-20, 0, 0]]
    assert gospa(x, y)[1] == pytest.approx(20.0 ** 2 + 30.0 ** 2)


def brute_gospa(x, y, c=C, p=2.0):
    """Definition: min over injections of the smaller set, min(d, c)^p, plus
    c^p/2 per element left over."""
    x, y = np.asarray(x, float).reshape(-1, 3), np.asarray(y, float).reshape(-1, 3)
    if len(x) > len(y):
        x, y = y, x
    best = math.inf
    for perm in itertools.permutations(range(len(y)), len(x)):
        s = sum(min(np.linalg.norm(x[i] - y[j]), c) ** p for i, j in enumerate(perm))
        best = min(best, s)
    return (best + c ** p / 2 * (len(y) - len(x))) ** (1 / p)


def dense_gospa_pow(x, y, c=C, p=2.0):
    """Independent reference: the square augmented matrix with dummy rows and
    columns at c^p/2, solved densely."""
    m, n = len(x), len(y)
    big = 1e18
    a = np.zeros((m + n, n + m))
    a[:m, :n] = np.minimum(np.linalg.norm(x[:, None] - y[None], axis=2), c) ** p if m and n else 0
    a[:m, n:] = big
    a[m:, :n] = big
    a[:m, n:][np.diag_indices(m)] = c ** p / 2
    a[m:, :n][np.diag_indices(n)] = c ** p / 2
    r, k = linear_sum_assignment(a)
    return a[r, k].sum()


points = st.lists(st.tuples(*[st.floats(-1500, 1500, allow_nan=False)] * 2,
                            st.floats(0, 300, allow_nan=False)), max_size=4)


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(st.tuples(points, points), min_size=1, max_size=3))
def test_gospa_matches_brute_force_and_parts_add_up(steps):
    xs = [np.array(a, float).reshape(-1, 3) for a, _ in steps]
    ys = [np.array(b, float).reshape(-1, 3) for _, b in steps]
    g = gospa_steps(np.concatenate(xs), np.repeat(np.arange(len(xs)), [len(a) for a in xs]),
                    np.concatenate(ys), np.repeat(np.arange(len(ys)), [len(b) for b in ys]),
                    len(steps))
    for s, (a, b) in enumerate(zip(xs, ys)):
        assert g.distance[s] == pytest.approx(brute_gospa(a, b), rel=1e-9, abs=1e-6)
    parts = g.localisation + g.missed + g.false
    np.testing.assert_allclose(parts, g.distance ** 2, rtol=1e-12, atol=1e-6)
    # Only pairs closer than c are assigned, one per truth and per track.
    assert np.all(g.pair_dist < C)
    assert len(set(g.pair_truth)) == len(g.pair_truth) == len(set(g.pair_track))


def test_gospa_many_steps_matches_dense_reference():
    rng = np.random.default_rng(7)
    xs, ys, sx, sy = [], [], [], []
    for s in range(20):
        m, n = rng.integers(0, 25, 2)
        c0 = rng.uniform(-2000, 2000, 3)
        xs.append(c0 + rng.normal(0, 800, (m, 3)))
        ys.append(c0 + rng.normal(0, 800, (n, 3)))
        sx += [s] * m
        sy += [s] * n
    g = gospa_steps(np.concatenate(xs), sx, np.concatenate(ys), sy, 20)
    ref = [dense_gospa_pow(a, b) for a, b in zip(xs, ys)]
    np.testing.assert_allclose(g.localisation + g.missed + g.false, ref, rtol=1e-9)


def test_pairs_never_cross_steps():
    g = gospa_steps([[0, 0, 0]], [0], [[0, 0, 0]], [1], 2)
    np.testing.assert_allclose(g.distance, [C / math.sqrt(2)] * 2)
    assert len(g.pair_truth) == 0


# --- time alignment --------------------------------------------------------

def test_truth_steps_group_equal_times_and_fill_a_lull():
    t = np.array([0.0, 0.0, 1.0, 2.0 + 1e-9, 2.0, 5.0, 6.0])
    step_t, idx = truth_steps(t)
    np.testing.assert_allclose(step_t, [0, 1, 2, 3, 4, 5, 6], atol=1e-8)
    assert idx.tolist() == [0, 0, 1, 2, 2, 5, 6]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.booleans(), min_size=12, max_size=12), min_size=1, max_size=4),
       st.sampled_from([0.0, 0.25, 0.5, 0.75]), st.sampled_from([1.0, 2.0, 3.0]))
def test_sample_tracks_picks_the_nearest_record_within_half_an_interval(present, phase, interval):
    steps = np.arange(30.0)
    t, tr = [], []
    for k, row in enumerate(present):
        for i, on in enumerate(row):
            if on:
                t.append(phase + i * interval)
                tr.append(k)
    t, tr = np.array(t), np.array(tr)
    got = sample_tracks(steps, t, tr, interval)
    rec, step, dt = got.rec, got.step, got.dt
    assert len(set(zip(tr[rec], step))) == len(rec)  # a track once per step
    assert np.all(np.abs(dt) <= interval / 2 + 1e-9)
    for k in range(len(present)):
        mine = t[tr == k]
        for s in steps:
            gap = np.abs(mine - s)
            got = rec[(tr[rec] == k) & (step == s)]
            if len(mine) and gap.min() < interval / 2 - 1e-9:
                assert len(got) == 1 and abs(t[got[0]] - s) == pytest.approx(gap.min())
            elif not len(mine) or gap.min() > interval / 2 + 1e-9:
                assert len(got) == 0


def test_misaligned_track_ticks_are_extrapolated_with_velocity(tmp_path):
    # Truth moves 20 m/s east, sampled at whole seconds; the tracker writes at
    # half seconds with the right velocity: extrapolated it sits on the truth.
    truth = [truth_rec(float(t), "o1", 20.0 * t) for t in range(11)]
    tracks = [track_rec(t + 0.5, "A", 20.0 * (t + 0.5), v=(20.0, 0.0, 0.0)) for t in range(11)]
    r = score_run(make_run(tmp_path, truth, tracks))
    assert r["track_interval_s"] == pytest.approx(1.0)
    assert r["extrapolated_track_samples"] == 11
    assert r["gospa_mean"] == pytest.approx(0.0, abs=0.05)
    assert r["gospa_missed"] == 0 and r["gospa_false"] == 0


def test_enu_is_3d_at_the_origin_frame(tmp_path):
    # Same lat/lon, 300 m higher, 400 km from the origin: still 300 m apart.
    lat, lon, _ = _geo(300_000.0, 250_000.0, 0.0)
    base = {"t": 0.0, "id": "o1", "class": "shahed", "lat": lat, "lon": lon, "alt": 100.0,
            "ve": 0.0, "vn": 0.0, "vu": 0.0}
    trk = {"t": 0.0, "track": "A", "lat": lat, "lon": lon, "alt": 400.0, "ve": 0.0, "vn": 0.0,
           "vu": 0.0, "status": "coasting"}
    r = score_run(make_run(tmp_path, [base], [trk]))
    assert r["gospa_mean"] == pytest.approx(300.0, abs=1e-3)
    assert r["localisation_error_mean_m"] == pytest.approx(300.0, abs=1e-3)


def test_false_tracks_in_a_lull_between_truth_samples_are_charged(tmp_path):
    truth = [truth_rec(float(t), "o1", 0.0) for t in (0, 1, 2, 5, 6)]
    tracks = [track_rec(float(t), "A", 0.0) for t in range(7)]
    r = score_run(make_run(tmp_path, truth, tracks))
    assert r["steps"] == 7 and r["steps_without_truth"] == 2
    assert r["gospa_mean"] == pytest.approx(2 * (C / math.sqrt(2)) / 7)
    assert r["gospa_false_count_mean"] == pytest.approx(2 / 7)
    assert r["track_gaps"] == 0  # o1 has no sample at 3 and 4: absent, not missed


# --- continuity ------------------------------------------------------------

def _cont(seq):
    """One truth object, steps 0..n-1, assigned track ids (-1 none)."""
    n = len(seq)
    return track_continuity(np.zeros(n, int), np.arange(n), np.array(seq), 1)


@pytest.mark.parametrize("seq,switches,gaps,used", [
    ([0, 0, 0, 1, 1], 1, 0, 2),          # A then B
    ([0, 0, -1, -1, 0], 0, 1, 1),        # A, gap, A
    ([0, -1, 1], 1, 1, 2),               # A, gap, B: both counted
    ([-1, -1, 0, 0, -1], 0, 0, 1),       # before the first and after the last: no gap
    ([0, 1, 0, -1, 0, -1, 1], 3, 2, 2),
    ([-1, -1], 0, 0, 0),
])
def test_breaks_by_hand(seq, switches, gaps, used):
    c = _cont(seq)
    assert (int(c.id_switches[0]), int(c.track_gaps[0]), int(c.tracks_used[0])) == (switches, gaps, used)
    assert c.track_breaks == switches + gaps


def test_breaks_follow_each_object_not_file_order():
    obj = np.array([1, 0, 1, 0, 1, 0])
    step = np.array([2, 2, 0, 0, 1, 1])
    assigned = np.array([5, 3, 5, -1, 4, 3])  # obj 1: 5, 4, 5 -> 2 switches; obj 0: -,3,3
    c = track_continuity(obj, step, assigned, 2)
    assert c.id_switches.tolist() == [0, 2] and c.track_gaps.tolist() == [0, 0]
    assert c.first_assigned_step.tolist() == [1, 0]
    assert c.tracks_per_truth == pytest.approx((1 + 2) / 2)


def test_swap_between_two_objects(tmp_path):
    # Two objects 5 km apart; tracks A and B swap objects half-way.
    truth, tracks = [], []
    for t in range(10):
        truth += [truth_rec(float(t), "o1", 0.0), truth_rec(float(t), "o2", 5000.0)]
        a, b = (0.0, 5000.0) if t < 5 else (5000.0, 0.0)
        tracks += [track_rec(float(t), "A", a + 10.0), track_rec(float(t), "B", b - 10.0)]
    r = score_run(make_run(tmp_path, truth, tracks))
    assert r["id_switches"] == 2 and r["track_gaps"] == 0 and r["track_breaks"] == 2
    assert r["tracks_per_truth"] == pytest.approx(2.0)
    assert r["false_tracks"] == 0 and r["tracked_objects"] == 2
    assert r["gospa_mean"] == pytest.approx(math.sqrt(2) * 10.0)


def test_false_tracks_are_tracks_never_assigned(tmp_path):
    truth = [truth_rec(float(t), "o1", 0.0) for t in range(5)]
    tracks = ([track_rec(float(t), "A", 50.0) for t in range(5)]
              + [track_rec(float(t), "ghost", 9000.0) for t in range(5)])
    r = score_run(make_run(tmp_path, truth, tracks))
    assert r["tracks"] == 2 and r["false_tracks"] == 1
    assert r["gospa_false"] == pytest.approx(C ** 2 / 2)
    assert r["gospa_localisation"] == pytest.approx(2500.0)
    assert r["gospa_mean"] == pytest.approx(math.sqrt(2500.0 + C ** 2 / 2))


# --- latency and classes -----------------------------------------------------

def _latency_run(tmp_path, objects):
    truth, tracks = [], []
    first_track = {"o1": 5, "o2": 1, "o3": None, "o4": 3}
    for t in range(10):
        for k, (oid, ft) in enumerate(first_track.items()):
            truth.append(truth_rec(float(t), oid, 3000.0 * k, cls="decoy" if k % 2 else "shahed"))
            if ft is not None and t >= ft:
                tracks.append(track_rec(float(t), f"T{oid}", 3000.0 * k + 20.0 * k))
    return make_run(tmp_path, truth, tracks, objects)


def test_latency_from_objects_json(tmp_path):
    objects = [{"id": "o1", "class": "shahed", "first_detected_t": 2.0},
               {"id": "o2", "class": "decoy", "first_detected_t": 0.0},
               {"id": "o3", "class": "shahed", "first_detected_t": 4.0},
               {"id": "o4", "class": "decoy", "first_detected_t": None}]
    r = score_run(_latency_run(tmp_path, objects))
    # o1: 5 - 2 = 3; o2: 1 - 0 = 1; o3 never tracked; o4 never detected.
    assert r["latency_reference"].startswith("first_detected_t")
    assert r["latency_median_s"] == pytest.approx(2.0)
    assert r["latency_p90_s"] == pytest.approx(1.0 + 0.9 * 2.0)
    assert (r["latency_objects"], r["latency_not_tracked"], r["latency_no_reference"]) == (2, 1, 1)


def test_latency_without_objects_json_uses_first_truth(tmp_path):
    r = score_run(_latency_run(tmp_path, None))
    assert r["latency_reference"].startswith("first_truth_t")
    # first tracks at 5, 1, 3 after truth from 0: median 3, p90 = 3 + 0.8 * 2
    assert r["latency_median_s"] == pytest.approx(3.0)
    assert r["latency_p90_s"] == pytest.approx(4.6)
    assert r["latency_not_tracked"] == 1


def test_per_class_breakdown(tmp_path):
    r = score_run(_latency_run(tmp_path, None))
    sh, de = r["per_class"]["shahed"], r["per_class"]["decoy"]
    # shahed: o1 (tracked 5 of 10 steps, 0 m), o3 (never); decoy: o2 (9 of 10,
    # 20 m), o4 (7 of 10, 60 m).
    assert (sh["objects"], sh["tracked_objects"], sh["samples"]) == (2, 1, 20)
    assert sh["tracked_share"] == pytest.approx(5 / 20)
    assert sh["mean_error_m"] == pytest.approx(0.0, abs=1e-6)
    assert (de["objects"], de["tracked_objects"]) == (2, 2)
    assert de["tracked_share"] == pytest.approx(16 / 20)
    assert de["mean_error_m"] == pytest.approx((9 * 20.0 + 7 * 60.0) / 16, abs=1e-4)


def test_latency_stats_counts():
    s = latency_stats([np.nan, 4.0, 7.0], [1.0, np.nan, 2.0])
    assert s["latency_median_s"] == 5.0 and s["latency_objects"] == 1
    assert s["latency_not_tracked"] == 1 and s["latency_no_reference"] == 1


@pytest.mark.parametrize("doc,field", [
    ({"objects": [{"first_detected_t": 1.0}]}, "objects[0].id"),
    ({"objects": [{"id": "a", "first_detected_t": "soon"}]}, "objects[0].first_detected_t"),
    ({"objects": [{"id": "a"}, {"id": "a"}]}, "objects[1].id"),
    ({"objects": [3]}, "objects[0]"),
    ({"things": []}, "objects"),
])
def test_bad_objects_json_names_the_field(tmp_path, doc, field):
    p = tmp_path / "objects.json"
    write_json(p, doc)
    with pytest.raises(InputError) as e:
        read_objects(p)
    assert str(p) in str(e.value) and field in str(e.value)


json_values = st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
                           lambda v: st.lists(v, max_size=3) | st.dictionaries(st.text(max_size=5), v, max_size=3),
                           max_leaves=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=st.one_of(json_values, st.fixed_dictionaries({"objects": st.lists(
    st.fixed_dictionaries({"id": json_values, "first_detected_t": json_values}), max_size=3)})))
def test_read_objects_fuzz_never_crashes(tmp_path, doc):
    p = tmp_path / "objects.json"
    p.write_text(json.dumps(doc))
    try:
        out = read_objects(p)
    except InputError as e:
        assert str(p) in str(e)
    else:
        assert all(v is None or math.isfinite(v) for v in out.values())


# --- CLI -------------------------------------------------------------------

@pytest.fixture
def small_run(tmp_path):
    truth = [truth_rec(float(t), "o1", 0.0) for t in range(5)]
    tracks = [track_rec(float(t), "A", 0.0, 300.0) for t in range(5)]
    return make_run(tmp_path / "run", truth, tracks)


def test_cli_json(small_run):
    res = CliRunner().invoke(app, ["score", str(small_run), "--json"])
    assert res.exit_code == 0, res.output
    doc = orjson.loads(res.stdout)
    for key in ("gospa_mean", "gospa_localisation", "gospa_missed", "gospa_false",
                "track_breaks", "tracks_per_truth"):
        assert key in doc
    assert doc["gospa_mean"] == pytest.approx(300.0, abs=1e-3)
    assert doc["tracks_per_truth"] == 1.0 and doc["track_breaks"] == 0


def test_cli_table(small_run):
    res = CliRunner().invoke(app, ["score", str(small_run)])
    assert res.exit_code == 0 and "GOSPA" in res.stdout and "shahed" in res.stdout
    assert format_score(score_run(small_run)) is not None


def test_cli_tracks_option_scores_another_file(small_run):
    other = small_run / "other.jsonl"
    write_jsonl(other, [track_rec(float(t), "B", 0.0, 0.0, 800.0) for t in range(5)])
    res = CliRunner().invoke(app, ["score", str(small_run), "--json", "--tracks", str(other)])
    assert res.exit_code == 0, res.output
    doc = orjson.loads(res.stdout)
    assert doc["gospa_mean"] == pytest.approx(300.0, abs=1e-3) and doc["tracks_file"] == str(other)


def test_cli_missing_tracks_is_one_line_exit_2(small_run):
    (small_run / "tracks.jsonl").unlink()
    res = CliRunner().invoke(app, ["score", str(small_run), "--json"])
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "tracks.jsonl" in lines[0] and "no such file" in lines[0]
    assert "Traceback" not in res.output


@pytest.mark.parametrize("bad,field", [(b"{not json\n", None), (b'{"t": 2.0, "track": "A"}\n', "status"),
                                       (b'{"t": 2.0, "track": "A", "status": "confirmed"}\n', "lat")])
def test_cli_malformed_tracks_line_names_file_and_line(small_run, bad, field):
    p = small_run / "tracks.jsonl"
    lines = p.read_bytes().splitlines(keepends=True)
    p.write_bytes(b"".join(lines[:2] + [bad] + lines[2:]))
    res = CliRunner().invoke(app, ["score", str(small_run), "--json"])
    assert res.exit_code == 2 and res.stdout == ""
    assert "tracks.jsonl:3" in res.stderr and (field is None or field in res.stderr)
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.output


def test_installed_command_exit_code(small_run):
    exe = Path(sys.executable).with_name("airshield")
    (small_run / "truth.jsonl").write_text('{"t": 0, "id": "o1", "class": "shahed"}\n')
    p = subprocess.run([str(exe), "score", str(small_run), "--json"], capture_output=True, text=True)
    assert p.returncode == 2 and p.stdout == ""
    assert "truth.jsonl:1" in p.stderr and "Traceback" not in p.stderr


track_fields = st.fixed_dictionaries({}, optional={
    k: st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(), st.text(max_size=3))
    for k in ("t", "track", "lat", "lon", "alt", "ve", "vn", "vu", "status")})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rec=track_fields)
def test_score_fuzzed_track_line_is_scored_or_an_input_error(small_run, rec):
    p = small_run / "tracks.jsonl"
    good = [track_rec(float(t), "A", 0.0, 300.0) for t in range(5)]
    p.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in good) + json.dumps(rec).encode() + b"\n")
    try:
        r = score_run(small_run)
    except InputError as e:
        assert "tracks.jsonl:6" in str(e)
    else:
        assert math.isfinite(r["gospa_mean"]) and r["gospa_mean"] >= 0


# --- coverage and GOSPA over the observable truth ----------------------------

def _sensor(sid, kind, e, n, **kw):
    lat, lon, alt = _geo(e, n, 0.0)
    return {"id": sid, "kind": kind, "lat": lat, "lon": lon, "alt": alt, **kw}


def _coverage_at(points, sensors, cls="shahed"):
    from airshield import CLASS_INDEX
    from airshield.metrics.coverage import truth_coverage

    # points: (east, north) in the origin's ENU, then the height above the ellipsoid
    lat, lon, _ = (np.array(a) for a in zip(*[_geo(e, n, 0.0) for e, n, _ in points]))
    alt = np.array([h for _, _, h in points], float)
    return truth_coverage(lat, lon, alt, np.full(len(points), CLASS_INDEX[cls]), sensors)


def test_coverage_two_microphones_fix_a_position_one_does_not():
    mics = [_sensor("m1", "acoustic", 0.0, 0.0, range_max_m=5000.0),
            _sensor("m2", "acoustic", 6000.0, 0.0, range_max_m=5000.0,
                    range_by_class_m={"shahed": 4000.0})]
    # 3 km east: both in reach; 1 km east: only m1 (m2's shahed reach is 4 km); 20 km: none
    cov = _coverage_at([(3000.0, 0.0, 300.0), (1000.0, 0.0, 300.0), (20000.0, 0.0, 300.0)], mics)
    assert cov.n_direction.tolist() == [2, 1, 0]
    assert cov.observable.tolist() == [True, False, False] and not cov.radar.any()


def test_coverage_radar_reach_horizon_sectors_and_minimum_range():
    # Swerling I: pd 0.9 at 40 km for 1 m^2, pfa 1e-6 -> seen half the time out to
    # 40 km * (snr_ref / snr_half)^(1/4) for 1 m^2 (hand formula below)
    snr_ref = math.log(1e-6) / math.log(0.9) - 1.0
    snr_half = math.log(1e-6) / math.log(0.5) - 1.0
    r_half = 40_000.0 * (snr_ref / snr_half) ** 0.25  # about 64.8 km
    radar = _sensor("r1", "radar", 0.0, 0.0, range_max_m=150_000.0, range_min_m=500.0, pd=0.9,
                    pfa=1e-6, ref_range_m=40_000.0, ref_rcs_m2=1.0,
                    rcs_m2={"shahed": 1.0, "decoy": 0.1}, el_min_deg=-2.0, el_max_deg=60.0,
                    sectors=[{"az_from_deg": 300.0, "az_to_deg": 60.0}])
    pts = [(0.0, 0.97 * r_half, 3000.0),  # north, inside the reach, above the horizon
           (0.0, 1.03 * r_half, 3000.0),  # just beyond it
           (0.0, 0.97 * r_half, 30.0),  # inside the reach but below the 4/3-Earth horizon
           (0.97 * r_half, 0.0, 3000.0),  # east: outside the 300-60 deg sector
           (0.0, 300.0, 100.0)]  # nearer than range_min_m
    assert _coverage_at(pts, [radar]).radar.tolist() == [True, False, False, False, False]
    # a decoy (0.1 m^2) is seen half the time only to 0.1^(1/4) of that
    r_decoy = r_half * 0.1 ** 0.25
    assert _coverage_at([(0.0, 0.95 * r_decoy, 3000.0), (0.0, 1.05 * r_decoy, 3000.0)], [radar],
                        "decoy").radar.tolist() == [True, False]


def _observable_run(d: Path, tracks) -> Path:
    # one radar (contract fields only: range_max_m) sees 10 km around the origin;
    # o1 is 5 km east (observable), o2 50 km east (no sensor sees it)
    truth = [truth_rec(float(t), o, e) for t in range(4) for o, e in (("o1", 5000.0), ("o2", 50000.0))]
    run = make_run(d, truth, tracks)
    write_json(run / "sensors.json", {"sensors": [_sensor("r1", "radar", 0.0, 0.0, range_max_m=10_000.0,
                                                          el_min_deg=-5.0)]})
    return run


def test_observable_gospa_by_hand(tmp_path):
    # A 300 m off o1; B 200 m off o2 (held through a gap in coverage: not false); F false
    tracks = [r for t in range(4) for r in (track_rec(float(t), "A", 5300.0),
                                            track_rec(float(t), "B", 50200.0),
                                            track_rec(float(t), "F", 90000.0))]
    r = score_run(_observable_run(tmp_path / "a", tracks))
    half = C ** 2 / 2
    assert r["gospa_mean"] == pytest.approx(math.sqrt(300 ** 2 + 200 ** 2 + half), rel=1e-6)
    assert r["observable_share"] == pytest.approx(0.5)
    assert r["gospa_observable_localisation"] == pytest.approx(300 ** 2, rel=1e-6)
    assert r["gospa_observable_missed"] == 0 and r["gospa_observable_false"] == pytest.approx(half)
    assert r["gospa_observable_mean"] == pytest.approx(math.sqrt(300 ** 2 + half), rel=1e-6)
    # no track on the unseen o2: a miss for the full GOSPA, nothing for the observable one
    r = score_run(_observable_run(tmp_path / "b", [track_rec(float(t), "A", 5300.0) for t in range(4)]))
    assert r["gospa_missed"] == pytest.approx(half) and r["gospa_observable_missed"] == 0
    assert r["gospa_observable_mean"] == pytest.approx(300.0, rel=1e-6)
    # the contract's fields are the same with and without the option
    off = score_run(tmp_path / "a", observable=False)
    on = score_run(tmp_path / "a")
    assert off["gospa_observable_mean"] is None and off["observable_model"] is None
    assert {k: v for k, v in off.items() if "observable" not in k} == \
        {k: v for k, v in on.items() if "observable" not in k}


def test_observable_gospa_without_sensors_json_is_null(small_run):
    r = score_run(small_run)
    assert r["gospa_observable_mean"] is None and r["observable_share"] is None


def test_observable_gospa_bad_sensors_json_names_the_file(tmp_path):
    # an extra must not break the contract's score: null, and the reason with file and field
    run = _observable_run(tmp_path, [track_rec(0.0, "A", 5300.0)])
    good = score_run(run)
    write_json(run / "sensors.json", {"sensors": [{"id": "r1", "kind": "radar", "lat": 95.0, "lon": 0.0,
                                                   "alt": 0.0}]})
    r = score_run(run)
    assert r["gospa_observable_mean"] is None and r["gospa_mean"] == good["gospa_mean"]
    assert "sensors.json" in r["observable_error"] and "lat" in r["observable_error"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.floats(-3000, 3000), st.booleans()), min_size=1, max_size=7),
       st.lists(st.tuples(st.integers(0, 2), st.floats(-3000, 3000)), max_size=7))
def test_observable_gospa_equals_gospa_of_what_is_left(truths, tracks):
    # the full optimal assignment, restricted, is optimal for the observable truth
    # and the tracks not holding an unseen object: same figure as solving that anew
    from airshield.io.records import Truth
    from airshield.score import observable_gospa

    xs = np.array([[e, 0.0, 0.0] for _, e, _ in truths])
    x_step = np.array([s for s, _, _ in truths])
    obs = np.array([o for _, _, o in truths])
    ys = np.array([[e, 0.0, 0.0] for _, e in tracks]).reshape(-1, 3)
    y_step = np.array([s for s, _ in tracks], np.int64)
    g = gospa_steps(xs, x_step, ys, y_step, 3, C, 2.0)
    truth = Truth(ids=["o"], t=x_step.astype(float), obj=np.zeros(len(xs), np.int64), lat=xs[:, 0],
                  lon=xs[:, 0], alt=xs[:, 0], vel=np.zeros((len(xs), 3)), cls=np.zeros(len(xs), np.int8))
    r = observable_gospa(g, truth, x_step, obs, 3)
    gone = g.pair_track[~obs[g.pair_truth]]
    keep_y = np.setdiff1d(np.arange(len(ys)), gone)
    h = gospa_steps(xs[obs], x_step[obs], ys[keep_y], y_step[keep_y], 3, C, 2.0)
    assert r["gospa_observable_mean"] == pytest.approx(float(h.distance.mean()), rel=1e-9, abs=1e-6)
    assert r["gospa_observable_missed"] == pytest.approx(float(h.missed.mean()), abs=1e-6)
    assert r["gospa_observable_localisation"] == pytest.approx(float(h.localisation.mean()), rel=1e-9,
                                                              abs=1e-6)


def test_per_class_continuity(tmp_path):
    """Per class tracks per truth and id switches: a shahed held by T1 then T2
    (one switch, two ids), a decoy held by T3 throughout, a bird by T4, T5, T6
    in turn (two switches, three ids); the headline mixes them (6 / 3 = 2)."""
    truth, tracks = [], []
    holders = {"s": ("shahed", ["T1"] * 5 + ["T2"] * 5), "d": ("decoy", ["T3"] * 10),
               "b": ("bird", ["T4"] * 3 + ["T5"] * 3 + ["T6"] * 4)}
    for t in range(10):
        for k, (oid, (cls, ids)) in enumerate(holders.items()):
            truth.append(truth_rec(float(t), oid, 5000.0 * k, cls=cls))
            tracks.append(track_rec(float(t), ids[t], 5000.0 * k + 10.0))
    r = score_run(make_run(tmp_path, truth, tracks, None))
    pc = r["per_class"]
    assert r["tracks_per_truth"] == pytest.approx(2.0) and r["id_switches"] == 3
    assert (pc["shahed"]["tracks_per_truth"], pc["shahed"]["id_switches"]) == (2.0, 1)
    assert (pc["decoy"]["tracks_per_truth"], pc["decoy"]["id_switches"]) == (1.0, 0)
    assert (pc["bird"]["tracks_per_truth"], pc["bird"]["id_switches"]) == (3.0, 2)
