"""Intercept feasibility: hand-computed geometry (head-on, tail chase, crossing,
passing guns, min-range hole), the reasons an engagement is refused, and the
vectorised closed form against a per-pair brute-force reference."""

import math

import numpy as np
import pytest

from airshield import CLASS_INDEX, CLASSES, geo
from airshield.engage.effectors import defaults, effectors_from_rows, load_effectors
from airshield.engage.feasibility import (NO_CHANNEL, NO_STOCK, OK, OUT_OF_REACH, REASONS, TOO_LATE,
                                          WITHHELD, build_instance, intercept, shots_available)

LAT0, LON0, ALT0 = 50.0, 22.0, 0.0
SHAHED = np.eye(len(CLASSES))[CLASS_INDEX["shahed"]]


def enu_point(e, n, u=0.0):
    """ECEF of a point given in the ENU frame at the effector site (exact: ENU is
    a rotation and shift of ECEF, so straight ENU lines are straight in ECEF)."""
    lat, lon, alt = geo.enu_to_geodetic(e, n, u, LAT0, LON0, ALT0)
    return np.stack(geo.geodetic_to_ecef(lat, lon, alt), axis=-1).reshape(-1, 3)


def enu_vel(ve, vn, vu=0.0):
    return np.stack(geo.enu_to_ecef_vectors(ve, vn, vu, LAT0, LON0), axis=-1).reshape(-1, 3)


def effector(kind="interceptor_drone", **over):
    row = {"id": "E", "kind": kind, "lat": LAT0, "lon": LON0, "alt": ALT0, **defaults(kind)}
    row.update(reaction_s=0.0, min_range_m=0.0, max_range_m=100_000.0, min_alt_m=-1_000.0,
               max_alt_m=20_000.0)
    row.update(over)
    return effectors_from_rows([row])


def run(eff, pos, vel, ttt=math.inf, p_class=SHAHED, now=0.0):
    n = pos.shape[0]
    return intercept(eff, pos, vel, np.full(n, ttt), now, p_class=np.tile(p_class, (n, 1)))


def test_head_on_meets_at_d_over_closing_speed():
    eff = effector(speed_mps=75.0)
    r = run(eff, enu_point(0, 10_000), enu_vel(0, -50.0))
    assert r.feasible[0, 0] and r.reason[0, 0] == OK
    assert r.t_intercept[0, 0] == pytest.approx(10_000 / (50 + 75), rel=1e-9)
    assert r.t_launch[0, 0] == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_allclose(r.point[0, 0], enu_point(0, 10_000 - 50 * 80)[0], atol=1e-4)
    assert r.pk_eff[0, 0] == pytest.approx(0.68)


def test_reaction_delay_then_head_on():
    eff = effector(speed_mps=75.0, reaction_s=20.0)
    r = run(eff, enu_point(0, 10_000), enu_vel(0, -50.0))
    assert r.t_intercept[0, 0] == pytest.approx(20 + (10_000 - 50 * 20) / 125, rel=1e-9)


def test_ready_time_counts_from_now():
    eff = effector(speed_mps=75.0, reaction_s=5.0, ready_t=130.0)
    r = run(eff, enu_point(0, 10_000), enu_vel(0, -50.0), now=100.0)  # busy for 30 s more
    assert r.t_intercept[0, 0] == pytest.approx(30 + (10_000 - 50 * 30) / 125, rel=1e-9)


def test_tail_chase_faster_and_slower():
    pos, vel = enu_point(0, 10_000), enu_vel(0, 50.0)  # flying away
    fast = run(effector(speed_mps=75.0), pos, vel)
    assert fast.t_intercept[0, 0] == pytest.approx(10_000 / (75 - 50), rel=1e-9)
    slow = run(effector(speed_mps=40.0), pos, vel)
    assert not slow.feasible[0, 0] and slow.reason[0, 0] == OUT_OF_REACH
    assert slow.pk_eff[0, 0] == 0.0 and math.isinf(slow.t_intercept[0, 0])
    assert np.isnan(slow.point[0, 0]).all()


def test_crossing_known_answer():
    # threat passes over (0, 8 km) eastbound at 60 m/s; 100 m/s interceptor from
    # the origin: |(60 t, 8000)| = 100 t  ->  t = 8000 / 80 = 100 s at (6 km, 8 km)
    r = run(effector(speed_mps=100.0), enu_point(0, 8_000), enu_vel(60.0, 0))
    assert r.t_intercept[0, 0] == pytest.approx(100.0, rel=1e-9)
    np.testing.assert_allclose(r.point[0, 0], enu_point(6_000, 8_000)[0], atol=1e-4)


def test_slower_interceptor_can_still_meet_an_approaching_threat():
    # 40 m/s vs a 50 m/s threat: head-on works, 10 km / 90 m/s
    r = run(effector(speed_mps=40.0), enu_point(0, 10_000), enu_vel(0, -50.0))
    assert r.t_intercept[0, 0] == pytest.approx(10_000 / 90, rel=1e-9)


def test_beyond_max_range_is_infeasible():
    eff = effector(speed_mps=75.0, max_range_m=20_000.0)
    r = run(eff, enu_point(30_000, 0), enu_vel(0, 50.0))  # crossing at 30 km, never nearer
    assert not r.feasible[0, 0] and r.reason[0, 0] == OUT_OF_REACH


def test_waits_until_the_threat_enters_the_envelope():
    # reachable at 240 s (18 km out) but the envelope ends at 10 km: enter at
    # 400 s; launch 10 km / 75 m/s before that
    eff = effector(speed_mps=75.0, max_range_m=10_000.0)
    r = run(eff, enu_point(0, 30_000), enu_vel(0, -50.0))
    assert r.t_intercept[0, 0] == pytest.approx(400.0, rel=1e-9)
    assert r.t_launch[0, 0] == pytest.approx(400.0 - 10_000 / 75, rel=1e-9)


def test_target_reached_before_intercept_is_too_late():
    eff = effector(speed_mps=75.0)
    r = run(eff, enu_point(0, 10_000), enu_vel(0, -50.0), ttt=50.0)  # intercept would be at 80 s
    assert not r.feasible[0, 0] and r.reason[0, 0] == TOO_LATE
    assert run(eff, enu_point(0, 10_000), enu_vel(0, -50.0), ttt=81.0).feasible[0, 0]


def test_min_range_hole_intercepts_on_the_far_side():
    # head-on meeting at 80 s would be 6 km out, inside the 7 km minimum range;
    # the threat passes and leaves the hole 17 km after start: t = 340 s
    eff = effector(speed_mps=75.0, min_range_m=7_000.0)
    r = run(eff, enu_point(0, 10_000), enu_vel(0, -50.0))
    assert r.t_intercept[0, 0] == pytest.approx(17_000 / 50, rel=1e-9)
    assert run(eff, enu_point(0, 10_000), enu_vel(0, -50.0), ttt=300.0).reason[0, 0] == TOO_LATE


def test_gun_engages_only_when_the_path_passes_within_reach():
    gun = effector("aa_gun", reaction_s=10.0, max_range_m=3_500.0)
    near = run(gun, enu_point(-10_000, 2_000), enu_vel(50.0, 0))  # closest approach 2 km
    t_enter = (10_000 - math.sqrt(3_500 ** 2 - 2_000 ** 2)) / 50
    assert near.t_intercept[0, 0] == pytest.approx(t_enter, rel=1e-9)
    far = run(gun, enu_point(-10_000, 5_000), enu_vel(50.0, 0))  # closest approach 5 km
    assert far.reason[0, 0] == OUT_OF_REACH


def test_mobile_fire_group_static_and_relocating():
    pos_near, pos_far, vel = enu_point(-10_000, 1_000), enu_point(-10_000, 2_000), enu_vel(50.0, 0)
    static = effector("mobile_fire_group", speed_mps=0.0, reach_m=1_500.0, max_range_m=1_500.0)
    r = run(static, np.vstack([pos_near, pos_far]), np.vstack([vel, vel]))
    t_enter = (10_000 - math.sqrt(1_500 ** 2 - 1_000 ** 2)) / 50
    assert r.t_intercept[0, 0] == pytest.approx(t_enter, rel=1e-9)
    assert r.reason[0, 1] == OUT_OF_REACH  # passes 2 km away, the guns reach 1.5 km
    # the same group driving at 11.7 m/s has 150 s to close the 500 m
    moving = effector("mobile_fire_group", max_range_m=15_000.0)
    assert run(moving, pos_far, vel).feasible[0, 0]


def test_fighter_flies_out_and_fires_from_reach():
    fighter = effector("fighter", speed_mps=250.0, reach_m=8_000.0)
    r = run(fighter, enu_point(0, 100_000), enu_vel(0, -50.0))
    assert r.t_intercept[0, 0] == pytest.approx((100_000 - 8_000) / 300, rel=1e-9)


def test_altitude_band():
    low = effector(max_alt_m=3_000.0)
    r = run(low, enu_point(0, 10_000, 4_000.0), enu_vel(0, -50.0))
    assert r.reason[0, 0] == OUT_OF_REACH
    # climbing from 2 km at 5 m/s: leaves the 3 km band after 200 s, meets at 80 s
    r = run(low, enu_point(0, 10_000, 2_000.0), enu_vel(0, -50.0, 5.0))
    assert r.feasible[0, 0]


def test_no_stock_no_channel_and_withheld_aircraft():
    pos, vel = enu_point(0, 10_000), enu_vel(0, -50.0)
    assert run(effector(stock=0), pos, vel).reason[0, 0] == NO_STOCK
    assert run(effector(channels=2, busy=2), pos, vel).reason[0, 0] == NO_CHANNEL
    mix = np.zeros(len(CLASSES))
    mix[CLASS_INDEX["shahed"]], mix[CLASS_INDEX["aircraft"]] = 0.8, 0.2
    r = run(effector(), pos, vel, p_class=mix)
    assert r.withheld[0] and r.reason[0, 0] == WITHHELD and r.pk_eff[0, 0] == 0.0


def test_pk_eff_is_the_class_weighted_pk():
    mix = np.zeros(len(CLASSES))
    mix[CLASS_INDEX["shahed"]], mix[CLASS_INDEX["decoy"]], mix[CLASS_INDEX["jet_drone"]] = 0.5, 0.3, 0.2
    r = run(effector(), enu_point(0, 10_000), enu_vel(0, -50.0), p_class=mix)
    assert r.pk_eff[0, 0] == pytest.approx(0.5 * 0.68 + 0.3 * 0.75 + 0.2 * 0.15)


# ---------------------------------------------------------------- reference
def reference(eff, e, p, v, ttt, now=0.0, dt=0.05, t_max=3_000.0):
    """First feasible time for one pair by direct search on a grid, refined by
    bisection: the constraints checked literally, no quadratic."""
    pe = eff.ecef[e]
    lat, lon, h = geo.ecef_to_geodetic(*p)
    vu = float(geo.ecef_to_enu_vectors(*v, lat, lon)[2])
    t_r = max(eff.reaction[e], eff.ready_t[e] - now)

    def ok(t):
        t = np.asarray(t, float)
        dist = np.linalg.norm(p[None, :] + np.multiply.outer(t, v) - pe[None, :], axis=-1)
        hrel = float(h) + vu * t - eff.ground_alt[e]
        return ((t >= t_r) & (dist <= eff.speed[e] * (t - t_r) + eff.reach[e] + 1e-9)
                & (dist >= eff.min_range[e] - 1e-9) & (dist <= eff.max_range[e] + 1e-9)
                & (hrel >= eff.min_alt[e] - 1e-9) & (hrel <= eff.max_alt[e] + 1e-9) & (t <= ttt + 1e-9))

    grid = t_r + np.arange(0.0, t_max, dt)
    good = np.flatnonzero(ok(grid))
    if good.size == 0:
        return math.inf
    k = good[0]
    if k == 0:
        return t_r
    lo, hi = grid[k - 1], grid[k]
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if ok(np.array([mid]))[0] else (mid, hi)
    return hi


def test_vectorised_equals_per_pair_reference_on_random_cases():
    rng = np.random.default_rng(7)
    kinds = ["interceptor_drone", "mobile_fire_group", "aa_gun", "sam_short", "sam_medium", "fighter"]
    items = []
    for i in range(12):
        kind = kinds[i % len(kinds)]
        item = {"id": f"E{i}", "kind": kind, "lat": LAT0 + rng.uniform(-0.15, 0.15),
                "lon": LON0 + rng.uniform(-0.2, 0.2), "alt": rng.uniform(0, 300),
                "reaction_s": rng.uniform(0, 60), "speed_mps": rng.uniform(20, 400),
                "reach_m": float(rng.choice([0.0, rng.uniform(200, 3_000)])),
                "min_range_m": float(rng.choice([0.0, rng.uniform(100, 3_000)])),
                "max_range_m": rng.uniform(4_000, 40_000), "min_alt_m": rng.uniform(-50, 50),
                "max_alt_m": rng.uniform(800, 4_000)}
        if kind == "fighter":
            item["cannon"] = False
        items.append(item)
    eff = load_effectors(items, "random.yaml")
    n = 20
    e_, n_ = rng.uniform(-40_000, 40_000, n), rng.uniform(-40_000, 40_000, n)
    pos = enu_point(e_, n_, rng.uniform(50, 2_500, n))
    speed, course = rng.uniform(30, 200, n), rng.uniform(0, 2 * np.pi, n)
    vel = enu_vel(speed * np.sin(course), speed * np.cos(course), rng.uniform(-3, 3, n))
    ttt = np.where(rng.random(n) < 0.3, np.inf, rng.uniform(50, 1_500, n))
    r = intercept(eff, pos, vel, ttt, 0.0, p_class=np.tile(SHAHED, (n, 1)))
    feasible_pairs = 0
    for e in range(len(eff)):
        for j in range(n):
            ref = reference(eff, e, pos[j], vel[j], ttt[j])
            got = r.t_intercept[e, j]
            assert math.isinf(ref) == math.isinf(got), (e, j, ref, got, REASONS[r.reason[e, j]])
            if math.isfinite(ref):
                feasible_pairs += 1
                assert got == pytest.approx(ref, abs=1e-5), (e, j)
    assert 20 <= feasible_pairs <= len(eff) * n - 20  # the draw exercises both outcomes
    assert {OK, OUT_OF_REACH, TOO_LATE} <= set(r.reason.ravel().tolist())


# ------------------------------------------------------------------ instance
def test_build_instance_matches_the_contract_and_the_solver_reads_it():
    eff = load_effectors([
        {"id": "I1", "kind": "interceptor_drone", "lat": LAT0, "lon": LON0, "reaction_s": 0},
        {"id": "S1", "kind": "sam_medium", "lat": LAT0, "lon": LON0},
        {"id": "X", "kind": "aa_gun", "lat": LAT0 + 2.0, "lon": LON0},  # 220 km away: idle
    ], "s.yaml")
    pos = np.vstack([enu_point(0, 10_000, 300.0), enu_point(3_000, 15_000, 300.0)])
    vel = np.vstack([enu_vel(0, -50.0), enu_vel(0, -50.0)])
    r = intercept(eff, pos, vel, np.array([1e4, 1e4]), 0.0, p_class=np.tile(SHAHED, (2, 1)))
    inst = build_instance(["T1", "T2"], [2e6, 5e5], eff, r, lam=1.0, horizon_s=300.0)
    assert set(inst) == {"lambda", "threats", "effectors", "pk"}
    assert inst["threats"] == [{"id": "T1", "value": 2e6}, {"id": "T2", "value": 5e5}]
    assert [e["id"] for e in inst["effectors"]] == ["I1", "S1"]
    assert inst["effectors"][0] == {"id": "I1", "shots": 20, "cost": 4000.0}  # 4 ch x 5 launches, stock 20
    assert inst["effectors"][1]["shots"] == 12 and inst["effectors"][1]["cost"] == 1e6
    np.testing.assert_allclose(inst["pk"], r.pk_eff[:2])
    assert len(build_instance(["T1", "T2"], [2e6, 5e5], eff, r, keep_idle=True)["effectors"]) == 3
    from airshield.engage.wta import instance_from_doc

    parsed = instance_from_doc(inst)
    assert parsed.n_effectors == 2 and parsed.n_threats == 2


def test_shots_available_respects_stock_channels_and_interval():
    eff = effector(stock=100, channels=3, busy=1, launch_interval_s=60.0)
    assert shots_available(eff, 300.0).tolist() == [2 * 5]
    assert shots_available(effector(stock=3), 300.0).tolist() == [3]


def test_last_intercept_closes_the_window_at_range_exit_hole_or_target():
    # gun crossing: the path is within 3.5 km from t_enter to t_exit (symmetric about 200 s)
    gun = effector("aa_gun", reaction_s=10.0, max_range_m=3_500.0)
    half = math.sqrt(3_500 ** 2 - 2_000 ** 2) / 50
    r = run(gun, enu_point(-10_000, 2_000), enu_vel(50.0, 0))
    assert r.t_last[0, 0] == pytest.approx(200 + half, rel=1e-9)
    assert r.t_last[0, 0] >= r.t_intercept[0, 0]
    # the target is reached first: the window closes there
    assert run(gun, enu_point(-10_000, 2_000), enu_vel(50.0, 0), ttt=180.0).t_last[0, 0] == pytest.approx(180.0)
    # head-on at a SAM with a 7 km min range: 10 km out at 50 m/s, it enters the hole at 60 s
    sam = effector("sam_short", reaction_s=0.0, speed_mps=600.0, min_range_m=7_000.0)
    h = run(sam, enu_point(0, 10_000), enu_vel(0, -50.0))
    assert h.t_intercept[0, 0] == pytest.approx(10_000 / 650, rel=1e-9)
    assert h.t_last[0, 0] == pytest.approx(3_000 / 50, rel=1e-9)
    # infeasible pairs have no last intercept
    assert math.isinf(run(gun, enu_point(-10_000, 5_000), enu_vel(50.0, 0)).t_last[0, 0])
