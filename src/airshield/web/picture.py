"""Turn the chain's per-step picture into what the display draws.

Tracks become compact rows (one short list per track, field names sent once per
message) with everything the browser needs precomputed here, vectorised over all
tracks: the symbol, the horizontal 95 % uncertainty ellipse from ``cov_pos_enu``,
and the local scale (degrees per metre east and north, from ``airshield.geo``) that
the browser uses to dead-reckon between steps and to draw heading vectors and
ellipses without any Earth formula of its own.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from airshield import CLASSES, geo
from airshield.io.records import TRACK_STATUS

# Row layout of a track in WebSocket messages.
FIELDS = ("track", "lon", "lat", "alt", "ve", "vn", "vu", "status", "cls", "conf", "sym",
          "ell_a", "ell_b", "ell_deg", "dlon_m", "dlat_m", "tti", "nation")
CHI2_95_2D = 5.991464547107979  # 95 % of a 2-D Gaussian lies inside this Mahalanobis radius²
HOSTILE = {"shahed", "jet_drone", "recon"}
ATTACK_CLASSES = HOSTILE | {"decoy"}  # what the threat list holds (decoys look the same until they don't)
NOT_THREATS = {"bird", "aircraft"}
TRACK_FIELDS = ("t", "track", "lat", "lon", "alt", "ve", "vn", "vu", "status", "class", "p_class",
                "cov_pos_enu", "sources", "nation")


def symbol_key(cls: str | None, nation: str | None, home: frozenset[str]) -> str:
    """Which symbol a track gets: hostile for attack classes, suspect for decoys,
    friendly or neutral aircraft by nation, unknown for the rest."""
    if cls in HOSTILE or cls == "decoy":
        return cls
    if cls == "aircraft":
        return "aircraft-friend" if nation in home else "aircraft-neutral"
    if cls == "bird":
        return "bird"
    return "unknown"


def _column(tracks: list[dict], key: str) -> np.ndarray:
    # None, a missing key or a non-number becomes NaN (sent as null).
    return np.array([v if isinstance(v := d.get(key), (int, float)) else math.nan for d in tracks], float)


def ellipses(cov: np.ndarray, scale2: float = CHI2_95_2D) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Semi-major, semi-minor (m) and bearing of the major axis (deg clockwise
    from north) of the horizontal confidence ellipse of each (N, 9) row-major
    ENU covariance. NaN rows stay NaN."""
    see, sen, snn = cov[:, 0], 0.5 * (cov[:, 1] + cov[:, 3]), cov[:, 4]
    half_tr = 0.5 * (see + snn)
    root = np.sqrt(np.maximum(0.25 * (see - snn) ** 2 + sen ** 2, 0.0))
    l1, l2 = half_tr + root, np.maximum(half_tr - root, 0.0)
    theta_east = 0.5 * np.arctan2(2.0 * sen, see - snn)  # from east, counter-clockwise
    bearing = np.mod(90.0 - np.degrees(theta_east), 180.0)
    return np.sqrt(scale2 * l1), np.sqrt(scale2 * l2), bearing


def local_scale(lat: np.ndarray, lon: np.ndarray, alt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Degrees of longitude per metre east and of latitude per metre north at each point."""
    one, zero = np.ones_like(lat), np.zeros_like(lat)
    _, lon_e, _ = geo.enu_to_geodetic(one, zero, zero, lat, lon, alt)
    lat_n, _, _ = geo.enu_to_geodetic(zero, one, zero, lat, lon, alt)
    return np.mod(lon_e - lon + 180.0, 360.0) - 180.0, lat_n - lat


def threat_tti(threat: dict | None) -> float | None:
    """Seconds to impact of a threat dict, whatever the assessor named it."""
    if not threat:
        return None
    for key in ("time_to_impact_s", "tti_s", "time_to_impact", "time_to_target_s"):
        v = threat.get(key)
        if isinstance(v, (int, float)) and math.isfinite(v):
            return float(v)
    return None


def threat_list(threats: list[dict], tracks: dict[str, dict] | None = None) -> list[dict]:
    """The threats the display lists, soonest impact first: tracks of an attack
    class, and tracks of another class (unknown) that have a predicted target and
    a time to impact. Birds and aircraft never, whatever the source sent (an
    assessment may give every track a small expected loss). A threat without a
    finite time to impact keeps ``tti_s`` None and goes after the timed ones."""
    out = []
    for th in threats or []:
        if not isinstance(th, dict):
            continue
        d = (tracks or {}).get(str(th.get("track"))) or {}
        cls = th.get("class") or d.get("class")
        tti = threat_tti(th)
        aimed = tti is not None and th.get("target", th.get("asset")) is not None
        if cls in NOT_THREATS or not (cls in ATTACK_CLASSES or aimed):
            continue
        th = dict(th)
        th["class"], th["tti_s"] = cls, None if tti is None else round(tti, 1)
        out.append(th)
    el = lambda th: th.get("expected_loss") if isinstance(th.get("expected_loss"), (int, float)) else 0.0  # noqa: E731
    out.sort(key=lambda th: (th["tti_s"] is None, th["tti_s"] or 0.0, -el(th)))
    return out


def track_rows(tracks: list[dict], home: frozenset[str]) -> list[list]:
    """Compact rows (see FIELDS) for all tracks, numbers rounded to what a display
    needs. Columns are built with numpy; NaN goes out as JSON null."""
    n = len(tracks)
    if n == 0:
        return []
    lat, lon, alt = _column(tracks, "lat"), _column(tracks, "lon"), np.nan_to_num(_column(tracks, "alt"))
    cov = np.full((n, 9), np.nan)
    has = [i for i, d in enumerate(tracks) if len(d.get("cov_pos_enu") or ()) == 9]
    if has:
        cov[has] = [tracks[i]["cov_pos_enu"] for i in has]
    a, b, brg = ellipses(cov)
    dlon, dlat = local_scale(lat, lon, alt)
    cls = [d.get("class") for d in tracks]
    conf = [p.get(c) if isinstance(p := d.get("p_class"), dict) else None for d, c in zip(tracks, cls)]
    cols = [
        [str(d.get("track")) for d in tracks], _list(lon.round(6)), _list(lat.round(6)), _list(alt.round()),
        *(_list(_column(tracks, k).round(1)) for k in ("ve", "vn", "vu")),
        [d.get("status") for d in tracks], cls, [None if c is None else round(float(c), 3) for c in conf],
        [symbol_key(c, d.get("nation"), home) for d, c in zip(tracks, cls)],
        _list(a.round(1)), _list(b.round(1)), _list(brg.round(1)),
        _sig6(dlon), _sig6(dlat),
        [None if c in NOT_THREATS or (x := threat_tti(d.get("threat"))) is None else round(x, 1)
         for d, c in zip(tracks, cls)],
        [d.get("nation") for d in tracks],
    ]
    return [list(r) for r in zip(*cols)]


def picture_rows(pic, threat_of: dict[str, dict], home: frozenset[str]) -> list[list]:
    """``track_rows`` of a live step straight from the tracker's arrays
    (``airshield.track.picture.Picture``) and each track's threat, without a
    TRACK dict per track: the same rows to display precision."""
    n = len(pic)
    if n == 0:
        return []
    ids = [f"T{i}" for i in pic.ids.tolist()]
    lat, lon, alt = pic.lat, pic.lon, pic.alt
    a, b, brg = ellipses(pic.cov_enu.reshape(-1, 9))
    dlon, dlat = local_scale(lat, lon, alt)
    best = np.argmax(pic.p_class, axis=1)
    cls = [CLASSES[k] for k in best.tolist()]
    conf = np.take_along_axis(pic.p_class, best[:, None], axis=1)[:, 0]
    vel = pic.vel_enu.round(1)
    sym = {c: symbol_key(c, None, home) for c in set(cls)}
    tti = [None if c in NOT_THREATS or (x := threat_tti(threat_of.get(i))) is None else round(x, 1)
           for i, c in zip(ids, cls)]
    cols = [ids, _list(lon.round(6)), _list(lat.round(6)), _list(alt.round()),
            _list(vel[:, 0]), _list(vel[:, 1]), _list(vel[:, 2]),
            [TRACK_STATUS[s] for s in pic.status.tolist()], cls, _list(conf.round(3)), [sym[c] for c in cls],
            _list(a.round(1)), _list(b.round(1)), _list(brg.round(1)), _sig6(dlon), _sig6(dlat), tti, [None] * n]
    return [list(r) for r in zip(*cols)]


def _list(x: np.ndarray) -> list:
    """Plain floats, NaN as None (so rows compare equal and go out as null)."""
    return [None if v != v else v for v in x.tolist()]


def _sig6(x: np.ndarray) -> list:
    """Six significant digits (a scale of ~1e-5 deg/m keeps its precision)."""
    e = np.floor(np.log10(np.abs(np.where((x == 0) | ~np.isfinite(x), 1.0, x))))
    return _list(np.round(x * 10.0 ** (5 - e)) * 10.0 ** (e - 5))


def track_feature(d: dict) -> dict:
    """One GeoJSON Point feature with every TRACK field (and the threat) as properties."""
    props = {k: v for k, v in d.items()}
    coords = [float(d["lon"]), float(d["lat"])]
    if isinstance(d.get("alt"), (int, float)):
        coords.append(float(d["alt"]))
    return {"type": "Feature", "id": str(d.get("track")), "geometry": {"type": "Point", "coordinates": coords},
            "properties": props}


def circles(lat, lon, radius_m, n: int = 72) -> list[list[list[float]]]:
    """Closed rings (lon, lat) of geodesic circles, vectorised over all centres."""
    lat, lon, r = (np.atleast_1d(np.asarray(x, float)) for x in (lat, lon, radius_m))
    if lat.size == 0:
        return []
    az = np.linspace(0.0, 360.0, n, endpoint=False)
    la, lo = geo.geodesic_destination(np.repeat(lat, n), np.repeat(lon, n), np.repeat(r, n), np.tile(az, lat.size))
    la, lo = la.reshape(lat.size, n), lo.reshape(lat.size, n)
    rings = np.stack([lo, la], axis=-1).round(5)
    return [ring.tolist() + [ring[0].tolist()] for ring in rings]


def static_layers(layers: dict, home: frozenset[str] | None = None) -> dict:
    """The chain's static layers plus GeoJSON the map draws as is: radar coverage
    discs, protected-asset discs and effector reach (``max_range_m``). (Acoustic and EO sensors come in hundreds
    with short ranges: the map shows them as dots, not circles.)"""
    sensors = list(layers.get("sensors") or [])
    assets = list(layers.get("assets") or [])
    ranged = [s for s in sensors if s.get("kind") == "radar" and isinstance(s.get("range_max_m"), (int, float))
              and s.get("lat") is not None]
    cov_rings = circles([s["lat"] for s in ranged], [s["lon"] for s in ranged],
                        [s["range_max_m"] for s in ranged], n=96)
    coverage = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
         "properties": {"sensor": s.get("id"), "kind": s.get("kind")}} for s, ring in zip(ranged, cov_rings)]}
    sized = [a for a in assets if a.get("lat") is not None]
    a_rings = circles([a["lat"] for a in sized], [a["lon"] for a in sized],
                      [float(a.get("radius_m") or 500.0) for a in sized], n=48)
    asset_areas = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
         "properties": {"name": a.get("name"), "kind": a.get("kind"), "value": a.get("value")}}
        for a, ring in zip(sized, a_rings)]}
    effs = [e for e in layers.get("effectors") or [] if e.get("lat") is not None
            and isinstance(e.get("max_range_m", e.get("range_m")), (int, float))]
    e_rings = circles([e["lat"] for e in effs], [e["lon"] for e in effs],
                      [e.get("max_range_m", e.get("range_m")) for e in effs], n=72)
    effector_ranges = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
         "properties": {"effector": e.get("id"), "kind": e.get("kind")}} for e, ring in zip(effs, e_rings)]}
    nations = home if home is not None else home_nations(layers)
    return {**layers, "coverage": coverage, "asset_areas": asset_areas, "effector_ranges": effector_ranges,
            "home_nations": sorted(nations),
            "classes": list(CLASSES), "fields": list(FIELDS)}


def home_nations(layers: dict) -> frozenset[str]:
    """Our side: the nations that own the sensors (aircraft of theirs show as friendly)."""
    return frozenset(s["nation"] for s in layers.get("sensors") or [] if isinstance(s.get("nation"), str))


def plain(x: Any) -> Any:
    """numpy scalars and arrays inside chain dicts -> plain Python for JSON."""
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return x
