"""Turning a scenario's raid waves, traffic and birds into flight plans: one
row of a ``Fleet`` per object, with its launch, waypoints, target, speed and
height profile drawn once from the scenario's random streams.

Each wave, traffic entry and bird group draws from its own child of the seed,
so adding a wave (or changing the sensors) never moves another wave's drones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from airshield import geo
from airshield.errors import InputError
from airshield.sim.kinematics import GA, KINEMATICS, ClassKinematics, Fleet
from airshield.sim.scenario import Birds, Location, RaidWave, Scenario, Traffic

N_SEG = 16  # height/speed legs per profile; the last one holds to the end


@dataclass
class Plan:
    """What one group of objects will do (columns over its ``n`` objects)."""

    ids: list[str]
    cls: str
    kin: ClassKinematics
    t_launch: np.ndarray
    launch: np.ndarray  # (n, 3) lat, lon, alt
    waypoints: np.ndarray  # (n, W, 3) lat, lon, alt; the last is the target
    target: list[str | None]
    cruise_mps: np.ndarray
    seg_len_m: np.ndarray  # (n, N_SEG)
    seg_alt: np.ndarray  # (n, N_SEG)
    seg_speed: np.ndarray  # (n, N_SEG)
    range_m: np.ndarray
    airborne: bool
    icao24: list[str | None]
    area: np.ndarray | None = None  # (n, 3) lat, lon, radius_m: where birds wander


@dataclass
class ObjectTable:
    """Per-object facts the engine keeps beside the Fleet (row order)."""

    ids: list[str]
    cls_name: list[str]
    t_launch: np.ndarray
    launch: np.ndarray  # (N, 3)
    airborne: np.ndarray  # (N,) bool
    target: list[str | None]
    icao24: list[str | None]
    area: np.ndarray  # (N, 3) lat, lon, radius_m (NaN unless the object wanders)

    def __len__(self) -> int:
        return len(self.ids)


def scatter(lat, lon, radius_m, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Uniform random points in discs of ``radius_m`` around (lat, lon), arrays."""
    lat, lon, r = np.broadcast_arrays(np.asarray(lat, float), np.asarray(lon, float),
                                      np.asarray(radius_m, float))
    rho = r * np.sqrt(rng.random(lat.shape))
    th = rng.uniform(0.0, 2.0 * np.pi, lat.shape)
    la, lo, _ = geo.enu_to_geodetic(rho * np.sin(th), rho * np.cos(th), 0.0, lat, lon, 0.0)
    return np.where(r > 0, la, lat), np.where(r > 0, lo, lon)


def _pick(locs: list[Location], idx: np.ndarray, rng, extra_radius_m: float = 0.0) -> np.ndarray:
    lat = np.array([locs[i].lat for i in idx]) if len(idx) else np.zeros(0)
    lon = np.array([locs[i].lon for i in idx]) if len(idx) else np.zeros(0)
    alt = np.array([locs[i].alt for i in idx]) if len(idx) else np.zeros(0)
    r = np.array([max(locs[i].radius_m, extra_radius_m) for i in idx]) if len(idx) else np.zeros(0)
    la, lo = scatter(lat, lon, r, rng)
    return np.stack([la, lo, alt], axis=-1)


def _profile(n: int, kin: ClassKinematics, rng, alt_band, low_frac: float, speed_mps: tuple[float, float],
             *, vary_speed: bool = True):
    """Cruise speed and height/speed legs. Each leg cruises at a height drawn in
    the band, or flies low with probability ``low_frac``; its speed varies a
    few percent about the cruise speed but stays inside the speed band."""
    cruise = rng.uniform(speed_mps[0], speed_mps[1], n)
    lo_len, hi_len = kin.leg_km
    if np.isinf(hi_len):
        seg_len = np.full((n, N_SEG), np.inf)
    else:
        seg_len = rng.uniform(lo_len, hi_len, (n, N_SEG)) * 1000.0
    high = rng.uniform(alt_band[0], alt_band[1], (n, N_SEG))
    low = rng.uniform(kin.low_alt_m[0], kin.low_alt_m[1], (n, N_SEG))
    is_low = rng.random((n, N_SEG)) < low_frac
    seg_alt = np.where(is_low, low, high)
    if np.isinf(hi_len):  # one leg for the whole flight
        seg_alt[:] = seg_alt[:, :1]
    factor = rng.uniform(0.95, 1.05, (n, N_SEG)) if vary_speed else np.ones((n, N_SEG))
    seg_speed = np.clip(cruise[:, None] * factor, speed_mps[0], speed_mps[1]) / cruise[:, None]
    return cruise, seg_len, seg_alt, seg_speed


def _band_draw(rng, band, n, scale=1.0):
    return rng.uniform(band[0], band[1], n) * scale


def plan_raid(w: RaidWave, wave_no: int, rng: np.random.Generator) -> Plan:
    kin = KINEMATICS[w.cls]
    n = w.count
    k = np.arange(n)
    launch = _pick(w.launch, k % len(w.launch), rng)
    if w.target_assign == "random":
        ti = rng.integers(0, len(w.targets), n)
    else:
        ti = k % len(w.targets)
    wps = [_pick([wp], np.zeros(n, int), rng, w.waypoint_jitter_m) for wp in w.waypoints]
    wps.append(_pick(w.targets, ti, rng))
    speed = w.speed_kmh or kin.speed_kmh
    alt_band = w.altitude_m or kin.cruise_alt_m
    low = kin.low_level_legs if w.low_level_legs is None else w.low_level_legs
    cruise, seg_len, seg_alt, seg_speed = _profile(n, kin, rng, alt_band, low, (speed[0] / 3.6, speed[1] / 3.6))
    prefix = w.name or f"w{wave_no + 1}-{w.cls}"
    width = max(3, len(str(n)))
    names = [t.name for t in w.targets]
    return Plan(
        ids=[f"{prefix}-{i + 1:0{width}d}" for i in range(n)], cls=w.cls, kin=kin,
        t_launch=w.start_s + k * w.spacing_s, launch=launch, waypoints=np.stack(wps, axis=1),
        target=[names[i] for i in ti], cruise_mps=cruise,
        seg_len_m=seg_len, seg_alt=seg_alt, seg_speed=seg_speed,
        range_m=_band_draw(rng, w.range_km or kin.range_km, n, 1000.0), airborne=w.airborne,
        icao24=[None] * n,
    )


def _icao(rng, n: int, taken: set[str]) -> list[str]:
    out = []
    for a in rng.integers(0x100000, 0xFFFFFF, n):
        a = int(a)
        while f"{a:06x}" in taken:
            a = (a + 1) & 0xFFFFFF
        taken.add(f"{a:06x}")
        out.append(f"{a:06x}")
    return out


def plan_traffic(tr: Traffic, entry_no: int, rng: np.random.Generator, duration_s: float,
                 taken: set[str]) -> Plan:
    kin = GA if tr.type == "ga" else KINEMATICS["aircraft"]
    n = tr.count
    k = np.arange(n)
    if tr.kind == "route":
        pts = [_pick([p], np.zeros(n, int), rng) for p in tr.route]
        launch, waypoints = pts[0], np.stack(pts[1:], axis=1)
        t_launch = tr.start_s + k * tr.spacing_s
        target = [tr.route[-1].name] * n
    else:
        a = tr.area
        th = rng.uniform(0, 2 * np.pi, n)
        th_out = th + np.pi + rng.uniform(-0.7, 0.7, n)
        e0, n0 = a.radius_m * np.sin(th), a.radius_m * np.cos(th)
        e1, n1 = a.radius_m * np.sin(th_out), a.radius_m * np.cos(th_out)
        # Half the crossings are already under way at the start, the rest
        # enter over the window, so the sky is never empty at t = start.
        inside = k < n // 2
        frac = np.where(inside, rng.uniform(0, 0.8, n), 0.0)
        window = duration_s - tr.start_s if tr.window_s is None else tr.window_s
        t_launch = np.where(inside, tr.start_s, tr.start_s + rng.uniform(0, max(window, 0.0), n))
        la0, lo0, _ = geo.enu_to_geodetic(e0 + frac * (e1 - e0), n0 + frac * (n1 - n0), 0.0, a.lat, a.lon, 0.0)
        la1, lo1, _ = geo.enu_to_geodetic(e1, n1, 0.0, a.lat, a.lon, 0.0)
        launch = np.stack([la0, lo0, np.zeros(n)], axis=-1)
        waypoints = np.stack([la1, lo1, np.zeros(n)], axis=-1)[:, None, :]
        target = [None] * n
    speed = tr.speed_kmh or kin.speed_kmh
    cruise, seg_len, seg_alt, seg_speed = _profile(n, kin, rng, tr.altitude_m or kin.cruise_alt_m, 0.0,
                                                   (speed[0] / 3.6, speed[1] / 3.6), vary_speed=False)
    waypoints[:, :, 2] = seg_alt[:, :1]  # cruise through: destinations are route ends, not runways
    prefix = tr.callsign or f"ac{entry_no + 1}"
    icao = tr.icao24 or _icao(rng, n, taken)
    return Plan(
        ids=[f"{prefix}-{i + 1:03d}" for i in range(n)], cls="aircraft", kin=kin,
        t_launch=np.asarray(t_launch, float), launch=launch, waypoints=waypoints, target=target,
        cruise_mps=cruise, seg_len_m=seg_len, seg_alt=seg_alt, seg_speed=seg_speed, range_m=np.full(n, np.inf),
        airborne=True, icao24=list(icao),
    )


def plan_birds(b: Birds, group_no: int, rng: np.random.Generator) -> Plan:
    kin = KINEMATICS["bird"]
    n = b.count
    a = b.area
    start = np.stack([*scatter(np.full(n, a.lat), np.full(n, a.lon), a.radius_m, rng), np.zeros(n)], axis=-1)
    goal = np.stack([*scatter(np.full(n, a.lat), np.full(n, a.lon), a.radius_m, rng), np.zeros(n)], axis=-1)
    cruise, seg_len, seg_alt, seg_speed = _profile(n, kin, rng, b.altitude_m, 0.0, b.speed_mps)
    return Plan(
        ids=[f"bird{group_no + 1}-{i + 1:03d}" for i in range(n)], cls="bird", kin=kin,
        t_launch=np.full(n, b.start_s), launch=start, waypoints=goal[:, None, :], target=[None] * n,
        cruise_mps=cruise, seg_len_m=seg_len, seg_alt=seg_alt,
        seg_speed=seg_speed, range_m=np.full(n, np.inf), airborne=True, icao24=[None] * n,
        area=np.tile([a.lat, a.lon, a.radius_m], (n, 1)),
    )


def plan_scenario(scn: Scenario, ss: np.random.SeedSequence, duration_s: float) -> list[Plan]:
    """Every group's plan, each from its own child seed (raids, traffic, birds)."""
    ss_raid, ss_traffic, ss_birds = ss.spawn(3)
    plans = [plan_raid(w, i, np.random.default_rng(s))
             for i, (w, s) in enumerate(zip(scn.raids, ss_raid.spawn(len(scn.raids))))]
    taken: set[str] = {a for tr in scn.traffic for a in tr.icao24}
    plans += [plan_traffic(tr, i, np.random.default_rng(s), duration_s, taken)
              for i, (tr, s) in enumerate(zip(scn.traffic, ss_traffic.spawn(len(scn.traffic))))]
    plans += [plan_birds(b, i, np.random.default_rng(s))
              for i, (b, s) in enumerate(zip(scn.birds, ss_birds.spawn(len(scn.birds))))]
    return plans


def build_fleet(plans: list[Plan], file: str = "") -> tuple[Fleet, ObjectTable]:
    """Stack the plans into one Fleet (rows in plan order) and its ObjectTable."""
    n = sum(len(p.ids) for p in plans)
    w = max([p.waypoints.shape[1] for p in plans] or [1])
    f = Fleet.empty(n, w, N_SEG)
    ids: list[str] = []
    table = ObjectTable(ids=ids, cls_name=[], t_launch=np.zeros(n), launch=np.zeros((n, 3)),
                        airborne=np.zeros(n, bool), target=[], icao24=[], area=np.full((n, 3), np.nan))
    r0 = 0
    for p in plans:
        m = len(p.ids)
        rows = np.arange(r0, r0 + m)
        f.set_class(rows, p.cls, p.kin)
        f.cruise_mps[rows] = p.cruise_mps
        f.seg_end_m[rows] = np.cumsum(p.seg_len_m, axis=1)
        f.seg_alt[rows], f.seg_speed[rows] = p.seg_alt, p.seg_speed
        nw = p.waypoints.shape[1]
        wp = np.concatenate([p.waypoints, np.repeat(p.waypoints[:, -1:], w - nw, axis=1)], axis=1)
        f.wp_ecef[rows] = np.stack(geo.geodetic_to_ecef(wp[..., 0], wp[..., 1], wp[..., 2]), axis=-1)
        f.wp_alt[rows] = wp[..., 2]
        f.n_wp[rows] = nw
        f.range_m[rows] = p.range_m
        table.t_launch[rows] = p.t_launch
        table.launch[rows] = p.launch
        table.airborne[rows] = p.airborne
        if p.area is not None:
            table.area[rows] = p.area
        ids += p.ids
        table.cls_name += [p.cls] * m
        table.target += p.target
        table.icao24 += p.icao24
        r0 += m
    seen: set[str] = set()
    dup = next((i for i in ids if i in seen or seen.add(i)), None)
    if dup is not None:
        raise InputError(f"two objects would both be called {dup!r}: give the waves distinct names", file=file)
    return f, table
