"""The live runner's two-phase step: a report's track goes out right after the
tracker step, never behind a plan; the plan is solved off the picture's path and
published when it is back; a plan may lag the picture by at most
``max_plan_lag_s``; a failed solve does not stop the picture."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from test_web_fakechain import SplitFakeChain

from airshield.web import runner as runner_mod
from airshield.web.hub import FULL, Hub
from airshield.web.runner import Runner


def gated_solve(gate: threading.Event, calls: list):
    def solve(planner, inp):
        calls.append(list(inp))
        if not gate.wait(10):
            raise TimeoutError("gate never opened")
        return list(inp), 0.001
    return solve


def drain(client) -> list[dict]:
    import orjson

    out = []
    while not client.queue.empty():
        item = client.queue.get_nowait()
        out.append({"type": "full"} if item is FULL else orjson.loads(item))
    return out


def test_tick_goes_out_before_the_plan_and_the_plan_follows(monkeypatch):
    gate, calls = threading.Event(), []
    monkeypatch.setattr(runner_mod, "_solve", gated_solve(gate, calls))
    chain = SplitFakeChain()
    runner = Runner(chain, Hub(chain.static_layers()), plan_process=False)

    async def go():
        client = runner.hub.subscribe(maxsize=64)
        await runner.step_once()  # t=1: no plan due
        tick2 = await runner.step_once()  # t=2: published, then the plan starts
        assert tick2["type"] == "tick" and tick2["recommendations"] == [] and len(tick2["tracks"]) == 6
        for _ in range(100):  # the solve thread picks the job up
            if calls:
                break
            await asyncio.sleep(0.01)
        assert runner._job is not None and calls == [["R1", "R2", "R3", "R4"]]
        t0 = time.monotonic()
        tick3 = await runner.step_once()  # t=3: the solve is still out; the picture does not wait
        assert time.monotonic() - t0 < 1.0 and tick3["t"] == 3.0 and tick3["recommendations"] == []
        t0 = time.monotonic()
        tick4 = await runner.step_once()  # t=4: the plan of t=2 is 2 s (max_plan_lag_s = replan_s) behind
        assert time.monotonic() - t0 < 1.0 and tick4["recommendations"] == []
        # t=5 would put it further behind: the step waits for the plan.
        threading.Timer(0.3, gate.set).start()
        t0 = time.monotonic()
        tick5 = await runner.step_once()
        assert time.monotonic() - t0 >= 0.25
        msgs = drain(client)
        kinds = [m["type"] for m in msgs]
        assert kinds == ["full", "tick", "tick", "tick", "tick", "plan", "tick"]
        plan = msgs[5]
        assert [r["id"] for r in plan["recommendations"]] == ["R1", "R2", "R3", "R4"]
        assert {e["kind"] for e in plan["events"]} == {"recommendation"} and plan["plan_t"] == 2.0
        assert all(e["t"] == 2.0 for e in plan["events"])  # dated to the plan's picture
        assert chain.plans_applied == [(2.0, 4.0)]
        assert [r["id"] for r in tick5["recommendations"]] == ["R1", "R2", "R3", "R4"]
        # Every tick carries when its reports entered and left the tracker and when it was sent.
        w_in, w_out = tick5["wall_track"]
        assert w_in <= w_out <= tick5["wall_sent"] and tick5["stages_ms"]["track"] >= 0.0
        return msgs

    asyncio.run(go())


def test_plans_keep_their_cadence_when_solves_are_quick(monkeypatch):
    gate = threading.Event()
    gate.set()
    monkeypatch.setattr(runner_mod, "_solve", gated_solve(gate, []))
    chain = SplitFakeChain(replan_s=2.0)
    runner = Runner(chain, Hub(chain.static_layers()), plan_process=False)

    async def go():
        for _ in range(8):
            await runner.step_once()
            await asyncio.sleep(0.05)  # the solve comes back between steps
        return [m["type"] for m in drain(runner.hub.subscribe())]

    asyncio.run(go())
    assert [p for p, _ in chain.plans_applied] == [2.0, 4.0, 6.0, 8.0][: len(chain.plans_applied)]
    assert len(chain.plans_applied) >= 3
    assert all(applied - planned <= 2.0 for planned, applied in chain.plans_applied)


def test_a_failed_solve_does_not_stop_the_picture(monkeypatch, capsys):
    def broken(planner, inp):
        raise RuntimeError("solver fell over")

    monkeypatch.setattr(runner_mod, "_solve", broken)
    chain = SplitFakeChain()
    runner = Runner(chain, Hub(chain.static_layers()), plan_process=False)

    async def go():
        for _ in range(6):
            await runner.step_once()
            await asyncio.sleep(0.02)

    asyncio.run(go())
    assert runner.hub.t == 6.0 and runner.error is None and runner.hub.recommendations == []
    assert "solver fell over" in capsys.readouterr().err


def test_sources_without_two_phases_step_as_before():
    from test_web_fakechain import FakeChain

    chain = FakeChain()
    runner = Runner(chain, Hub(chain.static_layers()))
    assert not runner.split
    msg = asyncio.run(runner.step_once())
    assert msg["type"] == "tick" and [r["id"] for r in msg["recommendations"]] == ["R1", "R2", "R3", "R4"]


def test_planner_process_solves_a_real_plan():
    """The solve in the planner process (a plain child, no re-import of the main
    script) gives what the chain computes in line; a bad job is an error, not a
    dead process."""
    import numpy as np

    from airshield.live.chain import Chain
    from airshield.live.planning import solve
    from airshield.web.planner import PlannerProcess

    chain = Chain("demo", seed=3, policy="manual", duration_s=600)
    job = here = None
    while (here is None or len(here.e) == 0) and not chain.finished:  # a plan that recommends shots
        chain.track_step()
        if chain.plan_due and len(chain.picture) > 10:
            job = chain.plan_begin()
            here = solve(job.planner, job.inp)
    assert job is not None and len(here.e) > 0
    proc = PlannerProcess()
    try:
        sol, cpu = proc.submit(job.planner, job.inp).result(timeout=120)
        for name in ("e", "j", "shots", "pk", "value", "t_launch", "t_intercept", "point"):
            assert np.array_equal(getattr(sol, name), getattr(here, name)), name
        assert sol.threats == here.threats and len(sol.threats) > 0 and cpu >= sol.stage_s["solve_cpu"] >= 0.0
        assert set(sol.stage_s) == {"assess", "assess_cpu", "solve", "solve_cpu"}
        with pytest.raises(RuntimeError, match="unknown planner|KeyError|ValueError"):
            proc.submit("no-such-planner", job.inp).result(timeout=60)
        sol2, _ = proc.submit(job.planner, job.inp).result(timeout=120)  # still serving
        assert np.array_equal(sol2.shots, sol.shots) and np.array_equal(sol2.e, sol.e)
    finally:
        proc.close()
    assert proc.proc.returncode is not None


def test_a_plan_solved_while_paused_waits_for_the_resume(monkeypatch):
    gate = threading.Event()
    monkeypatch.setattr(runner_mod, "_solve", gated_solve(gate, []))
    chain = SplitFakeChain()
    runner = Runner(chain, Hub(chain.static_layers()), plan_process=False)

    async def go():
        await runner.step_once()
        await runner.step_once()  # t=2: the plan goes out
        runner.control(paused=True)  # the operator pauses to decide
        gate.set()
        await asyncio.sleep(0.3)  # solved meanwhile
        assert runner._job is not None and runner._job[1].done() and chain.plans_applied == []
        assert runner.hub.recommendations == []
        runner.control(paused=False)
        await runner.step_once()  # the resume applies it first
        return runner.hub.recommendations

    recs = asyncio.run(go())
    assert chain.plans_applied == [(2.0, 2.0)] and [r["id"] for r in recs] == ["R1", "R2", "R3", "R4"]
