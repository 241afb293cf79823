"""airshield against Stone Soup on the same run directories.

    python benchmarks/bench_vs_stonesoup.py [--scenarios demo,raid-300,raid-1000]
        [--duration S] [--ss-time-limit S] [--out-md FILE] [--out-json FILE] [--workdir DIR]

For each scenario: simulate once (``airshield simulate``), then track the same run
directory with ``airshield track`` and with the Stone Soup reference
(benchmarks/stonesoup_tracker.py), each in its own process, and score both with
``airshield score --json``. Figures:

- wall: the tracker process end to end (start-up, reading, tracking, writing);
  CPU: its user + system time (steadier than wall on a shared machine);
- reports/s: reports fed to the tracker / wall;
- peak MB: the tracker process's peak resident memory (ru_maxrss of that child,
  from os.wait4, i.e. the child's own RUSAGE_CHILDREN entry);
- GOSPA (contract: p = 2, c = 1000 m, alpha = 2) mean distance and its parts
  (mean over steps of each part of d^2, m^2), track breaks, tracks per truth, and
  GOSPA over the truth some sensor could see (``gospa_observable_mean``,
  docs/SCORING.md).

Stone Soup is slow at raid sizes. With ``--ss-time-limit`` it stops feeding reports
after that many seconds of wall time; then both trackers are scored on the window
Stone Soup processed (truth and both track files cut at its last report time) and
its throughput is what it reached on that part. The table says so.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
AIRSHIELD = [str(BIN / "airshield")] if (BIN / "airshield").exists() else [sys.executable, "-m", "airshield.cli"]
SCENARIOS = ("demo", "raid-300", "raid-1000")
SCORE_KEYS = ("gospa_mean", "gospa_localisation", "gospa_missed", "gospa_false", "track_breaks",
              "tracks_per_truth", "gospa_observable_mean")


def run_measured(cmd: list[str], log: Path) -> dict:
    """Run ``cmd`` as a child; its wall time, exit code, peak RSS and stdout."""
    with open(log, "wb") as out, open(log.with_suffix(".err"), "wb") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    return {"cmd": cmd, "rc": p.returncode, "wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime,
            "peak_mb": ru.ru_maxrss / 1024.0,
            "stdout": log.read_text(), "stderr": log.with_suffix(".err").read_text()}


def count_lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def cut_jsonl(src: Path, dst: Path, t_end: float) -> None:
    """Copy the records of a JSON Lines file with t <= t_end."""
    with open(src, "rb") as f, open(dst, "wb") as g:
        for line in f:
            if line.strip() and orjson.loads(line).get("t", 0.0) <= t_end + 1e-9:
                g.write(line)


def window_run(run: Path, dest: Path, t_end: float, tracks: dict[str, Path]) -> dict[str, Path]:
    """A scoring copy of ``run`` cut at ``t_end``: scenario, truth and each tracks file."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("scenario.json", "objects.json", "sensors.json"):
        if (run / name).is_file():
            shutil.copy(run / name, dest / name)
    cut_jsonl(run / "truth.jsonl", dest / "truth.jsonl", t_end)
    out = {}
    for key, path in tracks.items():
        out[key] = dest / path.name
        cut_jsonl(path, out[key], t_end)
    return out


def score(run: Path, tracks: Path) -> dict:
    p = subprocess.run([*AIRSHIELD, "score", str(run), "--tracks", str(tracks), "--json"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        return {"error": p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"exit {p.returncode}"}
    return json.loads(p.stdout)


def available_scenarios() -> list[str]:
    p = subprocess.run([*AIRSHIELD, "scenarios"], capture_output=True, text=True)
    if p.returncode != 0:
        return []
    return [line.split()[0] for line in p.stdout.splitlines() if line.strip()]


def bench_one(name: str, work: Path, duration: float | None, ss_limit: float | None, seed: int | None,
              reuse: bool = False) -> dict:
    run = work / name
    ss_saved = work / f"{name}.stonesoup.json"
    # Stone Soup's tracks depend only on the run directory: --reuse-stonesoup keeps
    # both (re-measuring airshield after a change costs minutes, not an hour)
    reuse = reuse and ss_saved.is_file() and (run / "detections.jsonl").is_file()
    cmd = [*AIRSHIELD, "simulate", name, "--out", str(run), "--quiet"]
    if duration is not None:
        cmd += ["--duration", str(duration)]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    if reuse:
        sim = {"rc": 0, "wall_s": float("nan")}
    else:
        sim = run_measured(cmd, work / f"{name}.simulate.log")
    if sim["rc"] != 0:
        return {"scenario": name, "error": f"simulate failed: {sim['stderr'].strip()[-300:]}"}
    reports = count_lines(run / "detections.jsonl")
    res = {"scenario": name, "reports": reports, "simulate_s": sim["wall_s"],
           "truth_objects": None, "commands": {"simulate": " ".join(cmd)}}

    as_tracks = run / "tracks.jsonl"
    cmd = [*AIRSHIELD, "track", str(run), "--out", str(as_tracks), "--quiet"]
    a = run_measured(cmd, work / f"{name}.airshield.log")
    res["commands"]["airshield"] = " ".join(cmd)
    res["airshield"] = {"rc": a["rc"], "wall_s": a["wall_s"], "cpu_s": a["cpu_s"], "peak_mb": a["peak_mb"], "reports_fed": reports,
                        "log": a["stderr"].strip()[-300:]}

    ss_tracks = run / "tracks_stonesoup.jsonl"
    cmd = [sys.executable, str(HERE / "stonesoup_tracker.py"), str(run), "--out", str(ss_tracks)]
    if ss_limit is not None:
        cmd += ["--time-limit", str(ss_limit)]
    if reuse:
        s = json.loads(ss_saved.read_text())
    else:
        s = run_measured(cmd, work / f"{name}.stonesoup.log")
        ss_saved.write_text(json.dumps(s))
    res["commands"]["stonesoup"] = " ".join(cmd)
    summary = json.loads(s["stdout"].strip().splitlines()[-1]) if s["rc"] == 0 else {}
    res["stonesoup"] = {"rc": s["rc"], "wall_s": s["wall_s"], "cpu_s": s["cpu_s"], "peak_mb": s["peak_mb"],
                        "reports_fed": summary.get("reports_fed", 0), "capped": summary.get("capped", False),
                        "processed_until_t": summary.get("processed_until_t"),
                        "bearing_left_out": summary.get("bearing_left_out"),
                        "log": s["stderr"].strip()[-300:]}

    score_dir, files = run, {"airshield": as_tracks, "stonesoup": ss_tracks}
    if res["stonesoup"]["capped"]:
        t_end = float(summary["processed_until_t"])
        score_dir = work / f"{name}.window"
        files = window_run(run, score_dir, t_end, files)
        res["scored_window_t"] = t_end
    for key, path in files.items():
        ok = res[key]["rc"] == 0 and path.is_file()
        res[key]["score"] = score(score_dir, path) if ok else {"error": "tracker failed"}
        res[key]["reports_per_s"] = res[key]["reports_fed"] / res[key]["wall_s"]
        res[key]["reports_per_cpu_s"] = res[key]["reports_fed"] / max(res[key]["cpu_s"], 1e-9)
    res["truth_objects"] = res["airshield"]["score"].get("truth_objects")
    return res


def _f(v, fmt: str = "{:.1f}") -> str:
    return "n/a" if v is None else fmt.format(v)


def table(results: list[dict]) -> str:
    head = ("| scenario | tracker | reports fed | wall s | CPU s | reports/s | reports/CPU s | peak MB | GOSPA m | loc m² | "
            "missed m² | false m² | breaks | tracks/truth | GOSPA observable m |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    notes, ratios = [], []
    for r in results:
        if "error" in r:
            notes.append(f"- {r['scenario']}: {r['error']}")
            continue
        for key in ("airshield", "stonesoup"):
            x = r[key]
            sc = x["score"]
            fed = f"{x['reports_fed']:,}" + (f" of {r['reports']:,}" if x["reports_fed"] != r["reports"] else "")
            lines.append(
                f"| {r['scenario']} | {key} | {fed} | {x['wall_s']:.1f} | {x['cpu_s']:.1f} | {x['reports_per_s']:,.0f} | "
                f"{x['reports_per_cpu_s']:,.0f} | "
                f"{x['peak_mb']:.0f} | {_f(sc.get('gospa_mean'))} | {_f(sc.get('gospa_localisation'), '{:,.0f}')} | "
                f"{_f(sc.get('gospa_missed'), '{:,.0f}')} | {_f(sc.get('gospa_false'), '{:,.0f}')} | "
                f"{_f(sc.get('track_breaks'), '{:.0f}')} | {_f(sc.get('tracks_per_truth'), '{:.2f}')} | "
                f"{_f(sc.get('gospa_observable_mean'))} |")
            if "error" in sc:
                notes.append(f"- {r['scenario']} {key}: score failed: {sc['error']}")
        a, s = r["airshield"], r["stonesoup"]
        tp = a["reports_per_s"] / s["reports_per_s"] if s["reports_per_s"] else None
        tc = a["reports_per_cpu_s"] / s["reports_per_cpu_s"] if s["reports_per_cpu_s"] else None
        ga, gs = a["score"].get("gospa_mean"), s["score"].get("gospa_mean")
        gr = ga / gs if ga is not None and gs else None
        oa, os_ = a["score"].get("gospa_observable_mean"), s["score"].get("gospa_observable_mean")
        orr = oa / os_ if oa is not None and os_ else None
        ratios.append(f"| {r['scenario']} | {_f(tp, '{:.1f}×')} | {_f(tc, '{:.1f}×')} | {_f(gr, '{:.2f}')} | "
                      f"{_f(orr, '{:.2f}')} |")
        if s["capped"]:
            notes.append(f"- {r['scenario']}: Stone Soup stopped at its time limit after {s['reports_fed']:,} of "
                         f"{r['reports']:,} reports (scenario t ≤ {r['scored_window_t']:.0f} s); both trackers "
                         "are scored on that window; throughput is over what each processed.")
        if s.get("bearing_left_out"):
            notes.append(f"- {r['scenario']}: {s['bearing_left_out']:,} bearing-only reports were fed to Stone "
                         "Soup but it cannot use them (airshield does).")
    out = ("\n".join(lines) + "\n\n| scenario | throughput airshield/stonesoup (wall) | (CPU) | "
           "GOSPA airshield/stonesoup | GOSPA over observable truth airshield/stonesoup |\n"
           "|---|---|---|---|---|\n")
    out += "\n".join(ratios) + "\n"
    if notes:
        out += "\n" + "\n".join(notes) + "\n"
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated built-in names")
    ap.add_argument("--duration", type=float, help="cap the simulated time (s)")
    ap.add_argument("--ss-time-limit", type=float, default=1800.0,
                    help="wall seconds after which Stone Soup stops feeding reports (0: none)")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--reuse-stonesoup", action="store_true",
                    help="with --workdir: reuse the run directory and Stone Soup's tracks and figures "
                         "from an earlier run (only airshield is run and both are scored again)")
    ap.add_argument("--workdir", type=Path, help="keep run directories here (default: a temp dir)")
    ap.add_argument("--out-md", type=Path, help="also write the table as Markdown")
    ap.add_argument("--out-json", type=Path, help="also write all figures as JSON")
    args = ap.parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_vs_stonesoup_"))
    work.mkdir(parents=True, exist_ok=True)
    have = available_scenarios()
    results = []
    for name in [s.strip() for s in args.scenarios.split(",") if s.strip()]:
        if name not in have:
            results.append({"scenario": name, "error": "not a built-in scenario (airshield scenarios: "
                            + (", ".join(have) or "none") + ")"})
            print(f"{name}: missing", flush=True)
            continue
        print(f"{name}: simulating and tracking ...", flush=True)
        results.append(bench_one(name, work, args.duration, args.ss_time_limit or None, args.seed,
                                 args.reuse_stonesoup))
    text = table(results)
    print(f"\nairshield vs Stone Soup {_stonesoup_version()} (run directories in {work})\n")
    print(text)
    if args.out_md:
        args.out_md.write_text(text)
    if args.out_json:
        args.out_json.write_text(json.dumps(results, indent=2))
    return 0 if all("error" not in r for r in results) else 1


def _stonesoup_version() -> str:
    try:
        from importlib.metadata import version

        return version("stonesoup")
    except Exception:  # noqa: BLE001 - a label only
        return "(not installed)"


if __name__ == "__main__":
    sys.exit(main())
