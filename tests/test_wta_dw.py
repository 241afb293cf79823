"""Exact WTA for dense pk (wta_price, wta_colgen, wta_dw): pricing lists exactly
the cheap patterns, the column-generation bound is a bound, the dense exact
path equals brute force and reports valid bounds, dense 80 x 80 is optimal."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_wta import brute_force, random_small, tol

import airshield.engage.wta_exact as wta_exact
from airshield.engage.wta import evaluate, is_feasible, make_instance, solve
from airshield.engage.wta_colgen import column_generation
from airshield.engage.wta_dw import dw_exact, objective, sub_pairs
from airshield.engage.wta_exact import solve_exact
from airshield.engage.wta_fast import solve_fast
from airshield.engage.wta_gen import dense_random
from airshield.engage.wta_pairs import to_matrix, useful_pairs
from airshield.engage.wta_patterns import enumerate_patterns
from airshield.engage.wta_price import price_patterns


def _priced(pairs, pat, mu):
    return pat.cost + pat.use @ mu


def _rows(pat):
    """Each pattern as a hashable (threat, shots per pair) key, in list order."""
    dense = pat.shots.toarray().astype(np.int64)
    return [(int(t), tuple(r)) for t, r in zip(pat.thr, dense)]


def test_pricing_lists_exactly_the_patterns_within_slack():
    """Against the full non-dominated lists of wta_patterns: the cheapest priced
    cost per threat is the same, and the slack list is exactly the full list's
    patterns within that slack (plus the empty pattern)."""
    rng = np.random.default_rng(21)
    for _ in range(80):
        inst = random_small(rng, max_e=4, max_t=3, max_shots=3)
        pairs = useful_pairs(inst)
        full = enumerate_patterns(pairs)
        mu = rng.uniform(0, 3, inst.n_effectors) * rng.choice([0.0, 1.0, 10.0])
        slack = float(rng.choice([0.0, 0.5, 5.0, 1e9]))
        pat, best, floor = price_patterns(pairs, mu, slack)
        engaged = np.diff(pairs.thr_start) > 0
        assert pat.complete[engaged].all() and np.array_equal(floor[engaged], best[engaged])
        fp = _priced(pairs, full, mu)
        for t in np.flatnonzero(np.diff(pairs.thr_start) > 0):
            mine = full.thr == t
            assert best[t] == pytest.approx(min(fp[mine].min(), inst.value[t]), rel=1e-9, abs=1e-9)
        within = (fp <= best[full.thr] + slack + 1e-9) & (np.asarray(full.shots.sum(axis=1)).ravel() > 0)
        keys = set(_rows(pat))
        want = {k for k, w in zip(_rows(full), within) if w}
        assert want <= keys
        got_nonempty = {k for k in keys if any(k[1])}
        assert got_nonempty == want
        # true costs are exact
        np.testing.assert_allclose(pat.cost, _true_cost(inst, pairs, pat), rtol=1e-9, atol=1e-9)


def _true_cost(inst, pairs, pat):
    coo = pat.shots.tocoo()
    x = np.zeros((pat.n, inst.n_effectors))
    x[coo.row, pairs.eff[coo.col]] = coo.data
    j = pat.thr
    return inst.value[j] * np.prod((1 - np.minimum(inst.pk[:, j].T, 1 - np.exp(-60))) ** x, axis=1) \
        + inst.lam * x @ inst.cost


def test_pricing_given_up_keeps_a_valid_floor():
    """With tiny node caps threats are given up; their floor stays below the
    true cheapest priced pattern and only their empty pattern is listed."""
    rng = np.random.default_rng(22)
    gave_up = 0
    for _ in range(80):
        inst = random_small(rng, max_e=4, max_t=3, max_shots=3)
        pairs = useful_pairs(inst)
        full = enumerate_patterns(pairs)
        mu = rng.uniform(0, 3, inst.n_effectors)
        pat, best, floor = price_patterns(pairs, mu, 0.0, node_cap=3, threat_node_cap=2)
        fp = _priced(pairs, full, mu)
        for t in np.flatnonzero(np.diff(pairs.thr_start) > 0):
            true_min = min(fp[full.thr == t].min(), inst.value[t])
            assert floor[t] <= true_min + tol(true_min)
            if not pat.complete[t]:
                gave_up += 1
                assert pat.start[t + 1] - pat.start[t] == 1
            else:
                assert best[t] == pytest.approx(true_min, rel=1e-9, abs=1e-9)
    assert gave_up > 3


def test_column_generation_bound_is_below_the_optimum_and_the_lp():
    rng = np.random.default_rng(8)
    for _ in range(60):
        inst = random_small(rng, max_e=3, max_t=3)
        best = brute_force(inst)
        pairs = useful_pairs(inst)
        if pairs.n == 0:
            continue
        start = solve_fast(inst).shots[pairs.eff, pairs.thr]
        cg = column_generation(pairs, start, objective(pairs, start), None)
        # the bound counts threats nobody can engage itself
        assert cg.bound - pairs.cap_slack <= best + tol(best)
        assert cg.bound <= cg.lp + tol(cg.lp)
        assert np.all(cg.mu >= 0)


def test_column_generation_without_a_master_still_bounds(monkeypatch):
    """If HiGHS fails on the master LP, the bound falls back to L(0)."""
    import types

    import airshield.engage.wta_colgen as colgen
    monkeypatch.setattr(colgen, "linprog", lambda *a, **k: types.SimpleNamespace(status=4))
    rng = np.random.default_rng(9)
    for _ in range(30):
        inst = random_small(rng, max_e=3, max_t=3)
        best = brute_force(inst)
        pairs = useful_pairs(inst)
        if pairs.n == 0:
            continue
        start = solve_fast(inst).shots[pairs.eff, pairs.thr]
        cg = column_generation(pairs, start, objective(pairs, start), None)
        assert np.isfinite(cg.bound)
        assert cg.bound - pairs.cap_slack <= best + tol(best)


def _force_dw(monkeypatch):
    monkeypatch.setattr(wta_exact, "PATTERNS_PER_THREAT", 0)
    monkeypatch.setattr(wta_exact, "PATTERNS_PER_GROUP", 0)
    monkeypatch.setattr(wta_exact, "DENSE_METHOD", "dw")


def test_dense_path_equals_brute_force_on_random_small(monkeypatch):
    _force_dw(monkeypatch)
    rng = np.random.default_rng(13)
    for _ in range(80):
        inst = random_small(rng, max_e=3, max_t=3, max_shots=3)
        best = brute_force(inst)
        ex = solve_exact(inst)
        assert is_feasible(inst, ex.shots)
        assert ex.objective == pytest.approx(best, rel=1e-9, abs=1e-9)
        assert ex.optimal and ex.bound <= best + tol(best)


@st.composite
def dense_small(draw):
    E, T = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    pk = draw(st.lists(st.lists(st.floats(0.05, 1.0), min_size=T, max_size=T), min_size=E, max_size=E))
    value = draw(st.lists(st.floats(1.0, 1e6), min_size=T, max_size=T))
    cost = draw(st.lists(st.floats(0.0, 1e5), min_size=E, max_size=E))
    shots = draw(st.lists(st.integers(0, 3), min_size=E, max_size=E))
    lam = draw(st.sampled_from([0.0, 0.1, 1.0]))
    return make_instance(value, shots, cost, np.round(pk, 3), lam)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=dense_small(), cap=st.sampled_from([0, 200_000]))
def test_dw_exact_on_dense_small_matches_brute_force_and_bounds(inst, cap):
    """Every effector reaches every threat. With the pattern lists allowed
    (cap 200,000) the result is optimal; with none (cap 0) the plan is
    still feasible and the bound (column generation alone) still valid."""
    best = brute_force(inst)
    pairs = useful_pairs(inst)
    if pairs.n == 0:
        return
    start = solve_fast(inst).shots[pairs.eff, pairs.thr]
    xp, lower, proven = dw_exact(pairs, start, None, max_patterns=cap)
    x = to_matrix(pairs, xp)
    assert is_feasible(inst, x)
    obj = evaluate(inst, x)[0]
    assert lower <= best + tol(best)
    assert lower <= obj + tol(obj)
    if cap:
        assert proven
        assert obj == pytest.approx(best, rel=1e-9, abs=1e-9)


def test_sub_pairs_keep_one_group_and_its_objective():
    inst = dense_random(np.random.default_rng(3), 6, 5)
    pairs = useful_pairs(inst)
    ps = np.flatnonzero(pairs.thr < 3)
    sub = sub_pairs(pairs, ps)
    xp = np.ones(sub.n, dtype=np.int64)
    full = np.zeros(pairs.n, dtype=np.int64)
    full[ps] = 1
    on = np.zeros(inst.n_threats, bool)
    on[:3] = True
    L = np.bincount(pairs.thr, weights=pairs.a * full, minlength=inst.n_threats)
    want = float(np.dot(inst.value[on], np.exp(-L[on])) + np.dot(pairs.k, full))
    assert objective(sub, xp) == pytest.approx(want, rel=1e-12)


def test_dense_path_agrees_with_outer_approximation(monkeypatch):
    """Two independent exact methods on dense 8 x 8: the same optimum."""
    for seed in range(3):
        inst = dense_random(np.random.default_rng(seed), 8, 8)
        monkeypatch.setattr(wta_exact, "DENSE_METHOD", "dw")
        dw = solve_exact(inst)
        monkeypatch.setattr(wta_exact, "DENSE_METHOD", "oa")
        oa = solve_exact(inst)
        assert dw.optimal and oa.optimal
        assert dw.objective == pytest.approx(oa.objective, rel=1e-6)


def test_dense_80_by_80_is_proven_optimal_and_beats_the_fast_plan():
    inst = dense_random(np.random.default_rng(0), 80, 80)
    ex = solve(inst)                      # auto: exact for up to 100 x 100
    assert ex.solver.startswith("exact")
    fa = solve_fast(inst)
    assert ex.optimal and ex.gap <= 1e-6
    assert is_feasible(inst, ex.shots)
    assert ex.objective <= fa.objective + tol(fa.objective)
    assert fa.bound <= ex.objective + tol(ex.objective)
    assert (ex.objective, ex.expected_leak_value, ex.cost) == pytest.approx(evaluate(inst, ex.shots))


def test_dense_time_limit_keeps_a_valid_bound():
    inst = dense_random(np.random.default_rng(1), 80, 80)
    opt = solve_exact(inst)
    p = solve_exact(inst, time_limit=0.05)
    assert is_feasible(inst, p.shots)
    assert p.bound <= opt.objective + tol(opt.objective)
    assert p.objective >= opt.objective - tol(opt.objective)
