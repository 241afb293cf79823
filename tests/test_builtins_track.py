"""Every built-in scenario runs end to end through the contract's verbs:
simulate -> track -> score, with GOSPA recorded (a short window of each; the
full-length figures are in docs/PERFORMANCE.md, from benchmarks/)."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from airshield.cli import app
from airshield.sim.scenario import builtin_scenarios

NAMES = [n for n, _ in builtin_scenarios()]
KEYS = ("gospa_mean", "gospa_localisation", "gospa_missed", "gospa_false", "track_breaks",
        "tracks_per_truth")


@pytest.mark.parametrize("name", NAMES)
def test_builtin_scenario_tracks_end_to_end_with_gospa(name, tmp_path):
    run = tmp_path / name
    cli = CliRunner()
    r = cli.invoke(app, ["simulate", name, "--out", str(run), "--duration", "240", "--quiet"])
    assert r.exit_code == 0, r.output
    r = cli.invoke(app, ["track", str(run), "--quiet"])
    assert r.exit_code == 0, r.output
    lines = (run / "tracks.jsonl").read_text().splitlines()
    r = cli.invoke(app, ["score", str(run), "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert all(k in s for k in KEYS)
    assert np.isfinite(s["gospa_mean"]) and s["gospa_mean"] >= 0.0
    # every GOSPA part is within its bound: c^p / alpha per missed or false target
    parts = s["gospa_localisation"] + s["gospa_missed"] + s["gospa_false"]
    assert np.isclose(parts, s["gospa_pow_mean"], rtol=1e-9)
    # the simulator writes sensors.json: GOSPA over the observable truth is reported,
    # and leaving out what no sensor sees (with the tracks holding it) never adds to it
    assert 0.0 <= s["observable_share"] <= 1.0
    assert s["gospa_observable_mean"] <= s["gospa_mean"] + 1e-6
    assert s["gospa_observable_false"] == s["gospa_false"]
    assert s["gospa_observable_missed"] <= s["gospa_missed"] + 1e-6
    if s["truth_objects"] and lines:
        # what is tracked is tracked well: a mean error far inside the cut-off c
        assert s["tracked_objects"] > 0
        assert s["localisation_error_mean_m"] < 0.5 * s["gospa_c_m"]
        assert s["tracks_per_truth"] <= 2.0
