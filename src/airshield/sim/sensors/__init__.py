"""Sensor models of the simulator: radar, acoustic, electro-optical, crowd
(visual) and ADS-B, each vectorised over all objects and all sensors of its
kind.

The engine uses two things::

    records = expand_deployments(specs, origin, rng, file)   # scenario -> SENSOR records
    suite = SensorSuite.from_records(records)
    obs = suite.observe(state, t0, t1, rng)                   # every report with t in [t0, t1)

``suite.contract_records()`` is what goes into ``sensors.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import orjson

from airshield import SENSOR_KINDS
from airshield.errors import InputError
from airshield.io.jsonl import FieldError
from airshield.io.records import Detections
from airshield.sim.sensors.adsb import AdsbModel
from airshield.sim.sensors.bearing import BearingModel
from airshield.sim.sensors.common import Part
from airshield.sim.sensors.deploy import expand_deployments
from airshield.sim.sensors.params import kind_of, normalise
from airshield.sim.sensors.radar import RadarModel
from airshield.sim.sensors.regions import parse_region
from airshield.sim.sensors.visual import VisualModel
from airshield.sim.state import Observations, TruthState

MODELS = {"radar": RadarModel, "acoustic": BearingModel, "eo": BearingModel,
          "visual": VisualModel, "adsb": AdsbModel}


def _region_check(v, key):
    if not isinstance(v, dict):
        raise FieldError(key, "expected a region")
    centre = {"lat": v.get("lat", 0.0), "lon": v.get("lon", 0.0)}
    reg = parse_region(v, key, centre)
    return reg.spec, (reg.lat, reg.lon)


@dataclass
class SensorSuite:
    """Every sensor of a run. Reports name sensors by their index in ``records``."""

    records: list[dict]
    models: list = field(default_factory=list)

    @classmethod
    def from_records(cls, records: list[dict], file: str = "sensors") -> "SensorSuite":
        """Validate records (as made by ``expand_deployments`` or read back from
        ``sensors.json``), fill defaults, and build one model per kind."""
        if not isinstance(records, list):
            raise InputError("expected a list of SENSOR records", file=file, field="sensors")
        clean, seen, cache = [], set(), {}
        for i, rec in enumerate(records):
            try:
                if not isinstance(rec, dict):
                    raise FieldError("", "expected a SENSOR object")
                clean.append(_normalise_cached(rec, cache))
            except FieldError as e:
                where = f"sensors[{i}]"
                raise InputError(e.message, file=file, field=f"{where}.{e.field}" if e.field else where) from None
            if clean[-1]["id"] in seen:
                raise InputError(f"duplicate sensor id {clean[-1]['id']!r}", file=file, field=f"sensors[{i}].id")
            seen.add(clean[-1]["id"])
        models = []
        for kind in SENSOR_KINDS:
            idx = [i for i, r in enumerate(clean) if r["kind"] == kind]
            if idx:
                models.append(MODELS[kind]([clean[i] for i in idx], np.array(idx)))
        return cls(clean, models)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def ids(self) -> list[str]:
        return [r["id"] for r in self.records]

    def contract_records(self) -> list[dict]:
        """SENSOR objects for ``sensors.json``: contract fields and model extras."""
        return [_plain(r) for r in self.records]

    def observe(self, state: TruthState, t0: float, t1: float, rng: np.random.Generator) -> Observations:
        """Every report with t in [t0, t1) from every sensor, time-ordered.
        Objects fly straight on from ``state.t`` with their velocity."""
        parts: list[Part] = []
        for m in self.models:
            parts.extend(p for p in m.observe(state, t0, t1, rng) if len(p.det))
        if not parts:
            return Observations(Detections.empty(), np.zeros(0, np.int32), np.zeros(0))
        det = Detections.concat([p.det for p in parts])
        row = np.concatenate([p.truth_row for p in parts]).astype(np.int32)
        delay = np.concatenate([p.delay_s for p in parts])
        order = np.argsort(det.t, kind="stable")
        return Observations(_reorder(det, order), row[order], delay[order])


def _reorder(d: Detections, order: np.ndarray) -> Detections:
    """``d.take(order)`` for a permutation, remapping only the keyed rows
    (ADS-B addresses) instead of building a map over every row."""
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return Detections(
        t=d.t[order], sensor=d.sensor[order], kind=d.kind[order], z=d.z[order], sigma=d.sigma[order],
        p_class=d.p_class[order], snr_db=d.snr_db[order], line=d.line[order],
        icao24={int(rank[r]): v for r, v in d.icao24.items()},
        msg_id={int(rank[r]): v for r, v in d.msg_id.items()})


def _normalise_cached(rec: dict, cache: dict) -> dict:
    """Records of a network differ only in id and position: validate the rest
    once per distinct parameter set, so 10,000 microphones load fast."""
    kind = kind_of(rec)
    try:
        key = orjson.dumps({k: v for k, v in rec.items() if k not in ("id", "lat", "lon")},
                           option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        key = None  # not plain JSON: the full check below names the bad field
    if key is not None and b"null" in key:
        key = None  # orjson writes NaN as null: never let a NaN share a valid key
    tmpl = cache.get(key) if key is not None and kind != "visual" else None
    if tmpl is None or not _quick_ok(rec):
        out = normalise(rec, kind, region_check=_region_check)
        if key is not None and kind != "visual":
            cache[key] = out
        return out
    return dict(tmpl, id=rec["id"], lat=float(rec["lat"]), lon=float(rec["lon"]))


def _quick_ok(rec: dict) -> bool:
    sid, lat, lon = rec.get("id"), rec.get("lat"), rec.get("lon")
    num = (int, float)
    return (isinstance(sid, str) and 0 < len(sid) <= 64 and bool(sid.strip())
            and isinstance(lat, num) and not isinstance(lat, bool) and -90.0 <= lat <= 90.0
            and isinstance(lon, num) and not isinstance(lon, bool) and -180.0 <= lon <= 180.0)


def _plain(v):
    """Deep copy into plain JSON types (lists, dicts, floats)."""
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


__all__ = ["SensorSuite", "expand_deployments", "Observations"]
