"""Effectors: everything that can defeat a drone, from a pickup with a machine
gun to a fighter on patrol, as columns.

A scenario file declares them under ``effectors:``; each item names a ``kind``
and may override any of that kind's documented defaults (docs/ASSESS_ENGAGE.md
gives the public figures behind them). One declared item becomes one row,
except a ``fighter``, which becomes two: its missiles (row id = the item's id)
and its cannon (row id ``<id>/cannon``) sharing the aircraft.

The engagement model every kind shares (see ``engage.feasibility``): after a
reaction delay, something moves from the effector's position at ``speed_mps``
(an interceptor drone, a missile, a shell, or the platform itself: a fire
group's truck, a fighter) and defeats the threat once within ``reach_m`` of it
(0 for weapons that must hit; a gun's or a fighter missile's reach otherwise),
inside the envelope ``min_range_m..max_range_m`` from the site and
``min_alt_m..max_alt_m`` above the ground under it (``ground_alt_m``: by
default the site's own ``alt`` for ground kinds and 0 for a fighter, whose
``alt`` is its patrol altitude).

Pk is by threat class (a mapping over ``airshield.CLASSES``); it is 0 against
``aircraft`` and ``bird`` by policy: airshield never recommends engaging
cooperative aircraft, and a loader rejects a file that tries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from airshield import CLASS_INDEX, CLASSES, geo
from airshield.errors import InputError
from airshield.io.jsonl import FieldError, number, parse_records

EFFECTOR_KINDS: tuple[str, ...] = ("interceptor_drone", "mobile_fire_group", "aa_gun", "sam_short",
                                   "sam_medium", "fighter")

# Numeric parameters of a row: name -> (lo, hi, integer?)
PARAMS: dict[str, tuple[float, float, bool]] = {
    "stock": (0, 1e9, True), "channels": (1, 1e6, True), "busy": (0, 1e6, True),
    "launch_interval_s": (1e-3, 86_400, False), "reaction_s": (0, 86_400, False),
    "ready_t": (-math.inf, math.inf, False),
    "min_range_m": (0, 1e7, False), "max_range_m": (1e-3, 1e7, False),
    "min_alt_m": (-1e4, 1e5, False), "max_alt_m": (-1e4, 1e5, False), "ground_alt_m": (-500, 1e4, False),
    "speed_mps": (0, 1e4, False), "reach_m": (0, 1e6, False),
    "cost_per_shot": (0, 1e12, False), "cost_per_hour": (0, 1e9, False), "hours_per_shot": (0, 100, False),
    "salvo": (1, 1e6, True), "acquire_m": (0, 1e5, False),
}
# Other names accepted for the same thing (scenario files written before this schema).
ALIASES = {"range_m": "max_range_m", "shots": "stock", "cost": "cost_per_shot"}
# Patriot-class long-range SAMs are planned as sam_medium: against low drones their
# reach is horizon-limited to medium range anyway.
KIND_ALIASES = {"spaag": "aa_gun", "sam_short_range": "sam_short", "sam_medium_range": "sam_medium",
                "sam_long_range": "sam_medium", "sam_long": "sam_medium"}
KEYS = ("id", "kind", "lat", "lon", "alt", "nation", "description", "pk", "cannon", *PARAMS, *ALIASES)
NEVER_ENGAGE = ("aircraft", "bird")  # pk must be 0: policy, not physics


def _pk(shahed, decoy, jet_drone, recon, unknown) -> dict[str, float]:
    return {"shahed": shahed, "decoy": decoy, "jet_drone": jet_drone, "recon": recon,
            "aircraft": 0.0, "bird": 0.0, "unknown": unknown}


_COMMON = {"busy": 0, "ready_t": 0.0, "cost_per_hour": 0.0, "hours_per_shot": 0.0}

# Documented defaults per kind (figures and sources in docs/ASSESS_ENGAGE.md).
DEFAULTS: dict[str, dict] = {
    "interceptor_drone": {  # Sting-class FPV interceptor: 250-315 km/h, 15-25 km, $2.5-5k
        "stock": 20, "channels": 4, "launch_interval_s": 60.0, "reaction_s": 60.0,
        "min_range_m": 200.0, "max_range_m": 20_000.0, "min_alt_m": 0.0, "max_alt_m": 3_000.0,
        "speed_mps": 75.0, "reach_m": 0.0, "cost_per_shot": 4_000.0, "salvo": 3, "acquire_m": 1_000.0,
        "pk": _pk(0.68, 0.75, 0.15, 0.6, 0.5)},
    "mobile_fire_group": {  # pickup + heavy MG + searchlight/thermal; drives to the threat's path
        "stock": 10, "channels": 1, "launch_interval_s": 20.0, "reaction_s": 60.0,
        "min_range_m": 0.0, "max_range_m": 15_000.0, "min_alt_m": 0.0, "max_alt_m": 1_200.0,
        "speed_mps": 11.7, "reach_m": 1_500.0, "cost_per_shot": 500.0, "salvo": 1, "acquire_m": 300.0,
        "pk": _pk(0.4, 0.45, 0.05, 0.35, 0.3)},
    "aa_gun": {  # Gepard-class twin 35 mm: ~3.5 km effective, airburst
        "stock": 20, "channels": 1, "launch_interval_s": 5.0, "reaction_s": 10.0,
        "min_range_m": 100.0, "max_range_m": 3_500.0, "min_alt_m": 0.0, "max_alt_m": 3_000.0,
        "speed_mps": 1_000.0, "reach_m": 0.0, "cost_per_shot": 7_000.0, "salvo": 2, "acquire_m": 500.0,
        "pk": _pk(0.7, 0.75, 0.4, 0.65, 0.5)},
    "sam_short": {  # MANPADS / short-range SAM (Piorun, Stinger class): 6-10 km
        "stock": 8, "channels": 2, "launch_interval_s": 10.0, "reaction_s": 15.0,
        "min_range_m": 500.0, "max_range_m": 8_000.0, "min_alt_m": 10.0, "max_alt_m": 4_000.0,
        "speed_mps": 600.0, "reach_m": 0.0, "cost_per_shot": 450_000.0, "salvo": 2, "acquire_m": 1_000.0,
        "pk": _pk(0.85, 0.85, 0.8, 0.8, 0.7)},
    "sam_medium": {  # NASAMS / IRIS-T SLM / Patriot class; low targets limit range to ~40 km
        "stock": 12, "channels": 4, "launch_interval_s": 5.0, "reaction_s": 20.0,
        "min_range_m": 2_000.0, "max_range_m": 40_000.0, "min_alt_m": 30.0, "max_alt_m": 20_000.0,
        "speed_mps": 1_000.0, "reach_m": 0.0, "cost_per_shot": 1_000_000.0, "salvo": 2, "acquire_m": 1_000.0,
        "pk": _pk(0.9, 0.9, 0.9, 0.9, 0.8)},
    "fighter": {  # on CAP; flies to the threat at 250 m/s, fires a short-range AAM from 8 km
        "stock": 4, "channels": 1, "launch_interval_s": 30.0, "reaction_s": 60.0,
        "min_range_m": 0.0, "max_range_m": 150_000.0, "min_alt_m": 50.0, "max_alt_m": 15_000.0,
        "speed_mps": 250.0, "reach_m": 8_000.0, "cost_per_shot": 450_000.0,
        "cost_per_hour": 30_000.0, "hours_per_shot": 0.25, "salvo": 2, "acquire_m": 1_000.0,
        "pk": _pk(0.9, 0.9, 0.9, 0.9, 0.8)},
}
# The fighter's cannon row: these replace the missile's values.
CANNON_DEFAULTS: dict = {"stock": 4, "reach_m": 800.0, "cost_per_shot": 3_000.0, "launch_interval_s": 60.0,
                         "salvo": 1, "acquire_m": 500.0,
                         "pk": _pk(0.5, 0.55, 0.3, 0.5, 0.4)}
CANNON_KEYS = ("pk", *PARAMS, *ALIASES)


@dataclass
class Effectors:
    """Effector rows as columns. ``platform[e]`` is the declared item row e came
    from (a fighter's two weapons share it); ``cost`` is the full cost of one
    shot (weapon plus flight hours charged to it)."""

    ids: list[str]
    kind: np.ndarray  # (E,) int8 index into EFFECTOR_KINDS
    weapon: list[str]  # "" for single-weapon kinds, "missile" / "cannon" for fighters
    platform: np.ndarray  # (E,) int
    lat: np.ndarray
    lon: np.ndarray
    alt: np.ndarray
    ecef: np.ndarray  # (E, 3)
    nation: list[str | None]
    stock: np.ndarray  # (E,) int: shots left
    channels: np.ndarray  # (E,) int: simultaneous engagements
    busy: np.ndarray  # (E,) int: channels engaged now
    ready_t: np.ndarray  # (E,) scenario time from which it can launch again
    launch_interval: np.ndarray
    reaction: np.ndarray
    min_range: np.ndarray
    max_range: np.ndarray
    ground_alt: np.ndarray  # (E,) the altitude band is measured from here
    min_alt: np.ndarray  # above ground_alt
    max_alt: np.ndarray
    speed: np.ndarray
    reach: np.ndarray
    pk: np.ndarray  # (E, len(CLASSES))
    cost: np.ndarray  # (E,) per shot, all in
    params: list[dict] = field(default_factory=list)  # resolved per-row values, for reports
    # (E,) most shots one engagement puts on one threat: a fire group gets one
    # burst at a passing drone, an interceptor-drone team 2-3 drones, a battery
    # a two-round salvo. None: unlimited (rows built before this field).
    salvo: np.ndarray | None = None
    # (E,) m: how far from its aim point the weapon finds its target by itself
    # (an interceptor pilot's thermal camera, a missile's seeker, a gun's fire
    # control); None: OutcomeParams.kill_radius_m for all.
    acquire: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def kind_name(self, e: int) -> str:
        return EFFECTOR_KINDS[int(self.kind[e])]

    def index(self) -> dict[str, int]:
        return {s: i for i, s in enumerate(self.ids)}


def defaults(kind: str) -> dict:
    """The documented defaults of one kind (a fresh copy)."""
    d = {**_COMMON, **DEFAULTS[kind]}
    d["pk"] = dict(d["pk"])
    return d


def _check_number(obj: dict, key: str, canon: str) -> float:
    lo, hi, integer = PARAMS[canon]
    v = number(obj, key, lo=lo, hi=hi)
    if integer and not float(v).is_integer():
        raise FieldError(key, f"expected a whole number, got {v:g}")
    return v


def _merge(row: dict, obj: dict, allowed: tuple[str, ...]) -> None:
    """Overrides from ``obj`` into ``row``, each checked; pk entries merge."""
    for key in obj:
        if key not in allowed:
            raise FieldError(str(key), f"unknown key (expected one of {', '.join(allowed)})")
    for key in obj:
        canon = ALIASES.get(key, key)
        if canon in PARAMS:
            if canon != key and canon in obj:
                raise FieldError(key, f"give {canon} or its alias {key}, not both")
            row[canon] = _check_number(obj, key, canon)
    if "pk" in obj:
        pk = obj["pk"]
        if not isinstance(pk, dict):
            raise FieldError("pk", "expected a mapping {class: probability}")
        for cls in pk:
            if cls not in CLASS_INDEX:
                raise FieldError(f"pk.{cls}", f"unknown class (expected one of {', '.join(CLASSES)})")
            try:
                p = number(pk, cls, lo=0.0, hi=1.0)
            except FieldError as e:
                raise FieldError(f"pk.{cls}", e.message) from None
            if cls in NEVER_ENGAGE and p > 0:
                raise FieldError(f"pk.{cls}", f"must be 0: airshield never recommends engaging {cls}")
            row["pk"][cls] = p


def _validate(row: dict) -> None:
    if row["min_range_m"] >= row["max_range_m"]:
        raise FieldError("max_range_m", f"must exceed min_range_m ({row['min_range_m']:g})")
    if row["min_alt_m"] >= row["max_alt_m"]:
        raise FieldError("max_alt_m", f"must exceed min_alt_m ({row['min_alt_m']:g})")
    if row["speed_mps"] <= 0 and row["reach_m"] <= 0:
        raise FieldError("speed_mps", "an effector needs speed_mps > 0 or reach_m > 0")


def _parse_item(obj: dict) -> list[dict]:
    """One declared item -> its resolved rows (two for a fighter)."""
    for key in obj:
        if key not in KEYS:
            raise FieldError(str(key), f"unknown key (expected one of {', '.join(KEYS)})")
    eid = obj.get("id")
    if not isinstance(eid, str) or not eid:
        raise FieldError("id", "missing" if eid is None else "expected a non-empty string")
    kind = obj.get("kind")
    kind = KIND_ALIASES.get(kind, kind) if isinstance(kind, str) else kind
    if kind not in EFFECTOR_KINDS:
        raise FieldError("kind", f"{kind!r} is not one of {', '.join(EFFECTOR_KINDS)}")
    site = {"id": eid, "kind": kind, "lat": number(obj, "lat", lo=-90, hi=90),
            "lon": number(obj, "lon", lo=-180, hi=180),
            "alt": number(obj, "alt", required=False, default=0.0, lo=-500, hi=60_000)}
    nation = obj.get("nation")
    if nation is not None and (not isinstance(nation, str) or not nation):
        raise FieldError("nation", "expected an ISO 3166-1 alpha-2 code")
    site["nation"] = nation
    if not isinstance(obj.get("description", ""), str):
        raise FieldError("description", "expected text")
    row = {**site, **defaults(kind), "weapon": "missile" if kind == "fighter" else "",
           "ground_alt_m": 0.0 if kind == "fighter" else site["alt"]}
    _merge(row, {k: v for k, v in obj.items() if k not in ("cannon",)}, KEYS)
    _validate(row)
    rows = [row]
    if "cannon" in obj and kind != "fighter":
        raise FieldError("cannon", "only a fighter has a cannon row")
    cannon = obj.get("cannon", {}) if kind == "fighter" else False
    if cannon is None or cannon is True:
        cannon = {}
    if cannon is not False:
        if not isinstance(cannon, dict):
            raise FieldError("cannon", "expected a mapping of overrides, or false")
        gun = {**row, **CANNON_DEFAULTS, "pk": {**row["pk"], **CANNON_DEFAULTS["pk"]},
               "id": f"{eid}/cannon", "weapon": "cannon"}
        try:
            _merge(gun, cannon, CANNON_KEYS)
            _validate(gun)
        except FieldError as e:
            raise FieldError(f"cannon.{e.field}", e.message) from None
        rows.append(gun)
    return rows


def load_effectors(items: list, file: str = "<effectors>") -> Effectors:
    """Effectors from the scenario's ``effectors:`` list; a bad key or value is
    a one-line InputError naming ``effectors[i].key`` (e.g. ``effectors[2].pk.shahed``)."""
    if items is None:
        items = []
    if not isinstance(items, list):
        raise InputError("expected a list of effectors", file=file, field="effectors")
    rows, plat = [], []
    for i, item_rows in parse_records(items, _parse_item, file=file, key="effectors", unique="id",
                                      id_of=lambda rs: [r["id"] for r in rs]):
        rows += item_rows
        plat += [i] * len(item_rows)
    return effectors_from_rows(rows, plat)


def effectors_from_rows(rows: list[dict], platform: list[int] | None = None) -> Effectors:
    """Columns from resolved rows (dicts with every key of ``defaults``)."""
    n = len(rows)
    for r in rows:
        r.setdefault("ground_alt_m", 0.0 if r["kind"] == "fighter" else r["alt"])
        r.setdefault("salvo", DEFAULTS[r["kind"]]["salvo"])
        r.setdefault("acquire_m", DEFAULTS[r["kind"]]["acquire_m"])
    col = (lambda key, dt=float: np.array([r[key] for r in rows], dt).reshape(n))
    lat, lon, alt = col("lat"), col("lon"), col("alt")
    ecef = np.stack(geo.geodetic_to_ecef(lat, lon, alt), axis=-1).reshape(n, 3)
    pk = np.array([[r["pk"].get(c, 0.0) for c in CLASSES] for r in rows], float).reshape(n, len(CLASSES))
    return Effectors(
        ids=[r["id"] for r in rows], kind=np.array([EFFECTOR_KINDS.index(r["kind"]) for r in rows], np.int8),
        weapon=[r.get("weapon", "") for r in rows],
        platform=np.array(platform if platform is not None else range(n), int).reshape(n),
        lat=lat, lon=lon, alt=alt, ecef=ecef, nation=[r.get("nation") for r in rows],
        stock=col("stock", np.int64), channels=col("channels", np.int64), busy=col("busy", np.int64),
        ready_t=col("ready_t"), launch_interval=col("launch_interval_s"), reaction=col("reaction_s"),
        min_range=col("min_range_m"), max_range=col("max_range_m"), ground_alt=col("ground_alt_m"),
        min_alt=col("min_alt_m"), max_alt=col("max_alt_m"), speed=col("speed_mps"), reach=col("reach_m"), pk=pk,
        cost=col("cost_per_shot") + col("cost_per_hour") * col("hours_per_shot"),
        params=rows, salvo=col("salvo", np.int64), acquire=col("acquire_m"),
    )
