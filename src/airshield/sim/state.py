"""The simulator's truth state at one instant: every object as array rows.

This is the interface between the flight engine (``sim.engine``/``sim.kinematics``)
and the sensor models (``sim.sensors``): the engine advances it, sensors observe it.
Rows never move: object i is row i for the whole run, ``alive`` says who flies.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class TruthState:
    t: float  # seconds since the scenario epoch
    ids: list[str]  # object ids, row order
    cls: np.ndarray  # (N,) int8 index into airshield.CLASSES
    alive: np.ndarray  # (N,) bool: launched, not yet landed, hit or defeated
    lat: np.ndarray  # (N,) degrees
    lon: np.ndarray  # (N,) degrees
    alt: np.ndarray  # (N,) metres above the WGS84 ellipsoid
    ecef: np.ndarray  # (N, 3) metres
    vel_enu: np.ndarray  # (N, 3) m/s in the ENU frame at the object's own position
    vel_ecef: np.ndarray  # (N, 3) m/s
    icao24: list[str | None] = field(default_factory=list)  # cooperative aircraft only
    ground_alt: np.ndarray | None = None  # (N,) terrain height under each object, m (None: 0)

    def __len__(self) -> int:
        return len(self.ids)

    def height_above_ground(self) -> np.ndarray:
        g = 0.0 if self.ground_alt is None else self.ground_alt
        return self.alt - g


@dataclass
class Observations:
    """What a sensor model reports over one interval, plus what only the
    simulator knows (never written into detections.jsonl)."""

    detections: "airshield.io.records.Detections"  # noqa: F821 - columns, t within the interval
    truth_row: np.ndarray  # (M,) int32 TruthState row that caused it, -1 for false reports
    delay_s: np.ndarray  # (M,) float: report arrives t + delay (crowd, acoustic relays)
