"""Small synthetic scenarios for the tracker tests: straight or turning truth,
radar / position / bearing reports made with airshield.geo (pymap3d), so the
tracker's own measurement models are checked against an independent path."""

from __future__ import annotations

import numpy as np

from airshield import CLASS_INDEX, CLASSES, geo
from airshield.io.records import BEARING, POLAR, POS, Detections
from airshield.io.run import sensors_from_records

LAT0, LON0 = 50.0, 30.0


def sensors(*specs: dict):
    return sensors_from_records(list(specs))


def radar(sid="R1", lat=LAT0, lon=LON0, alt=100.0, **kw) -> dict:
    d = {"id": sid, "kind": "radar", "lat": lat, "lon": lon, "alt": alt, "sigma_range_m": 30.0,
         "sigma_az_deg": 0.3, "sigma_el_deg": 0.5, "sigma_rr_mps": 1.0, "period_s": 1.0,
         "range_max_m": 100e3}
    d.update(kw)
    return d


def line(times, e0, n0, u0, ve, vn, vu=0.0, lat0=LAT0, lon0=LON0, alt0=0.0):
    """Truth on a straight ECEF line (the NCV model exactly): ECEF (T,3), vel (T,3)."""
    x0 = np.stack(geo.geodetic_to_ecef(*geo.enu_to_geodetic(e0, n0, u0, lat0, lon0, alt0)))
    v = np.stack(geo.enu_to_ecef_vectors(ve, vn, vu, lat0, lon0))
    t = np.asarray(times, float)
    return x0[None, :] + t[:, None] * v[None, :], np.tile(v, (t.size, 1))


def turn(times, e0, n0, u0, speed, heading_deg, rate_dps, lat0=LAT0, lon0=LON0):
    """Truth on a constant-rate horizontal turn (positive rate = left, counter-
    clockwise from above) in the ENU plane at the origin."""
    t = np.asarray(times, float)
    h = np.radians(heading_deg) - np.radians(rate_dps) * t  # clockwise from north
    w = np.radians(rate_dps)
    if abs(w) < 1e-12:
        return line(t, e0, n0, u0, speed * np.sin(h[0]), speed * np.cos(h[0]), 0.0, lat0, lon0)
    h0 = np.radians(heading_deg)
    e = e0 + speed / w * (np.cos(h) - np.cos(h0))
    n = n0 - speed / w * (np.sin(h) - np.sin(h0))
    ve, vn = speed * np.sin(h), speed * np.cos(h)
    x = np.stack(geo.geodetic_to_ecef(*geo.enu_to_geodetic(e, n, np.full_like(e, u0), lat0, lon0, 0.0)), -1)
    v = np.stack(geo.enu_to_ecef_vectors(ve, vn, np.zeros_like(ve), lat0, lon0), -1)
    return x, v


def _empty_like(n):
    return Detections.empty(n)


def polar_reports(sens, sidx, times, x, v, rng, pd=1.0, with_rr=True, sigmas=True):
    """Radar reports of truth (x, v) at ``times`` by sensor ``sidx``."""
    keep = rng.random(len(times)) < pd
    t, x, v = np.asarray(times, float)[keep], x[keep], v[keep]
    lat, lon, alt = geo.ecef_to_geodetic(x[:, 0], x[:, 1], x[:, 2])
    sl, so, sa = sens.lat[sidx], sens.lon[sidx], sens.alt[sidx]
    az, el, r = geo.geodetic_to_aer(lat, lon, alt, sl, so, sa)
    sx = np.stack(geo.geodetic_to_ecef(sl, so, sa))
    u = (x - sx) / np.linalg.norm(x - sx, axis=1, keepdims=True)
    rr = (u * v).sum(axis=1)
    p = dict(zip(("range_max_m", "sigma_range_m", "sigma_az_deg", "sigma_el_deg", "sigma_rr_mps"),
                 (sens.param(k)[sidx] for k in ("range_max_m", "sigma_range_m", "sigma_az_deg",
                                                 "sigma_el_deg", "sigma_rr_mps"))))
    n = t.size
    d = _empty_like(n)
    d.t[:] = t
    d.sensor[:] = sidx
    d.kind[:] = POLAR
    d.z[:, 0] = r + rng.normal(0, p["sigma_range_m"], n)
    d.z[:, 1] = np.mod(az + rng.normal(0, p["sigma_az_deg"], n), 360.0)
    d.z[:, 2] = el + rng.normal(0, p["sigma_el_deg"], n)
    if with_rr:
        d.z[:, 3] = rr + rng.normal(0, p["sigma_rr_mps"], n)
    if sigmas:
        d.sigma[:] = [p["sigma_range_m"], p["sigma_az_deg"], p["sigma_el_deg"],
                      p["sigma_rr_mps"] if with_rr else np.nan]
    return d


def pos_reports(sidx, times, x, rng, sigma_h=50.0, sigma_v=50.0, icao=None, hint=None):
    t = np.asarray(times, float)
    n = t.size
    lat, lon, alt = geo.ecef_to_geodetic(x[:, 0], x[:, 1], x[:, 2])
    e, nn, u = rng.normal(0, sigma_h, n), rng.normal(0, sigma_h, n), rng.normal(0, sigma_v, n)
    lat, lon, alt = geo.enu_to_geodetic(e, nn, u, lat, lon, alt)
    d = _empty_like(n)
    d.t[:] = t
    d.sensor[:] = sidx
    d.kind[:] = POS
    d.z[:, 0], d.z[:, 1], d.z[:, 2] = lat, lon, alt
    d.sigma[:, 0], d.sigma[:, 1] = sigma_h, sigma_v
    if icao:
        d.icao24 = {i: icao for i in range(n)}
    if hint:
        d.p_class[:] = hint_vector(hint)
    return d


def bearing_reports(sens, sidx, times, x, rng, sigma_deg=2.0, hint=None):
    t = np.asarray(times, float)
    lat, lon, alt = geo.ecef_to_geodetic(x[:, 0], x[:, 1], x[:, 2])
    az, el, r = geo.geodetic_to_aer(lat, lon, alt, sens.lat[sidx], sens.lon[sidx], sens.alt[sidx])
    n = t.size
    d = _empty_like(n)
    d.t[:] = t
    d.sensor[:] = sidx
    d.kind[:] = BEARING
    d.z[:, 0] = np.mod(az + rng.normal(0, sigma_deg, n), 360.0)
    d.sigma[:, 0] = sigma_deg
    if hint:
        d.p_class[:] = hint_vector(hint)
    return d


def clutter_reports(sens, sidx, times, rng, per_scan, range_max=30e3):
    """Uniform false radar plots: per_scan per time step, within range_max."""
    t = np.repeat(np.asarray(times, float), per_scan)
    n = t.size
    d = _empty_like(n)
    d.t[:] = t
    d.sensor[:] = sidx
    d.kind[:] = POLAR
    d.z[:, 0] = range_max * np.sqrt(rng.random(n))
    d.z[:, 1] = 360.0 * rng.random(n)
    d.z[:, 2] = rng.uniform(0.0, 5.0, n)
    d.z[:, 3] = rng.normal(0.0, 30.0, n)
    d.sigma[:] = [sens.param("sigma_range_m")[sidx], sens.param("sigma_az_deg")[sidx],
                  sens.param("sigma_el_deg")[sidx], sens.param("sigma_rr_mps")[sidx]]
    return d


def hint_vector(hint: dict) -> np.ndarray:
    v = np.zeros(len(CLASSES), np.float32)
    for k, p in hint.items():
        v[CLASS_INDEX[k]] = p
    return v / v.sum()


def merge(*parts: Detections) -> Detections:
    d = Detections.concat(list(parts))
    d.line[:] = np.arange(1, len(d) + 1)
    return d.take(np.argsort(d.t, kind="stable"))


def run(tracker, det: Detections, t_end: float | None = None, tick: float = 1.0):
    """Feed ``det`` by time at every tick; return the pictures."""
    pics = []
    t_end = float(det.t.max()) + tracker.cfg.reorder_s + tick if t_end is None else t_end
    k, now = 0, np.floor(det.t.min())
    while now <= t_end:
        hi = int(np.searchsorted(det.t, now, side="right"))
        pics.append(tracker.step(det.take(np.arange(k, hi)) if hi > k else None, now))
        k = hi
        now += tick
    return pics


def ncv_truth(times, e0, n0, u0, ve, vn, vu, q_h, q_v, rng, lat0=LAT0, lon0=LON0):
    """Truth drawn from the NCV model itself (white acceleration of densities
    q_h, q_v in the ENU at the origin): ECEF (T,3), vel (T,3)."""
    t = np.asarray(times, float)
    p = np.array([e0, n0, u0], float)
    v = np.array([ve, vn, vu], float)
    q = np.array([q_h, q_h, q_v])
    P, V = [p.copy()], [v.copy()]
    for dt in np.diff(t):
        cov = np.array([[dt ** 3 / 3, dt ** 2 / 2], [dt ** 2 / 2, dt]])
        L = np.linalg.cholesky(cov)
        w = (L @ rng.standard_normal((2, 3))) * np.sqrt(q)
        p = p + v * dt + w[0]
        v = v + w[1]
        P.append(p.copy())
        V.append(v.copy())
    P, V = np.array(P), np.array(V)
    x = np.stack(geo.geodetic_to_ecef(*geo.enu_to_geodetic(P[:, 0], P[:, 1], P[:, 2], lat0, lon0, 0.0)), -1)
    vel = np.stack(geo.enu_to_ecef_vectors(V[:, 0], V[:, 1], V[:, 2], lat0, lon0), -1)
    return x, vel


def write_run(run_dir, sensor_records: list[dict], det: Detections, extra_lines=(), t_rx=None):
    """A contract run directory: sensors.json + detections.jsonl (plus raw
    ``extra_lines`` (line_no_after, text) spliced in to test bad input)."""
    from pathlib import Path

    import orjson

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "sensors.json").write_bytes(orjson.dumps({"sensors": sensor_records}))
    ids = [s["id"] for s in sensor_records]
    recs = det.to_records(ids)
    if t_rx is not None:
        for r, a in zip(recs, t_rx):
            if np.isfinite(a):
                r["t_rx"] = float(a)
    lines = [orjson.dumps(r).decode() for r in recs]
    for after, text in sorted(extra_lines, reverse=True):
        lines.insert(after, text)
    (run_dir / "detections.jsonl").write_text("\n".join(lines) + "\n")
    return run_dir
