"""Every built-in scenario must load in full: flight plans, sensors, and the assets
and effectors the threat assessment and planner read from scenario.json."""

import pytest

from airshield.assess.assets import load_assets
from airshield.engage.effectors import load_effectors
from airshield.sim.scenario import builtin_scenarios, load_scenario

NAMES = [n for n, _ in builtin_scenarios()]


def test_the_issue_scenarios_are_built_in():
    assert {"demo", "poland-2025-09-10", "mass-raid-800"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_assets_and_effectors_of_builtin_load(name):
    doc = load_scenario(name).to_json()
    assets = load_assets(doc.get("assets", []), file=name)
    effectors = load_effectors(doc.get("effectors", []), file=name)
    assert len(assets.names) >= 1  # every built-in protects something
    if name in ENGAGED:
        assert len(effectors) >= 1


# Scenarios the closed engagement loop runs on: they must declare effectors.
ENGAGED = {"demo", "poland-2025-09-10"}
