"""Areas on the ellipsoid: a geodesic circle or a polygon, for scattering
sensors (acoustic networks) and bounding crowd reports.

Polygons live in the azimuthal-equidistant plane at their centre (distance and
azimuth along WGS84 geodesics, via airshield.geo), so a region a few hundred
kilometres wide keeps its shape and area to a fraction of a percent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from airshield import geo
from airshield.io.jsonl import FieldError, number
from airshield.sim.sensors.params import key_name

MAX_RADIUS_KM = 2000.0
MAX_VERTICES = 1000
_RHO_MIN = 6.3e6  # m, below the ellipsoid's smallest radius of curvature (6.335e6)


@dataclass
class Region:
    lat: float  # centre
    lon: float
    radius_m: float | None  # circle, or None for a polygon
    poly_xy: np.ndarray | None  # (V, 2) east, north in the equidistant plane, metres
    spec: dict  # the normalised spec, as written into records

    @property
    def reach_m(self) -> float:
        """Farthest distance of any point of the region from its centre."""
        if self.radius_m is not None:
            return self.radius_m
        return float(np.max(np.hypot(self.poly_xy[:, 0], self.poly_xy[:, 1])))

    def area_km2(self) -> float:
        if self.radius_m is not None:
            return float(np.pi * (self.radius_m / 1000.0) ** 2)
        x, y = self.poly_xy[:, 0], self.poly_xy[:, 1]
        return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2e6)

    def to_plane(self, lat, lon) -> tuple[np.ndarray, np.ndarray]:
        d, az = geo.geodesic_inverse(self.lat, self.lon, lat, lon)
        a = np.radians(np.where(d > 0, np.nan_to_num(az), 0.0))  # the centre has no azimuth
        return d * np.sin(a), d * np.cos(a)

    def from_plane(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        la, lo = geo.geodesic_destination(self.lat, self.lon, np.hypot(x, y), np.degrees(np.arctan2(x, y)))
        return np.atleast_1d(la), np.atleast_1d(lo)

    @property
    def inner_m(self) -> float:
        """Radius of the largest disc about the centre inside the region
        (distances from the centre are true in the equidistant plane)."""
        if self.radius_m is not None:
            return self.radius_m
        p0 = self.poly_xy
        if not inside_polygon(np.zeros(1), np.zeros(1), p0)[0]:
            return 0.0
        d = np.roll(p0, -1, axis=0) - p0
        u = np.clip(-np.einsum("ij,ij->i", p0, d) / np.maximum(np.einsum("ij,ij->i", d, d), 1e-9), 0.0, 1.0)
        return float(np.min(np.hypot(*(p0 + u[:, None] * d).T)))

    def contains(self, lat, lon) -> np.ndarray:
        """Whether points (their ground position) lie in the region. The
        chord to the centre bounds the geodesic distance from both sides, so
        only points in a thin band near the edge pay for the exact test."""
        lat, lon = np.atleast_1d(np.asarray(lat, float)), np.atleast_1d(np.asarray(lon, float))
        if lat.size == 0:
            return np.zeros(0, bool)
        g = np.column_stack(geo.geodetic_to_ecef(lat, lon, np.zeros_like(lat))).reshape(-1, 3)
        c = np.linalg.norm(g - self._centre_ecef, axis=1)
        # geodesic s >= chord c, and s <= c (1 + c^2 / (12 rho^2)) with rho below
        # every radius of curvature of the ellipsoid (twice the series margin).
        s_hi = c * (1.0 + c * c / (12.0 * _RHO_MIN * _RHO_MIN))
        inside = s_hi < self._inner
        band = np.flatnonzero((c <= self._reach) & ~inside)
        if band.size:
            if self.radius_m is not None:
                d, _ = geo.geodesic_inverse(self.lat, self.lon, lat[band], lon[band])
                inside[band] = np.atleast_1d(d) <= self.radius_m
            else:
                x, y = self.to_plane(lat[band], lon[band])
                inside[band] = inside_polygon(np.atleast_1d(x), np.atleast_1d(y), self.poly_xy)
        return inside

    def __post_init__(self) -> None:
        self._centre_ecef = np.array(geo.geodetic_to_ecef(self.lat, self.lon, 0.0), float).ravel()
        self._inner = self.inner_m if self.poly_xy is not None or self.radius_m is not None else 0.0
        self._reach = self.reach_m if self.poly_xy is not None or self.radius_m is not None else 0.0

    def finish(self) -> "Region":
        """Recompute cached bounds once the polygon is set."""
        self.__post_init__()
        return self

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` points uniform over the area (lat, lon arrays)."""
        if n == 0:
            return np.zeros(0), np.zeros(0)
        if self.radius_m is not None:
            s = self.radius_m * np.sqrt(rng.random(n))
            az = rng.uniform(0.0, 360.0, n)
            return self.from_plane(s * np.sin(np.radians(az)), s * np.cos(np.radians(az)))
        lo, hi = self.poly_xy.min(0), self.poly_xy.max(0)
        xs, ys, got = [], [], 0
        frac = max(self.area_km2() * 1e6 / float(np.prod(hi - lo)), 1e-3)
        while got < n:  # rejection from the bounding box; frac bounds the tries
            m = int((n - got) / frac * 1.2) + 16
            x, y = rng.uniform(lo[0], hi[0], m), rng.uniform(lo[1], hi[1], m)
            keep = inside_polygon(x, y, self.poly_xy)
            xs.append(x[keep]); ys.append(y[keep]); got += int(keep.sum())
        x, y = np.concatenate(xs)[:n], np.concatenate(ys)[:n]
        return self.from_plane(x, y)


def inside_polygon(x: np.ndarray, y: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Crossing-number test of points against one polygon, vectorised over
    points x vertices."""
    x0, y0 = poly[:, 0], poly[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    px, py = x[:, None], y[:, None]
    straddle = (y0 > py) != (y1 > py)
    with np.errstate(divide="ignore", invalid="ignore"):
        xc = x0 + (py - y0) * (x1 - x0) / (y1 - y0)
    return np.count_nonzero(straddle & (px < xc), axis=1) % 2 == 1


def parse_region(v: Any, key: str, origin: dict) -> Region:
    """``{lat, lon, radius_km}`` (centre defaults to the scenario origin) or
    ``{polygon: [[lat, lon], ...]}``."""
    if not isinstance(v, dict):
        raise FieldError(key, "expected {lat, lon, radius_km} or {polygon: [[lat, lon], ...]}")
    if "polygon" in v:
        if set(v) != {"polygon"}:
            extra = sorted(key_name(k) for k in v if k != "polygon")[0]
            raise FieldError(f"{key}.{extra}", "unknown key beside polygon")
        return _polygon(v["polygon"], f"{key}.polygon")
    for k in v:
        if k not in ("lat", "lon", "radius_km"):
            raise FieldError(f"{key}.{key_name(k)}", "unknown key (expected lat, lon, radius_km or polygon)")
    try:
        lat = number(v, "lat", required=False, default=float(origin["lat"]), lo=-90.0, hi=90.0)
        lon = number(v, "lon", required=False, default=float(origin["lon"]), lo=-180.0, hi=180.0)
        r = number(v, "radius_km", lo=0.001, hi=MAX_RADIUS_KM)
    except FieldError as e:
        raise FieldError(f"{key}.{e.field}", e.message) from None
    spec = {"lat": lat, "lon": lon, "radius_km": r}
    return Region(lat, lon, r * 1000.0, None, spec)


def _polygon(v: Any, key: str) -> Region:
    if not isinstance(v, list) or not 3 <= len(v) <= MAX_VERTICES:
        raise FieldError(key, f"expected a list of 3 to {MAX_VERTICES} [lat, lon] vertices")
    pts = []
    for i, p in enumerate(v):
        k = f"{key}[{i}]"
        if not isinstance(p, (list, tuple)) or len(p) != 2:
            raise FieldError(k, "expected [lat, lon]")
        pts.append((number({k: p[0]}, k, lo=-90.0, hi=90.0), number({k: p[1]}, k, lo=-180.0, hi=180.0)))
    lat, lon = np.array(pts).T
    x, y, z = geo.geodetic_to_ecef(lat, lon, 0.0)
    clat, clon, _ = geo.ecef_to_geodetic(x.mean(), y.mean(), z.mean())
    reg = Region(float(clat), float(clon), None, None, {"polygon": [list(p) for p in pts]})
    centre = np.array(geo.geodetic_to_ecef(reg.lat, reg.lon, 0.0), float).ravel()
    chord = np.linalg.norm(np.column_stack([x, y, z]) - centre, axis=1)
    # chord <= geodesic: a far vertex is refused before Vincenty meets near-antipodal points.
    d = geo.geodesic_inverse(reg.lat, reg.lon, lat, lon)[0] if chord.max() <= MAX_RADIUS_KM * 1000.0 else chord
    if not np.all(np.isfinite(d)) or float(np.max(d)) > MAX_RADIUS_KM * 1000.0:
        raise FieldError(key, f"polygon wider than {MAX_RADIUS_KM:g} km from its centre")
    reg.poly_xy = np.column_stack(reg.to_plane(lat, lon))
    if not np.all(np.isfinite(reg.poly_xy)) or reg.area_km2() < 1e-6:
        raise FieldError(key, "polygon has no area")
    return reg.finish()
