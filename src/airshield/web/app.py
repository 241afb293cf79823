"""The HTTP and WebSocket face of the live picture (FastAPI).

Every bad request gets a 4xx with one readable line in ``error``; nothing a
client sends can stop the runner.
"""

from __future__ import annotations

import asyncio
import contextlib
from importlib import resources
from pathlib import Path
from typing import Annotated, Optional

import orjson
from fastapi import Body, FastAPI, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from airshield import CLASSES, __version__
from airshield.web.hub import FULL, encode
from airshield.web.picture import track_feature
from airshield.web.runner import ReadOnly, Runner

MAX_WS_MESSAGE = 64 * 1024


def static_dir() -> Path:
    return Path(str(resources.files("airshield.web") / "static"))


def assets_ready() -> bool:
    """True when ``make`` has copied the npm front-end libraries into static/vendor."""
    v = static_dir() / "vendor"
    return all((v / f).is_file() for f in ("maplibre-gl.js", "maplibre-gl.css", "milsymbol.js",
                                             "topojson-client.min.js", "countries-50m.json"))


class ORJSON(JSONResponse):
    def render(self, content) -> bytes:
        return encode(content).encode()


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: str = Field("operator", min_length=1, max_length=64)


class Control(BaseModel):
    model_config = ConfigDict(extra="forbid")
    paused: Optional[bool] = None
    speed: Optional[float] = Field(None, gt=0, le=1000)
    seek_t: Optional[float] = None


def _error(status: int, message: str) -> ORJSON:
    return ORJSON({"error": message}, status_code=status)


def _validation_text(exc: RequestValidationError) -> str:
    parts = []
    for e in exc.errors():
        where = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "request"
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    return "; ".join(parts)


def create_app(runner: Runner, *, autostart: bool = True) -> FastAPI:
    """The app for one runner. ``autostart=False`` leaves stepping to the caller (tests)."""
    hub = runner.hub

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        task = asyncio.create_task(runner.run()) if autostart else None
        app.state.task = task
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(title="airshield live picture", version=__version__, lifespan=lifespan,
                  default_response_class=ORJSON)
    app.state.runner = runner

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError):
        return ORJSON({"error": _validation_text(exc), "detail": exc.errors()}, status_code=422)

    @app.get("/", include_in_schema=False)
    async def index():
        return FileResponse(static_dir() / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=static_dir()), name="static")

    @app.get("/api/health")
    async def health():
        return {"status": "ok" if runner.error is None else "error", "error": runner.error,
                "version": __version__, "mode": hub.mode, "t": hub.clock["t"],
                "finished": hub.clock["finished"], "steps": hub.steps, "live_tracks": len(hub.rows),
                "clients": len(hub.clients), "assets": assets_ready(), "scenario": hub.meta.get("scenario")}

    @app.get("/api/tracks")
    async def tracks(cls: Annotated[Optional[str], Query(alias="class")] = None,
                     status: Optional[str] = None, bbox: Optional[str] = None):
        """GeoJSON FeatureCollection: one Point per live track, TRACK fields as properties."""
        if cls is not None and cls not in CLASSES:
            return _error(422, f"query.class: unknown class {cls!r} (one of {', '.join(CLASSES)})")
        if status is not None and status not in ("confirmed", "coasting"):
            return _error(422, f"query.status: {status!r} is not confirmed or coasting")
        box = None
        if bbox is not None:
            try:
                box = [float(x) for x in bbox.split(",")]
                if len(box) != 4 or not (box[0] <= box[2] and box[1] <= box[3]):
                    raise ValueError
            except ValueError:
                return _error(422, f"query.bbox: {bbox!r} is not west,south,east,north in degrees")
        feats = []
        for d in hub.tracks.values():
            if cls is not None and d.get("class") != cls or status is not None and d.get("status") != status:
                continue
            if box is not None and not (box[0] <= d["lon"] <= box[2] and box[1] <= d["lat"] <= box[3]):
                continue
            feats.append(track_feature(d))
        return {"type": "FeatureCollection", "t": hub.t, "features": feats}

    @app.get("/api/static")
    async def static_layers():
        return {**hub.static, "meta": hub.meta}

    @app.get("/api/threats")
    async def threats(limit: Annotated[int, Query(ge=1, le=100_000)] = 1000):
        return {"t": hub.t, "total": len(hub.threats), "threats": hub.threats[:limit]}

    @app.get("/api/recommendations")
    async def recommendations():
        return {"t": hub.t, "recommendations": hub.recommendations}

    @app.post("/api/recommendations/{rec_id}/{verdict}")
    async def decide(rec_id: str, verdict: str, body: Annotated[Optional[Decision], Body()] = None):
        if verdict not in ("approve", "reject"):
            return _error(404, f"no action {verdict!r} (approve or reject)")
        try:
            ev = await runner.decide(rec_id, verdict, (body or Decision()).by)
        except KeyError:
            return _error(404, f"no recommendation {rec_id!r}")
        except ReadOnly as e:
            return _error(409, str(e))
        except ValueError as e:
            return _error(409, f"recommendation {rec_id!r}: {e}")
        return {"event": ev}

    @app.get("/api/events")
    async def events(since: Annotated[int, Query(ge=0)] = 0,
                     limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
                     kind: Optional[str] = None):
        evs = hub.events_since(since, limit, kind)
        return {"t": hub.t, "last_seq": hub.seq, "events": evs}

    @app.get("/api/clock")
    async def clock():
        return hub.clock

    @app.post("/api/control")
    async def control(body: Control):
        try:
            return runner.control(paused=body.paused, speed=body.speed, seek_t=body.seek_t)
        except ReadOnly as e:
            return _error(409, str(e))
        except ValueError as e:
            return _error(422, str(e))

    @app.websocket("/ws")
    async def ws(sock: WebSocket):
        await sock.accept()
        client = hub.subscribe()
        sender = asyncio.create_task(_send_loop(sock, client, hub))
        try:
            while True:
                m = await sock.receive()
                if m["type"] == "websocket.disconnect":
                    break
                text = m.get("text")
                if text is None:  # a binary frame: answered, never fatal
                    reply = {"type": "error", "error": "send messages as JSON text frames, not binary"}
                else:
                    reply = await _handle(text, runner)
                client.offer(reply if reply is FULL else encode(reply))
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            hub.unsubscribe(client)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender

    return app


async def _send_loop(sock: WebSocket, client, hub) -> None:
    while True:
        item = await client.queue.get()
        if item is FULL:
            item = encode(hub.full())
        await sock.send_text(item)


async def _handle(text: str, runner: Runner):
    """One message from a client; returns the reply (an error never closes the socket)."""
    if len(text) > MAX_WS_MESSAGE:
        return {"type": "error", "error": f"message too long ({len(text)} > {MAX_WS_MESSAGE} characters)"}
    try:
        msg = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        return {"type": "error", "error": f"malformed JSON: {e}"}
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        return {"type": "error", "error": "a message is a JSON object with a string 'type'"}
    kind = msg["type"]
    try:
        if kind == "ping":
            return {"type": "pong", "t": runner.hub.t}
        if kind == "resync":
            return FULL
        if kind in ("approve", "reject"):
            rec = msg.get("id")
            if not isinstance(rec, (str, int)):
                return {"type": "error", "error": f"{kind}: 'id' must be a recommendation id"}
            by = msg.get("by", "operator")
            if not isinstance(by, str) or not 0 < len(by) <= 64:
                return {"type": "error", "error": f"{kind}: 'by' must be a name of 1 to 64 characters"}
            ev = await runner.decide(str(rec), kind, by)
            return {"type": "ack", "request": kind, "id": str(rec), "event": ev}
        if kind == "control":
            c = Control.model_validate({k: v for k, v in msg.items() if k != "type"})
            return {"type": "clock", "clock": runner.control(paused=c.paused, speed=c.speed, seek_t=c.seek_t)}
        return {"type": "error", "error": f"unknown message type {kind!r} (ping, resync, approve, reject, control)"}
    except KeyError:
        return {"type": "error", "error": f"{kind}: no recommendation {msg.get('id')!r}"}
    except ReadOnly as e:
        return {"type": "error", "error": f"{kind}: {e}"}
    except ValidationError as e:
        where = "; ".join(f"{'.'.join(map(str, x['loc'])) or kind}: {x['msg']}" for x in e.errors())
        return {"type": "error", "error": f"{kind}: {where}"}
    except ValueError as e:
        return {"type": "error", "error": f"{kind}: {str(e).splitlines()[0] if str(e) else type(e).__name__}"}

