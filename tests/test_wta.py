"""Static weapon-target assignment: exact == brute force, bounds are bounds, fast
plans are feasible and honest, JSON is consistent, bad input is one line."""

import itertools
import json
import math
import subprocess
import sys

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import airshield.engage.wta_exact as wta_exact
from airshield.cli import app
from airshield.engage.wta import (evaluate, instance_from_doc, is_feasible, load_instance,
                                  make_instance, plan_to_json, solve)
from airshield.engage.wta_bound import lagrangian_bound
from airshield.engage.wta_exact import solve_exact
from airshield.engage.wta_fast import solve_fast
from airshield.engage.wta_gen import dense_random, layered_defence
from airshield.engage.wta_pairs import useful_pairs
from airshield.engage.wta_patterns import enumerate_patterns
from airshield.errors import InputError


# ------------------------------------------------------------------ helpers

def brute_force(inst) -> float:
    """Optimum by enumerating every shot allocation (numpy over all plans)."""
    E, T = inst.pk.shape
    per_eff = []
    for i in range(E):
        top = int(inst.shots[i]) if inst.salvo is None else min(int(inst.shots[i]), int(inst.salvo[i]))
        opts = [c for c in itertools.product(range(top + 1), repeat=T) if sum(c) <= inst.shots[i]]
        per_eff.append(np.array(opts, dtype=np.int64).reshape(-1, T))
    grids = np.meshgrid(*[np.arange(len(o)) for o in per_eff], indexing="ij")
    x = np.stack([per_eff[i][g.ravel()] for i, g in enumerate(grids)], axis=1)   # (N, E, T)
    surv = np.prod(np.power(1.0 - inst.pk[None], x), axis=1)
    obj = surv @ inst.value + inst.lam * (x.sum(axis=2) @ inst.cost)
    return float(obj.min())


def random_small(rng, max_e=3, max_t=3, max_shots=3):
    E, T = int(rng.integers(1, max_e + 1)), int(rng.integers(1, max_t + 1))
    pk = np.round(rng.uniform(0, 1, (E, T)), 3)
    pk[rng.random((E, T)) < 0.25] = 0.0
    pk[rng.random((E, T)) < 0.1] = 1.0
    value = rng.uniform(0, 10, T) * rng.choice([1.0, 100.0])
    cost = rng.uniform(0, 3, E)
    return make_instance(value, rng.integers(0, max_shots + 1, E), cost, pk,
                         lam=float(rng.choice([0.0, 0.5, 1.0, 2.0])))


def tol(x: float) -> float:
    return 1e-7 * max(1.0, abs(x))


def recompute(doc: dict, plan_doc: dict) -> float:
    """What a reader does: the objective from the assignments alone."""
    t_index = {t["id"]: j for j, t in enumerate(doc["threats"])}
    e_index = {e["id"]: i for i, e in enumerate(doc["effectors"])}
    surv = [1.0] * len(t_index)
    money = 0.0
    for a in plan_doc["assignments"]:
        i, j = e_index[a["effector"]], t_index[a["threat"]]
        surv[j] *= (1.0 - doc["pk"][i][j]) ** a["shots"]
        money += doc["effectors"][i]["cost"] * a["shots"]
    return sum(t["value"] * s for t, s in zip(doc["threats"], surv)) + doc["lambda"] * money


def doc_of(inst) -> dict:
    return {"lambda": inst.lam,
            "threats": [{"id": t, "value": float(v)} for t, v in zip(inst.threat_ids, inst.value)],
            "effectors": [{"id": e, "shots": int(s), "cost": float(c)}
                          for e, s, c in zip(inst.effector_ids, inst.shots, inst.cost)],
            "pk": inst.pk.tolist()}


# ------------------------------------------------------------------ solvers

def test_exact_equals_brute_force_and_bounds_hold():
    rng = np.random.default_rng(7)
    for _ in range(120):
        inst = random_small(rng)
        best = brute_force(inst)
        ex = solve_exact(inst)
        assert is_feasible(inst, ex.shots)
        assert ex.objective == pytest.approx(best, rel=1e-9, abs=1e-9)
        assert ex.optimal and ex.bound <= best + tol(best)
        fa = solve_fast(inst)
        assert is_feasible(inst, fa.shots)
        assert fa.objective >= best - tol(best)
        assert fa.bound <= best + tol(best)


def test_salvo_caps_are_kept_by_exact_and_fast_solvers():
    """With a salvo cap (most shots of an effector at one threat), exact still
    equals brute force over the capped plans, and both plans keep the cap."""
    rng = np.random.default_rng(11)
    for _ in range(60):
        base = random_small(rng, max_shots=4)
        salvo = rng.integers(1, 3, base.n_effectors)
        inst = make_instance(base.value, base.shots, base.cost, base.pk, base.lam, salvo=salvo)
        best = brute_force(inst)
        for plan in (solve_exact(inst), solve_fast(inst)):
            assert is_feasible(inst, plan.shots)
            assert np.all(plan.shots <= salvo[:, None])
        assert solve_exact(inst).objective == pytest.approx(best, rel=1e-7, abs=1e-7)
        assert solve_fast(inst).objective >= best - tol(best)


def test_outer_approximation_path_equals_brute_force(monkeypatch):
    # force the shot-count MILP (used for dense pk) instead of fire patterns
    monkeypatch.setattr(wta_exact, "PATTERNS_PER_THREAT", 0)
    monkeypatch.setattr(wta_exact, "PATTERNS_PER_GROUP", 0)
    monkeypatch.setattr(wta_exact, "DENSE_METHOD", "oa")   # the DW path: tests/test_wta_dw.py
    rng = np.random.default_rng(11)
    for _ in range(40):
        inst = random_small(rng, max_e=3, max_t=3, max_shots=3)
        best = brute_force(inst)
        ex = solve_exact(inst)
        assert ex.objective == pytest.approx(best, rel=1e-9, abs=1e-9)
        assert ex.bound <= best + tol(best)
        assert ex.optimal


def test_lagrangian_bound_below_optimum_with_and_without_patterns():
    rng = np.random.default_rng(3)
    for _ in range(150):
        inst = random_small(rng, max_e=3, max_t=3)
        best = brute_force(inst)
        pairs = useful_pairs(inst)
        for pat in (None, enumerate_patterns(pairs)):
            lb, mu = lagrangian_bound(pairs, best * 1.05 + 1.0, patterns=pat, iters=60)
            assert lb <= best + tol(best)
            assert np.all(mu >= 0)


def test_patterns_have_exact_costs_and_contain_each_threats_best():
    rng = np.random.default_rng(5)
    for _ in range(60):
        inst = random_small(rng, max_e=4, max_t=3)
        pairs = useful_pairs(inst)
        pat = enumerate_patterns(pairs)
        coo = pat.shots.tocoo()
        x = np.zeros((pat.n, inst.n_effectors), dtype=np.int64)
        x[coo.row, pairs.eff[coo.col]] = np.rint(coo.data).astype(np.int64)
        j = pat.thr
        cost = inst.value[j] * np.prod((1 - inst.pk[:, j].T) ** x, axis=1) + inst.lam * x @ inst.cost
        np.testing.assert_allclose(pat.cost, cost, rtol=1e-12, atol=1e-12)
        assert np.all(x <= inst.shots)
        for t in range(inst.n_threats):
            # the single-threat optimum (every effector free to fire all its shots at t)
            alone = make_instance([inst.value[t]], inst.shots, inst.cost, inst.pk[:, [t]], inst.lam)
            listed = pat.cost[pat.start[t]:pat.start[t + 1]]
            best = listed.min() if len(listed) else inst.value[t]
            assert best == pytest.approx(brute_force(alone), rel=1e-9, abs=1e-9)


def test_local_moves_keep_plans_feasible_and_never_worse():
    from airshield.engage.wta_fast import descend
    from airshield.engage.wta_greedy import greedy
    from airshield.engage.wta_lns import lns
    from airshield.engage.wta_moves import ejection, pattern_descent, swap_round
    from airshield.engage.wta_pairs import to_matrix
    inst = layered_defence(np.random.default_rng(9), 200, 100)
    pairs = useful_pairs(inst)
    pat = enumerate_patterns(pairs)
    xp = greedy(pairs)
    last = evaluate(inst, to_matrix(pairs, xp))[0]
    for move in (lambda z: pattern_descent(pairs, pat, z), lambda z: ejection(pairs, pat, z)[0],
                 lambda z: swap_round(pairs, pat, z)[0], lambda z: descend(pairs, pat, z, None),
                 lambda z: lns(pairs, pat, z, None)):
        xp = move(xp)
        x = to_matrix(pairs, xp)
        assert is_feasible(inst, x)
        obj = evaluate(inst, x)[0]
        assert obj <= last + tol(last)
        last = obj
    assert last < evaluate(inst, to_matrix(pairs, greedy(pairs)))[0]     # they did improve


def test_patterns_bound_is_tight_for_single_effector_threats():
    # each threat reachable by one effector with plenty of shots: the relaxed
    # per-threat problem is the real one, so the bound equals the optimum
    inst = make_instance([100.0, 40.0], [5, 5], [3.0, 1.0], [[0.6, 0.0], [0.0, 0.3]])
    best = brute_force(inst)
    lb, _ = lagrangian_bound(useful_pairs(inst), best + 10, iters=50)
    assert lb == pytest.approx(best, rel=1e-9)


def test_hand_computed_single_pair():
    # 10 * 0.5**x + x: x = 0..3 -> 10, 6, 4.5, 4.25
    inst = make_instance([10.0], [3], [1.0], [[0.5]])
    for method in ("exact", "fast"):
        p = solve(inst, method=method)
        assert p.shots[0, 0] == 3
        assert p.objective == pytest.approx(4.25)
        assert p.expected_leak_value == pytest.approx(1.25)
        assert p.cost == pytest.approx(3.0)
    short = make_instance([10.0], [2], [1.0], [[0.5]])
    assert solve(short).objective == pytest.approx(4.5)


def test_one_shot_goes_to_the_bigger_expected_saving():
    inst = make_instance([100.0, 300.0], [1], [1.0], [[0.9, 0.2]])   # 90 vs 60 saved
    for method in ("exact", "fast"):
        assert solve(inst, method=method).shots.tolist() == [[1, 0]]


def test_huge_lambda_fires_nothing():
    inst = layered_defence(np.random.default_rng(0), 20, 15, lam=1e9)
    for method in ("exact", "fast"):
        p = solve(inst, method=method)
        assert p.shots.sum() == 0
        assert p.objective == pytest.approx(inst.value.sum())
        assert p.bound == pytest.approx(inst.value.sum(), rel=1e-9)


def test_sure_kill_cheap_shot_is_assigned():
    inst = make_instance([1e6], [2], [1e3], [[1.0]])
    for method in ("exact", "fast"):
        p = solve(inst, method=method)
        assert p.shots.tolist() == [[1]]           # the second shot would be wasted
        assert p.expected_leak_value == 0.0
        assert p.objective == pytest.approx(1e3)
        assert p.bound == pytest.approx(1e3, rel=1e-9)


def test_no_shots_no_effectors_no_threats():
    for inst in (make_instance([5.0, 7.0], [0], [1.0], [[0.5, 0.5]]),
                 make_instance([5.0], np.zeros(0, int), np.zeros(0), np.zeros((0, 1))),
                 make_instance(np.zeros(0), [3], [1.0], np.zeros((1, 0)))):
        for method in ("exact", "fast"):
            p = solve(inst, method=method)
            assert p.objective == pytest.approx(inst.value.sum())
            assert p.bound == pytest.approx(inst.value.sum())


def test_fast_on_realistic_raid_is_feasible_and_within_reported_gap():
    inst = layered_defence(np.random.default_rng(5), 120, 70)
    fa = solve_fast(inst)
    ex = solve_exact(inst, time_limit=30)
    assert is_feasible(inst, fa.shots)
    assert ex.optimal
    assert fa.bound <= ex.objective + tol(ex.objective)
    assert fa.objective >= ex.objective - tol(ex.objective)
    assert fa.gap == pytest.approx((fa.objective - fa.bound) / fa.objective)
    assert fa.gap < 0.02          # realistic raids: the fast plan is close
    assert (fa.objective, fa.expected_leak_value, fa.cost) == pytest.approx(evaluate(inst, fa.shots))


def test_exact_time_limit_returns_a_plan_with_a_valid_bound():
    inst = dense_random(np.random.default_rng(2), 40, 40)
    p = solve_exact(inst, time_limit=0.3)
    full = solve_fast(inst)
    assert is_feasible(inst, p.shots)
    assert p.bound is not None and p.bound <= p.objective
    assert p.bound <= full.objective + tol(full.objective)


def test_auto_and_bad_method():
    small = layered_defence(np.random.default_rng(1), 30, 20)
    assert solve(small).solver.startswith("exact")
    with pytest.raises(InputError, match="solver"):
        solve(small, method="magic")
    with pytest.raises(InputError, match="time"):
        solve(small, time_limit=-1.0)


def test_plan_json_is_consistent_with_its_assignments():
    inst = layered_defence(np.random.default_rng(4), 40, 30)
    doc = doc_of(inst)
    for method in ("exact", "fast"):
        plan_doc = json.loads(plan_to_json(inst, solve(inst, method=method)))
        assert set(plan_doc) >= {"assignments", "objective", "expected_leak_value", "cost",
                                 "bound", "solver"}
        assert recompute(doc, plan_doc) == pytest.approx(plan_doc["objective"], rel=1e-12)
        assert plan_doc["bound"] <= plan_doc["objective"]
        assert all(a["shots"] >= 1 for a in plan_doc["assignments"])
        shots = {}
        for a in plan_doc["assignments"]:
            shots[a["effector"]] = shots.get(a["effector"], 0) + a["shots"]
        limit = {e["id"]: e["shots"] for e in doc["effectors"]}
        assert all(n <= limit[e] for e, n in shots.items())


# ------------------------------------------------------------------ input

GOOD = {"lambda": 1.0,
        "threats": [{"id": "T1", "value": 2e6}, {"id": "T2", "value": 1e4}],
        "effectors": [{"id": "E1", "shots": 4, "cost": 4000.0}, {"id": "E2", "shots": 1, "cost": 1e5}],
        "pk": [[0.5, 0.4], [0.0, 0.9]]}


def write(tmp_path, doc, name="inst.json"):
    p = tmp_path / name
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return p


def mutate(path_keys, value):
    doc = json.loads(json.dumps(GOOD))
    obj = doc
    for k in path_keys[:-1]:
        obj = obj[k]
    if value is KeyError:
        del obj[path_keys[-1]]
    else:
        obj[path_keys[-1]] = value
    return doc


BAD = [
    (mutate(["lambda"], KeyError), "lambda", "missing"),
    (mutate(["lambda"], -1.0), "lambda", ">= 0"),
    (mutate(["threats"], {"T1": 1}), "threats", "array"),
    (mutate(["threats", 1, "value"], -5.0), "threats[1].value", ">= 0"),
    (mutate(["threats", 0, "value"], "big"), "threats[0].value", "number"),
    (mutate(["threats", 0, "value"], 1e300), "threats[0].value", "implausibly large"),
    (mutate(["threats", 1, "id"], "T1"), "threats[1].id", "duplicate"),
    (mutate(["effectors", 1, "id"], 7), "effectors[1].id", "string"),
    (mutate(["effectors", 1, "shots"], 2.5), "effectors[1].shots", "whole"),
    (mutate(["effectors", 0, "shots"], -1), "effectors[0].shots", ">= 0"),
    (mutate(["effectors", 0, "shots"], 10**7), "effectors[0].shots", "implausibly large"),
    (mutate(["effectors", 0, "cost"], KeyError), "effectors[0].cost", "missing"),
    (mutate(["effectors", 1, "cost"], -3.0), "effectors[1].cost", ">= 0"),
    (mutate(["pk"], [[0.5, 0.4]]), "pk", "2 rows"),
    (mutate(["pk", 1], [0.1]), "pk[1]", "2 numbers"),
    (mutate(["pk", 1, 0], 1.5), "pk[1][0]", "[0, 1]"),
    (mutate(["pk", 0, 1], -0.1), "pk[0][1]", "[0, 1]"),
    (mutate(["pk", 0, 1], True), "pk[0][1]", "number"),
    (mutate(["pk", 1, 1], None), "pk[1][1]", "number"),
]


@pytest.mark.parametrize("doc,field,words", BAD, ids=[b[1] + ":" + b[2] for b in BAD])
def test_bad_instance_names_file_and_field(tmp_path, doc, field, words):
    p = write(tmp_path, doc)
    with pytest.raises(InputError) as e:
        load_instance(p)
    msg = str(e.value)
    assert e.value.field == field
    assert str(p) in msg and field in msg and words in msg
    assert "\n" not in msg


def test_missing_file_malformed_json_and_nan(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_instance(tmp_path / "nope.json")
    p = write(tmp_path, '{"lambda": 1.0,\n "threats": [\n  {"id": "T1", "value": }\n]}')
    with pytest.raises(InputError) as e:
        load_instance(p)
    assert e.value.line == 3 and "malformed JSON" in str(e.value)
    p = write(tmp_path, json.dumps(GOOD).replace("0.9", "NaN"))
    with pytest.raises(InputError):
        load_instance(p)
    with pytest.raises(InputError, match="pk\\[0\\]\\[0\\]"):
        instance_from_doc(mutate(["pk", 0, 0], math.nan), source="mem")


def test_good_instance_reads_and_extra_fields_are_kept_out(tmp_path):
    doc = json.loads(json.dumps(GOOD))
    doc["note"] = "ignored"
    doc["effectors"][0]["shots"] = 4.0          # a whole number written as a float
    inst = load_instance(write(tmp_path, doc))
    assert inst.threat_ids == ("T1", "T2") and inst.effector_ids == ("E1", "E2")
    assert inst.shots.tolist() == [4, 1] and inst.pk.shape == (2, 2) and inst.lam == 1.0


json_scalars = st.none() | st.booleans() | st.integers(-10, 10**6) | \
    st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=5)
json_docs = st.recursive(json_scalars, lambda kids: st.lists(kids, max_size=4) |
                         st.dictionaries(st.sampled_from(["lambda", "threats", "effectors", "pk",
                                                          "id", "value", "shots", "cost", "x"]),
                                         kids, max_size=5), max_leaves=25)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=json_docs)
def test_fuzz_arbitrary_json_only_raises_input_error(tmp_path, doc):
    p = tmp_path / "fuzz.json"
    p.write_bytes(orjson.dumps(doc))
    try:
        inst = load_instance(p)
    except InputError as e:
        assert "\n" not in str(e)
    else:
        assert inst.pk.shape == (inst.n_effectors, inst.n_threats)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.lists(st.sampled_from(["lambda", "threats", "effectors", "pk", 0, 1, "id", "value",
                                      "shots", "cost"]), min_size=1, max_size=4),
       value=json_docs)
def test_fuzz_mutated_instance_only_raises_input_error(tmp_path, path, value):
    def fits(obj, k):
        return (isinstance(obj, dict) and isinstance(k, str)) or \
            (isinstance(obj, list) and isinstance(k, int) and k < len(obj))

    doc = json.loads(json.dumps(GOOD))
    obj = doc
    for k in path[:-1]:
        if not fits(obj, k) or (isinstance(obj, dict) and k not in obj):
            break
        obj = obj[k]
    if fits(obj, path[-1]):
        obj[path[-1]] = value
    p = tmp_path / "fuzz.json"
    p.write_bytes(orjson.dumps(doc))
    try:
        inst = load_instance(p)
    except InputError:
        return
    p2 = solve(inst, method="fast")             # whatever loads, solves
    assert is_feasible(inst, p2.shots)


# ------------------------------------------------------------------ CLI

def test_cli_assign_writes_plan(tmp_path):
    inst = layered_defence(np.random.default_rng(8), 25, 20)
    src = write(tmp_path, doc_of(inst))
    out = tmp_path / "plan.json"
    res = CliRunner().invoke(app, ["assign", str(src), "--out", str(out)])
    assert res.exit_code == 0, res.output
    plan_doc = json.loads(out.read_text())
    assert recompute(doc_of(inst), plan_doc) == pytest.approx(plan_doc["objective"], rel=1e-12)
    assert plan_doc["solver"].startswith("exact") and plan_doc["optimal"] is True
    res = CliRunner().invoke(app, ["assign", str(src), "--solver", "fast", "--time-limit", "5"])
    assert res.exit_code == 0
    assert json.loads(res.stdout)["solver"].startswith("fast")


@pytest.mark.parametrize("doc,field,words", BAD[::3], ids=[b[1] for b in BAD[::3]])
def test_cli_bad_input_exits_2_with_one_line(tmp_path, doc, field, words):
    src = write(tmp_path, doc)
    res = CliRunner().invoke(app, ["assign", str(src)])
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and field in lines[0] and "Traceback" not in res.output


def test_cli_real_process_exit_codes(tmp_path):
    good = write(tmp_path, GOOD, "good.json")
    r = subprocess.run([sys.executable, "-m", "airshield.cli", "assign", str(good)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and json.loads(r.stdout)["objective"] > 0
    r = subprocess.run([sys.executable, "-m", "airshield.cli", "assign", str(tmp_path / "missing.json")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "no such file" in r.stderr
