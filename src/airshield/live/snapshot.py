"""One step of the live chain as the display and the recorder take it.

A step's tracks stay the tracker's arrays (``Picture``) plus each threat's
assessment: the live server builds its compact rows and the recorder its
columns straight from them, so the picture's path never builds a thousand
track dicts. ``Snapshot.tracks`` (contract TRACK dicts, with ``threat``) is
built on first use, for the API and for whoever else reads a snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from airshield import CLASSES
from airshield.io.records import TRACK_STATUS
from airshield.track.picture import Picture

THREAT_KEYS = ("target", "p_target", "tti_s", "expected_loss")


def track_ids(pic: Picture) -> list[str]:
    return [f"T{i}" for i in pic.ids.tolist()]


def track_columns(pic: Picture, threat_of: dict[str, dict]) -> dict[str, list]:
    """Contract TRACK fields as one list per field (None where a track lacks
    one), the same values as ``Picture.to_records`` plus each track's ``threat``."""
    ids = track_ids(pic)
    n = len(ids)
    vel = np.round(pic.vel_enu, 2)
    best = np.argmax(pic.p_class, axis=1) if n else np.zeros(0, int)
    pc = np.round(pic.p_class, 4).tolist()
    return {
        "t": [round(pic.t, 3)] * n, "track": ids,
        "lat": np.round(pic.lat, 7).tolist(), "lon": np.round(pic.lon, 7).tolist(),
        "alt": np.round(pic.alt, 1).tolist(),
        "ve": vel[:, 0].tolist(), "vn": vel[:, 1].tolist(), "vu": vel[:, 2].tolist(),
        "status": [TRACK_STATUS[s] for s in pic.status.tolist()],
        "class": [CLASSES[b] for b in best.tolist()],
        "p_class": [dict(zip(CLASSES, p)) for p in pc],
        "cov_pos_enu": np.round(pic.cov_enu.reshape(-1, 9), 1).tolist(),
        "sources": pic.sources,
        "icao24": pic.icao,
        "threat": [threat_of.get(i) for i in ids],
    }


@dataclass(eq=False)
class Snapshot:
    """The picture now and what changed since the last snapshot. Give either
    ``picture`` (with ``threat_of``: track id -> its threat's THREAT_KEYS) or
    ``tracks`` (a list of TRACK dicts)."""

    t: float
    picture: Picture | None
    threat_of: dict[str, dict]
    threats: list[dict]
    recommendations: list[dict]
    events: list[dict]
    counters: dict
    effectors: list[dict]
    _tracks: list[dict] | None = field(default=None, repr=False)

    @property
    def tracks(self) -> list[dict]:
        if self._tracks is None:
            if self.picture is None:
                self._tracks = []
            else:
                cols = track_columns(self.picture, self.threat_of)
                keys = list(cols)
                self._tracks = [{k: v for k, v in zip(keys, vals) if v is not None}
                                for vals in zip(*cols.values())]
        return self._tracks

    def track_columns(self) -> dict[str, list] | None:
        """The tracks as columns (for the recorder), None when given as dicts."""
        return None if self.picture is None else track_columns(self.picture, self.threat_of)
