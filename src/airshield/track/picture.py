"""The air picture at one instant: confirmed and coasting tracks as arrays,
predicted to that instant, in the contract's frames (lat/lon/alt, ENU velocity
and position covariance at each track's own position)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from airshield import CLASSES, geo
from airshield.io.records import TRACK_STATUS


@dataclass
class Picture:
    t: float
    ids: np.ndarray  # (K,) int64 track numbers ("T<number>" in records)
    ecef: np.ndarray  # (K, 3)
    lat: np.ndarray
    lon: np.ndarray
    alt: np.ndarray
    vel_enu: np.ndarray  # (K, 3) ve, vn, vu at the track
    cov_enu: np.ndarray  # (K, 3, 3) position covariance in ENU at the track, m^2
    status: np.ndarray  # (K,) int8 index into TRACK_STATUS (0 confirmed, 1 coasting)
    p_class: np.ndarray  # (K, 7)
    icao_code: np.ndarray  # (K,) int index into icao_names, -1 = none
    icao_names: list[str]
    src: np.ndarray  # (K, 4) sensor indices that updated the track lately (ring)
    src_ok: np.ndarray  # (K, 4) bool: within the sources window
    sensor_ids: list[str]

    def __len__(self) -> int:
        return int(self.ids.size)

    @property
    def icao(self) -> list[str | None]:
        return [self.icao_names[c] if c >= 0 else None for c in self.icao_code.tolist()]

    @property
    def sources(self) -> list[list[str]]:
        """Sensor ids that fed each track lately (TRACK ``sources``)."""
        ids = self.sensor_ids
        out = []
        for s, ok in zip(self.src.tolist(), self.src_ok.tolist()):
            seen: list[str] = []
            for k, good in zip(s, ok):
                if good and ids[k] not in seen:
                    seen.append(ids[k])
            out.append(seen)
        return out

    @classmethod
    def build(cls, t, ids, x, P, status, p_class, icao_code, icao_names, src, src_ok,
              sensor_ids) -> "Picture":
        lat, lon, alt = geo.ecef_to_geodetic(x[:, 0], x[:, 1], x[:, 2])
        lat, lon, alt = (np.atleast_1d(a).astype(float) for a in (lat, lon, alt))
        R = geo.enu_to_ecef_rotation(lat, lon).reshape(-1, 3, 3)
        RT = np.swapaxes(R, -1, -2)
        vel = (RT @ x[:, 3:, None])[..., 0]
        cov = RT @ P[:, :3, :3] @ R
        return cls(float(t), ids, x[:, :3].copy(), lat, lon, alt, vel, cov, status, p_class,
                   icao_code, icao_names, src, src_ok, sensor_ids)

    @classmethod
    def empty(cls, t: float) -> "Picture":
        z = np.zeros(0)
        return cls(float(t), np.zeros(0, np.int64), np.zeros((0, 3)), z, z, z, np.zeros((0, 3)),
                   np.zeros((0, 3, 3)), np.zeros(0, np.int8), np.zeros((0, len(CLASSES))),
                   np.zeros(0, np.int32), [], np.zeros((0, 4), np.int32), np.zeros((0, 4), bool), [])

    def to_records(self, t: float | None = None) -> list[dict]:
        """Contract TRACK objects stamped ``t`` (default: the picture's time).
        A different ``t`` moves positions along the ENU velocity (short gaps only)."""
        t = self.t if t is None else float(t)
        lat, lon, alt = self.lat, self.lon, self.alt
        if t != self.t and len(self):
            v = self.vel_enu * (t - self.t)
            lat, lon, alt = geo.enu_to_geodetic(v[:, 0], v[:, 1], v[:, 2], lat, lon, alt)
        tt = round(t, 3)
        best = np.argmax(self.p_class, axis=1) if len(self) else np.zeros(0, int)
        pc = np.round(self.p_class, 4).tolist()
        vel = np.round(self.vel_enu, 2).tolist()
        cov = np.round(self.cov_enu.reshape(-1, 9), 1).tolist()
        lat_l = np.round(lat, 7).tolist()
        lon_l = np.round(lon, 7).tolist()
        alt_l = np.round(alt, 1).tolist()
        icao, sources = self.icao, self.sources
        out = []
        for k in range(len(self)):
            ve, vn, vu = vel[k]
            rec = {"t": tt, "track": f"T{int(self.ids[k])}", "lat": lat_l[k], "lon": lon_l[k],
                   "alt": alt_l[k], "ve": ve, "vn": vn, "vu": vu,
                   "status": TRACK_STATUS[int(self.status[k])], "class": CLASSES[int(best[k])],
                   "p_class": dict(zip(CLASSES, pc[k])), "cov_pos_enu": cov[k],
                   "sources": sources[k]}
            if icao[k]:
                rec["icao24"] = icao[k]
            out.append(rec)
        return out
