"""Flight of every simulated object, advanced together as array rows.

Each object flies toward its current waypoint: the direction is taken in the
object's own local east-north-up frame (so it follows the great circle over a
1,500 km theatre), the course turns at a bounded rate (bank-limited coordinated
turn), and speed and height approach their commanded values with bounded
acceleration. Position is integrated in ECEF and converted back to geodetic
through ``airshield.geo``: no flat-Earth plane anywhere.

Figures per class are public, order-of-magnitude ones (see docs/SCENARIOS.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from airshield import CLASS_INDEX, geo

G = 9.80665
HIT, LANDED, WANDER = 0, 1, 2  # what an object does at its last waypoint


@dataclass(frozen=True)
class ClassKinematics:
    speed_kmh: tuple[float, float]  # cruise speed band (true airspeed, no wind)
    cruise_alt_m: tuple[float, float]  # cruise height band above the ellipsoid
    low_alt_m: tuple[float, float]  # height band of low-level legs
    low_level_legs: float  # default fraction of legs flown low
    range_km: tuple[float, float]  # endurance band; inf = never runs out
    leg_km: tuple[float, float]  # length of one height/speed leg of the profile
    turn_rate_dps: float  # ceiling on the turn rate (degrees per second)
    bank_max_deg: float  # coordinated turn: omega = g tan(bank) / V
    accel_mps2: float  # along-track acceleration
    climb_mps: float
    sink_mps: float
    vaccel_mps2: float  # vertical acceleration (pitch-over)
    dive_deg: float  # terminal dive angle onto the target; 0 = none
    end: int  # HIT, LANDED or WANDER


INF = float("inf")

KINEMATICS: dict[str, ClassKinematics] = {
    # Shahed-136 / Geran-2: piston pusher, ~185 km/h top speed, long range.
    "shahed": ClassKinematics((150, 190), (100, 2500), (50, 200), 0.3, (1500, 2000), (20, 120),
                              3.0, 25.0, 0.5, 4.0, 5.0, 3.0, 40.0, HIT),
    # Gerbera-class decoy: foam and plywood, slower, lower, shorter range.
    "decoy": ClassKinematics((100, 150), (100, 1200), (50, 200), 0.2, (500, 700), (20, 100),
                             3.0, 25.0, 0.4, 3.0, 4.0, 2.0, 30.0, HIT),
    # Geran-3: turbojet one-way attack drone.
    "jet_drone": ClassKinematics((400, 600), (1000, 6000), (100, 300), 0.0, (1000, 2500), (50, 200),
                                 6.0, 45.0, 2.0, 15.0, 20.0, 5.0, 30.0, HIT),
    # Orlan-10-class reconnaissance UAV.
    "recon": ClassKinematics((90, 150), (300, 5000), (150, 300), 0.0, (500, 1000), (20, 80),
                             5.0, 30.0, 0.5, 3.0, 4.0, 2.0, 0.0, LANDED),
    # Crewed airliner at cruise (general aviation: see GA below).
    "aircraft": ClassKinematics((780, 900), (9000, 12000), (9000, 12000), 0.0, (INF, INF), (INF, INF),
                                3.0, 25.0, 1.0, 10.0, 10.0, 1.0, 0.0, LANDED),
    # Birds (or flocks): slow, low, wandering radar clutter.
    "bird": ClassKinematics((29, 72), (20, 300), (20, 300), 0.0, (INF, INF), (0.5, 3.0),
                            20.0, 45.0, 1.0, 2.0, 2.0, 1.0, 0.0, WANDER),
}
GA = ClassKinematics((180, 300), (1000, 3000), (1000, 3000), 0.0, (INF, INF), (INF, INF),
                     3.0, 30.0, 1.0, 5.0, 5.0, 1.0, 0.0, LANDED)


@dataclass
class Fleet:
    """Every object of a run as rows; row i is object i for the whole run."""

    cls: np.ndarray  # (N,) int8 index into CLASSES
    end: np.ndarray  # (N,) int8 HIT / LANDED / WANDER
    turn_max: np.ndarray  # (N,) rad/s
    bank_max: np.ndarray  # (N,) rad
    accel: np.ndarray
    climb: np.ndarray
    sink: np.ndarray
    vaccel: np.ndarray
    dive: np.ndarray  # (N,) rad, 0 = no terminal dive
    cruise_mps: np.ndarray  # (N,)
    seg_end_m: np.ndarray  # (N, K) cumulative distance at which each profile leg ends
    seg_alt: np.ndarray  # (N, K) commanded height of each leg
    seg_speed: np.ndarray  # (N, K) speed factor of each leg
    wp_ecef: np.ndarray  # (N, W, 3) waypoints, the last one the target / destination
    wp_alt: np.ndarray  # (N, W)
    n_wp: np.ndarray  # (N,) int
    wp_i: np.ndarray  # (N,) int, current waypoint
    range_m: np.ndarray  # (N,)
    flown_m: np.ndarray  # (N,)
    # kinematic state
    lat: np.ndarray
    lon: np.ndarray
    alt: np.ndarray
    ecef: np.ndarray  # (N, 3)
    rot: np.ndarray  # (N, 3, 3) ENU -> ECEF at the current position
    heading: np.ndarray  # (N,) rad, clockwise from local north
    speed: np.ndarray  # (N,) m/s horizontal
    vu: np.ndarray  # (N,) m/s
    vel_enu: np.ndarray  # (N, 3)
    vel_ecef: np.ndarray  # (N, 3)

    def __len__(self) -> int:
        return int(self.cls.shape[0])

    @classmethod
    def empty(cls, n: int, n_wp: int, n_seg: int) -> "Fleet":
        z = lambda *s: np.zeros((n, *s))  # noqa: E731
        return cls(
            cls=np.zeros(n, np.int8), end=np.zeros(n, np.int8), turn_max=z(), bank_max=z(),
            accel=z(), climb=z(), sink=z(), vaccel=z(), dive=z(), cruise_mps=z(),
            seg_end_m=np.full((n, n_seg), np.inf), seg_alt=z(n_seg), seg_speed=np.ones((n, n_seg)),
            wp_ecef=z(max(n_wp, 1), 3), wp_alt=z(max(n_wp, 1)), n_wp=np.ones(n, np.int64),
            wp_i=np.zeros(n, np.int64), range_m=np.full(n, np.inf), flown_m=z(),
            lat=z(), lon=z(), alt=z(), ecef=z(3), rot=np.tile(np.eye(3), (n, 1, 1)),
            heading=z(), speed=z(), vu=z(), vel_enu=z(3), vel_ecef=z(3),
        )

    def set_class(self, rows: np.ndarray, name: str, k: ClassKinematics) -> None:
        self.cls[rows] = CLASS_INDEX[name]
        self.end[rows] = k.end
        self.turn_max[rows] = np.radians(k.turn_rate_dps)
        self.bank_max[rows] = np.radians(k.bank_max_deg)
        self.accel[rows] = k.accel_mps2
        self.climb[rows] = k.climb_mps
        self.sink[rows] = k.sink_mps
        self.vaccel[rows] = k.vaccel_mps2
        self.dive[rows] = np.radians(k.dive_deg)

    def place(self, rows: np.ndarray, lat, lon, alt) -> None:
        """Put objects at a position (launch, new waypoint) and refresh frames."""
        self.lat[rows], self.lon[rows], self.alt[rows] = lat, lon, alt
        self.ecef[rows] = np.stack(geo.geodetic_to_ecef(lat, lon, alt), axis=-1)
        self.rot[rows] = geo.enu_to_ecef_rotation(self.lat[rows], self.lon[rows])

    def aim(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """East, north, up (m) from each object to its current waypoint, in the
        object's own local frame."""
        wp = self.wp_ecef[rows, self.wp_i[rows]]
        d = wp - self.ecef[rows]
        enu = np.einsum("nji,nj->ni", self.rot[rows], d)  # R^T d
        return enu[:, 0], enu[:, 1], enu[:, 2]

    def turn_radius(self, rows: np.ndarray) -> np.ndarray:
        v = np.maximum(self.speed[rows], 1.0)
        return v / max_turn_rate(v, self.turn_max[rows], self.bank_max[rows])


def max_turn_rate(speed, turn_cap, bank_max):
    """Coordinated-turn rate ceiling: omega = g tan(bank) / V, capped."""
    return np.minimum(turn_cap, G * np.tan(bank_max) / np.maximum(speed, 1.0))


def wrap_pi(a):
    return (a + np.pi) % (2.0 * np.pi) - np.pi


def advance(f: Fleet, rows: np.ndarray, dt) -> tuple[np.ndarray, np.ndarray]:
    """Advance ``rows`` by ``dt`` seconds (scalar or per row).

    Returns boolean masks over ``rows``: reached its last waypoint, and ran out
    of range. Intermediate waypoints are passed on the way (fly-by).
    """
    if rows.size == 0:
        return np.zeros(0, bool), np.zeros(0, bool)
    dt = np.broadcast_to(np.asarray(dt, float), rows.shape)
    de, dn, du = f.aim(rows)
    dh = np.hypot(de, dn)
    last = f.wp_i[rows] >= f.n_wp[rows] - 1
    v = f.speed[rows]

    # Course: turn toward the waypoint at a bounded rate. When the waypoint
    # lies behind and inside twice the turn radius, hold course to open the
    # distance first, so an object never circles a point it cannot reach.
    omega = max_turn_rate(v, f.turn_max[rows], f.bank_max[rows])
    err = wrap_pi(np.arctan2(de, dn) - f.heading[rows])
    behind_close = (np.abs(err) > np.pi / 2) & (dh < 2.0 * v / omega)
    turn = np.clip(err, -omega * dt, omega * dt)
    heading = wrap_pi(f.heading[rows] + np.where(behind_close, 0.0, turn))

    # Speed and height follow the profile leg the object is on (by distance flown).
    leg = np.minimum((f.flown_m[rows, None] >= f.seg_end_m[rows]).sum(axis=1), f.seg_end_m.shape[1] - 1)
    v_cmd = f.cruise_mps[rows] * f.seg_speed[rows, leg]
    a = f.accel[rows] * dt
    v = v + np.clip(v_cmd - v, -a, a)

    alt = f.alt[rows]
    alt_cmd = f.seg_alt[rows, leg]
    vu_cmd = np.clip((alt_cmd - alt) / 10.0, -f.sink[rows], f.climb[rows])
    # Terminal dive: inside the dive cone over the target, fly the straight line onto it.
    dive = f.dive[rows]
    tgt_alt = f.wp_alt[rows, f.wp_i[rows]]
    above = alt - tgt_alt
    terminal = last & (dive > 0) & (above > 0) & (above >= dh * np.tan(dive))
    vu_line = -above * v / np.maximum(dh, 1.0)
    vu_line = np.maximum(vu_line, -v * np.tan(np.minimum(dive + np.radians(25.0), np.radians(80.0))))
    vu_cmd = np.where(terminal, vu_line, vu_cmd)
    # The pitch-over into the dive is sharper than cruise height changes (~1 g).
    av = np.where(terminal, np.maximum(f.vaccel[rows], G), f.vaccel[rows]) * dt
    vu = f.vu[rows] + np.clip(vu_cmd - f.vu[rows], -av, av)

    # Integrate in ECEF with the velocity at the current position, then come
    # back to geodetic; the height is integrated directly so that level flight
    # stays level on the curved Earth.
    enu = np.stack([v * np.sin(heading), v * np.cos(heading), vu], axis=-1)
    vel_ecef = np.einsum("nij,nj->ni", f.rot[rows], enu)
    ecef = f.ecef[rows] + vel_ecef * dt[:, None]
    lat, lon, _ = geo.ecef_to_geodetic(ecef[:, 0], ecef[:, 1], ecef[:, 2])
    # No terrain model: the ground is the ellipsoid, and a diving object stops
    # at its target's height rather than below it.
    floor = np.where(last & (f.end[rows] == HIT), np.minimum(tgt_alt, 0.0), 0.0)
    floor = np.where(terminal, tgt_alt, floor)
    alt = np.maximum(alt + vu * dt, floor)
    vu = np.where(alt <= floor, np.maximum(vu, 0.0), vu)
    enu[:, 2] = vu
    f.place(rows, lat, lon, alt)
    f.heading[rows], f.speed[rows], f.vu[rows] = heading, v, vu
    f.vel_enu[rows] = enu
    f.vel_ecef[rows] = np.einsum("nij,nj->ni", f.rot[rows], enu)
    f.flown_m[rows] += np.hypot(v, vu) * dt

    # Waypoint passage: the last one must be reached (hit / destination); the
    # others are passed within half a turn radius (fly-by) or one step.
    step = v * dt
    reach = np.maximum(step, 30.0)
    passed = ~last & (dh <= np.maximum(1.5 * step, 0.5 * v / omega))
    f.wp_i[rows[passed]] += 1
    arrived = last & (dh <= reach)
    expended = ~arrived & (f.flown_m[rows] >= f.range_m[rows])
    return arrived, expended
