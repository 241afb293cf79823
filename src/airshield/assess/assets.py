"""Protected assets: what the defence exists to keep whole.

A scenario file lists them under ``assets:``; each is a circle on the ground
with a value (the expected loss, in the plan's currency, if one warhead of a
Shahed-class drone hits it). Held as columns so threat assessment can work on
every track x asset pair at once.

Schema of one item (unknown keys are an error: a misspelt ``raduis_m`` must not
silently become the default)::

    name: str (unique)      kind: city_district | power_plant | substation | airport | base | other
                                  | fuel_depot | refinery  (optional, default other; "city" = city_district)
    lat: deg   lon: deg     alt: m above the ellipsoid (optional, default 0)
    radius_m: m (> 0)       value: currency units (>= 0)
    nation: ISO 3166-1 alpha-2 (optional)   description: free text (optional, ignored)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from airshield import geo
from airshield.errors import InputError
from airshield.io.jsonl import FieldError, number, parse_records

ASSET_KINDS: tuple[str, ...] = ("city_district", "power_plant", "substation", "airport", "base", "other",
                                 "fuel_depot", "refinery")
KIND_ALIASES = {"city": "city_district"}
ASSET_KEYS = ("name", "kind", "lat", "lon", "alt", "radius_m", "value", "nation", "description")


@dataclass
class Assets:
    """All protected assets as columns; row a is asset ``names[a]``."""

    names: list[str]
    kind: np.ndarray  # (A,) int8 index into ASSET_KINDS
    lat: np.ndarray  # (A,) degrees
    lon: np.ndarray  # (A,) degrees
    alt: np.ndarray  # (A,) metres above the WGS84 ellipsoid
    ecef: np.ndarray  # (A, 3) metres
    radius: np.ndarray  # (A,) metres
    value: np.ndarray  # (A,) currency units at risk if hit
    nation: list[str | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.names)

    def index(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.names)}

    def kind_name(self, a: int) -> str:
        return ASSET_KINDS[int(self.kind[a])]

    def to_records(self) -> list[dict]:
        out = []
        for a, name in enumerate(self.names):
            rec = {"name": name, "kind": self.kind_name(a), "lat": float(self.lat[a]),
                   "lon": float(self.lon[a]), "alt": float(self.alt[a]),
                   "radius_m": float(self.radius[a]), "value": float(self.value[a])}
            if self.nation and self.nation[a]:
                rec["nation"] = self.nation[a]
            out.append(rec)
        return out


def _parse_asset(obj: dict) -> tuple:
    for key in obj:
        if key not in ASSET_KEYS:
            raise FieldError(str(key), f"unknown key (expected one of {', '.join(ASSET_KEYS)})")
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        raise FieldError("name", "missing" if name is None else "expected a non-empty string")
    kind = obj.get("kind", "other")
    kind = KIND_ALIASES.get(kind, kind) if isinstance(kind, str) else kind
    if kind not in ASSET_KINDS:
        raise FieldError("kind", f"{kind!r} is not one of {', '.join(ASSET_KINDS)}")
    lat = number(obj, "lat", lo=-90, hi=90)
    lon = number(obj, "lon", lo=-180, hi=180)
    alt = number(obj, "alt", required=False, default=0.0, lo=-500, hi=10_000)
    radius = number(obj, "radius_m", lo=0.0)
    if radius <= 0:
        raise FieldError("radius_m", "must be > 0")
    value = number(obj, "value", lo=0.0)
    nation = obj.get("nation")
    if nation is not None and (not isinstance(nation, str) or not nation):
        raise FieldError("nation", "expected an ISO 3166-1 alpha-2 code")
    if not isinstance(obj.get("description", ""), str):
        raise FieldError("description", "expected text")
    return name, ASSET_KINDS.index(kind), lat, lon, alt, radius, value, nation


def load_assets(items: list, file: str = "<assets>") -> Assets:
    """Assets from the scenario's ``assets:`` list. Any bad item raises a
    one-line InputError naming ``assets[i].field``."""
    if items is None:
        items = []
    if not isinstance(items, list):
        raise InputError("expected a list of assets", file=file, field="assets")
    rows = [r for _, r in parse_records(items, _parse_asset, file=file, key="assets", unique="name",
                                        id_of=lambda r: r[0])]
    col = (lambda j, dt=float: np.array([r[j] for r in rows], dt))
    lat, lon, alt = col(2), col(3), col(4)
    ecef = np.stack(geo.geodetic_to_ecef(lat, lon, alt), axis=-1).reshape(len(rows), 3)
    return Assets(names=[r[0] for r in rows], kind=col(1, np.int8), lat=lat, lon=lon, alt=alt,
                  ecef=ecef, radius=col(5), value=col(6), nation=[r[7] for r in rows])
