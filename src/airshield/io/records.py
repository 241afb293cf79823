"""Contract records held as columns (numpy arrays), the shape every hot path wants.

``Sensors``, ``Detections``, ``Truth`` and ``Tracks`` mirror the files of a run
directory. Readers validate each record, collect bad ones as ``Skipped`` (file,
line, field, why) and never drop one silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from airshield import CLASS_INDEX, CLASSES, SENSOR_KINDS
from airshield.errors import Skipped

# Measurement kinds of a DETECTION, as stored in Detections.kind.
POLAR, POS, BEARING = 0, 1, 2
MEAS_KINDS = ("polar", "pos", "bearing")

# Sensor parameters a SENSOR may carry; NaN where absent.
SENSOR_PARAMS = ("range_max_m", "sigma_range_m", "sigma_az_deg", "sigma_el_deg", "sigma_rr_mps",
                 "sigma_h_m", "sigma_v_m", "period_s", "pd", "false_per_scan")


@dataclass
class Sensors:
    """All sensors of a run, as columns. ``params[:, j]`` is SENSOR_PARAMS[j]."""

    ids: list[str]
    kind: np.ndarray  # int8 index into SENSOR_KINDS
    lat: np.ndarray
    lon: np.ndarray
    alt: np.ndarray
    nation: list[str | None]
    params: np.ndarray  # (N, len(SENSOR_PARAMS)) float, NaN = not given
    extra: list[dict] = field(default_factory=list)  # unknown fields, kept for round trips

    def __len__(self) -> int:
        return len(self.ids)

    def index(self) -> dict[str, int]:
        return {s: i for i, s in enumerate(self.ids)}

    def param(self, name: str) -> np.ndarray:
        return self.params[:, SENSOR_PARAMS.index(name)]

    def kind_name(self, i: int) -> str:
        return SENSOR_KINDS[int(self.kind[i])]

    def to_records(self) -> list[dict]:
        out = []
        for i, sid in enumerate(self.ids):
            rec = dict(self.extra[i]) if self.extra else {}
            rec.update(id=sid, kind=SENSOR_KINDS[int(self.kind[i])],
                       lat=float(self.lat[i]), lon=float(self.lon[i]), alt=float(self.alt[i]))
            if self.nation[i]:
                rec["nation"] = self.nation[i]
            for j, name in enumerate(SENSOR_PARAMS):
                v = self.params[i, j]
                if np.isfinite(v):
                    rec[name] = float(v)
            out.append(rec)
        return out


@dataclass
class Detections:
    """Detections as columns, time-ordered as read.

    ``z`` and ``sigma`` hold up to four numbers per row, by ``kind``:

    - POLAR:   z = range_m, az_deg, el_deg, rr_mps;  sigma = the same four
    - POS:     z = lat, lon, alt, NaN;               sigma = sigma_h_m, sigma_v_m, NaN, NaN
    - BEARING: z = az_deg, el_deg, NaN, NaN;         sigma = sigma_az_deg, sigma_el_deg, NaN, NaN

    NaN means "not given" (e.g. no range rate, no elevation). Sigmas missing
    from a report are filled from the sensor's defaults when the reader is given
    the sensors; any still missing stay NaN for the consumer to decide.
    ``p_class`` holds the sensor's class hint (rows of CLASSES, NaN if none).
    """

    t: np.ndarray
    sensor: np.ndarray  # int32 index into Sensors
    kind: np.ndarray  # int8: POLAR, POS, BEARING
    z: np.ndarray  # (N, 4)
    sigma: np.ndarray  # (N, 4)
    p_class: np.ndarray  # (N, len(CLASSES)) float32, NaN row = no hint
    snr_db: np.ndarray
    line: np.ndarray  # int64 source line (0 when made in memory)
    icao24: dict[int, str] = field(default_factory=dict)  # row -> ICAO address (ADS-B)
    msg_id: dict[int, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.t.shape[0])

    @classmethod
    def empty(cls, n: int = 0) -> "Detections":
        return cls(
            t=np.zeros(n), sensor=np.zeros(n, np.int32), kind=np.zeros(n, np.int8),
            z=np.full((n, 4), np.nan), sigma=np.full((n, 4), np.nan),
            p_class=np.full((n, len(CLASSES)), np.nan, np.float32), snr_db=np.full(n, np.nan),
            line=np.zeros(n, np.int64),
        )

    def take(self, idx: np.ndarray) -> "Detections":
        """Rows ``idx`` (an index array or boolean mask) as a new Detections."""
        idx = np.asarray(idx)
        rows = np.flatnonzero(idx) if idx.dtype == bool else idx
        remap = {int(r): k for k, r in enumerate(rows)}
        return Detections(
            t=self.t[rows], sensor=self.sensor[rows], kind=self.kind[rows], z=self.z[rows],
            sigma=self.sigma[rows], p_class=self.p_class[rows], snr_db=self.snr_db[rows],
            line=self.line[rows],
            icao24={remap[r]: v for r, v in self.icao24.items() if r in remap},
            msg_id={remap[r]: v for r, v in self.msg_id.items() if r in remap},
        )

    @staticmethod
    def concat(parts: list["Detections"]) -> "Detections":
        if not parts:
            return Detections.empty()
        icao, mid, off = {}, {}, 0
        for p in parts:
            icao.update({off + r: v for r, v in p.icao24.items()})
            mid.update({off + r: v for r, v in p.msg_id.items()})
            off += len(p)
        return Detections(
            t=np.concatenate([p.t for p in parts]),
            sensor=np.concatenate([p.sensor for p in parts]),
            kind=np.concatenate([p.kind for p in parts]),
            z=np.concatenate([p.z for p in parts]),
            sigma=np.concatenate([p.sigma for p in parts]),
            p_class=np.concatenate([p.p_class for p in parts]),
            snr_db=np.concatenate([p.snr_db for p in parts]),
            line=np.concatenate([p.line for p in parts]),
            icao24=icao, msg_id=mid,
        )

    def to_records(self, sensor_ids: list[str]) -> list[dict]:
        """Contract DETECTION objects (for writers and feeds)."""
        out = []
        has_class = ~np.isnan(self.p_class[:, 0]) if len(self) else np.zeros(0, bool)
        for i in range(len(self)):
            out.append(detection_record(self, i, sensor_ids, bool(has_class[i])))
        return out


def detection_record(d: Detections, i: int, sensor_ids: list[str], has_class: bool) -> dict:
    k = int(d.kind[i])
    z, s = d.z[i], d.sigma[i]
    rec: dict = {"t": round(float(d.t[i]), 3), "sensor": sensor_ids[int(d.sensor[i])]}
    if k == POLAR:
        m = {"range_m": float(z[0]), "az_deg": float(z[1]), "el_deg": float(z[2])}
        if np.isfinite(z[3]):
            m["rr_mps"] = float(z[3])
        for name, v in zip(("sigma_range_m", "sigma_az_deg", "sigma_el_deg", "sigma_rr_mps"), s):
            if np.isfinite(v):
                m[name] = float(v)
        rec["polar"] = m
    elif k == POS:
        rec["pos"] = {"lat": float(z[0]), "lon": float(z[1]), "alt": float(z[2]),
                      "sigma_h_m": float(s[0]), "sigma_v_m": float(s[1])}
    else:
        m = {"az_deg": float(z[0])}
        if np.isfinite(z[1]):
            m["el_deg"] = float(z[1])
        if np.isfinite(s[0]):
            m["sigma_az_deg"] = float(s[0])
        rec["bearing"] = m
    if has_class:
        rec["class"] = {c: float(p) for c, p in zip(CLASSES, d.p_class[i]) if p > 0}
    if np.isfinite(d.snr_db[i]):
        rec["snr_db"] = float(d.snr_db[i])
    if i in d.icao24:
        rec["icao24"] = d.icao24[i]
    if i in d.msg_id:
        rec["id"] = d.msg_id[i]
    return rec


@dataclass
class Truth:
    """TRUTH samples as columns. ``obj`` indexes ``ids``; ``cls`` indexes CLASSES."""

    ids: list[str]
    t: np.ndarray
    obj: np.ndarray
    cls: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    alt: np.ndarray
    vel: np.ndarray  # (N, 3) ve, vn, vu

    def __len__(self) -> int:
        return int(self.t.shape[0])


@dataclass
class Tracks:
    """TRACK records as columns. ``track`` indexes ``ids``."""

    ids: list[str]
    t: np.ndarray
    track: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    alt: np.ndarray
    vel: np.ndarray  # (N, 3)
    status: np.ndarray  # int8: 0 confirmed, 1 coasting
    cls: np.ndarray  # int8 index into CLASSES, -1 if not given

    def __len__(self) -> int:
        return int(self.t.shape[0])


TRACK_STATUS = ("confirmed", "coasting")


def class_vector(hint: dict, skipped_field: str = "class") -> np.ndarray:
    """{CLASS: likelihood} -> normalised vector over CLASSES (unknown names ignored)."""
    v = np.zeros(len(CLASSES), np.float32)
    for name, p in hint.items():
        j = CLASS_INDEX.get(name)
        if j is not None and isinstance(p, (int, float)) and not isinstance(p, bool) and p >= 0:
            v[j] = float(p)
    s = v.sum()
    return v / s if s > 0 else np.full(len(CLASSES), np.nan, np.float32)


__all__ = [
    "BEARING", "POLAR", "POS", "MEAS_KINDS", "SENSOR_PARAMS", "TRACK_STATUS",
    "Detections", "Sensors", "Skipped", "Tracks", "Truth", "class_vector", "detection_record",
]
