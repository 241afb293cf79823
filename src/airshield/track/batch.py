"""``airshield track DIR``: replay a recorded run through the streaming tracker.

Detections are fed in arrival order (``t_rx`` where a report carries one, else
``t``) at every output tick, exactly as a live feed would deliver them, so batch
and live give the same picture. One TRACK record is written per confirmed or
coasting track at every tick, predicted to the tick.

``load_run`` and ``replay`` are separate so benchmarks and other trackers can
reuse the reading and the time-stepping.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson

from airshield.errors import Skipped
from airshield.io.jsonl import dumps_line
from airshield.io.records import Detections, Sensors
from airshield.io.run import DETECTIONS, SENSORS, TRACKS, read_detections, read_sensors
from airshield.track.config import TrackerConfig
from airshield.track.picture import Picture
from airshield.track.tracker import Tracker, TrackerStats


@dataclass
class RunInput:
    sensors: Sensors
    detections: Detections
    arrival: np.ndarray  # (N,) when each report reached the tracker (t_rx or t)
    skipped: list[Skipped]  # lines that could not be used, with why
    warnings: list[Skipped]  # lines used with a caveat (e.g. a bad t_rx)
    source: str


def load_run(run_dir: str | Path) -> RunInput:
    """Read sensors.json and detections.jsonl (nothing else) of a run directory.
    Bad lines are collected, never dropped silently; a bad sensors.json raises."""
    run_dir = Path(run_dir)
    sensors = read_sensors(run_dir / SENSORS)
    skipped: list[Skipped] = []
    path = run_dir / DETECTIONS
    det = read_detections(path, sensors, skipped)
    warnings: list[Skipped] = []
    arrival = read_arrival(path, det, warnings)
    return RunInput(sensors, det, arrival, skipped, warnings, str(path))


def read_arrival(path: str | Path, det: Detections, warnings: list[Skipped]) -> np.ndarray:
    """Arrival time of each row of ``det``: its ``t_rx`` where the line has one
    (a late report: crowd, acoustic relay), else its ``t``. A t_rx that is not a
    number, or is earlier than ``t``, is reported and replaced by ``t``."""
    arrival = det.t.copy()
    data = Path(path).read_bytes()
    if data.find(b'"t_rx"') < 0 or len(det) == 0:
        return arrival
    by_line = np.argsort(det.line, kind="stable")
    lines_sorted = det.line[by_line]
    for lineno, raw in enumerate(data.split(b"\n"), start=1):  # as iter_jsonl counts lines
        if b'"t_rx"' not in raw:
            continue
        k = int(np.searchsorted(lines_sorted, lineno))
        if k >= lines_sorted.size or lines_sorted[k] != lineno:
            continue  # a skipped line: already reported
        row = by_line[k]
        v = orjson.loads(raw).get("t_rx")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
            warnings.append(Skipped(str(path), lineno, "t_rx", "not a finite number: used t"))
        elif v < det.t[row]:
            warnings.append(Skipped(str(path), lineno, "t_rx", f"{v:g} is before t: used t"))
        else:
            arrival[row] = float(v)
    return arrival


def replay(inp: RunInput, tracker: Tracker, tick_s: float = 1.0,
           on_tick: Callable[[int, int], None] | None = None) -> Iterator[Picture]:
    """Step ``tracker`` through the run at every output tick (multiples of
    ``tick_s``), feeding each report at its arrival; yields the picture of
    every tick. Ends once the last report has left the reorder window."""
    det, arrival = inp.detections, inp.arrival
    if len(det) == 0:
        return
    order = np.argsort(arrival, kind="stable")
    arr = arrival[order]
    rows = _Slicer(det.take(order)).rows  # sorted once: every tick is a contiguous slice
    t0 = np.floor(arr[0] / tick_s) * tick_s
    t_end = arr[-1] + tracker.cfg.reorder_s
    n_ticks = int(np.ceil((t_end - t0) / tick_s)) + 1
    ptr, k = 0, 0
    while k < n_ticks:
        now = t0 + k * tick_s
        hi = int(np.searchsorted(arr, now, side="right"))
        reports = rows(ptr, hi) if hi > ptr else None
        ptr = hi
        yield tracker.step(reports, now)
        if on_tick is not None:
            on_tick(k + 1, n_ticks)
        k += 1
        if tracker.idle and ptr < arr.size:
            # nothing alive, nothing buffered: skip the empty ticks up to the next
            # report (a quiet hour, or one stray time stamp, costs nothing)
            k = max(k, int(np.floor((arr[ptr] - t0) / tick_s)))
    tracker.flush()


class _Slicer:
    """Contiguous row ranges of a Detections as cheap views (the row-keyed maps
    are cut through sorted keys, not scanned whole at every tick)."""

    def __init__(self, det: Detections):
        self.det = det
        self.maps = []
        for m in (det.icao24, det.msg_id):
            keys = sorted(m)
            self.maps.append((np.array(keys, np.int64), keys, [m[k] for k in keys]))

    def rows(self, a: int, b: int) -> Detections:
        d = self.det
        cut = []
        for karr, keys, vals in self.maps:
            i, j = np.searchsorted(karr, [a, b])
            cut.append({keys[k] - a: vals[k] for k in range(i, j)})
        return Detections(t=d.t[a:b], sensor=d.sensor[a:b], kind=d.kind[a:b], z=d.z[a:b],
                          sigma=d.sigma[a:b], p_class=d.p_class[a:b], snr_db=d.snr_db[a:b],
                          line=d.line[a:b], icao24=cut[0], msg_id=cut[1])


@dataclass
class TrackResult:
    out_path: Path
    skipped: list[Skipped]
    warnings: list[Skipped]
    stats: TrackerStats
    n_reports: int = 0
    n_tracks: int = 0
    n_records: int = 0
    bearings_unused: int = 0
    wall_s: float = 0.0
    track_ids: set = field(default_factory=set)

    @property
    def fatal(self) -> bool:
        """Part of the input was unreadable: a line that is not a JSON object,
        or a report from a sensor that sensors.json does not list."""
        return any(s.field is None or s.field == "sensor" for s in self.skipped)

    def summary(self) -> str:
        s = self.stats
        rate = s.processed / self.wall_s if self.wall_s > 0 else 0.0
        unused = s.processed - s.used
        late = (f", {s.late} late ({s.retrodicted} retrodicted, {s.late_dropped} late-dropped"
                + (f" e.g. line {s.late_dropped_lines[0]}" if s.late_dropped_lines else "") + ")")
        return (f"tracked {self.out_path}: {s.used:,} of {self.n_reports:,} reports used "
                f"({unused:,} unassociated{late}), {len(self.skipped)} lines skipped, "
                f"{len(self.warnings)} warnings; {self.n_tracks} tracks ({s.continued} continued after a "
                f"loss), {self.n_records:,} records; "
                f"{self.wall_s:.1f} s wall, {rate:,.0f} reports/s")


def track_run(run_dir: str | Path, out_file: str | Path | None = None, progress: bool = False,
              config: TrackerConfig | None = None, tick_s: float = 1.0) -> TrackResult:
    """Track a run directory and write its tracks.jsonl (or ``out_file``)."""
    start = time.perf_counter()
    inp = load_run(run_dir)
    out_path = Path(out_file) if out_file is not None else Path(run_dir) / TRACKS
    tracker = Tracker(inp.sensors, config, source=inp.source)
    res = TrackResult(out_path, inp.skipped, inp.warnings, tracker.stats, n_reports=len(inp.detections))
    with open(out_path, "wb") as f, _progress(progress) as bar:
        buf: list[bytes] = []
        for pic in replay(inp, tracker, tick_s, bar):
            for rec in pic.to_records():
                buf.append(dumps_line(rec))
            res.track_ids.update(pic.ids.tolist())
            res.n_records += len(pic)
            if len(buf) >= 8192:
                f.write(b"".join(buf))
                buf.clear()
        f.write(b"".join(buf))
    res.warnings = inp.warnings + tracker.warnings.items
    res.n_tracks = len(res.track_ids)
    res.bearings_unused = tracker.bearings.unused
    res.wall_s = time.perf_counter() - start
    return res


class _progress:
    """A rich progress bar over output ticks (on stderr), or nothing."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._bar = None
        self._task = None

    def __enter__(self):
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(TextColumn("tracking"), BarColumn(),
                                 TextColumn("{task.completed}/{task.total} s"), TimeRemainingColumn(),
                                 console=Console(stderr=True), transient=True)
            self._bar.__enter__()
            self._task = self._bar.add_task("track", total=None)
        return self

    def __call__(self, done: int, total: int) -> None:
        if self._bar is not None and (done % 10 == 0 or done == total):
            self._bar.update(self._task, completed=done, total=total)

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.__exit__(*exc)
        return False
