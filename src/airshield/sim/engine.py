"""The stepping engine: every object as array rows, advanced together.

``Simulation`` launches objects on schedule, advances all that fly in a few
numpy calls per step, and ends them when they hit, land, run out of range or
are defeated (``defeat``, the hook for the closed engagement loop).
``simulate_to_dir`` runs a scenario against the sensor models and writes the
contract run directory.
"""

from __future__ import annotations

import numpy as np

from airshield import geo
from airshield.errors import InputError
from airshield.sim.kinematics import HIT, LANDED, WANDER, advance
from airshield.sim.raids import build_fleet, plan_scenario, scatter
from airshield.sim.scenario import Scenario, load_scenario
from airshield.sim.state import TruthState

# Fates of an object; PENDING ones have not been launched yet.
PENDING, FLYING, HIT_T, EXPENDED, LANDED_T, DEFEATED = range(6)
FATES = ("pending", "flying", "hit", "expended", "landed", "defeated")


class Simulation:
    """All objects of a scenario and the clock. ``state`` is the TruthState
    at ``t``; ``step()`` moves everything on by ``truth_step_s``."""

    def __init__(self, scenario: Scenario, seed: int | None = None, duration_s: float | None = None):
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else int(seed)
        self.duration_s = scenario.duration_s if duration_s is None else float(duration_s)
        if self.seed < 0:
            raise InputError(f"{self.seed} is negative", field="seed")
        if not 0 < self.duration_s <= 30 * 86400:
            raise InputError(f"{self.duration_s:g} s is not in (0, 30 days]", field="duration_s")
        self.dt = scenario.truth_step_s
        # Independent streams: objects' plans, birds' wandering, sensor
        # deployment, sensor noise. Changing the sensors never moves a drone.
        ss_plan, ss_wander, self.ss_deploy, self.ss_observe = np.random.SeedSequence(self.seed).spawn(4)
        self.fleet, self.objects = build_fleet(plan_scenario(scenario, ss_plan, scenario.duration_s),
                                               scenario.file)
        self.wander_rng = np.random.default_rng(ss_wander)
        n = len(self.objects)
        self.fate = np.full(n, PENDING, np.int8)
        self.t_end = np.full(n, np.nan)
        self.alive = np.zeros(n, bool)
        self.row = {oid: i for i, oid in enumerate(self.objects.ids)}
        self._launch_order = np.argsort(self.objects.t_launch, kind="stable")
        self._next = 0
        self.k = 0  # steps taken; t = k * dt exactly, no drift over long runs
        self.t = 0.0
        self._launch_due(self.t)

    def __len__(self) -> int:
        return len(self.objects)

    @property
    def state(self) -> TruthState:
        f = self.fleet
        return TruthState(t=self.t, ids=self.objects.ids, cls=f.cls, alive=self.alive, lat=f.lat,
                          lon=f.lon, alt=f.alt, ecef=f.ecef, vel_enu=f.vel_enu, vel_ecef=f.vel_ecef,
                          icao24=self.objects.icao24)

    def _launch_due(self, t1: float) -> np.ndarray:
        """Put every object due by ``t1`` at its launch point, heading for its
        first waypoint. Returns their rows."""
        tl = self.objects.t_launch[self._launch_order]
        stop = int(np.searchsorted(tl, t1, side="right"))
        rows = self._launch_order[self._next:stop]
        self._next = stop
        if rows.size == 0:
            return rows
        f, o = self.fleet, self.objects
        air = o.airborne[rows]
        alt = o.launch[rows, 2] + np.where(air, f.seg_alt[rows, 0], 10.0)
        f.place(rows, o.launch[rows, 0], o.launch[rows, 1], alt)
        de, dn, _ = f.aim(rows)
        f.heading[rows] = np.arctan2(de, dn)
        f.speed[rows] = f.cruise_mps[rows] * f.seg_speed[rows, 0]
        f.vu[rows] = 0.0
        f.vel_enu[rows] = np.stack([f.speed[rows] * np.sin(f.heading[rows]),
                                    f.speed[rows] * np.cos(f.heading[rows]), np.zeros(rows.size)], axis=-1)
        f.vel_ecef[rows] = np.einsum("nij,nj->ni", f.rot[rows], f.vel_enu[rows])
        self.alive[rows] = True
        self.fate[rows] = FLYING
        return rows

    def step(self) -> None:
        """Advance by one truth step: launch what is due, fly everything that
        flies, end what arrived or ran dry."""
        t0, t1 = self.t, (self.k + 1) * self.dt
        new = self._launch_due(t1)
        rows = np.flatnonzero(self.alive)
        dt = np.full(rows.size, self.dt)
        if new.size:  # launched inside the step: fly only the part after launch
            pos = np.searchsorted(rows, new)
            dt[pos] = t1 - np.maximum(self.objects.t_launch[new], t0)
        arrived, expended = advance(self.fleet, rows, dt)
        f = self.fleet
        wander = arrived & (f.end[rows] == WANDER)
        if wander.any():  # birds pick a new point in their area instead of ending
            w = rows[wander]
            a = self.objects.area[w]
            la, lo = scatter(a[:, 0], a[:, 1], a[:, 2], self.wander_rng)
            f.wp_ecef[w, 0] = np.stack(geo.geodetic_to_ecef(la, lo, f.alt[w]), axis=-1)
            f.wp_alt[w, 0] = f.alt[w]
        ends = {HIT_T: arrived & (f.end[rows] == HIT), LANDED_T: arrived & (f.end[rows] == LANDED),
                EXPENDED: expended}
        for fate, mask in ends.items():
            r = rows[mask]
            self.alive[r] = False
            self.fate[r] = fate
            self.t_end[r] = t1
        self.k += 1
        self.t = t1

    def defeat(self, ids_or_rows, t: float | None = None) -> np.ndarray:
        """End objects (ids or rows) that are flying; returns the rows ended.
        Objects already ended or not launched are left as they are."""
        items = np.atleast_1d(np.asarray(ids_or_rows, dtype=object))
        unknown = [i for i in items if isinstance(i, str) and i not in self.row]
        if unknown:
            raise ValueError(f"unknown object id {unknown[0]!r}")
        rows = np.array([self.row[i] if isinstance(i, str) else int(i) for i in items], np.int64)
        rows = rows[self.alive[rows]]
        self.alive[rows] = False
        self.fate[rows] = DEFEATED
        self.t_end[rows] = self.t if t is None else t
        return rows

    def object_records(self, first_detected_t: np.ndarray, n_detections: np.ndarray) -> list[dict]:
        """``objects.json`` entries for every object launched during the run."""
        o = self.objects
        out = []
        for i in np.flatnonzero(self.fate != PENDING).tolist():
            fd = first_detected_t[i]
            out.append({"id": o.ids[i], "class": o.cls_name[i], "t_launch": round(float(o.t_launch[i]), 3),
                        "t_end": None if np.isnan(self.t_end[i]) else round(float(self.t_end[i]), 3),
                        "fate": FATES[self.fate[i]], "target": o.target[i],
                        "first_detected_t": None if not np.isfinite(fd) else round(float(fd), 3),
                        "n_detections": int(n_detections[i])}
                       | ({"icao24": o.icao24[i]} if o.icao24[i] else {}))
        return out


def simulate_to_dir(scenario: str, out_dir, seed: int | None = None, duration_s: float | None = None,
                    progress: bool = False) -> dict:
    """Run ``scenario`` (a built-in name or a YAML path) and write the run
    directory. Returns a summary for the one-line report."""
    from airshield.sim.run import run_to_dir

    scn = load_scenario(scenario)
    return run_to_dir(scn, out_dir, seed=seed, duration_s=duration_s, progress=progress)
