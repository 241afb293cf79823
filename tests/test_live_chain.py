"""The closed loop end to end on a small raid: reproducible per seed, nothing
fired without an approval, policies that do what they say, defeated drones
leaving the sky, stock never exceeded, and the operator's approve/reject."""

from pathlib import Path

import orjson
import pytest

from airshield.errors import InputError
from airshield.io.jsonl import read_json
from airshield.live import Chain
from airshield.live.runner import ENGAGEMENTS, SUMMARY, compare_doctrines, run_to_dir
from airshield.sim.scenario import load_scenario_text

# Shaheds and decoys at one power plant from ~15 km east, two radars, and a
# layered defence with small stocks (so stock limits are exercised).
SMALL = """
name: live-small
description: a handful of drones at one power plant; two radars; a layered defence
epoch: "2025-09-06T21:00:00Z"
duration_s: 330
seed: 7
origin: {lat: 50.45, lon: 30.52, alt: 0}
raids:
  - {name: sh, class: shahed, count: 6, launch: {lat: 50.46, lon: 30.74, radius_km: 2}, airborne: true,
     targets: [{lat: 50.45, lon: 30.52, radius_km: 0.2}], start: 0, spacing_s: 15, altitude_m: [300, 600]}
  - {name: dc, class: decoy, count: 3, launch: {lat: 50.42, lon: 30.72, radius_km: 2}, airborne: true,
     targets: [{lat: 50.45, lon: 30.52, radius_km: 1}], start: 10, spacing_s: 25, altitude_m: [300, 600]}
sensors:
  - {kind: radar, id: r1, lat: 50.50, lon: 30.60, alt: 20, range_max_m: 60000}
  - {kind: radar, id: r2, lat: 50.40, lon: 30.60, alt: 20, range_max_m: 60000}
assets:
  - {name: plant, lat: 50.45, lon: 30.52, radius_m: 800, value: 40000000, kind: power_plant}
effectors:
  - {id: gun-1, kind: aa_gun, lat: 50.455, lon: 30.60, stock: 3}
  - {id: drones-1, kind: interceptor_drone, lat: 50.45, lon: 30.56, stock: 4}
  - {id: sam-1, kind: sam_short, lat: 50.44, lon: 30.55, stock: 2}
  - {id: mfg-1, kind: mobile_fire_group, lat: 50.46, lon: 30.66, stock: 4}
"""
STOCK = {"gun-1": 3, "drones-1": 4, "sam-1": 2, "mfg-1": 4}


def scenario():
    return load_scenario_text(SMALL, "small.yaml")


def events(run_dir: Path) -> list[dict]:
    return [orjson.loads(line) for line in (run_dir / ENGAGEMENTS).read_bytes().splitlines()]


@pytest.fixture(scope="module")
def run_a(tmp_path_factory):
    d = tmp_path_factory.mktemp("a")
    return d, run_to_dir(scenario(), d, seed=3)


def test_same_seed_same_run(run_a, tmp_path):
    d, s = run_a
    s2 = run_to_dir(scenario(), tmp_path, seed=3)
    drop = (lambda x: {k: v for k, v in x.items() if k != "wall_s"})
    assert drop(s) == drop(s2)
    for name in (ENGAGEMENTS, "tracks.jsonl", "truth.jsonl", "detections.jsonl", "objects.json"):
        assert (d / name).read_bytes() == (tmp_path / name).read_bytes(), name
    assert s["events"]["engagement"] > 0  # the run did engage: the comparison means something


def test_no_engagement_without_an_approval_before_it(run_a):
    d, s = run_a
    ev = events(d)
    assert [e["t"] for e in ev] == sorted(e["t"] for e in ev)
    approved: dict[str, float] = {}
    engaged: dict[str, dict] = {}
    for e in ev:
        if e["type"] == "approval":
            assert e["rec"] not in approved  # a recommendation is approved once
            approved[e["rec"]] = e["t"]
        elif e["type"] == "engagement":
            assert e["rec"] in approved and approved[e["rec"]] <= e["t"]
            engaged[e["id"]] = e
        elif e["type"] == "outcome":
            assert e["engagement"] in engaged and engaged[e["engagement"]]["t"] <= e["t"]
    assert len(engaged) == s["events"]["engagement"] > 0


def test_defeated_drones_leave_the_sky(run_a):
    d, s = run_a
    objects = {o["id"]: o for o in read_json(d / "objects.json")["objects"]}
    kills = {e["truth"]: e["t"] for e in events(d) if e["type"] == "outcome" and e["result"] == "defeated"}
    assert kills and len(kills) == s["defeated"]["total"]
    last = {}
    for line in (d / "truth.jsonl").read_bytes().splitlines():
        r = orjson.loads(line)
        last[r["id"]] = max(last.get(r["id"], -1.0), r["t"])
    for oid, t in kills.items():
        assert objects[oid]["fate"] == "defeated" and objects[oid]["t_end"] == pytest.approx(t, abs=1e-3)
        assert last[oid] <= t  # no truth after the kill
    defeated = [o for o in objects.values() if o["fate"] == "defeated"]
    assert len(defeated) == len(kills)


def test_shots_never_exceed_stock(run_a):
    d, s = run_a
    fired: dict[str, int] = {}
    for e in events(d):
        if e["type"] == "engagement":
            fired[e["effector"]] = fired.get(e["effector"], 0) + e["shots"]
    for eid, n in fired.items():
        assert n <= STOCK[eid], eid
    assert sum(fired.values()) == s["shots"]["total"]
    assert s["money_spent"]["total"] == pytest.approx(sum(e["cost"] for e in events(d) if e["type"] == "engagement"))


def test_manual_without_approvals_fires_nothing_and_ids_are_checked():
    c = Chain(scenario(), seed=3, policy="manual", duration_s=200)
    recs = set()
    while not c.finished:
        snap = c.step()
        recs.update(r["id"] for r in snap.recommendations)
    assert recs  # the planner did recommend
    assert c.counters()["shots"] == 0 and c.counters()["money_spent"] == 0
    assert not [e for e in c.events if e["type"] in ("approval", "engagement", "outcome")]
    with pytest.raises(KeyError):
        c.approve("R99999")
    with pytest.raises(KeyError):
        c.reject("nope")
    closed = next(r for r in c.desk.recs.values() if r.status != "open")
    with pytest.raises(ValueError):
        c.approve(closed.id)


def test_manual_approve_fires_and_reject_is_remembered():
    c = Chain(scenario(), seed=3, policy="manual", duration_s=200)
    approved = rejected = None
    while not c.finished and (approved is None or rejected is None):
        snap = c.step()
        for r in snap.recommendations:
            if approved is None:
                ev = c.approve(r["id"], by="tester")
                assert ev["type"] == "approval" and ev["by"] == "tester" and ev["rec"] == r["id"]
                approved = r
            elif rejected is None and r["threat"] != approved["threat"]:
                assert c.reject(r["id"])["type"] == "rejection"
                rejected = r
    assert approved is not None and rejected is not None
    assert c.counters()["shots"] == approved["shots"]
    with pytest.raises(ValueError):
        c.approve(approved["id"])  # closed
    with pytest.raises(ValueError):
        c.approve(rejected["id"])
    while not c.finished:
        c.step()
    again = [e for e in c.events if e["type"] == "recommendation" and e["effector"] == rejected["effector"]
             and e["threat"] == rejected["threat"]]
    assert [e["id"] for e in again] == [rejected["id"]]  # never recommended again for that track


def test_cost_cap_never_approves_at_or_above_the_cap():
    cap = 100_000.0
    c = Chain(scenario(), seed=3, policy="cost_cap", cost_cap=cap)
    while not c.finished:
        c.step(dt=5.0)
    ev = c.events
    recs = {e["id"]: e for e in ev if e["type"] == "recommendation"}
    approvals = [e for e in ev if e["type"] == "approval"]
    rejections = [e for e in ev if e["type"] == "rejection"]
    assert approvals and rejections  # both happened: the SAM is over the cap, the rest under it
    assert all(recs[e["rec"]]["cost"] < cap for e in approvals)
    assert all(recs[e["rec"]]["cost"] >= cap and e["by"] == "policy:cost_cap" for e in rejections)
    assert c.arsenal.shots[c.effectors.index()["sam-1"]] == 0


def test_snapshot_carries_the_picture_and_only_new_events():
    c = Chain(scenario(), seed=3, duration_s=120)
    seen = 0
    while not c.finished:
        snap = c.step(dt=4.0)
        seen += len(snap.events)
        assert set(snap.counters) >= {"live_tracks", "threats_total", "defeated", "leaked", "value_lost",
                                      "shots", "money_spent"}
        assert snap.counters["live_tracks"] == len(snap.tracks)
        assert [t["tti_s"] for t in snap.threats if t["tti_s"] is not None] == \
            sorted(t["tti_s"] for t in snap.threats if t["tti_s"] is not None)
        assert {e["id"] for e in snap.effectors} == set(STOCK)
    assert seen == len(c.events) > 0
    assert c.t == pytest.approx(120.0)
    assert any("threat" in tr and tr["threat"]["expected_loss"] > 0 for tr in snap.tracks)
    layers = c.static_layers()
    assert {"origin", "sensors", "assets", "effectors"} <= set(layers)
    assert [s["id"] for s in layers["sensors"]] == ["r1", "r2"]


@pytest.mark.parametrize("kw,field", [({"policy": "maybe"}, "--policy"), ({"planner": "coin"}, "--planner"),
                                      ({"replan_s": 0.0}, "replan_s")])
def test_bad_options_are_input_errors(kw, field):
    with pytest.raises(InputError) as e:
        Chain(scenario(), **kw)
    assert e.value.field == field


def test_compare_tabulates_every_planner(tmp_path):
    res = compare_doctrines(scenario(), [3], duration_s=150)
    assert [r["planner"] for r in res["table"]] == ["optimal", "nearest", "missiles_first"]
    for r, run in zip(res["table"], res["runs"]):
        assert r["defeated"] == run["defeated"]["total"] and r["money_spent"] == run["money_spent"]["total"]
        assert r["threats"] == run["threats"]["total"] > 0


def test_run_cli_writes_the_run_directory(tmp_path):
    from typer.testing import CliRunner

    from airshield.cli import app

    scn = tmp_path / "small.yaml"
    scn.write_text(SMALL)
    res = CliRunner().invoke(app, ["run", str(scn), "--out", str(tmp_path / "run"), "--duration", "60",
                                   "--planner", "nearest", "-q"])
    assert res.exit_code == 0, res.output
    s = read_json(tmp_path / "run" / SUMMARY)
    assert s["planner"] == "nearest" and s["duration_s"] == 60
    for name in ("scenario.json", "sensors.json", "truth.jsonl", "detections.jsonl", "tracks.jsonl", ENGAGEMENTS):
        assert (tmp_path / "run" / name).exists(), name
    bad = CliRunner().invoke(app, ["run", str(scn), "--out", str(tmp_path / "x"), "--policy", "cost_cap"])
    assert bad.exit_code == 2 and "--cost-cap" in bad.output


def test_two_phase_step_is_the_same_run_and_threats_are_attack_classes():
    """``track_step`` + ``plan_begin``/solve/``plan_end`` (how the live picture
    steps, the solve elsewhere) gives the run ``advance`` gives; the threat list
    holds attack classes (or unknowns aimed at an asset), never birds or aircraft."""
    from airshield import CLASSES
    from airshield.live.planning import solve

    a = Chain(scenario(), seed=3, duration_s=200)
    b = Chain(scenario(), seed=3, duration_s=200)
    while not a.finished:
        a.advance()
        b.track_step()
        if b.plan_due:
            job = b.plan_begin()
            if job is not None:
                b.plan_end(job, solve(job.planner, job.inp))
        assert set(b.stage_s) >= {"sense", "track"} and b.wall_track[0] <= b.wall_track[1]
        for info in b.threat_info.values():
            assert info["class"] in ("shahed", "decoy", "jet_drone", "recon") or (
                info["class"] == "unknown" and info["target"] is not None and info["tti_s"] is not None)
    assert a.events == b.events and len(a.events) > 0
    assert a.snapshot().threats == b.snapshot().threats
    assert {CLASSES[int(i)] for i in b.picture.p_class.argmax(axis=1)} >= {"shahed"}


@pytest.mark.parametrize("reorder_s,held", [(0.0, 0), (1.0, 1), (2.5, 3)])
def test_latency_stamp_counts_from_when_the_released_reports_entered(reorder_s, held):
    """Reports wait ceil(reorder_s / dt) steps in the tracker's reorder window: the
    picture's latency stamp starts at the step they entered, not the latest one."""
    from airshield.live.chain import closed_loop_tracker

    c = Chain(scenario(), seed=3, duration_s=30, tracker_config=closed_loop_tracker(reorder_s=reorder_s))
    entered = []
    for k in range(6):
        c.track_step()
        entered.append(c._wall_in[-1])
        w_in, w_out = c.wall_track
        assert w_in == entered[max(k - held, 0)] and w_in <= w_out
