"""The event log of a live run: every report, track update, recommendation,
decision and outcome, in one SQLite file per run.

The live loop must never wait on the disk, so ``Recorder.frame`` and
``Recorder.event`` only put Python objects on a queue; a background thread
serialises them (orjson), compresses the bulky per-tick batches (zlib) and
inserts them in batched transactions. SQLite runs in WAL mode so a replay or an
analyst can read the file while it is being written.

Layout (one file, three tables):

- ``meta(key, value)``: JSON values: scenario, epoch, seed, policy, static layers.
- ``frames(t, last_seq, tracks, threats, recommendations, counters, effectors,
  reports)``: one row per truth step; each column a zlib-compressed JSON array
  (or object) of that step's picture: all track updates (as columns: one list
  per TRACK field), the threat list, the open recommendations, counters,
  effector stock, and the step's reports (as columns too).
- ``events(seq, t, kind, ref, data)``: one row per event (recommendation,
  decision, outcome, ...), ``data`` plain JSON text so ``json_extract`` works.
  ``last_seq`` in a frame is the last event recorded before that frame, which
  places decisions taken between two steps exactly on replay.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from airshield.errors import InputError

SCHEMA_VERSION = 1
FRAME_COLUMNS = ("tracks", "threats", "recommendations", "counters", "effectors", "reports")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS frames (
    t REAL PRIMARY KEY, last_seq INTEGER NOT NULL,
    tracks BLOB, threats BLOB, recommendations BLOB, counters BLOB, effectors BLOB, reports BLOB);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY, t REAL NOT NULL, kind TEXT NOT NULL, ref TEXT, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_t ON events (t);
"""
_STOP = object()


def _default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "tolist"):
        return o.tolist()
    raise TypeError(f"cannot serialise {type(o).__name__}")


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, default=_default, option=orjson.OPT_SERIALIZE_NUMPY)


def _pack(obj: Any) -> bytes | None:
    # Level 3: about as fast as level 1 on these batches, and smaller.
    return None if obj is None else zlib.compress(dumps(obj), 3)


def to_columns(rows: list[dict]) -> dict[str, list]:
    """Track dicts -> one list per field (null where a track lacks it): a third
    smaller once compressed than the same tracks as objects."""
    keys: dict[str, None] = {}
    for d in rows:
        keys.update(dict.fromkeys(d))
    return {k: [d.get(k) for d in rows] for k in keys}


def from_columns(cols: dict[str, list] | list | None) -> list[dict]:
    """Inverse of ``to_columns``; a field that was null is left out of that track."""
    if not cols:
        return []
    if isinstance(cols, list):  # a frame written as plain rows
        return cols
    keys = list(cols)
    return [{k: v for k, v in zip(keys, vals) if v is not None} for vals in zip(*cols.values())]


def _unpack(blob: bytes | None) -> Any:
    return None if blob is None else orjson.loads(zlib.decompress(blob))


def event_ref(ev: dict) -> str | None:
    """The id an event is about (recommendation, track), for indexed look-ups."""
    for key in ("rec", "rec_id", "recommendation", "id", "track", "threat"):
        v = ev.get(key)
        if isinstance(v, (str, int)):
            return str(v)
    return None


def reports_columns(det: Any) -> dict:
    """One step's reports (``airshield.io.records.Detections``) as JSON-ready
    columns; ``sensor`` indexes the sensors in ``meta.static.sensors``."""
    return {"t": np.round(det.t, 3), "sensor": det.sensor, "kind": det.kind, "z": np.round(det.z, 7),
            "sigma": np.round(det.sigma, 4), "snr_db": np.round(det.snr_db, 1),
            "p_class": np.round(det.p_class.astype(float), 3),
            "icao24": {str(k): v for k, v in getattr(det, "icao24", {}).items()}}


class Recorder:
    """Append-only writer of one run's event log. Thread-safe, non-blocking."""

    def __init__(self, path: str | Path, meta: dict | None = None, batch_s: float = 0.25):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            raise InputError("recording already exists (choose another --record file)", file=self.path)
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._seq = 0
        self._lock = threading.Lock()
        self._batch_s = batch_s
        self.frames_written = 0
        self.events_written = 0
        self.error: BaseException | None = None
        # Open here so a bad path fails at once, in the caller, as one line.
        try:
            con = sqlite3.connect(self.path, check_same_thread=False)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            con.executescript(_SCHEMA)
        except sqlite3.Error as e:
            raise InputError(f"cannot write recording ({e})", file=self.path) from None
        self._con = con
        self._thread = threading.Thread(target=self._run, name="airshield-recorder", daemon=True)
        self._thread.start()
        self.meta({"schema": SCHEMA_VERSION, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                   **(meta or {})})

    # -- called from the live loop: O(1), never touches the disk --------------
    def meta(self, items: dict) -> None:
        self._q.put(("meta", dict(items)))

    def event(self, ev: dict, t: float) -> int:
        """Queue one event; returns its sequence number in the log."""
        with self._lock:
            self._seq += 1
            seq = self._seq
        self._q.put(("event", (seq, float(t), str(ev.get("kind", ev.get("type", "event"))), event_ref(ev), ev)))
        return seq

    def frame(self, snapshot: Any, reports: Any = None) -> None:
        """Queue one truth step's picture; its events go in with ``event``."""
        # A live chain's snapshot turns its tracker arrays into columns itself, on
        # the writer thread: the step's path builds no TRACK dicts for the log.
        columns = getattr(snapshot, "track_columns", None)
        tracks = columns if callable(columns) and getattr(snapshot, "picture", None) is not None else None
        cols = {c: getattr(snapshot, c, None) for c in FRAME_COLUMNS[1:-1]}
        cols["tracks"] = tracks if tracks is not None else getattr(snapshot, "tracks", None)
        cols["reports"] = reports if reports is not None else getattr(snapshot, "reports", None)
        self._q.put(("frame", (float(snapshot.t), self._seq, cols)))

    def close(self, timeout: float = 30.0) -> None:
        self._q.put((_STOP, None))
        self._thread.join(timeout)

    # -- writer thread ---------------------------------------------------------
    def _run(self) -> None:
        con = self._con
        stop = False
        while not stop:
            batch = [self._q.get()]
            deadline = time.monotonic() + self._batch_s
            while True:  # gather what arrives within one batch window
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    batch.append(self._q.get(timeout=left))
                except queue.Empty:
                    break
                if batch[-1][0] is _STOP:
                    break
            try:
                stop = self._write(con, batch)
            except Exception as e:  # noqa: BLE001 - kept for close() callers; the picture goes on
                self.error = e
        con.close()

    def _write(self, con: sqlite3.Connection, batch: list) -> bool:
        metas, frames, events, stop = [], [], [], False
        for kind, item in batch:
            if kind is _STOP:
                stop = True
            elif kind == "meta":
                metas.extend((k, dumps(v).decode()) for k, v in item.items())
            elif kind == "event":
                seq, t, k, ref, ev = item
                events.append((seq, t, k, ref, dumps(ev).decode()))
            else:
                t, last_seq, cols = item
                tracks = cols["tracks"]
                cols["tracks"] = tracks() if callable(tracks) else to_columns(tracks or [])
                frames.append((t, last_seq, *(_pack(cols[c]) for c in FRAME_COLUMNS)))
        with con:
            con.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", metas)
            con.executemany("INSERT OR REPLACE INTO events VALUES (?, ?, ?, ?, ?)", events)
            con.executemany(f"INSERT OR REPLACE INTO frames VALUES (?, ?, {', '.join('?' * len(FRAME_COLUMNS))})",
                            frames)
        self.frames_written += len(frames)
        self.events_written += len(events)
        return stop


@dataclass
class Frame:
    """One recorded truth step, shaped like the live chain's Snapshot."""

    t: float
    last_seq: int
    tracks: list
    threats: list
    recommendations: list
    counters: dict
    effectors: list
    reports: Any
    events: list


class Recording:
    """Read side of an event log (works while the run is still writing it)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError("no such recording", file=self.path)
        try:
            self._con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            rows = self._con.execute("SELECT key, value FROM meta").fetchall()
            self.times = np.array([r[0] for r in self._con.execute("SELECT t FROM frames ORDER BY t")], float)
        except sqlite3.DatabaseError as e:
            raise InputError(f"not an airshield recording ({e})", file=self.path) from None
        self.meta = {}
        for k, v in rows:
            try:
                self.meta[k] = orjson.loads(v)
            except orjson.JSONDecodeError:
                raise InputError("malformed JSON in meta", file=self.path, field=k) from None
        if "schema" not in self.meta:
            raise InputError("not an airshield recording (no schema in meta)", file=self.path)

    def __len__(self) -> int:
        return int(self.times.size)

    def refresh(self) -> None:
        """Pick up frames written since opening (replaying a run still going)."""
        self.times = np.array([r[0] for r in self._con.execute("SELECT t FROM frames ORDER BY t")], float)

    def index_at(self, t: float) -> int:
        """Index of the last frame at or before ``t`` (0 if ``t`` is before the first)."""
        return max(int(np.searchsorted(self.times, t, side="right")) - 1, 0)

    def frame(self, i: int, since_seq: int | None = None) -> Frame:
        """Frame ``i`` with the events recorded after ``since_seq`` (default: after
        the previous frame) up to it."""
        row = self._con.execute(f"SELECT t, last_seq, {', '.join(FRAME_COLUMNS)} FROM frames WHERE t = ?",
                                (float(self.times[i]),)).fetchone()
        if row is None:
            raise InputError(f"frame {i} vanished", file=self.path)
        t, last_seq, *blobs = row
        cols = {c: _unpack(b) for c, b in zip(FRAME_COLUMNS, blobs)}
        if since_seq is None:
            since_seq = self.last_seq(i - 1) if i > 0 else 0
        return Frame(t=t, last_seq=last_seq, events=self.events(since_seq, last_seq),
                     tracks=from_columns(cols["tracks"]), threats=cols["threats"] or [],
                     recommendations=cols["recommendations"] or [], counters=cols["counters"] or {},
                     effectors=cols["effectors"] or [], reports=cols["reports"])

    def last_seq(self, i: int) -> int:
        row = self._con.execute("SELECT last_seq FROM frames WHERE t = ?", (float(self.times[i]),)).fetchone()
        return int(row[0]) if row else 0

    def events(self, after_seq: int = 0, upto_seq: int | None = None, kind: str | None = None) -> list[dict]:
        sql, args = "SELECT data FROM events WHERE seq > ?", [after_seq]
        if upto_seq is not None:
            sql += " AND seq <= ?"
            args.append(upto_seq)
        if kind is not None:
            sql += " AND kind = ?"
            args.append(kind)
        return [orjson.loads(r[0]) for r in self._con.execute(sql + " ORDER BY seq", args)]

    def close(self) -> None:
        self._con.close()
