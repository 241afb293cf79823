"""Static weapon-target assignment (WTA): instance, plan and the ``solve`` dispatcher.

With integer shots x[i][j] >= 0 and sum_j x[i][j] <= shots_i the plan minimises

    sum_j value_j * prod_i (1 - pk[i][j]) ** x[i][j]  +  lambda * sum_i cost_i * sum_j x[i][j]

(expected value that leaks + lambda * money spent). A plan is a recommendation for
a human operator, never a command.

The objective written in a plan is always recomputed from its integer shots with
exactly the formula above, so a reader that recomputes it gets the same number.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson

from airshield.errors import InputError
from airshield.io.jsonl import read_json

METHODS = ("auto", "exact", "fast")
# auto: the exact MILP for instances with at most this many useful (effector,
# threat) pairs, the fast heuristic above it (see docs/ASSIGN.md for the figures).
AUTO_EXACT_PAIRS = 1500
# auto without --time-limit: the exact solver stops here and returns its best
# plan with the proven bound.
AUTO_TIME_LIMIT_S = 10.0
# ... and exact for instances of at most this many threats and effectors
# whatever their pairs (dense 80 x 80: proven optimal in ~0.5 s CPU), with a
# shorter default limit: where it cannot prove (lambda = 0, free shots) it
# returns the fast plan and bound after that.
AUTO_EXACT_SIZE = 100
AUTO_SMALL_TIME_LIMIT_S = 3.0


@dataclass(frozen=True)
class Instance:
    """One static assignment problem; arrays are indexed [effector, threat]."""

    threat_ids: tuple[str, ...]
    value: np.ndarray          # (T,) expected loss if threat j leaks
    effector_ids: tuple[str, ...]
    shots: np.ndarray          # (E,) int64 shots available to effector i
    cost: np.ndarray           # (E,) cost of one shot of effector i
    pk: np.ndarray             # (E, T) single-shot kill probability
    lam: float = 1.0           # weight of money against expected leak
    source: str | None = None  # file it was read from, for messages
    salvo: np.ndarray | None = None  # (E,) most shots of effector i at one threat (None: no limit)

    @property
    def n_threats(self) -> int:
        return len(self.threat_ids)

    @property
    def n_effectors(self) -> int:
        return len(self.effector_ids)


@dataclass
class Plan:
    """Integer shots per (effector, threat) and what they are worth."""

    shots: np.ndarray               # (E, T) int64
    objective: float
    expected_leak_value: float
    cost: float
    bound: float | None             # proven lower bound on the optimal objective
    solver: str
    optimal: bool = False           # bound meets objective (relative 1e-6)
    wall_time_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def gap(self) -> float | None:
        """Relative gap (objective - bound) / objective, None without a bound."""
        if self.bound is None:
            return None
        return (self.objective - self.bound) / max(abs(self.objective), 1e-300)


def make_instance(value, shots, cost, pk, lam: float = 1.0, threat_ids=None,
                  effector_ids=None, salvo=None) -> Instance:
    """Build an Instance from arrays (ids default to T1.. and E1..)."""
    value = np.asarray(value, dtype=np.float64).reshape(-1)
    cost = np.asarray(cost, dtype=np.float64).reshape(-1)
    shots = np.asarray(shots).reshape(-1).astype(np.int64)
    pk = np.asarray(pk, dtype=np.float64).reshape(len(shots), len(value))
    if len(cost) != len(shots):
        raise ValueError("cost and shots differ in length")
    tid = tuple(threat_ids) if threat_ids is not None else tuple(f"T{j + 1}" for j in range(len(value)))
    eid = tuple(effector_ids) if effector_ids is not None else tuple(f"E{i + 1}" for i in range(len(shots)))
    if salvo is not None:
        salvo = np.asarray(salvo).reshape(-1).astype(np.int64)
        if len(salvo) != len(shots):
            raise ValueError("salvo and shots differ in length")
    return Instance(tid, value, eid, shots, cost, pk, float(lam), salvo=salvo)


# ---------------------------------------------------------------- evaluation

def evaluate(inst: Instance, x: np.ndarray) -> tuple[float, float, float]:
    """(objective, expected_leak_value, lambda-free money cost) of integer shots x."""
    x = np.asarray(x, dtype=np.int64)
    survival = np.prod(np.power(1.0 - inst.pk, x), axis=0) if inst.n_effectors else np.ones(inst.n_threats)
    leak = float(np.dot(inst.value, survival))
    money = float(np.dot(inst.cost, x.sum(axis=1)))
    return leak + inst.lam * money, leak, money


def is_feasible(inst: Instance, x: np.ndarray) -> bool:
    x = np.asarray(x)
    return (x.shape == inst.pk.shape and bool(np.all(x >= 0))
            and bool(np.all(x.sum(axis=1) <= inst.shots))
            and (inst.salvo is None or bool(np.all(x <= inst.salvo[:, None]))))


def make_plan(inst: Instance, x: np.ndarray, bound: float | None, solver: str,
              t0: float | None = None, notes: list[str] | None = None) -> Plan:
    """A Plan whose numbers are recomputed from x. A bound above the objective can
    only come from rounding (bound <= optimum <= objective), so it is clipped."""
    x = np.asarray(x, dtype=np.int64)
    obj, leak, money = evaluate(inst, x)
    if bound is not None:
        bound = float(min(bound, obj))
    optimal = bound is not None and obj - bound <= 1e-6 * max(abs(obj), 1e-12)
    wall = time.perf_counter() - t0 if t0 is not None else 0.0
    return Plan(x, obj, leak, money, bound, solver, optimal, wall, list(notes or []))


def plan_to_json(inst: Instance, plan: Plan) -> str:
    """PLAN JSON of the contract plus ``optimal``, ``gap``, ``wall_time_s``, ``notes``."""
    ei, tj = np.nonzero(plan.shots)
    assignments = [{"effector": inst.effector_ids[i], "threat": inst.threat_ids[j],
                    "shots": int(plan.shots[i, j])} for i, j in zip(ei.tolist(), tj.tolist())]
    doc = {"assignments": assignments, "objective": plan.objective,
           "expected_leak_value": plan.expected_leak_value, "cost": plan.cost,
           "bound": plan.bound, "solver": plan.solver, "optimal": plan.optimal,
           "gap": plan.gap, "wall_time_s": round(plan.wall_time_s, 4), "notes": plan.notes}
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode()


# ---------------------------------------------------------------- solving

def solve(inst: Instance, time_limit: float | None = None, method: str = "auto") -> Plan:
    """Best plan for ``inst``: ``exact`` (MILP, provably optimal when it finishes
    in time), ``fast`` (greedy + local search with a Lagrangian bound) or ``auto``."""
    from airshield.engage.wta_exact import solve_exact
    from airshield.engage.wta_fast import solve_fast
    from airshield.engage.wta_pairs import useful_pairs

    if method not in METHODS:
        raise InputError(f"unknown solver {method!r} (use one of {', '.join(METHODS)})",
                         field="--solver")
    if time_limit is not None and not (time_limit > 0 and math.isfinite(time_limit)):
        raise InputError(f"time limit must be a positive number of seconds, got {time_limit}",
                         field="--time-limit")
    if method == "auto":
        pairs = useful_pairs(inst)
        small = inst.n_threats <= AUTO_EXACT_SIZE and inst.n_effectors <= AUTO_EXACT_SIZE
        method = "exact" if pairs.n <= AUTO_EXACT_PAIRS or small else "fast"
        if method == "exact" and time_limit is None:
            time_limit = AUTO_TIME_LIMIT_S if pairs.n <= AUTO_EXACT_PAIRS else AUTO_SMALL_TIME_LIMIT_S
    if method == "exact":
        return solve_exact(inst, time_limit=time_limit)
    return solve_fast(inst, time_limit=time_limit)


# ---------------------------------------------------------------- reading

def load_instance(path: str | Path) -> Instance:
    """Read and validate an INSTANCE JSON file; InputError names file and field."""
    p = Path(path)
    doc = read_json(p)
    return instance_from_doc(doc, source=str(p))


def instance_from_doc(doc, source: str | None = None) -> Instance:
    def bad(fld: str, msg: str) -> InputError:
        return InputError(msg, file=source, field=fld)

    if not isinstance(doc, dict):
        raise bad("(top level)", f"expected a JSON object, got {_kind(doc)}")
    lam = _number(doc, "lambda", "lambda", bad, hi=MAX_LAMBDA)
    threats = _list_of_objects(doc, "threats", bad)
    effectors = _list_of_objects(doc, "effectors", bad)
    tid = _ids(threats, "threats", bad)
    eid = _ids(effectors, "effectors", bad)
    value = np.array([_number(t, "value", f"threats[{j}].value", bad) for j, t in enumerate(threats)],
                     dtype=np.float64)
    cost = np.array([_number(e, "cost", f"effectors[{i}].cost", bad) for i, e in enumerate(effectors)],
                    dtype=np.float64)
    shots = np.array([_shots(e, f"effectors[{i}].shots", bad) for i, e in enumerate(effectors)],
                     dtype=np.int64)
    pk = _pk(doc, len(effectors), len(threats), bad)
    return Instance(tid, value, eid, shots, cost, pk, lam, source)


def _kind(v) -> str:
    return "null" if v is None else {dict: "object", list: "array", str: "string",
                                     bool: "boolean"}.get(type(v), type(v).__name__)


# Magnitudes past these are input errors, not raids: they would only push the
# arithmetic towards overflow (values and costs in one currency).
MAX_MONEY = 1e15
MAX_LAMBDA = 1e15
MAX_SHOTS = 100_000


def _number(obj: dict, key: str, fld: str, bad, hi: float = MAX_MONEY) -> float:
    """A finite number in [0, hi]."""
    if key not in obj:
        raise bad(fld, "missing")
    v = obj[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise bad(fld, f"expected a number, got {_kind(v)}")
    try:
        v = float(v)
    except OverflowError:
        raise bad(fld, "number too large") from None
    if not math.isfinite(v):
        raise bad(fld, "not a finite number")
    if v < 0:
        raise bad(fld, f"must be >= 0, got {v:g}")
    if v > hi:
        raise bad(fld, f"implausibly large ({v:g} > {hi:g})")
    return v


def _shots(obj: dict, fld: str, bad) -> int:
    v = _number(obj, "shots", fld, bad, hi=MAX_SHOTS)
    if v != math.floor(v):
        raise bad(fld, f"must be a whole number of shots, got {v:g}")
    return int(v)


def _list_of_objects(doc: dict, key: str, bad) -> list[dict]:
    if key not in doc:
        raise bad(key, "missing")
    items = doc[key]
    if not isinstance(items, list):
        raise bad(key, f"expected an array, got {_kind(items)}")
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise bad(f"{key}[{n}]", f"expected an object, got {_kind(item)}")
    return items


def _ids(items: list[dict], key: str, bad) -> tuple[str, ...]:
    seen: dict[str, int] = {}
    for n, item in enumerate(items):
        fld = f"{key}[{n}].id"
        if "id" not in item:
            raise bad(fld, "missing")
        v = item["id"]
        if not isinstance(v, str) or not v:
            raise bad(fld, f"expected a non-empty string, got {_kind(v)}")
        if v in seen:
            raise bad(fld, f"duplicate id {v!r} (also {key}[{seen[v]}])")
        seen[v] = n
    return tuple(seen)


def _pk(doc: dict, n_eff: int, n_thr: int, bad) -> np.ndarray:
    if "pk" not in doc:
        raise bad("pk", "missing")
    rows = doc["pk"]
    if not isinstance(rows, list):
        raise bad("pk", f"expected an array of {n_eff} rows (one per effector), got {_kind(rows)}")
    if len(rows) != n_eff:
        raise bad("pk", f"expected {n_eff} rows (one per effector), got {len(rows)}")
    for i, row in enumerate(rows):
        if not isinstance(row, list):
            raise bad(f"pk[{i}]", f"expected an array of {n_thr} numbers, got {_kind(row)}")
        if len(row) != n_thr:
            raise bad(f"pk[{i}]", f"expected {n_thr} numbers (one per threat), got {len(row)}")
    # orjson gives int/float for JSON numbers; anything else (bool, string, null,
    # array) is wrong even where numpy would coerce it.
    if not all(type(v) is float or type(v) is int for row in rows for v in row):
        for i, row in enumerate(rows):
            for j, v in enumerate(row):
                if not (type(v) is float or type(v) is int):
                    raise bad(f"pk[{i}][{j}]", f"expected a number, got {_kind(v)}")
    try:
        pk = np.array(rows, dtype=np.float64).reshape(n_eff, n_thr)
    except OverflowError:
        pk = np.array([[float(v) if abs(v) < 1e300 else math.inf for v in row] for row in rows],
                      dtype=np.float64).reshape(n_eff, n_thr)
    wrong = ~((pk >= 0.0) & (pk <= 1.0))          # also catches NaN
    if wrong.any():
        i, j = np.argwhere(wrong)[0]
        raise bad(f"pk[{i}][{j}]", f"must be a probability in [0, 1], got {pk[i, j]:g}")
    return pk
