"""Scenario files: what flies, from where, to where, and what watches.

A scenario is a YAML file (see docs/SCENARIOS.md). ``load_scenario`` accepts a
built-in name or a path and returns a checked ``Scenario``; every mistake is one
``InputError`` naming the file, line and key path.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from airshield.errors import InputError
from airshield.sim.validate import Fields, iso_utc, join, load_yaml, parse_time, plain

THREAT_CLASSES = ("shahed", "decoy", "jet_drone", "recon")
TOP_KEYS = {"name", "description", "epoch", "duration_s", "seed", "truth_step_s", "origin",
            "output_tick_s", "places", "sensors", "raids", "traffic", "birds", "assets", "effectors"}
RAID_KEYS = {"name", "class", "count", "launch", "waypoints", "waypoint_jitter_km", "targets",
             "target_assign", "start", "spacing_s", "speed_kmh", "altitude_m", "low_level_legs",
             "range_km", "airborne"}
ROUTE_KEYS = {"route", "count", "start", "spacing_s", "type", "speed_kmh", "altitude_m", "icao24",
              "callsign"}
CROSSING_KEYS = {"generator", "area", "count", "start", "window_s", "type", "speed_kmh", "altitude_m"}
BIRD_KEYS = {"count", "area", "altitude_m", "speed_mps", "start"}
ASSET_KEYS = {"name", "lat", "lon", "alt", "radius_m", "value", "kind", "nation", "description"}
LOC_KEYS = {"lat", "lon", "alt", "radius_km", "place"}


@dataclass
class Location:
    """A point, or an area (a disc of ``radius_m`` around the point)."""

    lat: float
    lon: float
    alt: float = 0.0
    radius_m: float = 0.0
    name: str | None = None


@dataclass
class RaidWave:
    cls: str
    count: int
    launch: list[Location]  # one each, round-robin
    targets: list[Location]
    waypoints: list[Location] = field(default_factory=list)
    waypoint_jitter_m: float = 0.0
    target_assign: str = "round_robin"  # or "random"
    start_s: float = 0.0
    spacing_s: float = 0.0
    speed_kmh: tuple[float, float] | None = None  # overrides of the class figures
    altitude_m: tuple[float, float] | None = None
    low_level_legs: float | None = None
    range_km: tuple[float, float] | None = None
    airborne: bool = False  # start at cruise height and speed (entering the area)
    name: str = ""


@dataclass
class Traffic:
    """Civil aircraft with ADS-B: a fixed route, or a generator of crossings."""

    kind: str  # "route" | "crossing"
    count: int
    type: str = "airliner"  # or "ga"
    route: list[Location] = field(default_factory=list)
    area: Location | None = None
    start_s: float = 0.0
    spacing_s: float = 0.0
    window_s: float | None = None
    speed_kmh: tuple[float, float] | None = None
    altitude_m: tuple[float, float] | None = None
    icao24: list[str] = field(default_factory=list)
    callsign: str | None = None


@dataclass
class Birds:
    count: int
    area: Location
    altitude_m: tuple[float, float] = (20.0, 300.0)
    speed_mps: tuple[float, float] = (8.0, 20.0)
    start_s: float = 0.0


@dataclass
class Scenario:
    name: str
    description: str
    epoch: str  # ISO 8601 UTC, "...Z"
    duration_s: float
    seed: int
    origin: dict
    truth_step_s: float = 1.0
    output_tick_s: float | None = None
    sensors: list[dict] = field(default_factory=list)  # deployment specs, for sim.sensors
    raids: list[RaidWave] = field(default_factory=list)
    traffic: list[Traffic] = field(default_factory=list)
    birds: list[Birds] = field(default_factory=list)
    assets: list[dict] = field(default_factory=list)
    effectors: list[dict] = field(default_factory=list)
    file: str = ""
    doc: dict = field(default_factory=dict)  # the whole file, JSON-ready
    lines: dict[str, int] = field(default_factory=dict, repr=False)  # key path -> line in the file

    def located(self, err: InputError) -> InputError:
        """``err`` (from a part that checks its own section, e.g. the sensor
        specs) with the line of its key path in this file filled in."""
        if err.line is None and err.field and str(err.file) == self.file:
            err.line = Fields(self.file, self.lines).error(err.field, err.message).line
        return err

    def to_json(self) -> dict:
        """``scenario.json``: the contract fields, then everything else."""
        out = {"name": self.name, "epoch": self.epoch, "duration_s": self.duration_s, "seed": self.seed,
               "origin": self.origin, "description": self.description,
               "truth_step_s": self.truth_step_s}
        if self.output_tick_s is not None:
            out["output_tick_s"] = self.output_tick_s
        out["assets"] = self.assets
        out["effectors"] = self.effectors
        for k, v in self.doc.items():
            out.setdefault(k, v)
        return out


def builtin_dir():
    return resources.files("airshield") / "scenarios"


def builtin_scenarios() -> list[tuple[str, str]]:
    """(name, one-line description) of every built-in scenario, sorted by name."""
    out = []
    for entry in sorted(builtin_dir().iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".yaml"):
            s = load_scenario_text(entry.read_text(encoding="utf-8"), f"<builtin>/{entry.name}")
            out.append((s.name, " ".join(s.description.split())))
    return out


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A built-in scenario by name, or a scenario YAML file by path."""
    s = str(name_or_path)
    p = Path(s)
    if p.suffix in (".yaml", ".yml") or p.is_file() or "/" in s:
        if not p.is_file():
            raise InputError("no such scenario file", file=p)
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"cannot read scenario ({e.__class__.__name__})", file=p) from None
        return load_scenario_text(text, str(p))
    entry = builtin_dir() / f"{s}.yaml"
    if not entry.is_file():
        names = ", ".join(n for n, _ in builtin_scenarios())
        raise InputError(f"unknown built-in scenario {s!r} (built-in: {names}; or give a .yaml file)")
    return load_scenario_text(entry.read_text(encoding="utf-8"), f"<builtin>/{entry.name}")


def load_scenario_text(text: str, file: str) -> Scenario:
    data, lines = load_yaml(text, file)
    return parse_scenario(data, Fields(file, lines))


def parse_scenario(doc: Any, f: Fields) -> Scenario:
    f.mapping(doc, "", TOP_KEYS, required=("name", "epoch", "duration_s", "origin"))
    epoch = parse_time(doc["epoch"], f, "epoch")
    o = f.mapping(doc["origin"], "origin", {"lat", "lon", "alt"}, required=("lat", "lon"))
    origin = {"lat": f.number(o, "lat", "origin", lo=-90, hi=90),
              "lon": f.number(o, "lon", "origin", lo=-180, hi=180),
              "alt": f.number(o, "alt", "origin", default=0.0, lo=-500, hi=10_000)}
    places: dict[str, Location] = {}
    raw_places = doc.get("places") or {}
    if not isinstance(raw_places, dict):
        raise f.error("places", "expected a mapping of name: {lat, lon}")
    for k, v in raw_places.items():
        places[str(k)] = _location(v, join("places", str(k)), f, {}, allow_place=False)
        places[str(k)].name = str(k)
    scn = Scenario(
        name=f.string(doc, "name", ""),
        description=f.string(doc, "description", "", default=""),
        epoch=iso_utc(epoch),
        duration_s=f.number(doc, "duration_s", "", lo=0, hi=30 * 86400, lo_open=True),
        seed=f.integer(doc, "seed", "", default=0, lo=0),
        origin=origin,
        truth_step_s=f.number(doc, "truth_step_s", "", default=1.0, lo=0.01, hi=60),
        output_tick_s=f.number(doc, "output_tick_s", "", default=None, lo=0.01, hi=3600),
        file=f.file,
        lines=f.lines,
    )
    sensors = f.seq(doc.get("sensors"), "sensors")
    for i, s in enumerate(sensors):
        if not isinstance(s, dict):
            raise f.error(join("sensors", i), "expected a mapping (a sensor or a generator)")
    scn.sensors = plain(sensors)
    scn.raids = [_raid(w, join("raids", i), f, places, epoch)
                 for i, w in enumerate(f.seq(doc.get("raids"), "raids"))]
    scn.traffic = [_traffic(w, join("traffic", i), f, places, epoch)
                   for i, w in enumerate(f.seq(doc.get("traffic"), "traffic"))]
    scn.birds = [_birds(w, join("birds", i), f, places, epoch)
                 for i, w in enumerate(f.seq(doc.get("birds"), "birds"))]
    scn.assets = [_asset(a, join("assets", i), f) for i, a in enumerate(f.seq(doc.get("assets"), "assets"))]
    effectors = f.seq(doc.get("effectors"), "effectors")
    for i, e in enumerate(effectors):  # checked by the engagement planner that uses them
        if not isinstance(e, dict):
            raise f.error(join("effectors", i), "expected a mapping")
    scn.effectors = plain(effectors)
    scn.doc = plain({k: v for k, v in doc.items() if k not in ("epoch", "origin")})
    return scn


def _location(v: Any, path: str, f: Fields, places: dict[str, Location], *,
              allow_place: bool = True) -> Location:
    """A place name, or {lat, lon[, alt][, radius_km]}, or {place[, radius_km]}."""
    if isinstance(v, str):
        if allow_place and v in places:
            return places[v]
        raise f.error(path, f"unknown place {v!r}" + (f" (places: {', '.join(places)})" if places else ""))
    f.mapping(v, path, LOC_KEYS if allow_place else LOC_KEYS - {"place"})
    r = f.number(v, "radius_km", path, default=0.0, lo=0, hi=2000) * 1000.0
    if "place" in v:
        if "lat" in v or "lon" in v:
            raise f.error(join(path, "place"), "give either place or lat/lon, not both")
        base = _location(f.string(v, "place", path), join(path, "place"), f, places)
        return Location(base.lat, base.lon, f.number(v, "alt", path, default=base.alt, lo=-500, hi=20_000),
                        r or base.radius_m, base.name)
    f.mapping(v, path, LOC_KEYS, required=("lat", "lon"))
    return Location(f.number(v, "lat", path, lo=-90, hi=90), f.number(v, "lon", path, lo=-180, hi=180),
                    f.number(v, "alt", path, default=0.0, lo=-500, hi=20_000), r)


def _locations(v: Any, path: str, f: Fields, places: dict, *, min_len: int = 1) -> list[Location]:
    if isinstance(v, list):
        f.seq(v, path, min_len=min_len)
        return [_location(x, join(path, i), f, places) for i, x in enumerate(v)]
    if v is None:
        if min_len:
            raise f.error(path, "missing")
        return []
    return [_location(v, path, f, places)]


def _raid(w: Any, path: str, f: Fields, places: dict, epoch: _dt.datetime) -> RaidWave:
    f.mapping(w, path, RAID_KEYS, required=("class", "count", "launch", "targets"))
    cls = f.string(w, "class", path, choices=THREAT_CLASSES)
    return RaidWave(
        cls=cls,
        count=f.integer(w, "count", path, lo=1, hi=100_000),
        launch=_locations(w["launch"], join(path, "launch"), f, places),
        targets=_locations(w["targets"], join(path, "targets"), f, places),
        waypoints=_locations(w.get("waypoints"), join(path, "waypoints"), f, places, min_len=0),
        waypoint_jitter_m=f.number(w, "waypoint_jitter_km", path, default=0.0, lo=0, hi=500) * 1000.0,
        target_assign=f.string(w, "target_assign", path, default="round_robin", choices=("round_robin", "random")),
        start_s=f.time_s(w, "start", path, epoch),
        spacing_s=f.number(w, "spacing_s", path, default=0.0, lo=0, hi=86400),
        speed_kmh=f.band(w, "speed_kmh", path, lo=10, hi=1500),
        altitude_m=f.band(w, "altitude_m", path, lo=10, hi=20_000),
        low_level_legs=f.number(w, "low_level_legs", path, default=None, lo=0, hi=1),
        range_km=f.band(w, "range_km", path, lo=1, hi=10_000),
        airborne=f.boolean(w, "airborne", path, default=False),
        name=f.string(w, "name", path, default=""),
    )


def _traffic(w: Any, path: str, f: Fields, places: dict, epoch: _dt.datetime) -> Traffic:
    if not isinstance(w, dict):
        raise f.error(path, "expected a mapping (a route, or a generator)")
    crossing = "generator" in w
    f.mapping(w, path, CROSSING_KEYS if crossing else ROUTE_KEYS,
              required=("generator", "area", "count") if crossing else ("route",))
    common = dict(
        count=f.integer(w, "count", path, default=1, lo=1, hi=100_000),
        type=f.string(w, "type", path, default="airliner", choices=("airliner", "ga")),
        start_s=f.time_s(w, "start", path, epoch),
        speed_kmh=f.band(w, "speed_kmh", path, lo=50, hi=1200),
        altitude_m=f.band(w, "altitude_m", path, lo=100, hi=20_000),
    )
    if crossing:
        f.string(w, "generator", path, choices=("crossing",))
        area = _location(w["area"], join(path, "area"), f, places)
        if area.radius_m <= 0:
            raise f.error(join(path, "area"), "expected an area (radius_km > 0)")
        return Traffic(kind="crossing", area=area,
                       window_s=f.number(w, "window_s", path, default=None, lo=0), **common)
    icao = w.get("icao24", [])
    icao = [icao] if isinstance(icao, str) else icao
    icao = f.seq(icao, join(path, "icao24"))
    for i, a in enumerate(icao):
        if not isinstance(a, str) or len(a) != 6 or any(c not in "0123456789abcdefABCDEF" for c in a):
            raise f.error(join(join(path, "icao24"), i), "expected a 24-bit ICAO address: 6 hex digits")
    if icao and len(icao) != common["count"]:
        raise f.error(join(path, "icao24"), f"expected {common['count']} addresses, one per aircraft")
    return Traffic(kind="route", route=_locations(w["route"], join(path, "route"), f, places, min_len=2),
                   spacing_s=f.number(w, "spacing_s", path, default=0.0, lo=0),
                   icao24=[a.lower() for a in icao], callsign=f.string(w, "callsign", path, default=None),
                   **common)


def _birds(w: Any, path: str, f: Fields, places: dict, epoch: _dt.datetime) -> Birds:
    f.mapping(w, path, BIRD_KEYS, required=("count", "area"))
    area = _location(w["area"], join(path, "area"), f, places)
    if area.radius_m <= 0:
        raise f.error(join(path, "area"), "expected an area (radius_km > 0)")
    return Birds(count=f.integer(w, "count", path, lo=1, hi=1_000_000), area=area,
                 altitude_m=f.band(w, "altitude_m", path, lo=1, hi=5000, default=(20.0, 300.0)),
                 speed_mps=f.band(w, "speed_mps", path, lo=1, hi=40, default=(8.0, 20.0)),
                 start_s=f.time_s(w, "start", path, epoch))


def _asset(a: Any, path: str, f: Fields) -> dict:
    f.mapping(a, path, ASSET_KEYS, required=("name", "lat", "lon"))
    f.string(a, "name", path)
    f.number(a, "lat", path, lo=-90, hi=90)
    f.number(a, "lon", path, lo=-180, hi=180)
    f.number(a, "alt", path, default=0.0, lo=-500, hi=10_000)
    f.number(a, "radius_m", path, default=0.0, lo=0)
    f.number(a, "value", path, default=0.0, lo=0)
    f.string(a, "kind", path, default="")
    f.string(a, "nation", path, default="")
    return plain(a)
