"""From a scenario's ``sensors:`` list to SENSOR records.

An item is either one sensor (``{kind: radar, id: ..., lat, lon, ...}``) or a
generator (``{generate: acoustic_network, area: ..., density_per_km2: ...}``)
that places many sensors sharing the same parameters. docs/SENSORS.md lists
every key and default.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from airshield import geo
from airshield.errors import InputError
from airshield.io.jsonl import FieldError, number
from airshield.sim.sensors.params import KIND_PARAMS, kind_of, normalise
from airshield.sim.sensors.params import sectors as sectors_check
from airshield.sim.sensors.regions import parse_region

GENERATORS = {"radar_sites": "radar", "acoustic_network": "acoustic", "eo_cameras": "eo",
              "adsb_receivers": "adsb", "crowd": "visual"}
ID_PREFIX = {"radar": "radar", "acoustic": "ac", "eo": "eo", "adsb": "adsb", "visual": "crowd"}
PLACEMENT = ("sites", "area", "ring")
GEN_KEYS = {"generate", "kind", "id_prefix", "count", "density_per_km2", "face_outward_deg", *PLACEMENT}
MAX_SENSORS = 200_000


def expand_deployments(specs: Any, origin: dict, rng: np.random.Generator, file: str = "scenario") -> list[dict]:
    """SENSOR records for a scenario's ``sensors:`` list. Raises InputError
    naming the key path (``sensors[3].density_per_km2``) on a bad spec."""
    if specs is None:
        return []
    if not isinstance(specs, list):
        raise InputError("expected a list of sensor specs", file=file, field="sensors")
    try:
        origin = {"lat": number(origin, "lat", lo=-90.0, hi=90.0), "lon": number(origin, "lon", lo=-180.0, hi=180.0)}
    except (FieldError, TypeError) as e:
        raise InputError(getattr(e, "message", "expected {lat, lon}"), file=file, field="origin") from None
    records: list[dict] = []
    seen: dict[str, int] = {}
    for i, spec in enumerate(specs):
        where = f"sensors[{i}]"
        try:
            if not isinstance(spec, dict):
                raise FieldError("", "expected a mapping (a sensor or a generator)")
            new = _generator(spec, origin, rng) if "generate" in spec else [_single(spec, origin)]
        except FieldError as e:
            raise InputError(e.message, file=file, field=f"{where}.{e.field}" if e.field else where) from None
        if len(records) + len(new) > MAX_SENSORS:
            raise InputError(f"more than {MAX_SENSORS} sensors in all", file=file, field=where)
        for rec in new:
            if rec["id"] in seen:
                raise InputError(f"duplicate sensor id {rec['id']!r} (also from sensors[{seen[rec['id']]}])",
                                 file=file, field=f"{where}.id")
            seen[rec["id"]] = i
        records.extend(new)
    return records


def _region_check(origin: dict):
    def check(v, key):
        reg = parse_region(v, key, origin)
        return reg.spec, (reg.lat, reg.lon)
    return check


def _single(spec: dict, origin: dict) -> dict:
    kind = kind_of(spec)
    return normalise(spec, kind, region_check=_region_check(origin))


def _generator(spec: dict, origin: dict, rng: np.random.Generator) -> list[dict]:
    gen = spec["generate"]
    if not isinstance(gen, str) or gen not in GENERATORS:
        raise FieldError("generate", f"{gen!r} is not one of {', '.join(GENERATORS)}")
    kind = GENERATORS[gen]
    if "kind" in spec and spec["kind"] != kind:
        raise FieldError("kind", f"{gen} makes {kind} sensors, not {spec['kind']!r}")
    if kind == "visual":
        one = {k: v for k, v in spec.items() if k not in ("generate", "kind")}
        one.setdefault("id", ID_PREFIX[kind])
        return [normalise(one, kind, region_check=_region_check(origin))]
    for key in ("id", "lat", "lon"):
        if key in spec:
            raise FieldError(key, "not allowed in a generator (give sites: [{id, lat, lon}, ...])")
    prefix = spec.get("id_prefix", ID_PREFIX[kind])
    if not isinstance(prefix, str) or not prefix or len(prefix) > 32:
        raise FieldError("id_prefix", "expected a non-empty string of at most 32 characters")
    params = {k: v for k, v in spec.items() if k not in GEN_KEYS}
    given = [p for p in PLACEMENT if p in spec]
    if len(given) != 1:
        raise FieldError("sites|area|ring", "give exactly one placement: sites, area or ring")
    if "face_outward_deg" in spec and given[0] != "ring":
        raise FieldError("face_outward_deg", "only with ring placement")
    if given[0] == "sites":
        return _sites(spec["sites"], params, kind, prefix)
    template = normalise({**params, "id": f"{prefix}-0", "lat": origin["lat"], "lon": origin["lon"]}, kind)
    if given[0] == "area":
        lat, lon = _area(spec, origin, rng)
        sectors = None
    else:
        lat, lon, sectors = _ring(spec, origin, kind)
    width = max(5, len(str(lat.size)))
    out = []
    for k in range(lat.size):
        rec = dict(template, id=f"{prefix}-{k + 1:0{width}d}", lat=float(lat[k]), lon=float(lon[k]))
        if sectors is not None:
            rec["sectors"] = [sectors[k]]
        out.append(rec)
    return out


def _sites(sites: Any, params: dict, kind: str, prefix: str) -> list[dict]:
    if not isinstance(sites, list) or not sites:
        raise FieldError("sites", "expected a non-empty list of {lat, lon, ...}")
    if len(sites) > MAX_SENSORS:
        raise FieldError("sites", f"more than {MAX_SENSORS} sites")
    out = []
    for k, site in enumerate(sites):
        if not isinstance(site, dict):
            raise FieldError(f"sites[{k}]", "expected {lat, lon, ...}")
        one = {**params, **site}
        one.setdefault("id", f"{prefix}-{k + 1:05d}")
        try:
            out.append(normalise(one, kind))
        except FieldError as e:
            root = e.field.split(".")[0].split("[")[0]
            # Blame the site for what it set (or must set), the generator for the rest.
            in_site = root in site or root in ("lat", "lon")
            raise FieldError(f"sites[{k}].{e.field}" if in_site else e.field, e.message) from None
    return out


def _count(spec: dict, area_km2: float | None) -> int:
    if "count" in spec and "density_per_km2" in spec:
        raise FieldError("count", "give count or density_per_km2, not both")
    if "count" in spec:
        v = spec["count"]
        if isinstance(v, float) and v.is_integer():
            v = int(v)  # YAML writes 12.0 as easily as 12
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_SENSORS:
            raise FieldError("count", f"expected a whole number from 1 to {MAX_SENSORS}")
        return v
    if "density_per_km2" in spec:
        if area_km2 is None:
            raise FieldError("density_per_km2", "only with area placement; give count")
        dens = number(spec, "density_per_km2", lo=0.0, hi=1e4)
        n = int(round(dens * area_km2))
        if n > MAX_SENSORS:
            raise FieldError("density_per_km2", f"{n} sensors over {area_km2:.0f} km² exceeds {MAX_SENSORS}")
        return n
    raise FieldError("count", "missing (give count or density_per_km2)")


def _area(spec: dict, origin: dict, rng: np.random.Generator):
    reg = parse_region(spec["area"], "area", origin)
    n = _count(spec, reg.area_km2())
    return reg.sample(n, rng)


def _ring(spec: dict, origin: dict, kind: str):
    """Sensors evenly spaced on a geodesic circle (a perimeter around a
    defended site); cameras may face outward."""
    reg = parse_region(spec["ring"], "ring", origin)
    if reg.radius_m is None:
        raise FieldError("ring", "expected {lat, lon, radius_km}")
    n = _count(spec, None)
    az = np.arange(n) * 360.0 / n
    lat, lon = geo.geodesic_destination(reg.lat, reg.lon, np.full(n, reg.radius_m), az)
    sectors = None
    if "face_outward_deg" in spec:
        if "sectors" not in KIND_PARAMS[kind]:
            raise FieldError("face_outward_deg", f"{kind} sensors have no sectors")
        if "sectors" in spec:
            raise FieldError("face_outward_deg", "give face_outward_deg or sectors, not both")
        w = number(spec, "face_outward_deg", lo=1.0, hi=360.0)
        sectors = [sectors_check([{"az_from_deg": float(a - w / 2), "az_to_deg": float(a + w / 2)}],
                                 "face_outward_deg")[0] for a in az]
    return np.atleast_1d(lat), np.atleast_1d(lon), sectors
