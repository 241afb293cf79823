"""Radar, acoustic and electro-optical models: noise, detection probability,
range limits, horizon, sectors, scan timing and false alarms, measured."""

from __future__ import annotations

import numpy as np
import pytest

from airshield import CLASS_INDEX, geo
from airshield.io.records import BEARING, POLAR
from airshield.sim.sensors.radar import reference_snr, swerling1_pd
from sensor_truth import ORIGIN, around, assert_rate, assert_std, merged, run, state, suite, wrap

LAT, LON = ORIGIN["lat"], ORIGIN["lon"]
RADAR = {"kind": "radar", "id": "r1", "lat": LAT, "lon": LON, "alt": 10.0, "scan": "staring",
         "period_s": 1.0, "phase_s": 0.0, "false_per_scan": 0.0, "pd": 0.9, "ref_range_m": 40_000.0,
         "ref_rcs_m2": 1.0, "rcs_m2": {"shahed": 1.0}}


def aer_truth(st, rows, t, site):
    lat, lon, alt = geo.ecef_to_geodetic(*(st.ecef[rows] + st.vel_ecef[rows] * (t - st.t)[:, None]).T)
    return geo.geodetic_to_aer(lat, lon, alt, site["lat"], site["lon"], site["alt"])


# --- radar -----------------------------------------------------------------

def test_radar_noise_matches_sigmas():
    lat, lon, alt = around(LAT, LON, 10_000.0, np.arange(400) * 0.9, 1000.0)
    st = state(lat, lon, alt, "shahed")
    det, rows, _ = merged(run(suite(RADAR), st, 10))
    assert len(det) > 3900 and np.all(det.kind == POLAR) and np.all(rows >= 0)
    az, el, rng = aer_truth(st, rows, det.t, RADAR)
    assert_std(det.z[:, 0] - rng, 30.0, "range")
    assert_std(wrap(det.z[:, 1] - az), 0.5, "azimuth")
    assert_std(det.z[:, 2] - el, 1.0, "elevation")
    assert_std(det.z[:, 3], 1.0, "range rate of hovering targets")
    assert np.allclose(det.sigma, [30.0, 0.5, 1.0, 1.0])


def test_radar_range_rate_is_positive_receding():
    lat, lon, alt = around(LAT, LON, 20_000.0, [0.0, 180.0, 90.0], 500.0)
    st = state(lat, lon, alt, "shahed", vel_enu=[0.0, 100.0, 0.0])  # all fly north
    det, rows, _ = merged(run(suite(RADAR), st, 100))
    rr = [det.z[rows == k, 3].mean() for k in range(3)]
    assert rr[0] > 99.0 and rr[1] < -99.0  # north of the radar: receding; south: closing
    assert abs(rr[2]) < 30.0  # east: crossing, slowly turning into receding
    # Hand geometry: rr = v . d / |d| with the target's offset in the radar's ENU frame.
    tl, tn, ta = geo.ecef_to_geodetic(*(st.ecef[rows] + st.vel_ecef[rows] * det.t[:, None]).T)
    e, n, u = geo.geodetic_to_enu(tl, tn, ta, LAT, LON, 10.0)
    assert_std(det.z[:, 3] - 100.0 * n / np.sqrt(e * e + n * n + u * u), 1.0, "range rate")


@pytest.mark.parametrize("rng_m,cls", [(40_000.0, "shahed"), (60_000.0, "shahed"), (40_000.0, "bird"),
                                       (25_000.0, "decoy")])
def test_radar_detection_probability_follows_radar_equation(rng_m, cls):
    lat, lon, alt = around(LAT, LON, rng_m, np.arange(500) * 0.72, 1500.0)
    st = state(lat, lon, alt, cls)
    n_steps = 10
    det, rows, _ = merged(run(suite(RADAR), st, n_steps))
    rcs = {"shahed": 1.0, "bird": 0.01, "decoy": 0.1}[cls]
    # Hand computation: SNR_ref from pd = pfa ** (1 / (1 + SNR_ref)), then R^-4 and RCS scaling.
    snr_ref = np.log(1e-6) / np.log(0.9) - 1.0
    snr = snr_ref * rcs * (40_000.0 / rng_m) ** 4
    expected = 1e-6 ** (1.0 / (1.0 + snr))
    assert reference_snr(np.array(0.9), np.array(1e-6)) == pytest.approx(snr_ref)
    assert swerling1_pd(np.array(snr), np.array(1e-6)) == pytest.approx(expected)
    assert_rate(len(det), 500 * n_steps, expected, f"Pd {cls} at {rng_m:.0f} m")


def test_radar_pd_falls_with_range():
    rates = []
    for r in (30_000.0, 50_000.0, 70_000.0):
        lat, lon, alt = around(LAT, LON, r, np.arange(300) * 1.2, 2000.0)
        det, _, _ = merged(run(suite(RADAR), state(lat, lon, alt, "shahed"), 5))
        rates.append(len(det) / 1500)
    assert rates[0] > rates[1] > rates[2]


def test_radar_horizon_hides_low_drone_not_high_aircraft():
    spec = dict(RADAR, range_max_m=200_000.0, rcs_m2={"shahed": 1000.0, "aircraft": 1000.0})  # Pd 0.996 at 100 km
    lat, lon, alt = around(LAT, LON, np.full(2, 100_000.0), [45.0, 135.0], [50.0, 3000.0])
    assert geo.radar_horizon_m(10.0, 50.0) < 100_000.0 < geo.radar_horizon_m(10.0, 3000.0)
    det, rows, _ = merged(run(suite(spec), state(lat, lon, alt, ["shahed", "aircraft"]), 50))
    assert np.count_nonzero(rows == 0) == 0
    assert np.count_nonzero(rows == 1) >= 47


def test_radar_sectors_min_range_and_max_elevation():
    spec = dict(RADAR, sectors=[{"az_from_deg": 350.0, "az_to_deg": 10.0}], el_max_deg=20.0, range_min_m=1000.0)
    lat, lon, alt = around(LAT, LON, [10_000.0, 10_000.0, 10_000.0, 600.0, 3000.0],
                           [0.0, 355.0, 20.0, 0.0, 0.0], [500.0, 500.0, 500.0, 50.0, 3000.0])
    det, rows, _ = merged(run(suite(spec), state(lat, lon, alt, "shahed"), 20))
    seen = set(np.unique(rows).tolist())
    assert seen == {0, 1}  # az 20 is outside, 600 m is inside range_min, 45 deg is above el_max


def test_rotating_beam_sees_each_azimuth_at_its_time_in_the_scan():
    spec = dict(RADAR, scan="rotating", period_s=4.0, phase_s=0.5)
    lat, lon, alt = around(LAT, LON, 10_000.0, np.arange(36) * 10.0, 800.0)
    st = state(lat, lon, alt, "shahed")
    out = run(suite(spec), st, 8)
    det, rows, _ = merged(out)
    assert np.bincount(rows, minlength=36).tolist() == [2] * 36  # one look per target per scan
    az, _, _ = aer_truth(st, rows, det.t, RADAR)
    beam_az = (det.t - 0.5) / 4.0 * 360.0  # where the beam points at each report time
    assert np.allclose(wrap(beam_az - az), 0.0, atol=1e-4)
    assert len(np.unique(np.round(det.t, 6))) == len(det)  # spread through the scan, not bunched


@pytest.mark.parametrize("scan", ["rotating", "staring"])
def test_radar_clutter_is_poisson_per_scan_inside_coverage(scan):
    spec = dict(RADAR, scan=scan, period_s=2.0, false_per_scan=5.0,
                sectors=[{"az_from_deg": 90.0, "az_to_deg": 180.0}], range_min_m=1000.0, range_max_m=50_000.0)
    out = run(suite(spec), state([], [], [], []), 1000)
    det, rows, _ = merged(out)
    scans = 500
    assert abs(len(det) - 5.0 * scans) < 4.5 * np.sqrt(5.0 * scans)
    assert np.all(rows == -1)
    assert np.all((det.z[:, 1] >= 90.0) & (det.z[:, 1] <= 180.0))
    assert np.all((det.z[:, 0] >= 1000.0) & (det.z[:, 0] <= 50_000.0))
    per_scan = np.bincount((det.t // 2.0).astype(int), minlength=scans)
    # Poisson: the variance equals the mean (dispersion within sampling error).
    assert per_scan.var() == pytest.approx(5.0, rel=0.25)


# --- acoustic ---------------------------------------------------------------

ACOUSTIC = {"generate": "acoustic_network", "area": {"radius_km": 3.0}, "count": 300,
            "false_per_hour": 0.0, "pd": 0.8}


def test_acoustic_bearing_noise():
    s = suite(ACOUSTIC)
    st = state(LAT, LON, 300.0, "shahed")
    det, rows, delay = merged(run(s, st, 20))
    assert len(det) > 1500 and np.all(det.kind == BEARING) and np.all(rows == 0)
    recs = [s.records[i] for i in det.sensor]
    az_true, _, _ = geo.geodetic_to_aer(LAT, LON, 300.0, [r["lat"] for r in recs], [r["lon"] for r in recs],
                                        [r["alt"] for r in recs])
    assert_std(wrap(det.z[:, 0] - az_true), 4.0, "acoustic bearing")
    assert np.all(np.isnan(det.z[:, 1]))  # no elevation unless sigma_el_deg is given
    assert np.all((delay >= 1.0) & (delay <= 4.0)) and delay.mean() == pytest.approx(2.5, abs=0.1)


def test_acoustic_range_limit_and_pd_by_class():
    s = suite(dict(ACOUSTIC, area={"radius_km": 8.0}, count=2000))
    classes = ["shahed", "decoy", "jet_drone", "bird"]
    st = state(np.full(4, LAT), np.full(4, LON), np.full(4, 300.0), classes)
    det, rows, _ = merged(run(s, st, 30))  # 30 s / 1.5 s: exactly 20 looks per sensor
    lat = np.array([r["lat"] for r in s.records])
    lon = np.array([r["lon"] for r in s.records])
    _, _, slant = geo.geodetic_to_aer(LAT, LON, 300.0, lat, lon, 2.0)
    for k, c in enumerate(classes):
        reach = {"shahed": 4000.0, "decoy": 3000.0, "jet_drone": 5000.0, "bird": 0.0}[c]
        mine = rows == k
        if reach == 0.0:
            assert not mine.any(), "birds are not heard"
            continue
        d = slant[det.sensor[mine]]
        assert d.max() <= reach and d.max() > 0.95 * reach
        n_in = int(np.count_nonzero(slant <= reach))
        assert_rate(int(mine.sum()), 20 * n_in, 0.8, f"acoustic pd {c}")
    # Class hints: a Shahed's engine is distinctive; decoys are often taken for Shaheds.
    top = np.nanargmax(det.p_class, axis=1)
    for k, c, called, p in [(0, "shahed", "shahed", 0.75), (1, "decoy", "shahed", 0.45),
                            (2, "jet_drone", "jet_drone", 0.70)]:
        mine = rows == k
        assert_rate(int(np.count_nonzero(top[mine] == CLASS_INDEX[called])), int(mine.sum()), p, f"hint {c}")
    assert np.allclose(det.p_class.sum(axis=1), 1.0, atol=1e-5)
    assert np.all(det.p_class[:, CLASS_INDEX["bird"]] == 0.0)  # a microphone never hears birds


def test_acoustic_false_alarms_are_poisson_per_sensor_hour():
    s = suite(dict(ACOUSTIC, count=500, false_per_hour=36.0))
    det, rows, _ = merged(run(s, state([], [], [], []), 100))
    expected = 500 * 36.0 * 100.0 / 3600.0
    assert abs(len(det) - expected) < 4.5 * np.sqrt(expected)
    assert np.all(rows == -1)
    assert abs(np.mean(det.z[:, 0]) - 180.0) < 4.5 * 104.0 / np.sqrt(len(det))  # uniform bearing
    assert s.records[0]["false_per_scan"] == pytest.approx(36.0 * 1.5 / 3600.0)


def test_acoustic_elevation_when_sigma_el_given():
    s = suite(dict(ACOUSTIC, sigma_el_deg=5.0))
    det, rows, _ = merged(run(s, state(LAT, LON, 1000.0, "jet_drone"), 10))
    recs = [s.records[i] for i in det.sensor]
    _, el, _ = geo.geodetic_to_aer(LAT, LON, 1000.0, [r["lat"] for r in recs], [r["lon"] for r in recs], 2.0)
    assert_std(det.z[:, 1] - el, 5.0, "acoustic elevation")


# --- electro-optical ----------------------------------------------------------

EO = {"kind": "eo", "id": "eo1", "lat": LAT, "lon": LON, "alt": 10.0, "false_per_hour": 0.0,
      "sectors": [{"az_from_deg": 315.0, "az_to_deg": 45.0}], "phase_s": 0.0}


def test_eo_precise_bearing_and_elevation_in_its_field_of_regard():
    lat, lon, alt = around(LAT, LON, [3000.0, 3000.0, 5000.0, 3000.0, 1000.0, 2000.0],
                           [0.0, 30.0, 340.0, 180.0, 10.0, 10.0], [400.0, 800.0, 1200.0, 400.0, 100.0, 100.0])
    st = state(lat, lon, alt, ["shahed", "shahed", "jet_drone", "shahed", "bird", "bird"])
    det, rows, delay = merged(run(suite(EO), st, 200))
    assert set(np.unique(rows).tolist()) == {0, 1, 2, 4}  # south is outside; a bird at 2 km too far
    assert_rate(len(det), 4 * 200, 0.95, "EO pd in range")
    az, el, _ = aer_truth(st, rows, det.t, EO)
    assert_std(wrap(det.z[:, 0] - az), 0.1, "EO azimuth")
    assert_std(det.z[:, 1] - el, 0.1, "EO elevation")
    shahed = np.isin(rows, [0, 1])
    top = np.nanargmax(det.p_class[shahed], axis=1)
    assert_rate(int(np.count_nonzero(top == CLASS_INDEX["shahed"])), int(shahed.sum()), 0.85, "EO hint")
    assert np.all((delay >= 0.1) & (delay <= 0.5))
