"""Run a scenario against the sensor models and write the run directory:
``scenario.json``, ``sensors.json``, ``truth.jsonl``, ``detections.jsonl`` (the
contract files) and ``objects.json`` (the fate of every object and when it was
first detected, for the scorer)."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Protocol

import numpy as np

from airshield.errors import InputError
from airshield.io.jsonl import write_json
from airshield.io.run import DETECTIONS, SCENARIO, SENSORS, TRUTH
from airshield.sim.engine import Simulation
from airshield.sim.scenario import Scenario
from airshield.sim.state import Observations, TruthState
from airshield.sim.writer import ChunkedFile, DetectionBuffer, TruthBuffer, object_tokens, string_token

OBJECTS = "objects.json"


class SensorSuiteLike(Protocol):
    def contract_records(self) -> list[dict]: ...

    def observe(self, state: TruthState, t0: float, t1: float, rng: np.random.Generator) -> Observations: ...


def build_suite(scn: Scenario, ss_deploy: np.random.SeedSequence) -> SensorSuiteLike:
    """The scenario's sensors, deployed from their own random stream."""
    from airshield.sim.sensors import SensorSuite, expand_deployments

    try:
        records = expand_deployments(scn.sensors, scn.origin, np.random.default_rng(ss_deploy), scn.file)
        return SensorSuite.from_records(records, file=scn.file)
    except InputError as e:
        raise scn.located(e) from None


def run_to_dir(scn: Scenario, out_dir, *, seed: int | None = None, duration_s: float | None = None,
               progress: bool = False, suite: SensorSuiteLike | None = None) -> dict:
    """Simulate ``scn`` and write the run directory ``out_dir``. ``suite``
    replaces the scenario's own sensors (tests, what-if runs)."""
    wall0 = time.perf_counter()
    sim = Simulation(scn, seed=seed, duration_s=duration_s)
    if suite is None:
        suite = build_suite(scn, sim.ss_deploy)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc = scn.to_json()
    doc.update(seed=sim.seed, duration_s=sim.duration_s)
    write_json(out / SCENARIO, doc)
    records = suite.contract_records()
    write_json(out / SENSORS, {"sensors": records})
    sensor_tok = [string_token(r["id"]) for r in records]
    obj_tok = object_tokens(sim.objects.ids, sim.objects.cls_name)
    obs_rng = np.random.default_rng(sim.ss_observe)

    n = len(sim)
    first = np.full(n, np.inf)
    n_det = np.zeros(n, np.int64)
    n_steps = max(1, math.ceil(sim.duration_s / sim.dt - 1e-9))
    last_t = -np.inf
    bar = _progress(progress, scn.name, n_steps)
    try:
        with open(out / TRUTH, "wb") as ft, open(out / DETECTIONS, "wb") as fd:
            truth_file, det_file = ChunkedFile(ft), ChunkedFile(fd)
            truth = TruthBuffer(truth_file, obj_tok)
            dets = DetectionBuffer(det_file, sensor_tok)
            for k in range(n_steps):
                state = sim.state
                f = sim.fleet
                rows = np.flatnonzero(sim.alive)
                truth.add(state.t, rows, f.lat, f.lon, f.alt, f.vel_enu)
                t1 = min((k + 1) * sim.dt, sim.duration_s)
                obs = suite.observe(state, state.t, t1, obs_rng)
                d = obs.detections
                if len(d):
                    if d.t.min() < max(last_t, state.t) - 1e-9 or d.t.max() >= t1 + 1e-9:
                        raise ValueError(f"sensor model returned detections outside [{state.t:g}, {t1:g})")
                    last_t = float(d.t.max())
                    dets.add(d, obs.delay_s)
                    tr = np.asarray(obs.truth_row)
                    hit = tr >= 0
                    np.minimum.at(first, tr[hit], d.t[hit])
                    n_det += np.bincount(tr[hit], minlength=n)
                sim.step()
                if bar is not None and (k % bar[2] == 0 or k == n_steps - 1):
                    bar[0].update(bar[1], completed=k + 1)
            truth.flush()
            dets.flush()
            truth_file.flush()
            det_file.flush()
    finally:
        if bar is not None:
            bar[0].stop()
    objects = sim.object_records(first, n_det)
    write_json(out / OBJECTS, {"objects": objects})
    return {"objects": len(objects), "sensors": len(records), "truth": truth_file.lines,
            "detections": det_file.lines, "seconds": round(time.perf_counter() - wall0, 2)}


def _progress(on: bool, name: str, total: int):
    if not on:
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    p = Progress(TextColumn(f"simulating {name}"), BarColumn(), MofNCompleteColumn(),
                 TextColumn("steps"), TimeRemainingColumn(), console=Console(stderr=True), transient=True)
    p.start()
    return p, p.add_task("sim", total=total), max(1, total // 200)
