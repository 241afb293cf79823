"""Cost of SensorSuite.observe per 1 s truth step: 10,000 acoustic sensors
and 800 flying objects, plus radars, cameras, a crowd source and ADS-B.

    .venv/bin/python benchmarks/bench_sensors.py [--steps N]

Two layouts: "sky fortress" spreads the microphones at the real network's
density (~0.02 per km², 9,500 over Ukraine) over a 400 km circle; "dense"
packs them into a 60 km circle (~0.9 per km², each drone heard by ~40
microphones), the worst case for report volume. Objects fly straight at
30-200 m/s; moving them is not timed, only observe().
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from airshield import CLASS_INDEX, geo
from airshield.sim.sensors import SensorSuite, expand_deployments
from airshield.sim.state import TruthState

ORIGIN = {"lat": 49.0, "lon": 31.0, "alt": 0.0}


def objects(n: int, radius_km: float, rng: np.random.Generator) -> TruthState:
    s = radius_km * 1000.0 * np.sqrt(rng.random(n))
    lat, lon = geo.geodesic_destination(ORIGIN["lat"], ORIGIN["lon"], s, rng.uniform(0, 360, n))
    names = ["shahed"] * 6 + ["decoy"] * 2 + ["jet_drone", "aircraft"]
    cls = np.array([CLASS_INDEX[names[i % len(names)]] for i in range(n)], np.int8)
    alt = rng.uniform(50.0, 3000.0, n)
    alt[cls == CLASS_INDEX["aircraft"]] = rng.uniform(3000.0, 10_000.0, int((cls == CLASS_INDEX["aircraft"]).sum()))
    speed = np.where(cls == CLASS_INDEX["shahed"], 50.0, 30.0)
    speed[cls == CLASS_INDEX["jet_drone"]] = 150.0
    speed[cls == CLASS_INDEX["aircraft"]] = 200.0
    hdg = np.radians(rng.uniform(0, 360, n))
    vel = np.column_stack([speed * np.sin(hdg), speed * np.cos(hdg), np.zeros(n)])
    ecef = np.column_stack(geo.geodetic_to_ecef(lat, lon, alt))
    vecef = np.column_stack(geo.enu_to_ecef_vectors(vel[:, 0], vel[:, 1], vel[:, 2], lat, lon))
    icao = [f"{0x500000 + i:06x}" if c == CLASS_INDEX["aircraft"] else None for i, c in enumerate(cls)]
    return TruthState(t=0.0, ids=[f"obj{i}" for i in range(n)], cls=cls, alive=np.ones(n, bool),
                      lat=lat, lon=lon, alt=alt, ecef=ecef, vel_enu=vel, vel_ecef=vecef, icao24=icao)


def advance(st: TruthState, dt: float) -> None:
    st.t += dt
    st.ecef = st.ecef + st.vel_ecef * dt
    st.alt = st.alt + st.vel_enu[:, 2] * dt
    if int(st.t) % 30 == 0:  # keep lat/lon roughly current without timing pymap3d every step
        st.lat, st.lon, st.alt = geo.ecef_to_geodetic(st.ecef[:, 0], st.ecef[:, 1], st.ecef[:, 2])


def run(name: str, radius_km: float, steps: int) -> None:
    rng = np.random.default_rng(7)
    specs = [
        {"generate": "acoustic_network", "area": {"radius_km": radius_km}, "count": 10_000},
        {"generate": "radar_sites", "sites": [
            {"id": f"radar-{k}", "lat": float(la), "lon": float(lo)}
            for k, (la, lo) in enumerate(zip(*geo.geodesic_destination(
                ORIGIN["lat"], ORIGIN["lon"], np.full(6, radius_km * 500.0), np.arange(6) * 60.0)))]},
        {"generate": "eo_cameras", "ring": {"radius_km": 10}, "count": 20, "face_outward_deg": 120},
        {"generate": "crowd", "region": {"radius_km": radius_km}},
        {"generate": "adsb_receivers", "sites": [{"lat": 49.5, "lon": 30.5}, {"lat": 48.5, "lon": 31.5}]},
    ]
    t = time.perf_counter()
    suite = SensorSuite.from_records(expand_deployments(specs, ORIGIN, rng, "bench"))
    setup = time.perf_counter() - t
    st = objects(800, radius_km, rng)
    times, cpu, reports = [], [], 0
    for k in range(steps):
        t, c = time.perf_counter(), time.process_time()
        obs = suite.observe(st, float(k), float(k + 1), rng)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        reports += len(obs.detections)
        advance(st, 1.0)
    ms, cpu_ms = np.array(times) * 1e3, np.array(cpu) * 1e3
    # CPU time is the figure to quote on a shared machine; wall time includes waiting for a core.
    print(f"{name:13s} sensors={len(suite)} objects=800 steps={steps} setup={setup:.2f}s "
          f"reports/step={reports / steps:.0f}\n"
          f"{'':13s} observe per step: cpu mean={cpu_ms.mean():.2f} ms | wall mean={ms.mean():.2f} ms "
          f"median={np.median(ms):.2f} ms p95={np.percentile(ms, 95):.2f} ms | "
          f"one hour (3600 steps) ~ {cpu_ms.mean() * 3.6:.1f} s cpu")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    a = ap.parse_args()
    run("sky fortress", 400.0, a.steps)
    run("dense", 60.0, a.steps)


if __name__ == "__main__":
    main()
