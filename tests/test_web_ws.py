"""The WebSocket feed: a full picture on connect, one compact message per step,
decisions and controls over the socket, and bad messages answered with an
error on the socket while the picture goes on."""

from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient
from test_web_fakechain import FakeChain

from airshield.web.app import create_app
from airshield.web.hub import FULL, Hub, encode
from airshield.web.picture import FIELDS
from airshield.web.runner import Runner


@pytest.fixture
def live():
    chain = FakeChain()
    runner = Runner(chain, Hub(chain.static_layers(), meta={"scenario": "fake"}))
    with TestClient(create_app(runner, autostart=False)) as client:
        client.portal.call(runner.step_once)
        yield client, runner


def rows_by_id(msg):
    i = msg["fields"].index("track")
    return {r[i]: dict(zip(msg["fields"], r)) for r in msg["tracks"]}


def test_full_then_ticks(live):
    client, runner = live
    with client.websocket_connect("/ws") as ws:
        full = ws.receive_json()
        assert full["type"] == "full" and full["t"] == 1.0 and full["fields"] == list(FIELDS)
        rows = rows_by_id(full)
        assert set(rows) == {f"T{i}" for i in range(1, 7)}
        assert rows["T1"]["sym"] == "shahed" and rows["T4"]["sym"] == "decoy"
        assert rows["T5"]["sym"] == "aircraft-neutral" and rows["T6"]["sym"] == "bird"
        assert [r["id"] for r in full["recommendations"]] == ["R1", "R2", "R3", "R4"]
        assert full["counters"]["live_tracks"] == 6 and full["trails"]["T1"] == [[rows["T1"]["lon"], rows["T1"]["lat"]]]
        client.portal.call(runner.step_once)
        tick = ws.receive_json()
        assert tick["type"] == "tick" and tick["t"] == 2.0 and tick["removed"] == []
        moved = rows_by_id(tick)
        # Every track flies, so every row changed; the bird at 12 m/s moved too.
        assert set(moved) == set(rows) and moved["T1"]["lat"] != rows["T1"]["lat"]
        assert len(tick["wall"]) == 2 and tick["wall"][0] <= tick["wall"][1]
        # Dead reckoning from step 1 with the row's own scale lands on step 2's position.
        r1, r2 = rows["T1"], moved["T1"]
        assert r1["lon"] + r1["ve"] * r1["dlon_m"] == pytest.approx(r2["lon"], abs=2e-6)
        assert r1["lat"] + r1["vn"] * r1["dlat_m"] == pytest.approx(r2["lat"], abs=2e-6)


def test_approve_over_the_socket_and_outcome_removes_track(live):
    client, runner = live
    with client.websocket_connect("/ws") as ws:
        ws.receive_json()
        ws.send_json({"type": "approve", "id": "R3", "by": "ops-2"})
        msgs = [ws.receive_json(), ws.receive_json()]
        kinds = {m["type"] for m in msgs}
        assert kinds == {"events", "ack"}
        ack = next(m for m in msgs if m["type"] == "ack")
        assert ack["event"]["kind"] == "approval" and ack["event"]["by"] == "ops-2"
        client.portal.call(runner.step_once)
        tick = ws.receive_json()
        assert "T3" in tick["removed"]
        out = [e for e in tick["events"] if e["kind"] == "outcome"]
        assert [(e["threat"], e["result"]) for e in out] == [("T3", "defeated")]
        assert tick["counters"]["defeated"] == 1 and tick["effectors"][0]["stock"] == 18


@pytest.mark.parametrize("raw, needle", [
    ("not json", "malformed JSON"),
    ("[1, 2]", "JSON object with a string 'type'"),
    ('{"type": 7}', "JSON object with a string 'type'"),
    ('{"type": "launch"}', "unknown message type"),
    ('{"type": "approve"}', "'id' must be"),
    ('{"type": "approve", "id": "R9"}', "no recommendation"),
    ('{"type": "approve", "id": "R1", "by": ""}', "'by' must be"),
    ('{"type": "control", "speed": -1}', "speed"),
    ('{"type": "control", "seek_t": 5}', "cannot seek"),
    ('{"type": "control", "warp": 9}', "warp"),
    ("x" * 70_000, "too long"),
])
def test_bad_messages_get_an_error_and_the_feed_goes_on(live, raw, needle):
    client, runner = live
    with client.websocket_connect("/ws") as ws:
        ws.receive_json()
        ws.send_text(raw)
        err = ws.receive_json()
        assert err["type"] == "error" and needle in err["error"]
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong", "t": 1.0}
        client.portal.call(runner.step_once)
        assert ws.receive_json()["type"] == "tick"


def test_control_and_resync(live):
    client, runner = live
    with client.websocket_connect("/ws") as ws:
        ws.receive_json()
        ws.send_json({"type": "control", "speed": 8, "paused": True})
        got = [ws.receive_json(), ws.receive_json()]  # the broadcast clock, then the reply
        assert all(m["type"] == "clock" and m["clock"]["speed"] == 8.0 and m["clock"]["paused"] for m in got)
        ws.send_json({"type": "resync"})
        assert ws.receive_json()["type"] == "full"


def test_slow_client_gets_one_full_picture_instead_of_a_backlog():
    chain = FakeChain()
    hub = Hub(chain.static_layers())

    async def go():
        c = hub.subscribe(maxsize=3)
        assert c.queue.get_nowait() is FULL
        for _ in range(10):  # ten steps while the client reads nothing
            hub.broadcast(hub.ingest(chain.step()))
        return [c.queue.get_nowait() for _ in range(c.queue.qsize())], c.resyncs

    queued, resyncs = asyncio.run(go())
    assert resyncs >= 1 and len(queued) <= 3
    assert FULL in queued  # it will be sent the current picture, then later steps
    full = hub.full()
    assert full["t"] == 10.0 and len(full["trails"]["T1"]) == 10


def test_messages_are_compact():
    chain = FakeChain(n_hostile=200, duration_s=None)
    hub = Hub(chain.static_layers())
    hub.ingest(chain.step())
    tick = encode(hub.ingest(chain.step()))
    # ~200 tracks: a row is a short list, not a dict of a dozen named fields.
    assert len(tick) / 202 < 400


def test_engagements_in_flight_are_followed_until_their_outcome():
    hub = Hub(FakeChain().static_layers())
    hub.ingest(FakeChain().step())
    msg = hub.add_events([{"type": "engagement", "id": "G7", "rec": "R1", "effector": "gun-1", "threat": "T1",
                           "shots": 2, "t_intercept": 40.0}])
    assert msg["engagements"] == [{"id": "G7", "rec": "R1", "effector": "gun-1", "threat": "T1", "shots": 2,
                                   "t_intercept": 40.0}]
    assert hub.full()["engagements"] == msg["engagements"]
    msg = hub.add_events([{"type": "outcome", "engagement": "G7", "rec": "R1", "threat": "T1", "result": "missed"}])
    assert msg["engagements"] == [] and msg["events"][0]["lat"] is not None


def test_full_picture_keeps_decisions_over_planner_chatter():
    hub = Hub(FakeChain().static_layers())
    hub.ingest(FakeChain().step())
    hub.add_events([{"type": "approval", "rec": "R1", "by": "op"}])
    hub.add_events([{"type": k, "id": f"R{i}"} for i in range(400) for k in ("recommendation", "withdrawn")])
    kinds = [e["kind"] for e in hub.full()["events"]]
    assert kinds.count("approval") == 1 and len(kinds) == 51
    seqs = [e["seq"] for e in hub.full()["events"]]
    assert seqs == sorted(seqs)
    epoch = hub.full()["epoch"]
    hub.reset()
    assert hub.full()["epoch"] == epoch + 1 and hub.full()["events"] == []


def test_binary_frames_and_floods_never_stop_the_feed(live):
    client, runner = live
    with client.websocket_connect("/ws") as ws:
        ws.receive_json()
        ws.send_bytes(b'{"type": "ping"}')
        err = ws.receive_json()
        assert err["type"] == "error" and "text frames" in err["error"]
        for raw in ("{", "null", '{"type": "approve", "id": ["R1"]}', '{"type": "control", "paused": "maybe"}'):
            ws.send_text(raw)
            assert ws.receive_json()["type"] == "error"
        client.portal.call(runner.step_once)
        tick = ws.receive_json()
        assert tick["type"] == "tick" and tick["t"] == 2.0 and len(tick["tracks"]) == 6
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong", "t": 2.0}
