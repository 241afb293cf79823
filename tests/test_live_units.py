"""The closed loop's parts on hand-made cases: approval policies, the planners
(nearest, missiles first, the optimal plan and its shoot-look-shoot and reserve
rules), channel and stock bookkeeping, and the stochastic outcome draw."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airshield import CLASS_INDEX, geo
from airshield.engage.effectors import defaults, effectors_from_rows
from airshield.engage.wta import evaluate, make_instance
from airshield.errors import InputError
from airshield.live.doctrine import (PlanInput, Timing, _discounted, commit, defer_long, escalate,
                                     hold_costly, plan, plan_optimal, shoot_look_shoot)
from airshield.live.outcome import Arsenal, Engagement, OutcomeParams, aim_points, in_flight, resolve
from airshield.live.policy import make_policy
from airshield.live.runner import parse_seeds


# -- policies ------------------------------------------------------------------
def test_policies_decide_as_documented():
    assert make_policy("approve_all").decide({"cost": 1e12}) == "approve"
    cap = make_policy("cost_cap", 10_000.0)
    assert cap.decide({"cost": 9_999.0}) == "approve"
    assert cap.decide({"cost": 10_000.0}) == "reject"  # "under the cap": equal is not under
    assert make_policy("manual").decide({"cost": 1.0}) is None
    assert cap.who == "policy:cost_cap"


@pytest.mark.parametrize("name,cap,field", [("yes", None, "--policy"), ("cost_cap", None, "--cost-cap"),
                                            ("cost_cap", -5.0, "--cost-cap"), ("cost_cap", math.inf, "--cost-cap")])
def test_bad_policy_is_one_line_input_error(name, cap, field):
    with pytest.raises(InputError) as e:
        make_policy(name, cap)
    assert e.value.field == field and "\n" not in str(e.value)


# -- planners ------------------------------------------------------------------
def inp(pk, **kw):
    pk = np.asarray(pk, float)
    ne, n = pk.shape
    base = dict(pk=pk, due=pk > 0, value=np.full(n, 1e6), hostile=np.ones(n, bool), engaged=np.zeros(n, bool),
                urgency=np.full(n, 600.0), distance=np.ones((ne, n)), cost=np.full(ne, 1000.0),
                shots=np.full(ne, 10), free=np.full(ne, 4), missile=np.zeros(ne, bool))
    base.update(kw)
    return PlanInput(**base)


def test_nearest_gives_each_threat_one_shot_from_the_nearest_able_effector():
    pk = [[0.5, 0.5, 0.0], [0.5, 0.5, 0.5]]
    dist = np.array([[1000.0, 9000.0, 1.0], [2000.0, 3000.0, 5000.0]])
    x = plan("nearest", inp(pk, distance=dist))
    # threat 2: only effector 1 can engage it, though effector 0 is nearer
    np.testing.assert_array_equal(x, [[1, 0, 0], [0, 1, 1]])


def test_nearest_skips_engaged_and_non_hostile_and_respects_channels():
    pk = np.full((1, 4), 0.6)
    x = plan("nearest", inp(pk, engaged=np.array([True, False, False, False]),
                            hostile=np.array([True, True, False, True]), free=np.array([1]),
                            urgency=np.array([10.0, 500.0, 1.0, 100.0])))
    # one free channel: the most urgent hostile, unengaged threat (index 3) gets it
    np.testing.assert_array_equal(x, [[0, 0, 0, 1]])


def test_missiles_first_uses_a_missile_whenever_one_can_engage():
    pk = [[0.7, 0.7], [0.9, 0.0]]  # row 1 is a SAM that reaches only threat 0
    dist = np.array([[10.0, 10.0], [5000.0, 5000.0]])
    kw = dict(distance=dist, missile=np.array([False, True]), cost=np.array([500.0, 450_000.0]))
    np.testing.assert_array_equal(plan("missiles_first", inp(pk, **kw)), [[0, 1], [1, 0]])
    np.testing.assert_array_equal(plan("nearest", inp(pk, **kw)), [[1, 1], [0, 0]])


def brute_force(value, shots, cost, pk, lam=1.0, max_per_pair=3):
    """Best integer plan by enumeration (tiny instances only)."""
    ne, n = pk.shape
    best, best_x = math.inf, None
    for flat in itertools.product(range(max_per_pair + 1), repeat=ne * n):
        x = np.array(flat).reshape(ne, n)
        if np.any(x.sum(axis=1) > shots):
            continue
        obj = evaluate(make_instance(value, shots, cost, pk, lam), x)[0]
        if obj < best - 1e-9:
            best, best_x = obj, x
    return best, best_x


def test_optimal_plan_matches_brute_force_when_everything_is_due_and_no_look_is_possible():
    value = np.array([3e6, 1e6])
    pk = np.array([[0.6, 0.3], [0.9, 0.9]])
    cost = np.array([5e3, 4e5])
    shots = np.array([3, 1])
    p = inp(pk, value=value, cost=cost, shots=shots, free=np.array([4, 4]), urgency=np.full(2, 1.0),
            t_intercept=np.full((2, 2), 30.0))  # no time for a look: salvos stand
    x = plan_optimal(p)
    best, _ = brute_force(value, shots, cost, pk)
    assert evaluate(make_instance(value, shots, cost, pk), x)[0] == pytest.approx(best, rel=1e-9)


def test_shoot_look_shoot_turns_a_salvo_into_one_shot_when_time_allows():
    pk = np.array([[0.6, 0.6], [0.9, 0.9]])
    x = np.array([[2, 2], [1, 0]])
    p = inp(pk, value=np.array([5e6, 5e6]), cost=np.array([1e3, 4e5]), urgency=np.array([1000.0, 50.0]),
            t_intercept=np.full((2, 2), 30.0))
    y = shoot_look_shoot(x, p)
    # threat 0 has time (2*30+5 <= 1000): one shot from the pair worth most (pk*value - cost);
    # threat 1 arrives in 50 s: its salvo stands
    np.testing.assert_array_equal(y, [[0, 2], [1, 0]])
    # shots in flight, assessed in 25 s: threat 0 waits for the look; threat 1 (25 + 30 > 50 s) cannot
    p.look_at = np.array([25.0, 25.0])
    np.testing.assert_array_equal(shoot_look_shoot(x, p), [[0, 2], [0, 0]])


def test_commit_keeps_the_pairs_worth_most_within_free_channels():
    x = np.array([[1, 2, 1]])
    worth = np.array([[5.0, 9.0, 1.0]])
    np.testing.assert_array_equal(commit(x, np.array([2]), worth), [[0, 2, 0]])
    np.testing.assert_array_equal(commit(x, np.array([9]), worth), x)


def test_reserve_keeps_costly_shots_for_what_only_they_can_stop():
    # SAM (row 1) with one shot, all of it reserve; a cheap gun reaches threat 0 only.
    pk = np.array([[0.7, 0.0], [0.9, 0.9]])
    base = dict(value=np.array([5e7, 1e6]), cost=np.array([5e3, 4e5]), shots=np.array([1, 1]),
                urgency=np.full(2, 10.0), t_intercept=np.full((2, 2), 5.0))
    free_sam = plan_optimal(inp(pk, **base))
    held_sam = plan_optimal(inp(pk, **base, reserve=np.array([0, 1]), cheap=np.array([True, False])))
    assert free_sam[1, 0] == 1  # unreserved, the SAM goes to the big threat the gun could also take
    assert held_sam[1, 0] == 0 and held_sam[1, 1] == 1  # reserved, it goes where only it can reach
    assert held_sam[0, 0] >= 1


def test_independent_groups_plan_as_one():
    rng = np.random.default_rng(3)
    pk = np.zeros((4, 6))
    pk[:2, :3] = rng.uniform(0.3, 0.9, (2, 3))
    pk[2:, 3:] = rng.uniform(0.3, 0.9, (2, 3))
    value = rng.uniform(1e5, 5e6, 6)
    p = inp(pk, value=value, shots=np.array([2, 2, 2, 2]), free=np.full(4, 9), urgency=np.full(6, 1.0),
            t_intercept=np.full((4, 6), 1.0), cost=np.full(4, 2e4))
    x = plan_optimal(p)
    a = plan_optimal(inp(pk[:2, :3], value=value[:3], shots=np.array([2, 2]), free=np.full(2, 9),
                         urgency=np.full(3, 1.0), t_intercept=np.full((2, 3), 1.0), cost=np.full(2, 2e4)))
    np.testing.assert_array_equal(x[:2, :3], a)
    assert x[:2, 3:].sum() == 0 and x[2:, :3].sum() == 0


# -- bookkeeping ---------------------------------------------------------------
def effectors(**over):
    row = {"id": "gun", "kind": "aa_gun", "lat": 50.0, "lon": 30.0, "alt": 0.0, **defaults("aa_gun")}
    row.update(over)
    return effectors_from_rows([row])


def test_arsenal_never_fires_beyond_stock_or_free_channels():
    ars = Arsenal(effectors(stock=3, channels=2))
    assert ars.fire(0, 5, now=0.0, until=10.0) == 2  # two channels
    assert ars.fire(0, 1, now=5.0, until=20.0) == 0  # both busy until t=10
    assert ars.free(10.0)[0] == 2
    assert ars.fire(0, 2, now=10.0, until=30.0) == 1  # stock: one left
    assert ars.fire(0, 1, now=40.0, until=50.0) == 0
    assert ars.shots[0] == 3 and ars.stock[0] == 0
    assert ars.spent[0] == pytest.approx(3 * 7_000.0)
    v = ars.view(12.0)
    assert v.stock[0] == 0 and v.busy[0] == 1


def ecef(lat, lon, alt):
    return np.stack(geo.geodetic_to_ecef(lat, lon, alt), axis=-1).reshape(-1, 3)


def engagement(shots=1, eff=0):
    return Engagement(id="G", rec="R", effector=eff, track="T1", shots=shots, pk=0.5, cost=1.0, t_approved=0.0,
                      t_launch=0.0, t_intercept=1.0, point=np.zeros(3))


def test_kill_rate_is_one_minus_miss_to_the_shots_against_the_true_class():
    eff = effectors(pk={"shahed": 0.6, "decoy": 0.3})
    n = 4000
    lat = 50.0 + 0.01 * np.arange(n)  # one object per engagement, ~1 km apart
    truth = ecef(lat, np.full(n, 30.0), np.full(n, 500.0))
    cls = np.where(np.arange(n) % 2, CLASS_INDEX["decoy"], CLASS_INDEX["shahed"])
    aim = truth + np.array([[30.0, 30.0, 30.0]])  # 52 m off: inside the basket
    res = resolve([engagement(shots=2) for _ in range(n)], aim, np.zeros(n, bool), eff, truth, cls,
                  np.ones(n, bool), np.random.default_rng(11), OutcomeParams())
    np.testing.assert_array_equal(res.truth_row, np.arange(n))
    for c, pk in ((CLASS_INDEX["shahed"], 0.6), (CLASS_INDEX["decoy"], 0.3)):
        p = 1 - (1 - pk) ** 2
        sel = cls == c
        assert np.allclose(res.p_kill[sel], p)
        assert abs(res.killed[sel].mean() - p) < 4 * math.sqrt(p * (1 - p) / sel.sum())


def test_kill_draws_are_bernoulli_with_p_kill():
    eff = effectors(pk={"shahed": 0.7})
    n = 3000
    lat = 50.0 + 0.01 * np.arange(n)
    truth = ecef(lat, np.full(n, 30.0), np.full(n, 300.0))
    res = resolve([engagement() for _ in range(n)], truth.copy(), np.zeros(n, bool), eff, truth,
                  np.full(n, CLASS_INDEX["shahed"]), np.ones(n, bool), np.random.default_rng(5), OutcomeParams())
    assert abs(res.killed.mean() - 0.7) < 4 * math.sqrt(0.21 / n)


def test_two_sure_kills_on_one_object_in_one_step_count_once():
    eff = effectors(pk={"shahed": 1.0})
    truth = ecef(np.array([50.0]), np.array([30.0]), np.array([500.0]))
    res = resolve([engagement(), engagement()], np.repeat(truth, 2, axis=0), np.zeros(2, bool), eff, truth,
                  np.array([CLASS_INDEX["shahed"]]), np.ones(1, bool), np.random.default_rng(0), OutcomeParams())
    assert res.killed.tolist() == [True, False]


def test_nothing_within_the_kill_radius_is_a_miss_whatever_the_draw():
    eff = effectors(pk={"shahed": 1.0})
    truth = ecef(np.array([50.0]), np.array([30.0]), np.array([500.0]))
    far = truth + np.array([[0.0, 0.0, 2_000.0]])
    dead = resolve([engagement()], far, np.zeros(1, bool), eff, truth, np.array([CLASS_INDEX["shahed"]]),
                   np.ones(1, bool), np.random.default_rng(0), OutcomeParams(kill_radius_m=300.0))
    assert not dead.killed[0] and dead.truth_row[0] == -1 and dead.distance_m[0] == pytest.approx(2000.0, abs=1)
    gone = resolve([engagement()], truth, np.zeros(1, bool), eff, truth, np.array([CLASS_INDEX["shahed"]]),
                   np.zeros(1, bool), np.random.default_rng(0), OutcomeParams())
    assert not gone.killed[0]  # the object already ended: nothing to hit


def test_a_bird_under_the_track_cannot_be_killed():
    eff = effectors()
    truth = ecef(np.array([50.0]), np.array([30.0]), np.array([100.0]))
    res = resolve([engagement(shots=5)], truth, np.zeros(1, bool), eff, truth, np.array([CLASS_INDEX["bird"]]),
                  np.ones(1, bool), np.random.default_rng(0), OutcomeParams())
    assert res.p_kill[0] == 0.0 and not res.killed[0]


# -- --seeds -------------------------------------------------------------------
@given(st.text(max_size=30))
@settings(max_examples=200, deadline=None)
def test_seeds_option_parses_or_fails_in_one_line(text):
    try:
        seeds = parse_seeds(text, "demo", None)
    except InputError as e:
        assert e.field == "--seeds" and "\n" not in str(e)
    else:
        assert seeds and all(isinstance(s, int) and s >= 0 for s in seeds)
        assert seeds == [int(x) for x in text.split(",") if x.strip()]


def test_seeds_default_to_three_from_the_given_seed():
    assert parse_seeds(None, "demo", 41) == [41, 42, 43]
    assert parse_seeds("5, 6", "demo", None) == [5, 6]


def test_escalate_fires_the_cheap_shot_first_when_the_missile_can_still_follow():
    # row 0 gun (cheap, pk 0.7), row 1 SAM (costly, pk 0.9); the plan wants the SAM at both threats
    pk = np.array([[0.7, 0.7], [0.9, 0.9]])
    x = np.array([[0, 0], [1, 1]])
    p = inp(pk, value=np.array([4e7, 4e7]), cost=np.array([7e3, 4.5e5]), cheap=np.array([True, False]),
            urgency=np.array([200.0, 40.0]), t_intercept=np.array([[20.0, 20.0], [15.0, 15.0]]))
    y = escalate(x, p)
    # gun at 20 s, look 5 s, SAM 15 s after: 40 s, within both threats' time to target
    np.testing.assert_array_equal(y, [[1, 1], [0, 0]])
    p.urgency = np.array([200.0, 39.0])
    np.testing.assert_array_equal(escalate(x, p), [[1, 0], [0, 1]])
    p.free = np.array([0, 4])  # the gun has no free channel: the missile stands
    np.testing.assert_array_equal(escalate(x, p), x)


def test_costly_shot_is_held_while_a_cheap_effector_can_still_engage_with_time_to_look():
    # row 0 interceptor team (cheap, pk 0.68, its intercept in 200 s), row 1 SAM (due now)
    pk = np.array([[0.68, 0.68], [0.85, 0.85]])
    x = np.array([[0, 0], [1, 1]])
    p = inp(pk, cost=np.array([4e3, 4.5e5]), cheap=np.array([True, False]),
            urgency=np.array([300.0, 240.0]), t_intercept=np.array([[200.0, 200.0], [15.0, 15.0]]))
    # threat 0: 200 s + look 5 s + margin 60 s = 265 s <= 300 s: the SAM waits for the team's miss
    # threat 1: 265 s > 240 s: no time for the missile after a miss, it fires now
    np.testing.assert_array_equal(hold_costly(x, p), [[0, 0], [0, 1]])
    p.shots = np.array([0, 10])  # the team has nothing left: the SAM fires at both
    np.testing.assert_array_equal(hold_costly(x, p), x)


def test_long_cheap_flights_wait_for_a_closer_shot_while_time_allows():
    pk = np.array([[0.68, 0.68, 0.68], [0.85, 0.85, 0.85]])
    x = np.array([[1, 1, 1], [1, 0, 0]])
    t_launch = np.zeros((2, 3))
    t_int = np.array([[250.0, 250.0, 100.0], [250.0, 250.0, 250.0]])
    p = inp(pk, cheap=np.array([True, False]), urgency=np.array([1000.0, 500.0, 1000.0]),
            t_intercept=t_int, t_launch=t_launch)
    # threat 0: 250 s flight, 750 s to spare: wait; threat 1: only 250 s to spare: fire;
    # threat 2: a 100 s flight fires; the costly row is not deferred (hold_costly decides it)
    np.testing.assert_array_equal(defer_long(x, p), [[0, 1, 1], [1, 0, 0]])


def test_plan_pk_is_discounted_by_the_chance_the_track_is_still_held():
    pk = np.array([[0.6, 0.6, 0.6]])
    t_launch = np.array([[60.0, 60.0, 60.0]])
    t_int = np.array([[100.0, 330.0, np.inf]])
    p = _discounted(inp(pk, t_launch=t_launch, t_intercept=t_int))
    tm = Timing()
    expect = 0.6 * np.exp(-max(270.0 - tm.flight_free_s, 0.0) / tm.flight_tau_s)
    np.testing.assert_allclose(p.pk, [[0.6, expect, 0.6]])  # 40 s flight: no discount


def test_salvo_caps_an_engagement_whatever_was_asked():
    ars = Arsenal(effectors(stock=10, channels=4, salvo=2))
    assert ars.fire(0, 5, now=0.0, until=10.0) == 2


class _Pic:
    """The parts of a Picture that aim_points reads."""

    def __init__(self, lat, lon, alt, vel_enu, t=0.0):
        self.lat, self.lon = np.asarray(lat, float), np.asarray(lon, float)
        self.ecef = ecef(self.lat, self.lon, np.asarray(alt, float))
        self.vel_enu, self.t = np.asarray(vel_enu, float).reshape(-1, 3), t
        self.ids = np.arange(len(self.lat))

    def __len__(self):
        return len(self.lat)


def test_a_dropped_track_is_handed_over_to_the_track_now_on_its_drone():
    # track T0 flies east at 50 m/s; engagement G was aimed at a track the tracker dropped,
    # planned to meet it 10 s from now at T0's position then (within 3 km): handed over
    pic = _Pic([50.0, 50.5], [30.0, 30.0], [500.0, 500.0], [[50.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    e_vec = np.stack(geo.enu_to_ecef_vectors(50.0, 0.0, 0.0, 50.0, 30.0), axis=-1).reshape(3)
    meet = pic.ecef[0] + 10.0 * e_vec
    g_near = Engagement(id="G1", rec="R1", effector=0, track="T9", shots=1, pk=0.5, cost=1.0, t_approved=0.0,
                        t_launch=0.0, t_intercept=10.0, point=meet + np.array([500.0, 0.0, 0.0]))
    g_far = Engagement(id="G2", rec="R2", effector=0, track="T8", shots=1, pk=0.5, cost=1.0, t_approved=0.0,
                       t_launch=0.0, t_intercept=10.0, point=meet + np.array([0.0, 0.0, 20_000.0]))
    g_kept = Engagement(id="G3", rec="R3", effector=0, track="T1", shots=1, pk=0.5, cost=1.0, t_approved=0.0,
                        t_launch=0.0, t_intercept=10.0, point=np.zeros(3))
    aim, lost = aim_points([g_near, g_far, g_kept], {"T0": 0, "T1": 1}, pic)
    assert lost.tolist() == [False, True, False]
    np.testing.assert_allclose(aim[0], meet, atol=1e-6)  # T0 flown on 10 s
    np.testing.assert_allclose(aim[1], g_far.point)  # nothing within 3 km: flies to the plan
    np.testing.assert_allclose(aim[2], pic.ecef[1], atol=1e-6)  # its own track, standing still


def test_a_further_shot_waits_for_the_first_look_not_the_last():
    def eng(gid, t_int, state="flying"):
        return Engagement(id=gid, rec="R", effector=0, track="T1", shots=1, pk=0.5, cost=1.0, t_approved=0.0,
                          t_launch=0.0, t_intercept=t_int, point=np.zeros(3), state=state)
    now = 100.0
    # a missile meeting the drone in 30 s and a fire group's slow intercept in 900 s
    survival, look_at, engaged = in_flight([eng("G1", now + 30), eng("G2", now + 900)], {"T1": 0, "T2": 1},
                                           2, now, 5.0)
    np.testing.assert_allclose(look_at, [35.0, 0.0])
    np.testing.assert_allclose(survival, [0.25, 1.0])
    np.testing.assert_array_equal(engaged, [True, False])
    # a miss being assessed (looking) counts for engagement and look, not for survival
    survival, look_at, _ = in_flight([eng("G3", now - 2, "looking")], {"T1": 0}, 1, now, 5.0)
    np.testing.assert_allclose(look_at, [3.0])
    np.testing.assert_allclose(survival, [1.0])
