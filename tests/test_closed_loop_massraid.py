"""The issue's claim on ``mass-raid-800``, as far as it holds: on the same seed
the optimal planner defeats more drones than both doctrines (nearest available
effector, missiles first), loses no more value, spends less than missiles
first, and costs less in all (value lost + money, the plan's own objective at
lambda = 1) than either. It does NOT reliably spend less money than
``nearest``: with commit 97378a8's tracker and shoot-look-shoot waiting for
the first look (``live.outcome.in_flight``) it did on this window (optimal
105 defeated, $0 lost, $2.93 M; nearest 97, $120 M, $3.14 M), with the
tracker of commit 992b6b1 it does not (optimal 90, $40 M, $3.80 M; nearest
85, $120 M, $2.63 M); see docs/CLOSED_LOOP.md.

The first 30 minutes of the night (``duration_s=1800``): the lead waves are
over Ukraine from the start, so the corridor fire groups, interceptor-drone
teams, fighters and the point defences of Sumy, Chernihiv, Kharkiv and Odesa
all engage (about 100 drones defeated per planner). The whole chain runs:
simulation with the scenario's 10,000 microphones, radars and crowd reports,
the tracker, assessment, feasibility, the planner, approve_all, outcomes.
About 2.5 minutes of CPU on the 2-core machine for the three runs, hence
``slow`` (it still runs with ``make test``). Full-night figures:
``benchmarks/bench_closed_loop.py`` (docs/CLOSED_LOOP.md).
"""

import pytest

from airshield.live.runner import compare_doctrines
from airshield.sim.scenario import load_scenario

WINDOW_S = 1800.0


@pytest.mark.slow
def test_optimal_defeats_more_and_spends_less_on_mass_raid_800():
    scn = load_scenario("mass-raid-800")
    assert len(scn.effectors) > 500  # the scenario's own laydown, not a benchmark's
    table = {r["planner"]: r for r in compare_doctrines(scn, [scn.seed], duration_s=WINDOW_S)["table"]}
    opt = table["optimal"]
    assert opt["defeated"] >= 60  # the window is long enough for the defences to fight
    for name in ("nearest", "missiles_first"):
        doc = table[name]
        print(f"{name}: defeated {doc['defeated']} vs optimal {opt['defeated']}; "
              f"value lost {doc['value_lost']:,.0f} vs {opt['value_lost']:,.0f}; "
              f"spent {doc['money_spent']:,.0f} vs {opt['money_spent']:,.0f}")
        assert opt["threats"] == doc["threats"]  # the same raid
        assert opt["defeated"] > doc["defeated"]
        assert opt["value_lost"] <= doc["value_lost"]
        assert opt["value_lost"] + opt["money_spent"] < doc["value_lost"] + doc["money_spent"]
    assert opt["money_spent"] < table["missiles_first"]["money_spent"]
