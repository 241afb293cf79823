"""Every HTTP endpoint of the live picture, the good answers and the 4xx ones,
against the deterministic fake chain (exact ids and outcomes)."""

from __future__ import annotations

import math

import pytest
from fastapi.testclient import TestClient
from test_web_fakechain import FakeChain

from airshield import geo
from airshield.web.app import create_app
from airshield.web.hub import Hub
from airshield.web.runner import Runner


def make_client(chain=None, **kw):
    chain = chain or FakeChain()
    runner = Runner(chain, Hub(chain.static_layers(), meta={"scenario": "fake"}), **kw)
    return TestClient(create_app(runner, autostart=False)), runner


@pytest.fixture
def api():
    client, runner = make_client()
    with client:
        client.portal.call(runner.step_once)
        yield client, runner


def step(client, runner, n=1):
    for _ in range(n):
        client.portal.call(runner.step_once)


def test_health(api):
    client, runner = api
    r = client.get("/api/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["mode"] == "live" and body["t"] == 1.0
    assert body["live_tracks"] == 6 and body["steps"] == 1


def test_tracks_is_geojson_with_track_fields(api):
    client, runner = api
    fc = client.get("/api/tracks").json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 6
    chain = runner.source
    f = next(f for f in fc["features"] if f["properties"]["track"] == "T1")
    p = f["properties"]
    for k in ("t", "track", "lat", "lon", "alt", "ve", "vn", "vu", "status", "class", "p_class", "cov_pos_enu"):
        assert k in p
    assert f["geometry"]["type"] == "Point"
    lon, lat, alt = f["geometry"]["coordinates"]
    # The fake's own truth, converted independently: the API moves nothing.
    la, lo, al = geo.enu_to_geodetic(chain.e[0], chain.n[0], chain.alt[0], 50.45, 30.52, 0.0)
    assert lat == pytest.approx(float(la), abs=1e-9) and lon == pytest.approx(float(lo), abs=1e-9)
    assert alt == pytest.approx(float(al), abs=1e-6)
    assert p["threat"]["tti_s"] > 0 and p["threat"]["target"] == "city"


def test_tracks_filters(api):
    client, _ = api
    hostile = client.get("/api/tracks", params={"class": "shahed"}).json()["features"]
    assert sorted(f["properties"]["track"] for f in hostile) == ["T1", "T2", "T3"]
    box = client.get("/api/tracks", params={"bbox": "30.0,50.0,31.0,51.0"}).json()["features"]
    far = client.get("/api/tracks", params={"bbox": "0,0,1,1"}).json()["features"]
    assert len(box) == 6 and far == []


@pytest.mark.parametrize("params, field", [
    ({"class": "ufo"}, "query.class"), ({"status": "lost"}, "query.status"),
    ({"bbox": "1,2,3"}, "query.bbox"), ({"bbox": "a,b,c,d"}, "query.bbox"), ({"bbox": "5,0,1,1"}, "query.bbox"),
])
def test_tracks_bad_queries_are_422(api, params, field):
    client, _ = api
    r = client.get("/api/tracks", params=params)
    assert r.status_code == 422 and r.json()["error"].startswith(field)


def test_static_layers_have_coverage_and_assets(api):
    client, _ = api
    s = client.get("/api/static").json()
    assert [x["id"] for x in s["sensors"]] == ["radar-1"] and s["home_nations"] == ["UA"]
    ring = s["coverage"]["features"][0]["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) == 97
    d = geo.geodesic_distance_m(50.60, 30.45, [p[1] for p in ring], [p[0] for p in ring])
    assert d == pytest.approx(60_000.0, rel=1e-4)  # a true 60 km geodesic circle
    assert s["asset_areas"]["features"][0]["properties"]["name"] == "city"
    assert s["effectors"][0]["id"] == "gun-1" and s["meta"]["scenario"] == "fake"


def test_threats_ordered_by_time_to_impact(api):
    client, _ = api
    th = client.get("/api/threats").json()
    tti = [x["tti_s"] for x in th["threats"]]
    assert th["total"] == 4 and tti == sorted(tti)
    assert len(client.get("/api/threats", params={"limit": 2}).json()["threats"]) == 2
    assert client.get("/api/threats", params={"limit": 0}).status_code == 422
    assert client.get("/api/threats", params={"limit": "many"}).status_code == 422


def test_approve_carries_out_the_engagement(api):
    client, runner = api
    recs = client.get("/api/recommendations").json()["recommendations"]
    assert sorted(r["id"] for r in recs) == ["R1", "R2", "R3", "R4"]
    r = client.post("/api/recommendations/R2/approve", json={"by": "duty officer"})
    assert r.status_code == 200
    ev = r.json()["event"]
    assert ev["kind"] == "approval" and ev["rec"] == "R2" and ev["by"] == "duty officer" and ev["seq"] == 5
    # Shown as decided at once; carried out (and closed) by the next step.
    assert {r["id"]: r["status"] for r in client.get("/api/recommendations").json()["recommendations"]}["R2"] \
        == "approved"
    step(client, runner)
    ids = [f["properties"]["track"] for f in client.get("/api/tracks").json()["features"]]
    assert "T2" not in ids
    outcome = client.get("/api/events", params={"kind": "outcome"}).json()["events"]
    assert [(e["threat"], e["result"]) for e in outcome] == [("T2", "defeated")]
    # The chain echoes the approval in its next step's events: logged once, not twice.
    kinds = [e["kind"] for e in client.get("/api/events", params={"since": 4}).json()["events"]]
    assert kinds == ["approval", "engagement", "outcome"]
    assert outcome[0]["lat"] is not None  # placed where the track was, for the map
    assert client.get("/api/health").json()["live_tracks"] == 5
    assert "R2" not in [r["id"] for r in client.get("/api/recommendations").json()["recommendations"]]
    assert runner.hub.counters["defeated"] == 1 and runner.hub.counters["money_spent"] == 8000.0


def test_reject_and_decision_errors(api):
    client, _ = api
    ev = client.post("/api/recommendations/R1/reject").json()["event"]
    assert ev["kind"] == "rejection" and ev["by"] == "operator"
    r = client.post("/api/recommendations/R1/approve")
    assert r.status_code == 409 and "already rejected" in r.json()["error"]
    r = client.post("/api/recommendations/R99/approve")
    assert r.status_code == 404 and "R99" in r.json()["error"]
    assert client.post("/api/recommendations/R3/launch").status_code == 404
    assert client.post("/api/recommendations/R3/approve", json={"by": ""}).status_code == 422
    assert client.post("/api/recommendations/R3/approve", json={"by": "x", "shots": 9}).status_code == 422


def test_events_since(api):
    client, runner = api
    allev = client.get("/api/events").json()
    assert allev["last_seq"] == 4 and [e["kind"] for e in allev["events"]] == ["recommendation"] * 4
    assert [e["seq"] for e in client.get("/api/events", params={"since": 2}).json()["events"]] == [3, 4]
    assert client.get("/api/events", params={"since": 4}).json()["events"] == []
    assert len(client.get("/api/events", params={"limit": 1}).json()["events"]) == 1
    r = client.get("/api/events", params={"since": -1})
    assert r.status_code == 422 and r.json()["error"].startswith("query.since")
    assert client.get("/api/events", params={"since": "yesterday"}).status_code == 422


def test_clock_and_control(api):
    client, runner = api
    c = client.get("/api/clock").json()
    assert c["t"] == 1.0 and c["mode"] == "live" and c["speed"] == 1.0 and not c["seekable"]
    c = client.post("/api/control", json={"speed": 30, "paused": True}).json()
    assert c["speed"] == 30.0 and c["paused"] is True and runner.speed == 30.0 and runner.paused
    for body in ({"speed": 0}, {"speed": -2}, {"speed": 5000}, {"paused": "maybe"}, {"warp": 9}):
        r = client.post("/api/control", json=body)
        assert r.status_code == 422, body
        assert r.json()["error"]
    r = client.post("/api/control", json={"seek_t": 10})
    assert r.status_code == 409 and "cannot seek" in r.json()["error"]


def test_leak_is_logged_at_the_asset_it_hit():
    client, runner = make_client(FakeChain(n_hostile=2))
    with client:
        step(client, runner, 100)  # T1 starts 6 km out at 50 m/s: it arrives within 100 s
        ev = client.get("/api/events", params={"kind": "impact"}).json()["events"]
        assert [(e["asset"], e["lat"], e["lon"]) for e in ev] == [("city", 50.45, 30.52)]
        assert runner.hub.counters["leaked"] == 1


def test_page_and_static_files_are_served(api):
    client, _ = api
    page = client.get("/")
    assert page.status_code == 200 and "app.js" in page.text and "maplibre-gl.js" in page.text
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/nothing-here.js").status_code == 404


def test_runner_paces_steps_to_the_requested_speed():
    client, runner = make_client(FakeChain(duration_s=None), speed=40.0)
    with client:
        import time

        t0 = time.monotonic()
        task = client.portal.start_task_soon(runner.run)
        while runner.source.t < 20 and time.monotonic() - t0 < 10:
            time.sleep(0.01)
        wall = time.monotonic() - t0
        task.cancel()
    # 20 scenario seconds at 40x take half a wall second; allow for a busy machine.
    assert runner.source.t >= 20 and 0.4 <= wall < 3.0
    assert math.isclose(runner.dt, 1.0)


class Broken(FakeChain):
    def step(self, dt=None):
        if self.t >= 3:
            raise RuntimeError("tracker exploded")
        return super().step(dt)


def test_a_failing_step_pauses_the_picture_and_health_says_so():
    client, runner = make_client(Broken(), speed=1000)
    with client:
        with client.websocket_connect("/ws") as ws:
            assert ws.receive_json()["type"] == "full"
            task = client.portal.start_task_soon(runner.run)
            msgs = [ws.receive_json() for _ in range(4)]
            assert [m["type"] for m in msgs[:3]] == ["tick"] * 3
            assert msgs[3]["type"] == "error" and msgs[3]["fatal"] and "tracker exploded" in msgs[3]["error"]
            h = client.get("/api/health").json()
            assert h["status"] == "error" and "t=3s" in h["error"] and h["t"] == 3.0
            assert client.get("/api/clock").json()["paused"] is True
            assert len(client.get("/api/tracks").json()["features"]) == 6  # the last picture stays up
            task.cancel()


def test_malformed_bodies_are_422_and_the_picture_goes_on(api):
    client, runner = api
    for path, body in [("/api/control", b"not json"), ("/api/control", b"[1, 2]"), ("/api/control", b'{"speed": "fast"}'),
                       ("/api/recommendations/R1/approve", b"{"), ("/api/recommendations/R1/approve", b'"ops"'),
                       ("/api/recommendations/R1/approve", b'{"by": "' + b"x" * 65 + b'"}')]:
        r = client.post(path, content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 422, (path, body, r.text)
        assert isinstance(r.json()["error"], str) and r.json()["error"], (path, body)
    for path, params in [("/api/threats", {"limit": -3}), ("/api/events", {"limit": 0}),
                         ("/api/tracks", {"bbox": "nan,0,1,1"}), ("/api/tracks", {"bbox": ""})]:
        r = client.get(path, params=params)
        assert r.status_code == 422 and r.json()["error"], (path, params)
    assert client.get("/api/nowhere").status_code == 404
    step(client, runner)
    h = client.get("/api/health").json()
    assert h["status"] == "ok" and h["t"] == 2.0 and h["steps"] == 2
    assert [r["id"] for r in client.get("/api/recommendations").json()["recommendations"]] == ["R1", "R2", "R3", "R4"]


def test_server_binds_loopback_unless_told(monkeypatch):
    import uvicorn
    from typer.testing import CliRunner

    from airshield.cli import app

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app_, **kw: seen.update(kw))
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = CliRunner().invoke(app, ["demo", "--no-record", "--port", str(port)])
    assert res.exit_code == 0, res.output
    assert seen["host"] == "127.0.0.1" and seen["port"] == port
