"""The ``airshield`` command. Verbs are thin: they parse options, call the
library, and turn ``InputError`` into one line on stderr with exit code 2.

``--debug`` (anywhere on the line) shows Python tracebacks instead.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from airshield.errors import InputError

app = typer.Typer(
    name="airshield",
    help="A shared air picture against mass drone raids: simulate, track, score, plan.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)
DEBUG = False


@contextmanager
def user_errors():
    """Bad input -> one line and exit 2; anything unexpected -> one line and exit 1."""
    try:
        yield
    except InputError as e:
        if DEBUG:
            raise
        err.print(f"airshield: error: {e}", markup=False)
        raise typer.Exit(2) from None
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as e:  # noqa: BLE001 - the user gets one line, --debug shows all
        if DEBUG:
            raise
        err.print(f"airshield: internal error: {type(e).__name__}: {e} (run with --debug for details)",
                  markup=False)
        raise typer.Exit(1) from None


def report_skipped(skipped, limit: int = 20) -> None:
    """Every skipped line is reported: the first ``limit`` in full, then a count."""
    for s in skipped[:limit]:
        err.print(f"airshield: skipped {s}", markup=False)
    if len(skipped) > limit:
        err.print(f"airshield: ... and {len(skipped) - limit} more skipped lines "
                  f"({len(skipped)} in all)", markup=False)


@app.command()
def scenarios() -> None:
    """List the built-in scenarios: name, then a short description."""
    with user_errors():
        from airshield.sim.scenario import builtin_scenarios

        for name, desc in builtin_scenarios():
            out.print(f"{name}\t{desc}", markup=False)


@app.command()
def simulate(
    scenario: Annotated[str, typer.Argument(help="Built-in scenario name or a scenario YAML file.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Run directory to write.")],
    seed: Annotated[Optional[int], typer.Option(help="Random seed (default: the scenario's).")] = None,
    duration: Annotated[Optional[float], typer.Option(help="Override duration_s (seconds).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Simulate a scenario and write a run directory."""
    with user_errors():
        from airshield.sim.engine import simulate_to_dir

        summary = simulate_to_dir(scenario, out_dir, seed=seed, duration_s=duration, progress=not quiet)
        err.print(f"airshield: wrote {out_dir}: " + ", ".join(f"{k} {v}" for k, v in summary.items()),
                  markup=False)


@app.command()
def track(
    run_dir: Annotated[Path, typer.Argument(help="Run directory with sensors.json and detections.jsonl.")],
    out_file: Annotated[Optional[Path], typer.Option("--out", help="Tracks file (default DIR/tracks.jsonl).")] = None,
    strict: Annotated[bool, typer.Option(help="Exit 2 if any report was skipped.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    settings: Annotated[Optional[list[str]], typer.Option(
        "--set", metavar="KEY=VALUE",
        help="Tracker setting (TrackerConfig field, JSON value), repeatable: "
             "--set stale_gate_p=0.99 --set show_again_rms_m=450 (docs/TRACKER.md).")] = None,
) -> None:
    """Fuse every detection into tracks; write tracks.jsonl."""
    with user_errors():
        from airshield.track.batch import track_run
        from airshield.track.config import with_settings

        config = with_settings(settings) if settings else None
        result = track_run(run_dir, out_file, progress=not quiet, config=config)
        report_skipped(result.skipped)
        for w in getattr(result, "warnings", [])[:20]:
            err.print(f"airshield: warning {w}", markup=False)
        err.print(f"airshield: {result.summary()}", markup=False)
        if result.fatal or (strict and result.skipped):
            raise typer.Exit(2)


@app.command()
def score(
    run_dir: Annotated[Path, typer.Argument(help="Run directory with truth.jsonl and tracks.jsonl.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    tracks: Annotated[Optional[Path], typer.Option(help="Score this tracks file instead.")] = None,
) -> None:
    """Score tracks against truth: GOSPA, track breaks, tracks per truth, latency."""
    with user_errors():
        from airshield.score import format_score, score_run

        result = score_run(run_dir, tracks_path=tracks)
        if as_json:
            import orjson

            sys.stdout.write(orjson.dumps(result, option=orjson.OPT_SERIALIZE_NUMPY).decode() + "\n")
        else:
            out.print(format_score(result))


@app.command()
def assign(
    instance: Annotated[Path, typer.Argument(help="Weapon-target assignment instance (JSON).")],
    plan_out: Annotated[Optional[Path], typer.Option("--out", help="Write the plan here (default stdout).")] = None,
    time_limit: Annotated[Optional[float], typer.Option("--time-limit", help="Seconds for the solver.")] = None,
    solver: Annotated[str, typer.Option(help="auto | exact | fast")] = "auto",
) -> None:
    """Solve one static engagement plan (minimise expected leak + lambda * cost)."""
    with user_errors():
        from airshield.engage.wta import load_instance, plan_to_json, solve

        inst = load_instance(instance)
        plan = solve(inst, time_limit=time_limit, method=solver)
        text = plan_to_json(inst, plan)
        if plan_out is None:
            sys.stdout.write(text + "\n")
        else:
            Path(plan_out).write_text(text + "\n")


@app.command()
def demo(
    scenario: Annotated[str, typer.Argument(help="Built-in scenario name or a scenario YAML file.")] = "demo",
    speed: Annotated[float, typer.Option(help="Scenario seconds per wall second (1 = real time).")] = 1.0,
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8000,
    host: Annotated[str, typer.Option(help="Address to bind (loopback unless you say otherwise).")] = "127.0.0.1",
    headless: Annotated[bool, typer.Option("--headless", help="No web server: print a status line.")] = False,
    seed: Annotated[Optional[int], typer.Option(help="Random seed (default: the scenario's).")] = None,
    policy: Annotated[str, typer.Option(help="manual | approve_all | cost_cap")] = "manual",
    cost_cap: Annotated[Optional[float], typer.Option("--cost-cap", help="Cost cap for --policy cost_cap.")] = None,
    duration: Annotated[Optional[float], typer.Option(help="Override duration_s (seconds).")] = None,
    record: Annotated[Optional[Path], typer.Option(help="Event log (default runs/demo-<time>.sqlite).")] = None,
    no_record: Annotated[bool, typer.Option("--no-record", help="Keep no event log.")] = False,
    reorder_s: Annotated[float, typer.Option("--reorder-s", help="Hold reports this long to sort them before "
                                             "tracking (0: use each in the step it arrives).")] = 0.0,
) -> None:
    """Run a scenario live and serve the common operational picture (http://127.0.0.1:8000)."""
    with user_errors():
        from airshield.web import serve

        if policy not in ("manual", "approve_all", "cost_cap"):
            from airshield.errors import InputError

            raise InputError(f"unknown policy {policy!r} (manual, approve_all, cost_cap)", field="--policy")
        path = None if no_record else (record or serve.default_record_path())
        runner = serve.build_live(scenario, speed=speed, seed=seed, policy=policy, cost_cap=cost_cap,
                                  duration_s=duration, record=path, reorder_s=reorder_s)
        say = lambda s: err.print(f"airshield: {s}", markup=False)  # noqa: E731
        if path is not None:
            say(f"recording to {path}")
        if headless:
            serve.headless(runner, lambda s: out.print(s, markup=False))
        else:
            serve.serve(runner, host, port, say)


@app.command()
def replay(
    log: Annotated[Path, typer.Argument(help="Event log written by `airshield demo` (.sqlite).")],
    speed: Annotated[float, typer.Option(help="Scenario seconds per wall second.")] = 1.0,
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8000,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    headless: Annotated[bool, typer.Option("--headless", help="No web server: print a status line.")] = False,
) -> None:
    """Serve the picture from a recording, with pause, seek and speed controls."""
    with user_errors():
        from airshield.web import serve

        runner = serve.build_replay(log, speed=speed)
        if headless:
            serve.headless(runner, lambda s: out.print(s, markup=False))
        else:
            serve.serve(runner, host, port, lambda s: err.print(f"airshield: {s}", markup=False))


@app.command()
def run(
    scenario: Annotated[str, typer.Argument(help="Built-in scenario name or a scenario YAML file.")],
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Run directory to write.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed (default: the scenario's).")] = None,
    policy: Annotated[str, typer.Option(help="approve_all | cost_cap | manual")] = "approve_all",
    cost_cap: Annotated[Optional[float], typer.Option("--cost-cap", help="Cost cap for --policy cost_cap.")] = None,
    planner: Annotated[str, typer.Option(help="optimal | nearest | missiles_first")] = "optimal",
    duration: Annotated[Optional[float], typer.Option(help="Override duration_s (seconds).")] = None,
    compare: Annotated[bool, typer.Option("--compare", help="Run every planner on --seeds; print a table.")] = False,
    seeds: Annotated[Optional[str], typer.Option(help="Seeds for --compare, comma-separated "
                                                      "(default: the seed and the next two).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Closed loop: simulate, track, assess, plan, approve by policy, engage; write the run directory."""
    with user_errors():
        from airshield.live import runner as live

        if compare:
            result = live.compare_doctrines(scenario, live.parse_seeds(seeds, scenario, seed), policy=policy,
                                            cost_cap=cost_cap, duration_s=duration, progress=not quiet)
            from rich.console import Console

            Console(width=max(out.width, 140), highlight=False).print(live.compare_table(result))
            if out_dir is not None:
                live.write_compare(out_dir, result)
            return
        if out_dir is None:
            from airshield.errors import InputError

            raise InputError("missing --out DIR (or give --compare)", field="--out")
        s = live.run_to_dir(scenario, out_dir, seed=seed, policy=policy, cost_cap=cost_cap, planner=planner,
                            duration_s=duration, progress=not quiet)
        err.print(f"airshield: wrote {out_dir}: {live.one_line(s)}", markup=False)

def main() -> None:
    global DEBUG
    from airshield.alloc import keep_freed_memory

    keep_freed_memory()  # numpy temporaries: no page faults per update (alloc.py)
    if "--debug" in sys.argv[1:]:
        DEBUG = True
        sys.argv = [a for a in sys.argv if a != "--debug"]
    app()


if __name__ == "__main__":
    main()
