"""Where the money goes: an audit of closed-loop engagement logs.

    .venv/bin/python benchmarks/engagement_audit.py RUN.jsonl [RUN.jsonl ...]

Each file is an ``engagements.jsonl`` (``airshield run``) or a log written by
``benchmarks/bench_closed_loop.py --events DIR``. For each, prints shots, money
and defeats by effector kind and by the TRUE class of what each engagement met
(``none``: nothing within reach — a lost track, a bird), and the money in
engagements that could not pay: at a truth object another engagement defeated
(overlapping shots), at decoys, salvos of more than one shot, and missiles
fired at a drone a cheap effector later engaged anyway (so one could still
reach it), and engagements approved at a track while an earlier engagement at
it was still unassessed (cheap and costly apart).
"""

from __future__ import annotations

import sys
from collections import defaultdict

from airshield.io.jsonl import iter_jsonl

COSTLY = ("sam_short", "sam_medium")


def _load(path: str) -> list[dict]:
    return [ev for _, ev in iter_jsonl(path)]


def kind(g: dict) -> str:
    """An engagement's effector kind; a fighter's missile and cannon apart."""
    k = g["effector_kind"]
    if k == "fighter":
        return "fighter/cannon" if g["effector"].endswith("/cannon") else "fighter/missile"
    return k


def audit(events: list[dict]) -> dict:
    eng = {e["id"]: e for e in events if e["type"] == "engagement"}
    out = {e["engagement"]: e for e in events if e["type"] == "outcome"}
    by_kind = defaultdict(lambda: [0, 0, 0.0, 0, 0, 0])  # engagements, shots, money, defeated, missed, lost
    by_cls = defaultdict(lambda: [0, 0, 0.0, 0])  # engagements, shots, money, defeated
    per_truth = defaultdict(list)  # truth object -> engagements that met it
    for gid, g in eng.items():
        o = out.get(gid)
        k = by_kind[kind(g)]
        k[0] += 1
        k[1] += g["shots"]
        k[2] += g["cost"]
        res = o["result"] if o else "pending"
        k[3] += res == "defeated"
        k[4] += res == "missed"
        k[5] += res == "lost"
        c = by_cls[(o or {}).get("truth_class") or ("pending" if o is None else "none")]
        c[0] += 1
        c[1] += g["shots"]
        c[2] += g["cost"]
        c[3] += res == "defeated"
        if o and o.get("truth"):
            per_truth[o["truth"]].append((g, o))
    # engagements in flight at an object another engagement defeated before they arrived
    overlap = [0, 0.0]
    missile_then_cheap = [0, 0.0]
    for obj, lst in per_truth.items():
        kills = [g["t_intercept"] for g, o in lst if o["result"] == "defeated"]
        for g, o in lst:
            if o["result"] != "defeated" and kills and g["t_launch"] < min(kills) <= g["t_intercept"] + 5:
                overlap[0] += 1
                overlap[1] += g["cost"]
            if kind(g) in (*COSTLY, "fighter/missile"):
                later = [h for h, _ in lst if h["t_intercept"] > g["t_intercept"] and h["cost"] / h["shots"] < 1e5]
                if later:
                    missile_then_cheap[0] += 1
                    missile_then_cheap[1] += g["cost"]
    # shots approved at a track while an earlier engagement at it was still unassessed
    piled = {"cheap": [0, 0.0], "costly": [0, 0.0]}
    by_track = defaultdict(list)
    for g in sorted(eng.values(), key=lambda g: g["t"]):
        if any(h["t_intercept"] + 5.0 > g["t"] for h in by_track[g["threat"]]):
            k = piled["costly" if g["cost"] / g["shots"] >= 1e5 else "cheap"]
            k[0] += 1
            k[1] += g["cost"]
        by_track[g["threat"]].append(g)
    salvo = [sum(1 for g in eng.values() if g["shots"] > 1),
             sum(g["cost"] * (g["shots"] - 1) / g["shots"] for g in eng.values() if g["shots"] > 1)]
    lost = sum(e["value_lost"] for e in events if e["type"] == "impact")
    return {"by_kind": dict(by_kind), "by_class": dict(by_cls), "overlap": overlap, "salvo_extra": salvo,
            "missile_then_cheap": missile_then_cheap, "value_lost": lost, "piled": piled,
            "spent": sum(g["cost"] for g in eng.values())}


def show(path: str, a: dict) -> None:
    print(f"\n== {path}: spent ${a['spent']:,.0f}, value lost ${a['value_lost']:,.0f}")
    print(f"{'effector kind':<22}{'eng':>6}{'shots':>7}{'money':>14}{'defeated':>9}{'missed':>8}{'lost':>6}")
    for k, (n, s, m, d, mi, lo) in sorted(a["by_kind"].items(), key=lambda kv: -kv[1][2]):
        print(f"{k:<22}{n:>6}{s:>7}{m:>14,.0f}{d:>9}{mi:>8}{lo:>6}")
    print(f"{'true class met':<22}{'eng':>6}{'shots':>7}{'money':>14}{'defeated':>9}")
    for k, (n, s, m, d) in sorted(a["by_class"].items(), key=lambda kv: -kv[1][2]):
        print(f"{k:<22}{n:>6}{s:>7}{m:>14,.0f}{d:>9}")
    print(f"overlapping (another engagement killed it first): {a['overlap'][0]} engagements, "
          f"${a['overlap'][1]:,.0f}")
    print(f"salvos: {a['salvo_extra'][0]} engagements of 2+ shots, ${a['salvo_extra'][1]:,.0f} beyond the first shot")
    for k, (n, m) in a["piled"].items():
        print(f"{k} engagements approved while an earlier one at the track was unassessed: {n}, ${m:,.0f}")
    print(f"missiles at a drone a cheap effector engaged later: {a['missile_then_cheap'][0]}, "
          f"${a['missile_then_cheap'][1]:,.0f}")


def main(paths: list[str]) -> int:
    for p in paths:
        show(p, audit(_load(p)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
