"""``airshield run``: the closed loop over a whole scenario, written to disk.

``run_to_dir`` drives a ``Chain`` to the end and writes the contract run
directory (``scenario.json``, ``sensors.json``, ``truth.jsonl``,
``detections.jsonl``, ``tracks.jsonl``, plus ``objects.json``) and two more
files: ``engagements.jsonl`` (every recommendation, approval, rejection,
withdrawal, engagement, outcome and impact, with ``t``) and ``summary.json``.

``compare_doctrines`` runs the planners on the same seeds (same raid, same
sensor noise until the first shot changes the sky) and tabulates them.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from airshield.io.jsonl import dumps_line, write_json
from airshield.io.run import DETECTIONS, SCENARIO, SENSORS, TRACKS, TRUTH
from airshield.live.chain import Chain
from airshield.live.doctrine import PLANNERS
from airshield.sim.engine import FATES, PENDING
from airshield.sim.run import OBJECTS
from airshield.sim.scenario import THREAT_CLASSES, Scenario, load_scenario
from airshield.sim.writer import ChunkedFile, DetectionBuffer, TruthBuffer, object_tokens, string_token

ENGAGEMENTS = "engagements.jsonl"
SUMMARY = "summary.json"
LETHAL = ("shahed", "jet_drone")


def run_to_dir(scenario: str | Scenario, out_dir, *, progress: bool = False, **chain_kw) -> dict:
    """Run the closed loop and write the run directory; returns the summary.
    ``chain_kw`` are ``Chain``'s keywords (seed, policy, cost_cap, planner, ...)."""
    wall0 = time.perf_counter()
    chain = Chain(scenario, **chain_kw)
    scn, sim = chain.scenario, chain.sim
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc = scn.to_json()
    doc.update(seed=sim.seed, duration_s=sim.duration_s,
               run={"planner": chain.planner, "policy": chain.policy.name, "cost_cap": chain.policy.cost_cap,
                    "replan_s": chain.replan_s, "lambda": chain.lam})
    write_json(out / SCENARIO, doc)
    write_json(out / SENSORS, {"sensors": chain.sensor_records})
    sensor_tok = [string_token(r["id"]) for r in chain.sensor_records]
    obj_tok = object_tokens(sim.objects.ids, sim.objects.cls_name)
    n = len(sim)
    first, n_det = np.full(n, np.inf), np.zeros(n, np.int64)
    tick = scn.output_tick_s or 1.0
    next_tick = tick
    bar = _Bar(progress, scn.name, chain.planner, chain.n_steps)
    try:
        with open(out / TRUTH, "wb") as ft, open(out / DETECTIONS, "wb") as fd, open(out / TRACKS, "wb") as fk:
            truth_file, det_file = ChunkedFile(ft), ChunkedFile(fd)
            track_file = ChunkedFile(fk)
            truth = TruthBuffer(truth_file, obj_tok)
            dets = DetectionBuffer(det_file, sensor_tok)
            while not chain.finished:
                f = sim.fleet
                truth.add(sim.t, np.flatnonzero(sim.alive), f.lat, f.lon, f.alt, f.vel_enu)
                chain.advance()
                obs = chain.last_obs
                d = obs.detections
                if len(d):
                    dets.add(d, obs.delay_s)
                    tr = np.asarray(obs.truth_row)
                    hit = tr >= 0
                    np.minimum.at(first, tr[hit], d.t[hit])
                    n_det += np.bincount(tr[hit], minlength=n)
                if sim.t + 1e-9 >= next_tick:
                    recs = chain.picture.to_records()
                    track_file.add(b"".join(map(dumps_line, recs)), len(recs))
                    next_tick += tick
                bar.update(chain)
            truth.flush()
            dets.flush()
            for f_ in (truth_file, det_file, track_file):
                f_.flush()
    finally:
        bar.stop()
    with open(out / ENGAGEMENTS, "wb") as fe:
        fe.write(b"".join(map(dumps_line, sorted(chain.events, key=lambda e: e["t"]))))
    write_json(out / OBJECTS, {"objects": sim.object_records(first, n_det)})
    summary = summarise(chain, wall_s=time.perf_counter() - wall0)
    write_json(out / SUMMARY, summary)
    return summary


def run_chain(chain: Chain, progress: bool = False) -> dict:
    """Drive ``chain`` to the end without writing anything; returns the summary."""
    wall0 = time.perf_counter()
    bar = _Bar(progress, chain.scenario.name, chain.planner, chain.n_steps)
    try:
        while not chain.finished:
            chain.advance()
            bar.update(chain)
    finally:
        bar.stop()
    return summarise(chain, wall_s=time.perf_counter() - wall0)


def summarise(chain: Chain, wall_s: float | None = None) -> dict:
    """Threats by class and what became of them (truth), shots and money by
    effector kind, cost per defeat, defeated share."""
    sim, eff, ars = chain.sim, chain.effectors, chain.arsenal
    launched = sim.fate != PENDING
    cls = np.array(sim.objects.cls_name, dtype=object)
    threat = launched & np.isin(cls, THREAT_CLASSES)
    fate = np.array(FATES, dtype=object)[sim.fate]

    def by_class(mask) -> dict:
        d = {c: int((mask & (cls == c)).sum()) for c in THREAT_CLASSES}
        return {k: v for k, v in d.items() if v} | {"total": int(mask.sum())}

    kinds = sorted({eff.kind_name(e) for e in range(len(eff))})
    kind_of = np.array([eff.kind_name(e) for e in range(len(eff))], dtype=object)
    shots = {k: int(ars.shots[kind_of == k].sum()) for k in kinds}
    money = {k: round(float(ars.spent[kind_of == k].sum()), 2) for k in kinds}
    n_threat = int(threat.sum())
    defeated = threat & (fate == "defeated")
    lethal = threat & np.isin(cls, LETHAL)
    spent = float(ars.spent.sum())
    count = {}
    for e in chain.events:
        count[e["type"]] = count.get(e["type"], 0) + 1
    out = {
        "scenario": chain.scenario.name, "seed": sim.seed, "duration_s": sim.duration_s,
        "planner": chain.planner, "policy": chain.policy.name, "cost_cap": chain.policy.cost_cap,
        "threats": by_class(threat),
        "defeated": by_class(defeated),
        "leaked": by_class(threat & (fate == "hit")),
        "expended": by_class(threat & (fate == "expended")),
        "landed": by_class(threat & (fate == "landed")),
        "still_flying": by_class(threat & (fate == "flying")),
        "value_lost": round(chain.truth.value_lost, 2),
        "shots": shots | {"total": int(ars.shots.sum())},
        "money_spent": money | {"total": round(spent, 2)},
        "cost_per_defeat": round(spent / int(defeated.sum()), 2) if defeated.any() else None,
        "defeated_share": round(float(defeated.sum()) / n_threat, 4) if n_threat else None,
        "lethal": {"threats": int(lethal.sum()), "defeated": int((lethal & defeated).sum()),
                   "leaked": int((lethal & (fate == "hit")).sum()),
                   "defeated_share": round(float((lethal & defeated).sum()) / int(lethal.sum()), 4)
                   if lethal.any() else None},
        "events": {k: count.get(k, 0) for k in ("recommendation", "approval", "rejection", "withdrawn",
                                                "engagement", "outcome", "impact")},
    }
    if wall_s is not None:
        out["wall_s"] = round(wall_s, 2)
    return out


def compare_doctrines(scenario: str | Scenario, seeds, *, planners=PLANNERS, duration_s: float | None = None,
                      progress: bool = False, **chain_kw) -> dict:
    """Each planner on each seed (approve_all unless ``policy`` is given).
    Returns {"runs": [summary, ...], "table": [row per planner, summed over seeds]}."""
    scn = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    runs = []
    for seed in seeds:
        for p in planners:
            runs.append(run_chain(Chain(scn, seed=int(seed), planner=p, duration_s=duration_s, **chain_kw),
                                  progress=progress))
    return {"runs": runs, "table": [table_row(p, [r for r in runs if r["planner"] == p]) for p in planners]}


def table_row(planner: str, runs: list[dict]) -> dict:
    tot = (lambda f: sum(f(r) for r in runs))
    threats, defeated = tot(lambda r: r["threats"]["total"]), tot(lambda r: r["defeated"]["total"])
    money = tot(lambda r: r["money_spent"]["total"])
    lt, ld = tot(lambda r: r["lethal"]["threats"]), tot(lambda r: r["lethal"]["defeated"])
    return {"planner": planner, "seeds": [r["seed"] for r in runs], "threats": threats, "defeated": defeated,
            "defeated_share": round(defeated / threats, 4) if threats else None,
            "lethal_threats": lt, "lethal_defeated": ld, "lethal_share": round(ld / lt, 4) if lt else None,
            "leaked": tot(lambda r: r["leaked"]["total"]), "value_lost": tot(lambda r: r["value_lost"]),
            "shots": tot(lambda r: r["shots"]["total"]), "money_spent": round(money, 2),
            "cost_per_defeat": round(money / defeated, 2) if defeated else None,
            "wall_s": round(tot(lambda r: r.get("wall_s", 0.0)), 1)}


class _Bar:
    """A rich progress bar over truth steps (on stderr), with the running tally."""

    def __init__(self, on: bool, name: str, planner: str, total: int):
        self.p = None
        if not on:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.p = Progress(TextColumn(f"{name} [{planner}]"), BarColumn(), MofNCompleteColumn(), TextColumn("s"),
                          TextColumn("{task.fields[tally]}"), TimeRemainingColumn(),
                          console=Console(stderr=True), transient=True)
        self.p.start()
        self.task = self.p.add_task("run", total=total, tally="")
        self.every = max(1, total // 200)

    def update(self, chain: Chain) -> None:
        if self.p is None or chain.sim.k % self.every:
            return
        c = chain.counters()
        self.p.update(self.task, completed=chain.sim.k,
                      tally=f"tracks {c['live_tracks']}  defeated {c['defeated']}  leaked {c['leaked']}  "
                            f"spent ${c['money_spent']:,.0f}")

    def stop(self) -> None:
        if self.p is not None:
            self.p.stop()


def parse_seeds(text: str | None, scenario: str, seed: int | None) -> list[int]:
    """``--seeds 1,2,3``; default: the seed (or the scenario's) and the next two."""
    from airshield.errors import InputError

    if text is None:
        base = load_scenario(scenario).seed if seed is None else seed
        return [base, base + 1, base + 2]
    try:
        out = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise InputError(f"expected whole numbers separated by commas, got {text!r}", field="--seeds") from None
    if not out or min(out) < 0:
        raise InputError(f"expected one or more seeds >= 0, got {text!r}", field="--seeds")
    return out


def one_line(s: dict) -> str:
    share = s["defeated_share"]
    per = s["cost_per_defeat"]
    return (f"{s['planner']}/{s['policy']}: threats {s['threats']['total']}, defeated {s['defeated']['total']}"
            f" ({share or 0:.1%}), leaked {s['leaked']['total']}, value lost {s['value_lost']:,.0f}, "
            f"shots {s['shots']['total']}, spent {s['money_spent']['total']:,.0f}"
            + (f", {per:,.0f} per defeat" if per else "") + f"; {s.get('wall_s', 0):.1f} s")


def compare_table(result: dict):
    """A rich table of ``compare_doctrines``: one row per planner, summed over seeds."""
    from rich.table import Table

    rows = result["table"]
    seeds = rows[0]["seeds"] if rows else []
    t = Table(title=f"planners on seeds {', '.join(map(str, seeds))} (summed)")
    for col in ("planner", "threats", "defeated", "share", "lethal defeated", "leaked", "value lost", "shots",
                "money spent", "per defeat"):
        t.add_column(col, justify="left" if col == "planner" else "right")
    for r in rows:
        t.add_row(r["planner"], str(r["threats"]), str(r["defeated"]), f"{r['defeated_share'] or 0:.1%}",
                  f"{r['lethal_defeated']}/{r['lethal_threats']}", str(r["leaked"]), f"{r['value_lost']:,.0f}",
                  str(r["shots"]), f"{r['money_spent']:,.0f}",
                  f"{r['cost_per_defeat']:,.0f}" if r["cost_per_defeat"] else "-")
    return t


def write_compare(out_dir, result: dict) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "compare.json", result)
