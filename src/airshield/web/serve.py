"""Wire a chain (or a recording) to a runner, a hub, the event log and uvicorn:
what ``airshield demo`` and ``airshield replay`` do."""

from __future__ import annotations

import asyncio
import math
import socket
import time
from collections.abc import Callable
from pathlib import Path

from airshield.errors import InputError
from airshield.record import Recorder
from airshield.web.hub import Hub
from airshield.web.runner import Runner, check_speed

STATUS_EVERY_S = 5.0  # headless status lines; the contract asks for at least one every 10 s


def default_record_path(now: float | None = None) -> Path:
    return Path("runs") / time.strftime("demo-%Y%m%d-%H%M%S.sqlite", time.localtime(now))


def scenario_meta(chain, scenario: str) -> dict:
    """Name and epoch for the clock; taken from the chain, else from the scenario file."""
    scn = getattr(chain, "scenario", None)
    if scn is None:
        from airshield.sim.scenario import load_scenario

        scn = load_scenario(scenario)
    epoch = getattr(scn, "epoch", None)
    return {"scenario": getattr(scn, "name", scenario),
            "epoch": epoch.isoformat().replace("+00:00", "Z") if hasattr(epoch, "isoformat") else epoch}


# The display's tracker uses every report in the step it arrives (late ones by the
# retrodiction-free update) instead of holding it a step to sort it: a 1 s
# window would put a whole step between a report and the picture the operator
# sees. On demo and raid-300 the picture is no worse for it (docs/LIVE_PICTURE.md).
LIVE_REORDER_S = 0.0


def build_live(scenario: str, *, speed: float = 1.0, seed: int | None = None, policy: str = "manual",
               cost_cap: float | None = None, duration_s: float | None = None,
               record: Path | None = None, chain_factory: Callable | None = None,
               reorder_s: float = LIVE_REORDER_S) -> Runner:
    """A runner for a live chain, recording to ``record`` when given."""
    try:
        check_speed(speed)
    except ValueError as e:
        raise InputError(str(e), field="--speed") from None
    if not (math.isfinite(reorder_s) and 0.0 <= reorder_s <= 60.0):
        raise InputError(f"must be 0 to 60 seconds, got {reorder_s}", field="--reorder-s")
    kw = {}
    if chain_factory is None:
        from airshield.live.chain import Chain as chain_factory
        from airshield.live.chain import closed_loop_tracker

        kw["tracker_config"] = closed_loop_tracker(reorder_s=reorder_s)
    chain = chain_factory(scenario, seed=seed, policy=policy, cost_cap=cost_cap, duration_s=duration_s, **kw)
    layers = chain.static_layers()
    meta = {**scenario_meta(chain, scenario), "seed": seed, "policy": policy, "cost_cap": cost_cap,
            "speed": speed, "source": str(scenario)}
    recorder = Recorder(record, meta={**meta, "static": layers}) if record is not None else None
    hub = Hub(layers, mode="live", meta={**meta, "record": str(record) if record else None})
    return Runner(chain, hub, speed=speed, recorder=recorder)


def build_replay(log: Path, *, speed: float = 1.0) -> Runner:
    from airshield.web.replay import ReplaySource

    try:
        check_speed(speed)
    except ValueError as e:
        raise InputError(str(e), field="--speed") from None
    src = ReplaySource(log)
    hub = Hub(src.static_layers(), mode="replay", meta={**src.meta, "record": str(log)})
    return Runner(src, hub, speed=speed)


def check_port(host: str, port: int) -> None:
    """Fail with one line, before anything starts, when the address is taken."""
    if not 0 < port < 65536:
        raise InputError(f"port {port} out of range 1..65535", field="--port")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise InputError(f"cannot resolve host {host!r} ({e})", field="--host") from None
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as e:
            raise InputError(f"cannot listen on {host}:{port} ({e.strerror})", field="--port") from None


def serve(runner: Runner, host: str, port: int, say: Callable[[str], None]) -> None:
    import uvicorn

    from airshield.web.app import assets_ready, create_app

    check_port(host, port)
    if not assets_ready():
        say("warning: the map libraries are not installed (run `make` or `make web-assets`); "
            "the page will say so")
    say(f"serving the {runner.hub.mode} picture at http://{host}:{port}/  (Ctrl-C stops)")
    try:
        uvicorn.run(create_app(runner), host=host, port=port, log_level="warning", ws_max_size=1 << 20,
                    ws_ping_interval=20, lifespan="on")
    finally:
        close(runner)


def headless(runner: Runner, say: Callable[[str], None], every_s: float = STATUS_EVERY_S) -> None:
    """Run to the end without a server, one status line every ``every_s`` of wall time."""

    async def main() -> None:
        task = asyncio.create_task(runner.run())
        last = time.monotonic()
        say(runner.status_line())
        try:
            while not runner.source.finished:
                await asyncio.sleep(0.2)
                if task.done():
                    task.result()  # a failing step surfaces here, not silently
                if time.monotonic() - last >= every_s:
                    last = time.monotonic()
                    say(runner.status_line())
        finally:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    try:
        asyncio.run(main())
        say(runner.status_line() + "  (finished)")
    finally:
        close(runner)


def close(runner: Runner) -> None:
    runner.close()
    if runner.recorder is not None:
        runner.recorder.close()
        if runner.recorder.error is not None:
            raise InputError(f"event log incomplete ({runner.recorder.error})", file=runner.recorder.path)
