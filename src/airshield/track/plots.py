"""Reports as the tracker uses them: each DETECTION row turned, once and for a
whole set of rows at a time, into an internal measurement (type, z, sigmas in
internal units), the observing sensor's ECEF position and ENU rotation, and a
point estimate in ECEF for the spatial search (NaN for bearings).

Missing sigmas: ``read_detections`` already fills a report's missing sigmas from
its sensor's defaults; whatever is still missing gets the conservative default of
TrackerConfig (large, so an unknown sensor cannot dominate a track) and one
warning per sensor and field, naming the file and the first line concerned.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from airshield import geo
from airshield.errors import Skipped
from airshield.io.records import BEARING, POLAR, POS, Detections, Sensors
from airshield.track import measure as ms
from airshield.track.config import TrackerConfig

ADSB = 4  # index of "adsb" in airshield.SENSOR_KINDS
_FLOOR_POLAR = np.array([1.0, np.radians(0.01), np.radians(0.01), 0.05])  # m, rad, rad, m/s
_FLOOR_POS = np.array([1.0, 1.0, np.nan, np.nan])  # m
_FLOOR_BEARING = np.array([np.radians(0.01), np.radians(0.01), np.nan, np.nan])
_FLOORS = np.stack([_FLOOR_POLAR, _FLOOR_POS, _FLOOR_BEARING])
_BEARING_KINDS = (1, 2, 3)  # acoustic, eo, visual: bearing sensors with short reach


def _enu_rotation(lat_deg: np.ndarray, lon_deg: np.ndarray, out: np.ndarray) -> np.ndarray:
    """geo.enu_to_ecef_rotation (the same numbers) written into ``out`` (K, 3, 3)
    without its stacks."""
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
    out[:, 0, 0], out[:, 1, 0], out[:, 2, 0] = -so, co, 0.0
    out[:, 0, 1], out[:, 1, 1], out[:, 2, 1] = -sl * co, -sl * so, cl
    out[:, 0, 2], out[:, 1, 2], out[:, 2, 2] = cl * co, cl * so, sl
    return out


@dataclass
class SensorTable:
    """Sensors with what the filter needs precomputed."""

    ids: list[str]
    kind: np.ndarray
    ecef: np.ndarray  # (S, 3)
    R: np.ndarray  # (S, 3, 3) ENU->ECEF at the sensor
    period: np.ndarray  # (S,) revisit period, s
    reach: np.ndarray  # (S,) how far a bearing from it may point to a track, m
    is_adsb: np.ndarray  # (S,) bool
    sensors: Sensors

    @classmethod
    def build(cls, sensors: Sensors, cfg: TrackerConfig) -> "SensorTable":
        ecef = np.stack(geo.geodetic_to_ecef(sensors.lat, sensors.lon, sensors.alt), axis=-1)
        ecef = ecef.reshape(len(sensors), 3)
        R = geo.enu_to_ecef_rotation(sensors.lat, sensors.lon).reshape(len(sensors), 3, 3)
        period = sensors.param("period_s").copy()
        period[~(period > 0)] = cfg.default_period_s
        reach = sensors.param("range_max_m").copy()
        reach[~(reach > 0)] = cfg.bearing_range_m
        return cls(list(sensors.ids), sensors.kind.copy(), ecef, R, period, reach,
                   sensors.kind == ADSB, sensors)


@dataclass
class Plots:
    """Measurement rows (B of them), internal units. See track.measure for types."""

    t: np.ndarray
    sensor: np.ndarray
    mtype: np.ndarray  # int8, measure.POLAR_RR ... AZEL
    z: np.ndarray  # (B, 4)
    sig: np.ndarray  # (B, 4)
    s_ecef: np.ndarray  # (B, 3)
    s_R: np.ndarray  # (B, 3, 3) sensor rotation (POS: rotation at the reported point)
    pos: np.ndarray  # (B, 3) ECEF point estimate, NaN for bearings
    pos_sigma: np.ndarray  # (B,) bound on the point's sigma in any direction, m
    hint: np.ndarray  # (B, 7) class hint, NaN row = none
    icao: np.ndarray  # (B,) int32 code, -1 = none
    line: np.ndarray
    is_adsb: np.ndarray

    def __len__(self) -> int:
        return int(self.t.size)

    def take(self, idx) -> "Plots":
        return Plots(**{k: v[idx] for k, v in self.__dict__.items()})

    @staticmethod
    def concat(parts: list["Plots"]) -> "Plots":
        if len(parts) == 1:
            return parts[0]
        return Plots(**{k: np.concatenate([getattr(p, k) for p in parts])
                        for k in parts[0].__dict__})


@dataclass
class SigmaWarnings:
    """Which (sensor, field) pairs have been warned about, and the warnings."""

    source: str
    seen: set = field(default_factory=set)
    items: list[Skipped] = field(default_factory=list)

    def check(self, missing: np.ndarray, sensor: np.ndarray, line: np.ndarray, name: str,
              default: float, unit: str, ids: list[str]) -> None:
        if not missing.any():
            return
        rows = np.flatnonzero(missing)
        sens, first = np.unique(sensor[rows], return_index=True)
        for s, r in zip(sens, rows[first]):
            if (int(s), name) in self.seen:
                continue
            self.seen.add((int(s), name))
            self.items.append(Skipped(
                self.source, int(line[r]), name,
                f"sensor {ids[int(s)]!r} gives no {name} (report or sensors.json): "
                f"used the conservative default {default:g} {unit}; reports kept"))


def make_plots(det: Detections, st: SensorTable, cfg: TrackerConfig, warn: SigmaWarnings,
               icao_codes: dict[str, int]) -> Plots:
    """All rows of ``det`` as Plots (vectorised by measurement type)."""
    n = len(det)
    kind, z_in, s_in = det.kind, det.z, det.sigma.copy()
    sensor = det.sensor.astype(np.int64)
    mtype = np.empty(n, np.int8)
    z = np.full((n, 4), np.nan)
    sig = np.full((n, 4), np.nan)
    s_ecef = st.ecef[sensor]
    ps = kind == POS
    all_pos = bool(ps.all())
    s_R = np.empty((n, 3, 3)) if all_pos else st.R[sensor]  # POS: at the reported point
    pos = np.full((n, 3), np.nan)
    pos_sigma = np.full(n, np.inf)
    ids = st.ids

    def fill(rows, col, name, default, unit):
        miss = rows & np.isnan(s_in[:, col])
        warn.check(miss, sensor, det.line, name, default, unit, ids)
        s_in[miss, col] = default

    pol = kind == POLAR
    if pol.any():
        has_rr = pol & np.isfinite(z_in[:, 3])
        fill(pol, 0, "sigma_range_m", cfg.sigma_range_m, "m")
        fill(pol, 1, "sigma_az_deg", cfg.sigma_az_deg, "deg")
        fill(pol, 2, "sigma_el_deg", cfg.sigma_el_deg, "deg")
        fill(has_rr, 3, "sigma_rr_mps", cfg.sigma_rr_mps, "m/s")
        mtype[pol] = np.where(has_rr[pol], ms.POLAR_RR, ms.POLAR)
        zr = z_in[pol]
        z[pol] = np.stack([zr[:, 0], np.radians(zr[:, 1]), np.radians(zr[:, 2]), zr[:, 3]], -1)
        sr = s_in[pol]
        sig[pol] = np.stack([sr[:, 0], np.radians(sr[:, 1]), np.radians(sr[:, 2]), sr[:, 3]], -1)
        rng, az, el = z[pol, 0], z[pol, 1], z[pol, 2]
        pos[pol] = ms.polar_to_ecef(rng, az, el, s_ecef[pol], s_R[pol])
        pos_sigma[pol] = np.sqrt(sig[pol, 0] ** 2 + (rng * sig[pol, 1]) ** 2 + (rng * sig[pol, 2]) ** 2)

    if ps.any():
        fill(ps, 0, "sigma_h_m", cfg.sigma_h_m, "m")
        fill(ps, 1, "sigma_v_m", cfg.sigma_v_m, "m")
        mtype[ps] = ms.POS
        zr, sr = z_in[ps], s_in[ps]
        no_alt = np.isnan(zr[:, 2])
        alt = np.where(no_alt, cfg.missing_alt_m, zr[:, 2])
        sv = np.where(no_alt, cfg.missing_alt_sigma_m, sr[:, 1])
        p = np.stack(geo.geodetic_to_ecef(zr[:, 0], zr[:, 1], alt), axis=-1).reshape(-1, 3)
        sig[ps, 0], sig[ps, 1] = sr[:, 0], sv
        if all_pos:  # a position feed: whole columns, no masked writes
            z[:, :3] = p
            pos = p
            _enu_rotation(zr[:, 0], zr[:, 1], s_R)
        else:
            z[ps, :3] = p
            pos[ps] = p
            s_R[ps] = _enu_rotation(zr[:, 0], zr[:, 1], np.empty((p.shape[0], 3, 3)))
        pos_sigma[ps] = np.sqrt(2 * sr[:, 0] ** 2 + sv ** 2)

    br = kind == BEARING
    if br.any():
        has_el = br & np.isfinite(z_in[:, 1])
        fill(br, 0, "sigma_az_deg", cfg.sigma_bearing_deg, "deg")
        fill(has_el, 1, "sigma_el_deg", cfg.sigma_el_deg, "deg")
        mtype[br] = np.where(has_el[br], ms.AZEL, ms.AZ)
        z[br, :2] = np.radians(z_in[br, :2])
        sig[br, :2] = np.radians(s_in[br, :2])

    # a zero sigma (allowed by the contract reader) would make a singular
    # innovation: floor every sigma at a figure no real sensor reaches
    floor = _FLOORS[np.where(mtype <= ms.POLAR, 0, np.where(mtype == ms.POS, 1, 2))]
    sig = np.where(np.isfinite(sig), np.maximum(sig, floor), sig)
    pos_sigma = np.maximum(pos_sigma, 1.0)

    icao = np.full(n, -1, np.int32)
    for r, code in det.icao24.items():
        icao[r] = icao_codes.setdefault(code.lower(), len(icao_codes))
    return Plots(t=det.t.copy(), sensor=sensor, mtype=mtype, z=z, sig=sig, s_ecef=s_ecef,
                 s_R=s_R, pos=pos, pos_sigma=pos_sigma, hint=det.p_class.astype(float),
                 icao=icao, line=det.line.copy(), is_adsb=st.is_adsb[sensor])
