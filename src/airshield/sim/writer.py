"""Fast JSON Lines for truth and detections, formatted a column at a time.

A mass raid writes millions of lines. Building a dict per line costs several
microseconds; here each column is serialised by orjson in one call (numbers in
their shortest exact form after rounding) and the lines are assembled from a
template per *shape* of record (which optional fields are present), so the
Python work per line is one bytes formatting operation.
"""

from __future__ import annotations

from typing import BinaryIO

import numpy as np
import orjson

from airshield import CLASSES
from airshield.io.records import BEARING, POLAR, POS, Detections

_NP = orjson.OPT_SERIALIZE_NUMPY


def number_tokens(a: np.ndarray, decimals: int) -> list[bytes]:
    """JSON numbers for a float column, rounded to ``decimals`` (NaN -> null)."""
    if a.size == 0:
        return []
    return orjson.dumps(np.round(np.asarray(a, float), decimals), option=_NP)[1:-1].split(b",")


def string_token(s: str) -> bytes:
    return orjson.dumps(s)


class ChunkedFile:
    """Appends bytes, writing to disk in large blocks; counts lines."""

    def __init__(self, f: BinaryIO, block: int = 1 << 22):
        self.f, self.block, self.parts, self.size, self.lines = f, block, [], 0, 0

    def add(self, data: bytes, n_lines: int) -> None:
        if not data:
            return
        self.parts.append(data)
        self.size += len(data)
        self.lines += n_lines
        if self.size >= self.block:
            self.flush()

    def flush(self) -> None:
        self.f.write(b"".join(self.parts))
        self.parts.clear()
        self.size = 0


def truth_lines(t: np.ndarray, obj: list[bytes], lat, lon, alt, vel) -> bytes:
    """TRUTH lines, one per row of the columns. ``obj[k]`` is the ready
    ``"id":"...","class":"..."`` fragment of row k's object."""
    if len(obj) == 0:
        return b""
    tmpl = b'{"t":%s,%s,"lat":%s,"lon":%s,"alt":%s,"ve":%s,"vn":%s,"vu":%s}\n'
    cols = (number_tokens(t, 3), obj, number_tokens(lat, 7), number_tokens(lon, 7),
            number_tokens(alt, 2), number_tokens(vel[:, 0], 2), number_tokens(vel[:, 1], 2),
            number_tokens(vel[:, 2], 2))
    return b"".join(map(tmpl.__mod__, zip(*cols)))


class TruthBuffer:
    """Collects the truth of many steps and formats them in one go: per-call
    overheads are paid once per batch instead of once per step."""

    def __init__(self, out: ChunkedFile, obj_tokens: np.ndarray, batch_rows: int = 50_000):
        self.out, self.obj_tokens, self.batch_rows = out, obj_tokens, batch_rows
        self.parts: list[tuple] = []
        self.n = 0

    def add(self, t: float, rows: np.ndarray, lat, lon, alt, vel) -> None:
        if rows.size == 0:
            return
        self.parts.append((np.full(rows.size, t), rows, lat[rows], lon[rows], alt[rows], vel[rows]))
        self.n += rows.size
        if self.n >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        if not self.parts:
            return
        t, rows, lat, lon, alt, vel = (np.concatenate(c) for c in zip(*self.parts))
        self.out.add(truth_lines(t, self.obj_tokens[rows].tolist(), lat, lon, alt, vel), rows.size)
        self.parts.clear()
        self.n = 0


class DetectionBuffer:
    """Collects the detections of many steps (each step's already in time
    order, steps in sequence) and formats them in one go."""

    def __init__(self, out: ChunkedFile, sensor_tokens: list[bytes], batch_rows: int = 50_000):
        self.out, self.sensor_tokens, self.batch_rows = out, sensor_tokens, batch_rows
        self.parts: list[Detections] = []
        self.delays: list[np.ndarray] = []
        self.n = 0

    def add(self, d: Detections, delay_s: np.ndarray) -> None:
        if len(d) == 0:
            return
        self.parts.append(d)
        self.delays.append(np.asarray(delay_s, float))
        self.n += len(d)
        if self.n >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        if not self.parts:
            return
        d = self.parts[0] if len(self.parts) == 1 else Detections.concat(self.parts)
        self.out.add(detection_lines(d, self.sensor_tokens, np.concatenate(self.delays)), len(d))
        self.parts.clear()
        self.delays.clear()
        self.n = 0


def object_tokens(ids: list[str], cls_names: list[str]) -> np.ndarray:
    out = np.empty(len(ids), dtype=object)
    out[:] = [b'"id":' + string_token(i) + b',"class":' + string_token(c) for i, c in zip(ids, cls_names)]
    return out


# (key, from z or sigma, column, decimals, required) per measurement kind
_SLOTS = {
    POLAR: (b"polar", [("range_m", 0, 0, 1, True), ("az_deg", 0, 1, 4, True), ("el_deg", 0, 2, 4, True),
                       ("rr_mps", 0, 3, 2, False), ("sigma_range_m", 1, 0, 3, False),
                       ("sigma_az_deg", 1, 1, 4, False), ("sigma_el_deg", 1, 2, 4, False),
                       ("sigma_rr_mps", 1, 3, 3, False)]),
    POS: (b"pos", [("lat", 0, 0, 7, True), ("lon", 0, 1, 7, True), ("alt", 0, 2, 1, False),
                   ("sigma_h_m", 1, 0, 2, False), ("sigma_v_m", 1, 1, 2, False)]),
    BEARING: (b"bearing", [("az_deg", 0, 0, 4, True), ("el_deg", 0, 1, 4, False),
                           ("sigma_az_deg", 1, 0, 4, False), ("sigma_el_deg", 1, 1, 4, False)]),
}
_NC = len(CLASSES)


def detection_lines(d: Detections, sensor_tokens: list[bytes], delay_s: np.ndarray | None = None) -> bytes:
    """DETECTION lines, stably ordered by ``t``. Rows that reached the C2 late
    (``delay_s`` > 0) also carry ``t_rx`` = t + delay."""
    n = len(d)
    if n == 0:
        return b""
    bad = ~np.isfinite(d.t)
    for kind, (_, slots) in _SLOTS.items():
        rows = d.kind == kind
        for _, src, col, _, req in slots:
            if req:
                bad |= rows & ~np.isfinite((d.sigma if src else d.z)[:, col])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"sensor model produced a detection without a required value (row {i}, "
                         f"sensor {sensor_tokens[int(d.sensor[i])].decode()})")
    delay = np.zeros(n) if delay_s is None else np.asarray(delay_s, float)
    # Shape code of each row: kind, which optional fields, which class hints.
    code = d.kind.astype(np.int64)
    bit = 2
    for kind, (_, slots) in _SLOTS.items():
        for _, src, col, _, req in slots:
            if not req:
                present = (d.kind == kind) & np.isfinite((d.sigma if src else d.z)[:, col])
                code |= present.astype(np.int64) << bit
            bit += 1
    pc = np.nan_to_num(d.p_class.astype(float), nan=0.0)
    for j in range(_NC):
        code |= (pc[:, j] > 0).astype(np.int64) << (bit + j)
    bit += _NC
    has_icao = np.zeros(n, bool)
    has_icao[list(d.icao24)] = True
    has_id = np.zeros(n, bool)
    has_id[list(d.msg_id)] = True
    for extra in (np.isfinite(d.snr_db), has_icao, has_id, delay > 0):
        code |= extra.astype(np.int64) << bit
        bit += 1

    lines = np.empty(n, dtype=object)
    for c in np.unique(code):
        rows = np.flatnonzero(code == c)
        kind = int(c & 3)
        name, slots = _SLOTS[kind]
        tmpl = [b'{"t":%s,"sensor":%s,"', name, b'":{']
        cols = [number_tokens(d.t[rows], 3), [sensor_tokens[s] for s in d.sensor[rows].tolist()]]
        fields = []
        b = 2 + sum(len(s) for k, (_, s) in _SLOTS.items() if k < kind)
        for key, src, col, dec, req in slots:
            if req or (c >> b) & 1:
                fields.append(b'"' + key.encode() + b'":%s')
                cols.append(number_tokens((d.sigma if src else d.z)[rows, col], dec))
            b += 1
        tmpl += [b",".join(fields), b"}"]
        cb = 2 + sum(len(s) for _, s in _SLOTS.values())
        present = [j for j in range(_NC) if (c >> (cb + j)) & 1]
        if present:
            tmpl.append(b',"class":{' + b",".join(b'"' + CLASSES[j].encode() + b'":%s' for j in present) + b"}")
            cols += [number_tokens(pc[rows, j], 4) for j in present]
        eb = cb + _NC
        if (c >> eb) & 1:
            tmpl.append(b',"snr_db":%s')
            cols.append(number_tokens(d.snr_db[rows], 1))
        if (c >> (eb + 1)) & 1:
            tmpl.append(b',"icao24":%s')
            cols.append([string_token(d.icao24[r]) for r in rows.tolist()])
        if (c >> (eb + 2)) & 1:
            tmpl.append(b',"id":%s')
            cols.append([string_token(d.msg_id[r]) for r in rows.tolist()])
        if (c >> (eb + 3)) & 1:
            tmpl.append(b',"t_rx":%s')
            cols.append(number_tokens(d.t[rows] + delay[rows], 3))
        tmpl.append(b"}\n")
        lines[rows] = list(map(b"".join(tmpl).__mod__, zip(*cols)))
    order = np.argsort(d.t, kind="stable")
    return b"".join(lines[order].tolist())
