"""Sensor parameters: the defaults of each kind, their limits, and the check
that turns one deployment spec into one SENSOR record.

A record is the contract SENSOR (id, kind, lat, lon, alt, nation, sigmas,
range_max_m, period_s, pd, false_per_scan) plus the model's own fields
(sectors, rcs_m2, range_by_class_m, delay_s, ...). ``normalise`` is idempotent:
a record passed through it again comes back unchanged, so ``sensors.json``
can be fed back into ``SensorSuite.from_records``.
"""

from __future__ import annotations

import copy
import math
import re
from typing import Any, Callable

from airshield import CLASSES, SENSOR_KINDS
from airshield.io.jsonl import FieldError, number

FULL_CIRCLE = [{"az_from_deg": 0.0, "az_to_deg": 360.0}]
_NATION = re.compile(r"^[A-Z]{2}$")
_MAX_ID = 64


def _c(**w: float) -> dict[str, float]:
    return dict(w)


# Confusion rows: true class -> {called class: weight}. The "unknown" row is also
# what a false alarm sounds or looks like (acoustic false alarms are mopeds,
# generators and lawnmowers, which sound like a Shahed).
CONFUSION: dict[str, dict[str, dict[str, float]]] = {
    "radar": {c: {c: 0.4, "unknown": 0.6} for c in CLASSES[:-1]} | {"unknown": {"unknown": 1.0}},
    "acoustic": {
        "shahed": _c(shahed=0.75, decoy=0.10, unknown=0.15),
        "decoy": _c(shahed=0.45, decoy=0.35, unknown=0.20),
        "jet_drone": _c(jet_drone=0.70, aircraft=0.15, unknown=0.15),
        "recon": _c(recon=0.40, shahed=0.15, decoy=0.15, unknown=0.30),
        "aircraft": _c(aircraft=0.70, jet_drone=0.15, unknown=0.15),
        "bird": _c(unknown=1.0),
        "unknown": _c(shahed=0.30, decoy=0.10, unknown=0.60),
    },
    "eo": {
        "shahed": _c(shahed=0.85, decoy=0.10, unknown=0.05),
        "decoy": _c(decoy=0.70, shahed=0.25, unknown=0.05),
        "jet_drone": _c(jet_drone=0.85, aircraft=0.10, unknown=0.05),
        "recon": _c(recon=0.80, shahed=0.05, decoy=0.05, unknown=0.10),
        "aircraft": _c(aircraft=0.90, jet_drone=0.05, unknown=0.05),
        "bird": _c(bird=0.85, unknown=0.15),
        "unknown": _c(unknown=0.60, bird=0.20, shahed=0.10, decoy=0.10),
    },
    "visual": {
        "shahed": _c(shahed=0.50, decoy=0.10, jet_drone=0.05, aircraft=0.05, unknown=0.30),
        "decoy": _c(shahed=0.45, decoy=0.15, unknown=0.40),
        "jet_drone": _c(jet_drone=0.30, aircraft=0.20, shahed=0.20, unknown=0.30),
        "recon": _c(shahed=0.30, recon=0.20, unknown=0.50),
        "aircraft": _c(aircraft=0.50, jet_drone=0.20, unknown=0.30),
        "bird": _c(bird=0.30, shahed=0.20, unknown=0.50),
        "unknown": _c(shahed=0.50, decoy=0.10, jet_drone=0.05, unknown=0.35),
    },
    "adsb": {c: ({"aircraft": 1.0} if c == "aircraft" else {"unknown": 1.0}) for c in CLASSES},
}

# key -> (default, checker). A default of None means "absent unless given".
Check = Callable[[Any, str], Any]


def key_name(k: Any) -> str:
    """A user's key as it can appear in a one-line error (quoted if odd)."""
    return k if isinstance(k, str) and k.isprintable() and k.strip() == k and k else repr(k)


def num(lo: float, hi: float) -> Check:
    def check(v: Any, key: str) -> float:
        return number({key: v}, key, lo=lo, hi=hi)
    return check


def opt_num(lo: float, hi: float) -> Check:
    inner = num(lo, hi)
    return lambda v, key: None if v is None else inner(v, key)


def pair(lo: float, hi: float) -> Check:
    def check(v: Any, key: str) -> list[float]:
        if not isinstance(v, (list, tuple)) or len(v) != 2:
            raise FieldError(key, "expected [min, max]")
        a, b = (number({f"{key}[{i}]": x}, f"{key}[{i}]", lo=lo, hi=hi) for i, x in enumerate(v))
        if a > b:
            raise FieldError(key, f"min {a:g} > max {b:g}")
        return [a, b]
    return check


def num_or_pair(lo: float, hi: float) -> Check:
    p = pair(lo, hi)
    return lambda v, key: p(v, key) if isinstance(v, (list, tuple)) else [num(lo, hi)(v, key)] * 2


def flag(v: Any, key: str) -> bool:
    if not isinstance(v, bool):
        raise FieldError(key, "expected true or false")
    return v


def choice(*options: str) -> Check:
    def check(v: Any, key: str) -> str:
        if v not in options:
            raise FieldError(key, f"{v!r} is not one of {', '.join(options)}")
        return v
    return check


def per_class(lo: float, hi: float) -> Check:
    """{class: number}, merged later onto the kind's default map."""
    def check(v: Any, key: str) -> dict[str, float]:
        if not isinstance(v, dict):
            raise FieldError(key, "expected {class: number}")
        out = {}
        for c, x in v.items():
            k = f"{key}.{key_name(c)}"
            if c not in CLASSES:
                raise FieldError(k, f"not a contract class ({', '.join(CLASSES)})")
            out[c] = number({k: x}, k, lo=lo, hi=hi)
        return out
    return check


def confusion(v: Any, key: str) -> dict[str, dict[str, float]]:
    if not isinstance(v, dict):
        raise FieldError(key, "expected {true class: {called class: weight}}")
    out = {}
    for c, row in v.items():
        if c not in CLASSES:
            raise FieldError(f"{key}.{key_name(c)}", f"not a contract class ({', '.join(CLASSES)})")
        out[c] = per_class(0.0, 1e6)(row, f"{key}.{c}")
        if sum(out[c].values()) <= 0:
            raise FieldError(f"{key}.{c}", "weights sum to zero")
    return out


def sectors(v: Any, key: str) -> list[dict[str, float]]:
    if not isinstance(v, list) or not v or len(v) > 36:
        raise FieldError(key, "expected a list of 1 to 36 {az_from_deg, az_to_deg}")
    out = []
    for i, s in enumerate(v):
        k = f"{key}[{i}]"
        if not isinstance(s, dict) or set(s) != {"az_from_deg", "az_to_deg"}:
            raise FieldError(k, "expected {az_from_deg, az_to_deg}")
        a = number(s, "az_from_deg", lo=-360, hi=720)
        b = number(s, "az_to_deg", lo=-360, hi=720)
        width = sector_width(a, b)
        if width == 0.0:
            raise FieldError(k, "empty sector (az_from_deg == az_to_deg)")
        a %= 360.0
        out.append({"az_from_deg": a, "az_to_deg": a + 360.0 if width == 360.0 else (a + width) % 360.0})
    return out


def sector_width(az_from: float, az_to: float) -> float:
    """Degrees swept clockwise from ``az_from`` to ``az_to``; 360 for a full circle."""
    return 360.0 if abs(az_to - az_from) >= 360.0 else (az_to - az_from) % 360.0


# The kinds' parameters. Order is the order of keys in a record.
KIND_PARAMS: dict[str, dict[str, tuple[Any, Check]]] = {
    "radar": {
        "range_max_m": (80_000.0, num(1.0, 2e6)),
        "sigma_range_m": (30.0, num(0.0, 1e4)),
        "sigma_az_deg": (0.5, num(0.0, 30.0)),
        "sigma_el_deg": (1.0, num(0.0, 30.0)),
        "sigma_rr_mps": (1.0, num(0.0, 500.0)),
        "period_s": (4.0, num(0.05, 600.0)),
        "pd": (0.9, num(1e-6, 1.0)),
        "false_per_scan": (2.0, num(0.0, 1e4)),
        "range_min_m": (500.0, num(0.0, 1e6)),
        "ref_rcs_m2": (1.0, num(1e-6, 1e4)),
        "ref_range_m": (40_000.0, num(1.0, 2e6)),
        "pfa": (1e-6, num(1e-12, 0.1)),
        "rcs_m2": ({"shahed": 0.3, "decoy": 0.1, "jet_drone": 0.5, "recon": 0.2, "aircraft": 10.0,
                    "bird": 0.01, "unknown": 0.1}, per_class(0.0, 1e4)),
        "clutter_rr_mps": (20.0, num(0.0, 2000.0)),
        "el_min_deg": (-2.0, num(-90.0, 90.0)),
        "el_max_deg": (60.0, num(-90.0, 90.0)),
        "sectors": (FULL_CIRCLE, sectors),
        "scan": ("rotating", choice("rotating", "staring")),
        "phase_s": (None, opt_num(0.0, 1e9)),
        "class_hint": (False, flag),
        "confusion": (None, confusion),
    },
    "acoustic": {
        "range_max_m": (None, opt_num(0.0, 1e5)),
        "sigma_az_deg": (4.0, num(0.0, 90.0)),
        "sigma_el_deg": (None, opt_num(0.0, 90.0)),
        "period_s": (1.5, num(0.05, 600.0)),
        "pd": (0.8, num(0.0, 1.0)),
        "false_per_scan": (None, opt_num(0.0, 1e4)),
        "false_per_hour": (0.5, num(0.0, 1e5)),
        "range_by_class_m": ({"shahed": 4000.0, "decoy": 3000.0, "jet_drone": 5000.0, "recon": 3000.0,
                              "aircraft": 5000.0, "bird": 0.0, "unknown": 3000.0}, per_class(0.0, 1e5)),
        "delay_s": ([1.0, 4.0], pair(0.0, 3600.0)),
        "el_min_deg": (-10.0, num(-90.0, 90.0)),
        "el_max_deg": (90.0, num(-90.0, 90.0)),
        "sectors": (FULL_CIRCLE, sectors),
        "phase_s": (None, opt_num(0.0, 1e9)),
        "class_hint": (True, flag),
        "confusion": (None, confusion),
    },
    "eo": {
        "range_max_m": (None, opt_num(0.0, 2e5)),
        "sigma_az_deg": (0.1, num(0.0, 90.0)),
        "sigma_el_deg": (0.1, opt_num(0.0, 90.0)),
        "period_s": (1.0, num(0.05, 600.0)),
        "pd": (0.95, num(0.0, 1.0)),
        "false_per_scan": (None, opt_num(0.0, 1e4)),
        "false_per_hour": (2.0, num(0.0, 1e5)),
        "range_by_class_m": ({"shahed": 8000.0, "decoy": 6000.0, "jet_drone": 10_000.0, "recon": 6000.0,
                              "aircraft": 15_000.0, "bird": 1500.0, "unknown": 5000.0}, per_class(0.0, 2e5)),
        "delay_s": ([0.1, 0.5], pair(0.0, 3600.0)),
        "el_min_deg": (-5.0, num(-90.0, 90.0)),
        "el_max_deg": (85.0, num(-90.0, 90.0)),
        "sectors": (FULL_CIRCLE, sectors),
        "phase_s": (None, opt_num(0.0, 1e9)),
        "class_hint": (True, flag),
        "confusion": (None, confusion),
    },
    "visual": {
        "region": (None, None),  # checked by regions.parse_region
        "sigma_h_m": ([500.0, 2000.0], num_or_pair(0.0, 1e5)),
        "sigma_v_m": (1000.0, num(0.0, 1e5)),
        "rate_per_hour": (12.0, num(0.0, 1e5)),
        "false_fraction": (0.2, num(0.0, 0.95)),
        "delay_s": ([20.0, 90.0], pair(0.0, 86_400.0)),
        "max_alt_m": (6000.0, num(0.0, 60_000.0)),
        "class_hint": (True, flag),
        "confusion": (None, confusion),
    },
    "adsb": {
        "range_max_m": (250_000.0, num(1.0, 1e6)),
        "sigma_h_m": (30.0, num(0.0, 1e4)),
        "sigma_v_m": (15.0, num(0.0, 1e4)),
        "period_s": (1.0, num(0.05, 600.0)),
        "pd": (0.95, num(0.0, 1.0)),
        "phase_s": (None, opt_num(0.0, 1e9)),
        "class_hint": (True, flag),
        "confusion": (None, confusion),
    },
}
DEFAULT_ALT = {"radar": 10.0, "acoustic": 2.0, "eo": 10.0, "visual": 0.0, "adsb": 10.0}
CONTRACT_KEYS = ("id", "kind", "lat", "lon", "alt", "nation", "range_max_m", "sigma_range_m",
                 "sigma_az_deg", "sigma_el_deg", "sigma_rr_mps", "sigma_h_m", "sigma_v_m",
                 "period_s", "pd", "false_per_scan")
# Record fields that are derived, not chosen (written for contract readers).
DERIVED = {"visual": ("sigma_h_range_m",)}


def check_id(v: Any, key: str = "id") -> str:
    if not isinstance(v, str) or not v.strip() or len(v) > _MAX_ID:
        raise FieldError(key, f"expected a non-empty string of at most {_MAX_ID} characters")
    return v


def check_nation(v: Any, key: str = "nation") -> str:
    if not isinstance(v, str) or not _NATION.match(v):
        raise FieldError(key, "expected an ISO 3166-1 alpha-2 code such as PL or UA")
    return v


def kind_of(spec: dict) -> str:
    k = spec.get("kind")
    if k not in SENSOR_KINDS:
        raise FieldError("kind", f"{k!r} is not one of {', '.join(SENSOR_KINDS)}")
    return k


def normalise(spec: dict, kind: str, *, region_check: Callable | None = None) -> dict:
    """One validated SENSOR record from a spec (id, lat, lon already present
    unless kind is visual). Raises FieldError naming the bad key."""
    table = KIND_PARAMS[kind]
    allowed = {"id", "kind", "lat", "lon", "alt", "nation", "note", *table, *DERIVED.get(kind, ())}
    for key in spec:
        if key not in allowed:
            raise FieldError(key_name(key), f"unknown key for a {kind} sensor")
    rec: dict[str, Any] = {"id": check_id(spec.get("id")), "kind": kind}
    if kind == "visual":
        if region_check is None:
            raise FieldError("region", "no region checker")
        region, (lat, lon) = region_check(spec.get("region"), "region")
        for key, v in (("lat", lat), ("lon", lon)):
            if spec.get(key) is not None and not (isinstance(spec[key], (int, float))
                                                  and abs(float(spec[key]) - v) < 1e-6):
                raise FieldError(key, "a visual (crowd) sensor sits at its region's centre: "
                                      "set region.lat/lon instead")
    else:
        lat = number(spec, "lat", lo=-90.0, hi=90.0)
        lon = number(spec, "lon", lo=-180.0, hi=180.0)
    rec["lat"], rec["lon"] = float(lat), float(lon)
    rec["alt"] = number(spec, "alt", required=False, default=DEFAULT_ALT[kind], lo=-500.0, hi=60_000.0)
    if spec.get("nation") is not None:
        rec["nation"] = check_nation(spec["nation"])
    p: dict[str, Any] = {}
    for key, (default, check) in table.items():
        v = spec.get(key)
        if key == "region":
            p[key] = region
        elif v is None:
            p[key] = copy.deepcopy(default)  # records never share a list or map
        else:
            p[key] = check(v, key)
    for mk in ("rcs_m2", "range_by_class_m"):
        if mk in table:  # a partial map overrides only the classes it names
            p[mk] = {**table[mk][0], **p[mk]}
    _derive(kind, spec, p)
    if "el_min_deg" in p and p["el_min_deg"] > p["el_max_deg"]:
        raise FieldError("el_min_deg", f"{p['el_min_deg']:g} > el_max_deg {p['el_max_deg']:g}")
    for key in CONTRACT_KEYS[6:]:
        if p.get(key) is not None:
            rec[key] = float(p[key])
    for key, v in p.items():
        if key not in rec and v is not None and key != "note":
            rec[key] = v
    if spec.get("note") is not None:
        rec["note"] = str(spec["note"])[:200]
    return rec


def _derive(kind: str, spec: dict, p: dict) -> None:
    """Fill the contract fields that follow from the model's own ones."""
    if kind == "radar":
        if p["pd"] <= p["pfa"]:
            raise FieldError("pd", f"{p['pd']:g} must exceed pfa {p['pfa']:g}")
        if p["range_min_m"] >= p["range_max_m"]:
            raise FieldError("range_min_m", "must be below range_max_m")
    if kind in ("acoustic", "eo"):
        ranges = p["range_by_class_m"]
        if p["range_max_m"] is not None:
            ranges = {c: min(r, p["range_max_m"]) for c, r in ranges.items()}
        p["range_by_class_m"] = ranges
        p["range_max_m"] = max(ranges.values())
        if spec.get("false_per_hour") is None and p["false_per_scan"] is not None:
            p["false_per_hour"] = p["false_per_scan"] * 3600.0 / p["period_s"]
        p["false_per_scan"] = p["false_per_hour"] * p["period_s"] / 3600.0
    if kind == "visual":
        given = spec.get("sigma_h_range_m")
        lo, hi = pair(0.0, 1e5)(given, "sigma_h_range_m") if given is not None else p["sigma_h_m"]
        p["sigma_h_range_m"] = [lo, hi]
        # The contract's single number: the RMS of sigma uniform on [lo, hi].
        p["sigma_h_m"] = math.sqrt((lo * lo + lo * hi + hi * hi) / 3.0)
    if p.get("confusion") is not None:
        p["confusion"] = {c: dict(r) for c, r in p["confusion"].items()}


def confusion_matrix(rec: dict) -> list[list[float]]:
    """Row-normalised confusion (true x called, in CLASSES order) of a record."""
    rows = {**CONFUSION[rec["kind"]], **(rec.get("confusion") or {})}
    out = []
    for c in CLASSES:
        row = rows.get(c, {"unknown": 1.0})
        w = [float(row.get(k, 0.0)) for k in CLASSES]
        s = sum(w)
        out.append([x / s for x in w])
    return out
