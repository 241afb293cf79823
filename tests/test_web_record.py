"""The event log (SQLite, WAL, background writer) and replay from it: what goes
in comes back out, decisions land between the right steps, the writer never
holds up the live loop, and bad files are one-line errors."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from test_web_fakechain import FakeChain
from typer.testing import CliRunner

from airshield.cli import app as cli_app
from airshield.errors import InputError
from airshield.record import Recorder, Recording, from_columns, to_columns
from airshield.web import serve
from airshield.web.app import create_app
from airshield.web.replay import ReplaySource


def record_run(path, steps=30, approve_at=5, rec="R2"):
    """A fake live run of ``steps`` steps, approving ``rec`` after step ``approve_at``."""
    chain = FakeChain(duration_s=steps)
    runner = serve.build_live("fake", record=path, chain_factory=lambda *a, **k: chain)
    msgs = []

    async def go():
        while not chain.finished:
            msgs.append(await runner.step_once())
            if chain.t == approve_at:
                await runner.decide(rec, "approve", "tester")

    asyncio.run(go())
    serve.close(runner)
    return runner, msgs


def test_round_trip(tmp_path):
    path = tmp_path / "run.sqlite"
    runner, msgs = record_run(path)
    assert runner.recorder.error is None and runner.recorder.frames_written == 30
    rec = Recording(path)
    assert len(rec) == 30 and rec.times.tolist() == [float(k) for k in range(1, 31)]
    assert rec.meta["scenario"] == "fake" and rec.meta["static"]["sensors"][0]["id"] == "radar-1"
    f = rec.frame(9)  # t = 10
    live_ids = sorted(r[0] for r in runner.hub.rows.values())
    assert f.t == 10.0 and f.counters["defeated"] == 1
    assert "T2" not in [d["track"] for d in f.tracks]
    last = rec.frame(29)
    assert sorted(d["track"] for d in last.tracks) == live_ids
    assert last.tracks[0]["cov_pos_enu"] == [400.0, 50.0, 0.0, 50.0, 100.0, 0.0, 0.0, 0.0, 900.0]
    # Reports of each step, as columns: one per live object in the fake.
    assert len(last.reports["t"]) == len(last.tracks) and last.reports["kind"] == [1] * len(last.tracks)
    # The approval after step 5 is replayed with step 6, once (the chain's echo is not logged twice),
    # followed by the engagement and, at step 6, the outcome.
    f6 = rec.frame(5)
    assert [(e["type"], e.get("rec")) for e in f6.events] == [
        ("approval", "R2"), ("engagement", "R2"), ("outcome", "R2")]
    assert [e["type"] for e in rec.frame(0).events] == ["recommendation"] * 4
    assert rec.events(kind="approval")[0]["by"] == "tester"


def test_wal_and_sql_queryable(tmp_path):
    path = tmp_path / "run.sqlite"
    record_run(path, steps=8)
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    n = con.execute("SELECT count(*) FROM events WHERE json_extract(data, '$.result') = 'defeated'").fetchone()[0]
    assert n == 1
    assert con.execute("SELECT ref FROM events WHERE kind = 'approval'").fetchone()[0] == "R2"


def test_writer_never_blocks_the_live_loop(tmp_path, monkeypatch):
    gate = threading.Event()
    real = Recorder._write

    def slow_write(self, con, batch):
        gate.wait(20)  # a disk that stalls
        return real(self, con, batch)

    monkeypatch.setattr(Recorder, "_write", slow_write)
    r = Recorder(tmp_path / "r.sqlite", meta={"static": {}})
    chain = FakeChain(duration_s=None)
    done = threading.Event()

    def live_loop():
        for _ in range(50):
            snap = chain.step()
            for ev in snap.events:
                r.event(ev, snap.t)
            r.frame(snap)
        done.set()

    threading.Thread(target=live_loop, daemon=True).start()
    assert done.wait(10), "the live loop waited on the stalled writer"
    gate.set()
    r.close()
    assert r.error is None and len(Recording(tmp_path / "r.sqlite")) == 50


def test_bad_files_are_one_line_errors(tmp_path):
    with pytest.raises(InputError, match="no such recording"):
        Recording(tmp_path / "missing.sqlite")
    junk = tmp_path / "junk.sqlite"
    junk.write_text("this is not a database\n" * 100)
    with pytest.raises(InputError, match="not an airshield recording"):
        Recording(junk)
    empty = tmp_path / "empty.sqlite"
    sqlite3.connect(empty).execute("CREATE TABLE x (a)").connection.close()
    with pytest.raises(InputError, match="not an airshield recording"):
        Recording(empty)
    Recorder(tmp_path / "taken.sqlite").close()
    with pytest.raises(InputError, match="already exists"):
        Recorder(tmp_path / "taken.sqlite")
    res = CliRunner().invoke(cli_app, ["replay", str(junk), "--headless"])
    assert res.exit_code == 2 and "not an airshield recording" in res.output
    assert "Traceback" not in res.output


def test_replay_serves_the_same_picture_with_pause_seek_speed(tmp_path):
    path = tmp_path / "run.sqlite"
    record_run(path)
    runner = serve.build_replay(path, speed=5)
    with TestClient(create_app(runner, autostart=False)) as client:
        c = client.get("/api/clock").json()
        assert c["mode"] == "replay" and c["seekable"] and c["duration_s"] == 30.0 and c["start_t"] == 1.0
        for _ in range(3):
            client.portal.call(runner.step_once)
        assert client.get("/api/health").json()["t"] == 3.0
        fc = client.get("/api/tracks").json()
        assert len(fc["features"]) == 6 and fc["t"] == 3.0
        with client.websocket_connect("/ws") as ws:
            assert ws.receive_json()["type"] == "full"
            c = client.post("/api/control", json={"seek_t": 20, "paused": True}).json()
            assert c["t"] == 20.0 and c["paused"]
            msgs = [ws.receive_json(), ws.receive_json()]
            full = next(m for m in msgs if m["type"] == "full")
            assert full["t"] == 20.0 and "T2" not in [r[0] for r in full["tracks"]]
            # After a seek the log holds every event up to that time, in order.
            kinds = [e["kind"] for e in full["events"]]
            assert kinds[:4] == ["recommendation"] * 4 and "outcome" in kinds
        r = client.post("/api/recommendations/R1/approve")
        assert r.status_code == 409 and "read-only" in r.json()["error"]
        assert client.post("/api/control", json={"speed": 60}).json()["speed"] == 60.0
        client.post("/api/control", json={"seek_t": 2})
        assert client.get("/api/clock").json()["t"] == 2.0
        client.portal.call(runner.step_once)
        assert client.get("/api/clock").json()["t"] == 3.0


def test_replay_source_walks_to_the_end(tmp_path):
    path = tmp_path / "run.sqlite"
    record_run(path, steps=6)
    src = ReplaySource(path)
    ts = []
    while not src.finished:
        ts.append(src.step().t)
    assert ts == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]


def test_headless_prints_status_lines(tmp_path, capsys):
    chain = FakeChain(duration_s=40)
    runner = serve.build_live("fake", speed=1000, record=tmp_path / "h.sqlite",
                              chain_factory=lambda *a, **k: chain)
    lines = []
    serve.headless(runner, lines.append, every_s=0.05)
    assert lines[-1].startswith("t=     40s") and lines[-1].endswith("(finished)")
    assert "live tracks" in lines[0] and "money spent $" in lines[0]
    assert len(Recording(tmp_path / "h.sqlite")) == 40


_value = st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=5),
                   st.lists(st.floats(-1e6, 1e6), max_size=9))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.text(min_size=1, max_size=6),
                          st.dictionaries(st.sampled_from(["lat", "lon", "class", "cov_pos_enu", "threat"]), _value)),
                max_size=20))
def test_track_columns_round_trip(items):
    rows = [{"track": tid, **fields} for tid, fields in items]  # every track has its id, fields vary
    assert from_columns(orjson.loads(orjson.dumps(to_columns(rows)))) == rows
