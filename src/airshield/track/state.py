"""All tracks as rows of a few numpy arrays.

Row ``i`` of every array is one track; rows are compacted when tracks die, so a
row number is not an identity: ``id`` is (stable for the life of a track). Each
track carries its own state time ``t`` (states are predicted lazily, only when a
report or an output tick needs them), its IMM mode states ``xm``/``Pm`` with
mode probabilities ``mu``, and the moment-matched combination ``x``/``P``.

The state vector is ECEF [x, y, z, vx, vy, vz] (m, m/s): one frame for a whole
theatre. ``lat``/``lon``/``alt`` and ``R`` (ENU->ECEF rotation at the track) are a
cache refreshed at each update: they only orient process noise and outputs, so
a few km of staleness does not matter.
"""

from __future__ import annotations

import numpy as np

from airshield import CLASSES

TENTATIVE, CONFIRMED = 0, 1
N_SOURCES = 4  # ring of the last sensors that updated a track

# name -> (trailing shape, dtype, fill); shapes with "M" get the mode count
_FIELDS: dict[str, tuple[tuple, object, float]] = {
    "id": ((), np.int64, -1),
    "x": ((6,), float, 0.0),
    "P": ((6, 6), float, 0.0),
    "xm": (("M", 6), float, 0.0),
    "Pm": (("M", 6, 6), float, 0.0),
    "mu": (("M",), float, 0.0),
    "t": ((), float, 0.0),
    "t_hit": ((), float, 0.0),
    "t_birth": ((), float, 0.0),
    "status": ((), np.int8, TENTATIVE),
    "hist": ((), np.uint32, 0),
    "n_hits": ((), np.int32, 0),
    "p_class": ((len(CLASSES),), float, np.nan),
    "icao": ((), np.int32, -1),
    "kin_due": ((), bool, True),  # updated since its last kinematic class evidence
    "lat": ((), float, 0.0),
    "lon": ((), float, 0.0),
    "alt": ((), float, 0.0),
    "R": ((3, 3), float, 0.0),
    "src": ((N_SOURCES,), np.int32, -1),
    "src_t": ((N_SOURCES,), float, -np.inf),
}


class TrackState:
    """Columns of all live tracks (``n`` rows in use, capacity grows by doubling)."""

    def __init__(self, n_modes: int, capacity: int = 256):
        self.n_modes = n_modes
        self.next_id = 1
        self._cap = 0
        self._n = 0
        self._a: dict[str, np.ndarray] = {}
        self._grow(capacity)

    @property
    def n(self) -> int:
        return self._n

    @n.setter
    def n(self, value: int) -> None:
        self._n = int(value)
        self._views()

    def _views(self) -> None:
        # each column's view of the live rows as a plain attribute: st.x is then an
        # ordinary lookup (a tracker step reads the columns thousands of times)
        d = self.__dict__
        for name, arr in self._a.items():
            d[name] = arr[: self._n]

    # -- storage --------------------------------------------------------------
    def _shape(self, shape: tuple) -> tuple:
        return tuple(self.n_modes if s == "M" else s for s in shape)

    def _grow(self, need: int) -> None:
        cap = max(need, 2 * self._cap, 16)
        for name, (shape, dtype, fill) in _FIELDS.items():
            arr = np.full((cap,) + self._shape(shape), fill, dtype)
            if name in self._a:
                arr[: self.n] = self._a[name][: self.n]
            self._a[name] = arr
        self._cap = cap
        self._views()

    def __getattr__(self, name: str) -> np.ndarray:
        # views of the live rows: writes through them change the state
        a = self.__dict__.get("_a")
        if a is not None and name in a:
            return a[name][: self.n]
        raise AttributeError(name)

    def __len__(self) -> int:
        return self.n

    def append(self, **cols: np.ndarray) -> np.ndarray:
        """Add tracks (one row per entry of each column given; others get defaults).
        Returns the new rows' indices. Ids are assigned here."""
        k = len(next(iter(cols.values())))
        if self.n + k > self._cap:
            self._grow(self.n + k)
        rows = np.arange(self.n, self.n + k)
        for name, shape_dtype_fill in _FIELDS.items():
            fill = shape_dtype_fill[2]
            self._a[name][rows] = cols[name] if name in cols else fill
        self._a["id"][rows] = np.arange(self.next_id, self.next_id + k)
        self.next_id += k
        self.n += k
        return rows

    def keep(self, mask: np.ndarray) -> None:
        """Drop the rows where ``mask`` is False (order of survivors preserved)."""
        rows = np.flatnonzero(mask)
        for arr in self._a.values():
            arr[: rows.size] = arr[rows]
        self.n = rows.size

    def pos_sigma_max(self) -> np.ndarray:
        """An upper bound on each track's position standard deviation in any
        direction (m): the square root of the trace of its position covariance."""
        d = np.diagonal(self.P[:, :3, :3], axis1=1, axis2=2)
        return np.sqrt(d.sum(axis=1))
