"""Read and write the files of a contract run directory.

Readers are strict about fields and forgiving about lines: a bad line becomes a
``Skipped`` (file, line, field, why) and reading goes on, so nothing that was
already accepted is lost. Callers decide whether skips are fatal.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from airshield import CLASS_INDEX, CLASSES, SENSOR_KINDS
from airshield.errors import InputError, Skipped
from airshield.io.jsonl import FieldError, iter_jsonl, number, parse_records, read_json
from airshield.io.records import (BEARING, POLAR, POS, SENSOR_PARAMS, TRACK_STATUS, Detections,
                                  Sensors, Tracks, Truth, class_vector)

SCENARIO, SENSORS, TRUTH, DETECTIONS, TRACKS = (
    "scenario.json", "sensors.json", "truth.jsonl", "detections.jsonl", "tracks.jsonl")

_PARAM_LIMITS = {"pd": (0.0, 1.0)}


def _string(obj: dict, key: str) -> str:
    v = obj.get(key)
    if not isinstance(v, str) or not v:
        raise FieldError(key, "missing" if v is None else "expected a non-empty string")
    return v


def read_scenario_json(run_dir: str | Path) -> dict:
    p = Path(run_dir) / SCENARIO
    doc = read_json(p)
    if not isinstance(doc, dict):
        raise InputError("expected a JSON object", file=p)
    try:
        origin = doc["origin"]
        if not isinstance(origin, dict):
            raise FieldError("origin", "expected an object with lat, lon, alt")
        number(origin, "lat", lo=-90, hi=90)
        number(origin, "lon", lo=-180, hi=180)
        number(origin, "alt", required=False, default=0.0)
    except KeyError:
        raise InputError("missing", file=p, field="origin") from None
    except FieldError as e:
        raise InputError(e.message, file=p, field=f"origin.{e.field}" if e.field != "origin" else "origin") from None
    return doc


def parse_sensor(obj: dict) -> tuple[str, int, float, float, float, str | None, list[float], dict]:
    sid = _string(obj, "id")
    kind = obj.get("kind")
    if kind not in SENSOR_KINDS:
        raise FieldError("kind", f"{kind!r} is not one of {', '.join(SENSOR_KINDS)}")
    lat = number(obj, "lat", lo=-90, hi=90)
    lon = number(obj, "lon", lo=-180, hi=180)
    alt = number(obj, "alt", lo=-500, hi=60_000)
    nation = obj.get("nation")
    if nation is not None and not isinstance(nation, str):
        raise FieldError("nation", "expected an ISO 3166-1 alpha-2 code")
    params = []
    for name in SENSOR_PARAMS:
        lo, hi = _PARAM_LIMITS.get(name, (0.0, math.inf))
        params.append(number(obj, name, required=False, lo=lo, hi=hi))
    known = {"id", "kind", "lat", "lon", "alt", "nation", *SENSOR_PARAMS}
    extra = {k: v for k, v in obj.items() if k not in known}
    return sid, SENSOR_KINDS.index(kind), lat, lon, alt, nation, params, extra


def sensors_from_records(records: list[dict], file: str = SENSORS) -> Sensors:
    """Sensors from SENSOR objects; a bad or duplicate sensor is an InputError
    (a tracker cannot guess a sensor's position)."""
    rows = [r for _, r in parse_records(records, parse_sensor, file=file, key="sensors",
                                        noun="an object", unique="id", id_of=lambda r: r[0])]
    n = len(rows)
    return Sensors(
        ids=[r[0] for r in rows],
        kind=np.array([r[1] for r in rows], np.int8),
        lat=np.array([r[2] for r in rows], float), lon=np.array([r[3] for r in rows], float),
        alt=np.array([r[4] for r in rows], float), nation=[r[5] for r in rows],
        params=np.array([r[6] for r in rows], float).reshape(n, len(SENSOR_PARAMS)),
        extra=[r[7] for r in rows],
    )


def read_sensors(path: str | Path) -> Sensors:
    """``sensors.json`` (a run directory or the file itself)."""
    p = Path(path)
    if p.is_dir():
        p = p / SENSORS
    doc = read_json(p)
    if not isinstance(doc, dict) or not isinstance(doc.get("sensors"), list):
        raise InputError('expected {"sensors": [...]}', file=p, field="sensors")
    return sensors_from_records(doc["sensors"], file=str(p))


def _sigma(m: dict, key: str, default: float) -> float:
    v = number(m, key, required=False, lo=0.0)
    return default if math.isnan(v) else v


def parse_detection(obj: dict, sensor_index: dict[str, int], sensors: Sensors):
    """One DETECTION -> (t, sensor, kind, z[4], sigma[4], p_class, snr, icao, id).
    Raises FieldError naming the bad field."""
    t = number(obj, "t", lo=-1e9, hi=1e12)
    sid = obj.get("sensor")
    if not isinstance(sid, str):
        raise FieldError("sensor", "missing" if sid is None else "expected a sensor id string")
    si = sensor_index.get(sid)
    if si is None:
        raise FieldError("sensor", f"unknown sensor id {sid!r}")
    present = [k for k in ("polar", "pos", "bearing") if k in obj]
    if len(present) != 1:
        raise FieldError("polar|pos|bearing", "expected exactly one measurement"
                         if present else "no measurement")
    key = present[0]
    m = obj[key]
    if not isinstance(m, dict):
        raise FieldError(key, "expected an object")
    p = sensors.params[si]
    dflt = dict(zip(SENSOR_PARAMS, p))
    nan = math.nan
    try:
        if key == "polar":
            kind = POLAR
            z = [number(m, "range_m", lo=0.0), number(m, "az_deg", lo=-360, hi=720),
                 number(m, "el_deg", lo=-90, hi=90), number(m, "rr_mps", required=False, lo=-5000, hi=5000)]
            z[1] %= 360.0
            s = [_sigma(m, "sigma_range_m", dflt["sigma_range_m"]), _sigma(m, "sigma_az_deg", dflt["sigma_az_deg"]),
                 _sigma(m, "sigma_el_deg", dflt["sigma_el_deg"]), _sigma(m, "sigma_rr_mps", dflt["sigma_rr_mps"])]
        elif key == "pos":
            kind = POS
            z = [number(m, "lat", lo=-90, hi=90), number(m, "lon", lo=-180, hi=180),
                 number(m, "alt", required=False, default=nan, lo=-500, hi=60_000), nan]
            s = [_sigma(m, "sigma_h_m", dflt["sigma_h_m"]), _sigma(m, "sigma_v_m", dflt["sigma_v_m"]), nan, nan]
        else:
            kind = BEARING
            z = [number(m, "az_deg", lo=-360, hi=720) % 360.0,
                 number(m, "el_deg", required=False, lo=-90, hi=90), nan, nan]
            s = [_sigma(m, "sigma_az_deg", dflt["sigma_az_deg"]),
                 _sigma(m, "sigma_el_deg", dflt["sigma_el_deg"]), nan, nan]
    except FieldError as e:
        raise FieldError(f"{key}.{e.field}", e.message) from None
    hint = obj.get("class")
    pc = None
    if hint is not None:
        if not isinstance(hint, dict):
            raise FieldError("class", "expected {CLASS: likelihood}")
        pc = class_vector(hint)
    snr = number(obj, "snr_db", required=False, lo=-100, hi=200)
    icao = obj.get("icao24")
    if icao is not None and not isinstance(icao, str):
        raise FieldError("icao24", "expected a string")
    mid = obj.get("id")
    return t, si, kind, z, s, pc, snr, icao, (str(mid) if mid is not None else None)


def read_detections(path: str | Path, sensors: Sensors, skipped: list[Skipped]) -> Detections:
    """``detections.jsonl`` -> Detections. Bad lines go to ``skipped``.

    Reports out of time order are kept (live feeds deliver late reports) and
    the result is stably sorted by time; the tracker handles lateness itself.
    """
    p = Path(path)
    if p.is_dir():
        p = p / DETECTIONS
    idx = sensors.index()
    t, si, kind, z, s, snr, line = [], [], [], [], [], [], []
    pcs: dict[int, np.ndarray] = {}
    icao: dict[int, str] = {}
    mids: dict[int, str] = {}
    for lineno, obj in iter_jsonl(p, skipped):
        try:
            row = parse_detection(obj, idx, sensors)
        except FieldError as e:
            skipped.append(Skipped(str(p), lineno, e.field, e.message))
            continue
        k = len(t)
        t.append(row[0]); si.append(row[1]); kind.append(row[2]); z.append(row[3]); s.append(row[4])
        if row[5] is not None:
            pcs[k] = row[5]
        snr.append(row[6]); line.append(lineno)
        if row[7] is not None:
            icao[k] = row[7]
        if row[8] is not None:
            mids[k] = row[8]
    n = len(t)
    pc = np.full((n, len(CLASSES)), np.nan, np.float32)
    for k, v in pcs.items():
        pc[k] = v
    d = Detections(
        t=np.array(t, float), sensor=np.array(si, np.int32), kind=np.array(kind, np.int8),
        z=np.array(z, float).reshape(n, 4), sigma=np.array(s, float).reshape(n, 4),
        p_class=pc, snr_db=np.array(snr, float), line=np.array(line, np.int64),
        icao24=icao, msg_id=mids)
    if n and np.any(np.diff(d.t) < 0):
        d = d.take(np.argsort(d.t, kind="stable"))
    return d


def read_truth(path: str | Path, skipped: list[Skipped] | None = None) -> Truth:
    """``truth.jsonl`` -> Truth. Bad lines raise unless ``skipped`` is given."""
    p = Path(path)
    if p.is_dir():
        p = p / TRUTH
    ids: dict[str, int] = {}
    t, obj_i, cls, lat, lon, alt, vel = [], [], [], [], [], [], []
    for lineno, o in iter_jsonl(p, skipped):
        try:
            oid = o.get("id")
            if not isinstance(oid, (str, int)) or isinstance(oid, bool):
                raise FieldError("id", "missing")
            c = o.get("class", "unknown")
            if c not in CLASS_INDEX:
                raise FieldError("class", f"{c!r} is not a contract class")
            row = (number(o, "t"), number(o, "lat", lo=-90, hi=90), number(o, "lon", lo=-180, hi=180),
                   number(o, "alt"), number(o, "ve"), number(o, "vn"), number(o, "vu"))
        except FieldError as e:
            if skipped is None:
                raise InputError(e.message, file=p, line=lineno, field=e.field) from None
            skipped.append(Skipped(str(p), lineno, e.field, e.message))
            continue
        t.append(row[0]); obj_i.append(ids.setdefault(str(oid), len(ids))); cls.append(CLASS_INDEX[c])
        lat.append(row[1]); lon.append(row[2]); alt.append(row[3]); vel.append(row[4:])
    n = len(t)
    return Truth(ids=list(ids), t=np.array(t, float), obj=np.array(obj_i, np.int32),
                 cls=np.array(cls, np.int8), lat=np.array(lat, float), lon=np.array(lon, float),
                 alt=np.array(alt, float), vel=np.array(vel, float).reshape(n, 3))


def read_tracks(path: str | Path, skipped: list[Skipped] | None = None) -> Tracks:
    """``tracks.jsonl`` -> Tracks. Bad lines raise unless ``skipped`` is given."""
    p = Path(path)
    if p.is_dir():
        p = p / TRACKS
    ids: dict[str, int] = {}
    t, tr, lat, lon, alt, vel, status, cls = [], [], [], [], [], [], [], []
    for lineno, o in iter_jsonl(p, skipped):
        try:
            tid = o.get("track")
            if not isinstance(tid, (str, int)) or isinstance(tid, bool):
                raise FieldError("track", "missing")
            st = o.get("status")
            if st not in TRACK_STATUS:
                raise FieldError("status", f"{st!r} is not confirmed or coasting")
            c = o.get("class")
            if c is not None and c not in CLASS_INDEX:
                raise FieldError("class", f"{c!r} is not a contract class")
            row = (number(o, "t"), number(o, "lat", lo=-90, hi=90), number(o, "lon", lo=-180, hi=180),
                   number(o, "alt"), number(o, "ve"), number(o, "vn"), number(o, "vu"))
        except FieldError as e:
            if skipped is None:
                raise InputError(e.message, file=p, line=lineno, field=e.field) from None
            skipped.append(Skipped(str(p), lineno, e.field, e.message))
            continue
        t.append(row[0]); tr.append(ids.setdefault(str(tid), len(ids)))
        lat.append(row[1]); lon.append(row[2]); alt.append(row[3]); vel.append(row[4:])
        status.append(TRACK_STATUS.index(st)); cls.append(CLASS_INDEX[c] if c is not None else -1)
    n = len(t)
    return Tracks(ids=list(ids), t=np.array(t, float), track=np.array(tr, np.int32),
                  lat=np.array(lat, float), lon=np.array(lon, float), alt=np.array(alt, float),
                  vel=np.array(vel, float).reshape(n, 3), status=np.array(status, np.int8),
                  cls=np.array(cls, np.int8))
