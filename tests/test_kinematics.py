"""Flight of simulated objects: class bands, bounded turns, great-circle
flight over a long theatre, fates, and the vectorised stepping itself."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from airshield import CLASS_INDEX, geo
from airshield.sim.engine import DEFEATED, EXPENDED, FLYING, HIT_T, LANDED_T, Simulation
from airshield.sim.kinematics import KINEMATICS, max_turn_rate, wrap_pi
from airshield.sim.scenario import load_scenario_text


def scenario(body: str, duration: float = 3600, step: float = 1.0, seed: int = 1):
    head = textwrap.dedent(f"""\
        name: k
        epoch: "2025-09-07T00:00:00Z"
        duration_s: {duration}
        seed: {seed}
        truth_step_s: {step}
        origin: {{lat: 50.0, lon: 30.0}}
    """)
    return load_scenario_text(head + textwrap.dedent(body), "k.yaml")


def fly(sim: Simulation, until: float):
    """Step to ``until``; yield (alive mask before, after) for every step."""
    while sim.t < until - 1e-9 and (sim.alive.any() or sim._next < len(sim)):
        before = sim.alive.copy()
        sim.step()
        yield before


def test_speeds_and_heights_stay_in_class_bands():
    scn = scenario("""\
        raids:
          - {class: shahed, count: 12, launch: {lat: 50.0, lon: 33.0, radius_km: 20}, airborne: true,
             targets: {lat: 50.0, lon: 27.0, radius_km: 20}, low_level_legs: 0.5}
          - {class: decoy, count: 8, launch: {lat: 50.0, lon: 33.0, radius_km: 20}, airborne: true,
             targets: {lat: 50.0, lon: 27.0, radius_km: 20}}
          - {class: jet_drone, count: 5, launch: {lat: 50.0, lon: 33.0, radius_km: 20}, airborne: true,
             targets: {lat: 50.0, lon: 20.0}}
          - {class: recon, count: 4, launch: {lat: 50.0, lon: 33.0}, airborne: true,
             targets: {lat: 48.0, lon: 33.0}}
        traffic:
          - {generator: crossing, area: {lat: 50, lon: 31, radius_km: 200}, count: 6}
    """, duration=3000)
    sim = Simulation(scn)
    f = sim.fleet
    names = [c for c in ("shahed", "decoy", "jet_drone", "recon", "aircraft")]
    seen_low = np.zeros(len(sim), bool)
    for before in fly(sim, 3000):
        live = before & sim.alive
        for name in names:
            k = KINEMATICS[name]
            rows = live & (f.cls == CLASS_INDEX[name])
            v = f.speed[rows] * 3.6
            assert np.all(v >= k.speed_kmh[0] - 1e-6) and np.all(v <= k.speed_kmh[1] + 1e-6), name
            assert np.all(f.alt[rows] <= k.cruise_alt_m[1] + 1.0), name
            assert np.all(f.alt[rows] >= 0.0), name
            # level legs never sink below the low-level band (a dive only happens over the target)
            on_leg = rows & (f.flown_m > 20_000) & (np.abs(f.vu) < 0.05)
            assert np.all(f.alt[on_leg] >= min(k.low_alt_m[0], k.cruise_alt_m[0]) - 1.0), name
        seen_low |= live & (f.cls == CLASS_INDEX["shahed"]) & (f.alt <= 200.0) & (f.flown_m > 20_000)
    assert seen_low.any()  # shaheds do fly low-level legs (50-200 m) with half their legs low
    assert np.all(np.abs(f.vu[sim.alive]) <= 20.0 + 1e-9)


def test_turn_rate_is_bank_and_rate_limited():
    # A hairpin dogleg: the waypoint lies far off the initial course.
    scn = scenario("""\
        raids:
          - {class: shahed, count: 5, launch: {lat: 50.0, lon: 30.0}, airborne: true,
             waypoints: [{lat: 50.05, lon: 30.3}], targets: {lat: 49.9, lon: 29.9}, spacing_s: 1}
          - {class: jet_drone, count: 5, launch: {lat: 50.0, lon: 30.0}, airborne: true,
             waypoints: [{lat: 50.1, lon: 30.8}], targets: {lat: 49.8, lon: 29.8}, spacing_s: 1}
          - {class: decoy, count: 5, launch: {lat: 50.0, lon: 30.0}, airborne: true,
             waypoints: [{lat: 50.05, lon: 30.3}], targets: {lat: 49.9, lon: 29.9}, spacing_s: 1}
    """, duration=2500)
    sim = Simulation(scn)
    f = sim.fleet
    worst = np.zeros(len(sim))
    prev = f.heading.copy()
    for before in fly(sim, 2500):
        live = before & sim.alive
        rate = np.abs(wrap_pi(f.heading - prev)) / sim.dt
        bound = max_turn_rate(f.speed, f.turn_max, f.bank_max)
        assert np.all(rate[live] <= bound[live] * 1.02 + 1e-12)  # speed changes a little within the step
        worst[live] = np.maximum(worst[live], rate[live] / bound[live])
        prev = f.heading.copy()
    assert np.all(worst > 0.95)  # every object had to turn at its limit
    shahed = sim.objects.cls_name.index("shahed")
    assert np.degrees(f.turn_max[shahed]) == pytest.approx(3.0)  # standard rate turn
    assert np.all(sim.fate == HIT_T)  # and all still reached their targets


def test_long_east_west_flight_follows_the_great_circle_and_arrives():
    # ~1,000 km due west along 50 N: a great circle bulges north of the parallel.
    scn = scenario("""\
        raids:
          - {class: shahed, count: 1, launch: {lat: 50.0, lon: 37.0}, airborne: true,
             targets: {lat: 50.0, lon: 23.0}, speed_kmh: 180, low_level_legs: 0}
    """, duration=30_000, step=5.0)
    sim = Simulation(scn)
    f = sim.fleet
    path = []
    for _ in fly(sim, 30_000):
        if sim.alive[0]:
            path.append((f.lat[0], f.lon[0]))
    lat, lon = np.array(path).T
    total = geo.geodesic_distance_m(50.0, 37.0, 50.0, 23.0)
    assert 995e3 < total < 1010e3
    assert sim.fate[0] == HIT_T
    assert geo.geodesic_distance_m(lat[-1], lon[-1], 50.0, 23.0) < 50.0 * 5 + 50.0
    # time of flight matches distance / speed (180 km/h) to within the climbs and one step
    assert sim.t_end[0] == pytest.approx(total / 50.0, rel=0.01)
    # on the geodesic: the detour via each point is tiny, and the path rises north of 50 N
    detour = (geo.geodesic_distance_m(50.0, 37.0, lat, lon) + geo.geodesic_distance_m(lat, lon, 50.0, 23.0) - total)
    assert detour.max() < 300.0
    # The rhumb line (a flat lat/lon plane) would stay on 50.0 N. The great circle's
    # vertex, by hand on the sphere: tan(lat_v) = tan(50) / cos(14 / 2) -> 50.21 N, mid-way.
    lat_v = np.degrees(np.arctan(np.tan(np.radians(50.0)) / np.cos(np.radians(7.0))))
    assert lat.max() == pytest.approx(lat_v, abs=0.02)
    i = np.argmax(lat)
    assert 29.5 < lon[i] < 30.5


def test_level_flight_north_hand_computed():
    # Due north along a meridian at 1,000 m: the distance covered is v * t on the ellipsoid
    # (scaled by (R + h) / R at height), longitude and height do not change.
    scn = scenario("""\
        raids:
          - {class: recon, count: 1, launch: {lat: 49.0, lon: 30.0}, airborne: true,
             targets: {lat: 55.0, lon: 30.0}, speed_kmh: 108, altitude_m: 1000}
    """, duration=600)
    sim = Simulation(scn)
    f = sim.fleet
    assert f.alt[0] == pytest.approx(1000.0)
    for _ in fly(sim, 600):
        pass
    assert f.lon[0] == pytest.approx(30.0, abs=1e-9)
    assert f.alt[0] == pytest.approx(1000.0, abs=0.01)
    d = geo.geodesic_distance_m(49.0, 30.0, f.lat[0], 30.0)
    assert d * (1 + 1000.0 / 6.371e6) == pytest.approx(30.0 * 600, rel=2e-4)
    assert np.allclose(f.vel_enu[0], [0.0, 30.0, 0.0], atol=1e-6)
    # the ECEF velocity is the same vector seen from the Earth's centre
    assert np.allclose(np.linalg.norm(f.vel_ecef[0]), 30.0)
    up = f.rot[0][:, 2]
    assert abs(np.dot(f.vel_ecef[0], up)) < 1e-6


def test_decoys_run_out_of_range_and_aircraft_land():
    scn = scenario("""\
        raids:
          - {class: decoy, count: 3, launch: {lat: 50.0, lon: 36.0}, airborne: true,
             targets: {lat: 50.0, lon: 20.0}, range_km: 100}
        traffic:
          - route: [{lat: 50.0, lon: 30.0}, {lat: 50.5, lon: 31.0}]
            icao24: [4b1805]
    """, duration=5000)
    sim = Simulation(scn)
    st = sim.state
    assert st.icao24 == [None, None, None, "4b1805"]
    for _ in fly(sim, 5000):
        pass
    assert list(sim.fate) == [EXPENDED] * 3 + [LANDED_T]
    assert np.allclose(sim.fleet.flown_m[:3], 100e3, atol=60.0)  # one step's travel
    t_flight = sim.t_end[:3]
    assert np.all((t_flight > 100e3 / (150 / 3.6)) & (t_flight < 100e3 / (100 / 3.6) + 1))


def test_birds_wander_inside_their_area_forever():
    scn = scenario("""\
        birds:
          - {count: 20, area: {lat: 50.0, lon: 30.0, radius_km: 3}, speed_mps: [8, 20], altitude_m: [20, 300]}
    """, duration=1800)
    sim = Simulation(scn)
    f = sim.fleet
    far = 0.0
    for _ in fly(sim, 1800):
        d = geo.geodesic_distance_m(50.0, 30.0, f.lat, f.lon)
        far = max(far, float(d.max()))
        assert np.all((f.speed >= 8 - 1e-9) & (f.speed <= 20 + 1e-9))
        assert np.all((f.alt >= 0) & (f.alt <= 300.5))
    assert np.all(sim.fate == FLYING) and sim.alive.all()
    assert 2000.0 < far < 3000.0 + 2 * 20 / np.radians(20.0)  # the area plus a turn circle


def test_defeat_removes_objects_mid_run():
    scn = scenario("""\
        raids:
          - {class: shahed, count: 4, launch: {lat: 50.0, lon: 31.0}, airborne: true,
             targets: {lat: 50.0, lon: 30.0}, spacing_s: 100}
    """, duration=600)
    sim = Simulation(scn)
    for _ in fly(sim, 150):
        pass
    assert list(sim.alive) == [True, True, False, False]
    rows = sim.defeat(["w1-shahed-002", 0], t=149.5)
    assert sorted(rows.tolist()) == [0, 1]
    assert not sim.alive[:2].any() and list(sim.fate[:2]) == [DEFEATED, DEFEATED]
    assert list(sim.t_end[:2]) == [149.5, 149.5]
    assert sim.defeat([3]).size == 0 and sim.fate[3] != DEFEATED  # not launched yet: untouched
    lat0 = sim.fleet.lat[:2].copy()
    for _ in fly(sim, 300):
        pass
    assert np.array_equal(sim.fleet.lat[:2], lat0)  # ended objects no longer move
    assert sim.alive[2] and sim.alive[3]
    assert sim.defeat([0]).size == 0  # defeating twice is a no-op


def test_vectorised_rows_are_independent_and_waves_keep_their_paths():
    one = """\
        raids:
          - {class: shahed, count: 5, launch: {lat: 50.0, lon: 31.0, radius_km: 20}, airborne: true,
             waypoints: [{lat: 50.3, lon: 30.5}], waypoint_jitter_km: 10,
             targets: {lat: 50.0, lon: 30.0, radius_km: 5}, spacing_s: 7}
    """
    extra = """\
          - {class: jet_drone, count: 7, launch: {lat: 49.0, lon: 31.0, radius_km: 20}, airborne: true,
             targets: {lat: 50.0, lon: 30.0, radius_km: 5}, spacing_s: 3}
    """
    two = textwrap.dedent(one) + textwrap.indent(textwrap.dedent(extra), "  ")
    a, b = Simulation(scenario(one, 900)), Simulation(scenario(two, 900))
    assert len(b) == 12
    for _ in range(900):
        a.step()
        b.step()
        assert np.array_equal(a.alive, b.alive[:5])
        assert np.array_equal(a.fleet.ecef[:5], b.fleet.ecef[:5])
    assert a.objects.ids == b.objects.ids[:5]
    assert (b.fate[5:] == HIT_T).any()  # the jets did fly and arrive meanwhile
    c = Simulation(scenario(one, 900, seed=2))
    assert not np.allclose(c.objects.launch, a.objects.launch)


def test_ground_launch_climbs_smoothly_to_cruise():
    scn = scenario("""\
        raids:
          - {class: shahed, count: 3, launch: {lat: 50.0, lon: 32.0}, targets: {lat: 50.0, lon: 28.0},
             altitude_m: [1500, 2000], low_level_legs: 0, spacing_s: 30}
    """, duration=1200)
    sim = Simulation(scn)
    f = sim.fleet
    assert f.alt[0] == pytest.approx(10.0) and not sim.alive[1:].any()
    prev_vu = f.vu.copy()
    for before in fly(sim, 1200):
        live = before & sim.alive
        assert np.all(f.vu[live] <= 4.0 + 1e-9)  # the class climb rate
        assert np.all(np.abs(f.vu - prev_vu)[live] <= 3.0 * sim.dt + 1e-9)  # bounded vertical acceleration
        prev_vu = f.vu.copy()
    assert np.all(f.alt >= 1400.0)  # at cruise height after 10-20 minutes
    with pytest.raises(ValueError, match="unknown object id 'nope'"):
        sim.defeat(["nope"])
