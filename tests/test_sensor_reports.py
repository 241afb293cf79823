"""Crowd (visual) and ADS-B position reports, and what holds for a whole
suite: report times inside the interval, time order, determinism, and
records that the contract reader accepts."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from airshield import geo
from airshield.io.records import POS
from airshield.io.run import sensors_from_records
from airshield.sim.sensors import SensorSuite
from sensor_truth import ORIGIN, around, assert_rate, assert_std, merged, run, state, suite

LAT, LON = ORIGIN["lat"], ORIGIN["lon"]
CROWD = {"generate": "crowd", "id": "eppo", "region": {"radius_km": 30.0}, "rate_per_hour": 3600.0,
         "false_fraction": 0.25, "sigma_h_m": [500.0, 2000.0], "sigma_v_m": 1000.0, "delay_s": [20.0, 90.0]}


def test_crowd_reports_error_rate_delay_and_false_fraction():
    rng = np.random.default_rng(3)
    lat_in, lon_in, alt_in = around(LAT, LON, 25_000.0 * np.sqrt(rng.random(50)), rng.uniform(0, 360, 50), 4000.0)
    lat_out, lon_out, alt_out = around(LAT, LON, np.full(5, 45_000.0), np.arange(5) * 72.0, 1000.0)
    lat = np.r_[lat_in, lat_out, LAT]
    lon = np.r_[lon_in, lon_out, LON + 0.01]
    alt = np.r_[alt_in, alt_out, 9000.0]  # the last one flies above what people see
    s = suite(CROWD)
    rec = s.records[0]
    assert (rec["kind"], rec["lat"], rec["lon"]) == ("visual", LAT, LON)
    st = state(lat, lon, alt, "shahed")
    steps = 60
    det, rows, delay = merged(run(s, st, steps))
    assert np.all(det.kind == POS)
    true = rows >= 0
    assert set(np.unique(rows[true]).tolist()) <= set(range(50))  # only objects in the region, below 6 km
    n_true = int(true.sum())
    assert abs(n_true - 50 * steps) < 4.5 * np.sqrt(50 * steps)
    assert_rate(int((~true).sum()), len(det), 0.25, "false fraction")
    # Per-report sigma drawn in [500, 2000], and the error is drawn with that sigma.
    sig_h = det.sigma[:, 0]
    assert np.all((sig_h >= 500.0) & (sig_h <= 2000.0)) and sig_h.mean() == pytest.approx(1250.0, rel=0.03)
    r = rows[true]
    e, n, u = geo.geodetic_to_enu(det.z[true, 0], det.z[true, 1], det.z[true, 2], lat[r], lon[r], alt[r])
    assert_std(e / sig_h[true], 1.0, "crowd east error / sigma")
    assert_std(n / sig_h[true], 1.0, "crowd north error / sigma")
    assert_std(u, 1000.0, "crowd height error")
    assert rec["sigma_h_m"] == pytest.approx(np.sqrt(np.mean(sig_h ** 2)), rel=0.03)
    # False reports lie in the region; every report reaches C2 20-90 s late.
    d, _ = geo.geodesic_inverse(LAT, LON, det.z[~true, 0], det.z[~true, 1])
    assert np.quantile(d, 0.5) < 30_000.0 * np.sqrt(0.5) + 2000.0 and np.mean(d < 30_000.0 + 6 * 2000.0) == 1.0
    assert np.all((delay >= 20.0) & (delay <= 90.0)) and delay.mean() == pytest.approx(55.0, abs=2.0)


def test_crowd_polygon_region_reports_only_objects_inside():
    poly = [[49.9, 29.8], [49.9, 30.2], [50.1, 30.2], [50.1, 29.8]]
    s = suite(dict(CROWD, region={"polygon": poly}, false_fraction=0.0))
    lat = np.array([50.0, 50.05, 49.95, 50.0, 50.3])
    lon = np.array([30.0, 30.15, 29.85, 30.3, 30.0])
    det, rows, _ = merged(run(s, state(lat, lon, 500.0, "decoy"), 20))
    assert set(np.unique(rows).tolist()) == {0, 1, 2}
    assert abs(len(det) - 60) < 4.5 * np.sqrt(60)


def test_adsb_reports_only_cooperative_aircraft():
    lat, lon, alt = around(LAT, LON, [50_000.0, 80_000.0, 120_000.0, 400_000.0, 30_000.0, 30_000.0],
                           [0.0, 90.0, 200.0, 45.0, 10.0, 20.0], [8000.0, 9000.0, 10_000.0, 10_000.0, 300.0, 300.0])
    icao = ["4b1a2c", "4b1a2d", "4b1a2e", "4b1a2f", None, None]
    st = state(lat, lon, alt, ["aircraft"] * 4 + ["shahed"] * 2, icao=icao)
    s = suite({"kind": "adsb", "id": "rx1", "lat": LAT, "lon": LON, "alt": 10.0})
    steps = 300
    det, rows, delay = merged(run(s, st, steps))
    assert set(np.unique(rows).tolist()) == {0, 1, 2}  # 400 km is beyond range; drones carry no transponder
    assert [det.icao24[i] for i in range(len(det))] == [icao[r] for r in rows]
    assert_rate(len(det), 3 * steps, 0.95, "ADS-B pd")
    e, n, u = geo.geodetic_to_enu(det.z[:, 0], det.z[:, 1], det.z[:, 2], lat[rows], lon[rows], alt[rows])
    assert_std(e, 30.0, "ADS-B east")
    assert_std(n, 30.0, "ADS-B north")
    assert_std(u, 15.0, "ADS-B height")
    assert np.all(delay == 0.0)
    assert all(r["icao24"] == icao[rows[i]] for i, r in enumerate(det.to_records(s.ids)))


def mixed_suite(seed=0):
    return suite({"kind": "radar", "id": "r1", "lat": LAT, "lon": LON, "false_per_scan": 3.0},
                 {"generate": "acoustic_network", "area": {"radius_km": 10.0}, "density_per_km2": 2.0,
                  "false_per_hour": 20.0},
                 {"generate": "eo_cameras", "ring": {"radius_km": 3.0}, "count": 6, "face_outward_deg": 120.0},
                 dict(CROWD, rate_per_hour=600.0),
                 {"generate": "adsb_receivers", "sites": [{"lat": LAT, "lon": LON}]}, seed=seed)


def mixed_state():
    rng = np.random.default_rng(5)
    lat, lon, alt = around(LAT, LON, rng.uniform(0, 12_000.0, 40), rng.uniform(0, 360, 40), rng.uniform(100, 3000, 40))
    cls = ["shahed", "decoy", "jet_drone", "aircraft"] * 10
    icao = [f"{i:06x}" if c == "aircraft" else None for i, c in enumerate(cls)]
    return state(lat, lon, alt, cls, vel_enu=[40.0, -30.0, 0.0], icao=icao)


def test_every_report_time_lies_in_its_interval_and_is_ordered():
    s = mixed_suite()
    kinds = set()
    for obs, t0, t1 in run(s, mixed_state(), 30, dt=0.7):
        t = obs.detections.t
        assert np.all((t >= t0) & (t < t1))
        assert np.all(np.diff(t) >= 0)
        assert len(obs.truth_row) == len(obs.delay_s) == len(t)
        kinds |= {s.records[i]["kind"] for i in obs.detections.sensor}
    assert kinds == {"radar", "acoustic", "eo", "visual", "adsb"}


def test_seeded_runs_are_identical_and_seeds_differ():
    a = merged(run(mixed_suite(seed=4), mixed_state(), 10, seed=9))
    b = merged(run(mixed_suite(seed=4), mixed_state(), 10, seed=9))
    c = merged(run(mixed_suite(seed=4), mixed_state(), 10, seed=10))
    for x, y in [(a[0].t, b[0].t), (a[0].sensor, b[0].sensor), (a[0].z, b[0].z), (a[0].p_class, b[0].p_class),
                 (a[1], b[1]), (a[2], b[2])]:
        assert np.array_equal(x, y, equal_nan=True)
    assert a[0].icao24 == b[0].icao24
    assert len(a[0]) != len(c[0]) or not np.array_equal(a[0].z, c[0].z, equal_nan=True)
    assert mixed_suite(seed=4).contract_records() == mixed_suite(seed=4).contract_records()


def test_contract_records_round_trip_and_pass_the_contract_reader():
    s = mixed_suite()
    recs = orjson.loads(orjson.dumps({"sensors": s.contract_records()}))["sensors"]
    sensors = sensors_from_records(recs, file="sensors.json")
    assert sensors.ids == s.ids
    assert SensorSuite.from_records(recs).records == s.records
    det, _, _ = merged(run(s, mixed_state(), 3))
    for rec in det.to_records(s.ids):
        assert rec["sensor"] in set(s.ids) and sum(k in rec for k in ("polar", "pos", "bearing")) == 1
