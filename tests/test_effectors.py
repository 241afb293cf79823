"""Effector declarations: documented defaults per kind, overrides, the
fighter's two weapons, one-line errors naming the key path, and a loader that
never crashes on arbitrary input."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airshield import CLASS_INDEX, CLASSES, geo
from airshield.engage.effectors import (DEFAULTS, EFFECTOR_KINDS, KEYS, defaults, effectors_from_rows,
                                        load_effectors)
from airshield.errors import InputError


def item(kind, **over):
    return {"id": f"{kind}-1", "kind": kind, "lat": 50.1, "lon": 23.2, **over}


@pytest.mark.parametrize("kind", EFFECTOR_KINDS)
def test_every_kind_loads_with_its_documented_defaults(kind):
    eff = load_effectors([item(kind, alt=120.0, nation="PL")], "s.yaml")
    d = DEFAULTS[kind]
    assert eff.ids[0] == f"{kind}-1" and eff.kind_name(0) == kind and eff.nation[0] == "PL"
    assert eff.stock[0] == d["stock"] and eff.channels[0] == d["channels"] and eff.busy[0] == 0
    assert eff.max_range[0] == d["max_range_m"] and eff.speed[0] == d["speed_mps"]
    assert eff.reach[0] == d["reach_m"] and eff.reaction[0] == d["reaction_s"]
    assert eff.pk[0, CLASS_INDEX["shahed"]] == d["pk"]["shahed"]
    assert eff.pk[0, CLASS_INDEX["aircraft"]] == 0.0 and eff.pk[0, CLASS_INDEX["bird"]] == 0.0
    np.testing.assert_allclose(eff.ecef[0], np.ravel(geo.geodetic_to_ecef(50.1, 23.2, 120.0)))
    assert eff.ground_alt[0] == (0.0 if kind == "fighter" else 120.0)


def test_defaults_follow_the_public_figures():
    assert DEFAULTS["interceptor_drone"]["pk"]["shahed"] == pytest.approx(0.68)
    assert 3_500 <= DEFAULTS["interceptor_drone"]["cost_per_shot"] <= 5_000
    assert 250 / 3.6 <= DEFAULTS["interceptor_drone"]["speed_mps"] <= 300 / 3.6
    assert 15_000 <= DEFAULTS["interceptor_drone"]["max_range_m"] <= 25_000
    assert 3_500 <= DEFAULTS["aa_gun"]["max_range_m"] <= 4_000
    assert 400_000 <= DEFAULTS["sam_short"]["cost_per_shot"] <= 1_000_000
    assert 1_000_000 <= DEFAULTS["sam_medium"]["cost_per_shot"] <= 4_000_000
    assert 20_000 <= DEFAULTS["fighter"]["cost_per_hour"] <= 40_000
    for kind in EFFECTOR_KINDS:
        assert set(DEFAULTS[kind]["pk"]) == set(CLASSES)


def test_fighter_becomes_missile_and_cannon_rows():
    eff = load_effectors([item("fighter", id="F16-1", cannon={"stock": 2})], "s.yaml")
    assert eff.ids == ["F16-1", "F16-1/cannon"] and eff.weapon == ["missile", "cannon"]
    assert eff.platform.tolist() == [0, 0]
    d = DEFAULTS["fighter"]
    flight = d["cost_per_hour"] * d["hours_per_shot"]
    assert eff.cost[0] == pytest.approx(d["cost_per_shot"] + flight)
    assert eff.cost[1] == pytest.approx(3_000.0 + flight)
    assert eff.stock.tolist() == [d["stock"], 2]
    assert eff.pk[1, CLASS_INDEX["shahed"]] < eff.pk[0, CLASS_INDEX["shahed"]]
    assert len(load_effectors([item("fighter", cannon=False)])) == 1


def test_overrides_merge_with_defaults():
    eff = load_effectors([item("interceptor_drone", stock=7, pk={"shahed": 0.5}, max_range_m=25_000)])
    assert eff.stock[0] == 7 and eff.max_range[0] == 25_000.0
    assert eff.pk[0, CLASS_INDEX["shahed"]] == 0.5
    assert eff.pk[0, CLASS_INDEX["decoy"]] == DEFAULTS["interceptor_drone"]["pk"]["decoy"]
    assert defaults("interceptor_drone")["pk"]["shahed"] == 0.68  # defaults are not mutated


def test_salvo_and_acquisition_defaults_and_overrides():
    """One engagement puts at most ``salvo`` shots on a drone: a fire group one
    burst, an interceptor team 2-3 drones (the brief), a battery two rounds;
    ``acquire_m`` is how far from its aim the weapon finds the drone itself."""
    eff = load_effectors([item("mobile_fire_group"), item("interceptor_drone"), item("sam_short"),
                          item("fighter"), item("aa_gun", salvo=4, acquire_m=800)])
    assert eff.salvo.tolist() == [1, 3, 2, 2, 1, 4]  # the fighter's cannon row: one pass
    assert eff.acquire.tolist() == [300.0, 1_000.0, 1_000.0, 1_000.0, 500.0, 800.0]
    with pytest.raises(InputError) as e:
        load_effectors([item("aa_gun", salvo=0)], "s.yaml")
    assert e.value.field == "effectors[0].salvo"


def test_rows_round_trip_through_params():
    eff = load_effectors([item("sam_short"), item("fighter")])
    again = effectors_from_rows(eff.params, eff.platform.tolist())
    assert again.ids == eff.ids
    np.testing.assert_array_equal(again.pk, eff.pk)
    np.testing.assert_array_equal(again.cost, eff.cost)


@pytest.mark.parametrize("bad,field", [
    (item("interceptor_drone", rnage_m=5), "effectors[1].rnage_m"),
    (item("laser"), "effectors[1].kind"),
    ({"id": "X", "kind": "aa_gun", "lon": 20.0}, "effectors[1].lat"),
    (item("aa_gun", lat=95.0), "effectors[1].lat"),
    (item("aa_gun", id=""), "effectors[1].id"),
    (item("aa_gun", pk={"helicopter": 0.5}), "effectors[1].pk.helicopter"),
    (item("aa_gun", pk={"shahed": 1.5}), "effectors[1].pk.shahed"),
    (item("aa_gun", pk={"shahed": "high"}), "effectors[1].pk.shahed"),
    (item("aa_gun", pk={"aircraft": 0.3}), "effectors[1].pk.aircraft"),
    (item("aa_gun", pk=[0.5]), "effectors[1].pk"),
    (item("aa_gun", stock=2.5), "effectors[1].stock"),
    (item("aa_gun", stock=-1), "effectors[1].stock"),
    (item("aa_gun", channels=0), "effectors[1].channels"),
    (item("aa_gun", max_range_m=50.0), "effectors[1].max_range_m"),  # below min_range_m
    (item("aa_gun", min_alt_m=500.0, max_alt_m=100.0), "effectors[1].max_alt_m"),
    (item("aa_gun", speed_mps=0, reach_m=0), "effectors[1].speed_mps"),
    (item("aa_gun", cost_per_shot=True), "effectors[1].cost_per_shot"),
    (item("aa_gun", nation=3), "effectors[1].nation"),
    (item("aa_gun", cannon={}), "effectors[1].cannon"),
    (item("fighter", cannon={"stok": 2}), "effectors[1].cannon.stok"),
    (item("fighter", cannon={"pk": {"bird": 0.1}}), "effectors[1].cannon.pk.bird"),
    (item("fighter", cannon=3), "effectors[1].cannon"),
    (item("interceptor_drone", id="interceptor_drone-1"), "effectors[1].id"),  # duplicate
    ("not a mapping", "effectors[1]"),
])
def test_bad_effector_names_the_key_path(bad, field):
    with pytest.raises(InputError) as e:
        load_effectors([item("interceptor_drone"), bad], "s.yaml")
    assert e.value.field == field
    text = str(e.value)
    assert text.startswith(f"s.yaml: {field}: ") and "\n" not in text


def test_aliases_from_older_scenario_files():
    eff = load_effectors([item("spaag", range_m=5_500, shots=60, cost=4_000, description="Gepard east"),
                          item("sam_short_range", id="s")])
    assert [eff.kind_name(e) for e in range(2)] == ["aa_gun", "sam_short"]
    assert eff.max_range[0] == 5_500.0 and eff.stock[0] == 60 and eff.cost[0] == 4_000.0
    with pytest.raises(InputError) as e:
        load_effectors([item("aa_gun", shots=3, stock=4)], "s.yaml")
    assert e.value.field == "effectors[0].shots"
    with pytest.raises(InputError) as e:
        load_effectors([item("aa_gun", shots=2.5)], "s.yaml")
    assert e.value.field == "effectors[0].shots"


def test_duplicate_of_generated_cannon_id():
    with pytest.raises(InputError, match="duplicate"):
        load_effectors([item("fighter", id="F"), item("aa_gun", id="F/cannon")])


def test_not_a_list():
    with pytest.raises(InputError) as e:
        load_effectors({"id": "x"}, "s.yaml")
    assert e.value.field == "effectors"
    assert len(load_effectors(None)) == 0


values = st.one_of(st.none(), st.booleans(), st.integers(-10, 10**6), st.text(max_size=8),
                   st.floats(allow_nan=True, allow_infinity=True),
                   st.dictionaries(st.sampled_from(list(CLASSES) + ["x"]),
                                   st.one_of(st.floats(-1, 2), st.text(max_size=3)), max_size=3))
effector_items = st.fixed_dictionaries(
    {"id": st.one_of(st.text(max_size=4), st.integers()), "kind": st.sampled_from(list(EFFECTOR_KINDS) + ["x"]),
     "lat": st.floats(-100, 100), "lon": st.floats(-200, 200)},
    optional={**{k: values for k in KEYS if k not in ("id", "kind", "lat", "lon")},
              "range": values, "cannon": st.one_of(values, st.dictionaries(st.sampled_from(KEYS), values))})


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.lists(st.one_of(effector_items, values), max_size=4), values))
def test_loader_never_crashes(items):
    try:
        eff = load_effectors(items, "fuzz.yaml")
    except InputError as e:
        assert "\n" not in str(e) and str(e).startswith("fuzz.yaml")
    else:
        assert len(eff) >= (len(items) if isinstance(items, list) else 0)
        assert np.all((eff.pk >= 0) & (eff.pk <= 1)) and np.all(eff.pk[:, CLASS_INDEX["aircraft"]] == 0)
        assert np.all(eff.min_range < eff.max_range)
