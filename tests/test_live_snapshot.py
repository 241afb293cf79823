"""A live step's tracks go to the display and the recorder straight from the
tracker's arrays: the same rows and records as through TRACK dicts."""

from __future__ import annotations

import pytest

from airshield.live import Chain
from airshield.live.snapshot import THREAT_KEYS
from airshield.record import Recorder, Recording, from_columns
from airshield.sim.scenario import load_scenario_text
from airshield.web.picture import FIELDS, home_nations, picture_rows, track_rows

from test_live_chain import SMALL


# the display's rounding step of each row field
STEP = {"lon": 1e-6, "lat": 1e-6, "alt": 1.0, "ve": 0.1, "vn": 0.1, "vu": 0.1, "conf": 1e-3,
        "ell_a": 0.1, "ell_b": 0.1, "ell_deg": 0.1, "tti": 0.1}


@pytest.fixture(scope="module")
def snaps():
    c = Chain(load_scenario_text(SMALL, "small.yaml"), seed=3, duration_s=160)
    out = []
    while not c.finished:
        out.append((c.step(dt=20.0), c))
    return [s for s, _ in out], c


def test_tracks_are_the_pictures_records_with_their_threats(snaps):
    snap = snaps[0][-1]
    assert len(snap.tracks) == len(snap.picture) > 0
    assert any("threat" in d for d in snap.tracks)
    for d, rec in zip(snap.tracks, snap.picture.to_records()):
        d = dict(d)
        th = d.pop("threat", None)
        assert d == rec
        if th is not None:
            assert set(th) == set(THREAT_KEYS) and th == snap.threat_of[d["track"]]


def test_rows_from_arrays_match_rows_from_dicts(snaps):
    snapshots, chain = snaps
    home = home_nations(chain.static_layers())
    n = 0
    for snap in snapshots:
        fast = picture_rows(snap.picture, snap.threat_of, home)
        slow = track_rows(snap.tracks, home)
        assert len(fast) == len(slow)
        for a, b in zip(fast, slow):
            for f, x, y in zip(FIELDS, a, b):
                if isinstance(x, float) and isinstance(y, float):
                    # rounded once here, twice (records, then display) the slow way:
                    # at most one unit of the display's last digit apart
                    assert x == pytest.approx(y, rel=1e-5, abs=1.001 * STEP.get(f, 0.0)), f
                else:
                    assert x == y, f
            n += 1
    assert n > 10


def test_recorder_writes_the_same_tracks_from_arrays(snaps, tmp_path):
    snapshots, chain = snaps
    path = tmp_path / "run.sqlite"
    rec = Recorder(path, meta={"scenario": "small"})
    for snap in snapshots:
        rec.frame(snap)
    rec.close()
    replay = Recording(path)
    assert len(replay.times) == len(snapshots)
    for i, snap in enumerate(snapshots):
        assert replay.frame(i).tracks == snap.tracks
