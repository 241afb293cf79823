"""The useful (effector, threat) pairs of a WTA instance, as flat arrays.

Every solver works on the sparse list of pairs that can matter: pk > 0 and at
least one shot that can pay for itself. ``u`` caps the shots worth firing on a
pair: the x-th shot of effector i at threat j lowers the expected leak by at most
value_j * pk * (1 - pk)**(x - 1); once that is <= lambda * cost_i, dropping the
shot never makes a plan worse, so some optimal plan keeps x <= u. An
instance's ``salvo`` (most shots of one effector at one threat) caps u too:
then x <= u is a constraint of the problem, which every solver keeps.

Survival is handled in logs: a = -ln(1 - pk). A sure kill (pk = 1) has a = inf;
internally a is capped at ``A_CAP`` (survival e**-60 ~ 1e-26 instead of 0). For any
plan that changes each threat's expected leak by at most value_j * e**-A_CAP, so
lower bounds computed with capped a subtract ``cap_slack`` to stay valid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

A_CAP = 60.0


@dataclass(frozen=True)
class Pairs:
    eff: np.ndarray        # (P,) effector index, pairs sorted by (threat, effector)
    thr: np.ndarray        # (P,) threat index
    pk: np.ndarray         # (P,) single-shot kill probability
    a: np.ndarray          # (P,) min(-ln(1 - pk), A_CAP)
    k: np.ndarray          # (P,) lambda * cost of one shot
    u: np.ndarray          # (P,) int64, most shots worth firing on the pair
    value: np.ndarray      # (T,)
    shots: np.ndarray      # (E,)
    thr_start: np.ndarray  # (T + 1,) pairs of threat j are thr_start[j]:thr_start[j+1]
    by_eff: np.ndarray     # (P,) permutation sorting pairs by effector
    eff_start: np.ndarray  # (E + 1,) in by_eff order
    cap_slack: float       # sum of value_j * e**-A_CAP over threats with a capped pair

    @property
    def n(self) -> int:
        return len(self.eff)

    @property
    def n_threats(self) -> int:
        return len(self.value)

    @property
    def n_effectors(self) -> int:
        return len(self.shots)


def useful_pairs(inst) -> Pairs:
    pk_all = inst.pk
    value, shots = inst.value, inst.shots
    kc_eff = inst.lam * inst.cost
    # column-major nonzero gives pairs sorted by (threat, effector)
    tj, ei = np.nonzero(pk_all.T > 0.0)
    pk = pk_all[ei, tj]
    k = kc_eff[ei]
    gain1 = value[tj] * pk
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_q = np.log1p(-pk)                      # -inf for pk = 1, 0 for tiny pk
        t = 1.0 + np.log(k / gain1) / log_q        # shots x < t are worth firing
        t = np.where(k > 0.0, t, np.inf)
        t = np.where(pk >= 1.0, 1.0, t)
    u = np.floor(np.minimum(np.nan_to_num(t, nan=0.0, posinf=1e18), 1e18) + 1e-9)
    u = np.clip(u, 0, shots[ei] if inst.salvo is None else np.minimum(shots, inst.salvo)[ei]).astype(np.int64)
    u[gain1 <= k] = 0
    keep = u > 0
    ei, tj, pk, k, u, log_q = ei[keep], tj[keep], pk[keep], k[keep], u[keep], log_q[keep]
    a = np.minimum(-log_q, A_CAP)
    capped = np.zeros(len(value), dtype=bool)
    capped[tj[-log_q >= A_CAP]] = True
    thr_start = np.searchsorted(tj, np.arange(len(value) + 1))
    by_eff = np.argsort(ei, kind="stable")
    eff_start = np.searchsorted(ei[by_eff], np.arange(len(shots) + 1))
    return Pairs(ei, tj, pk, a, k, u, value, shots, thr_start, by_eff, eff_start,
                 float(np.sum(value[capped]) * np.exp(-A_CAP)))


def survival_log(pairs: Pairs, xp: np.ndarray) -> np.ndarray:
    """(T,) sum of a * x per threat (capped logs) for pair shots xp."""
    return np.bincount(pairs.thr, weights=pairs.a * xp, minlength=pairs.n_threats)


def to_matrix(pairs: Pairs, xp: np.ndarray) -> np.ndarray:
    """(E, T) shots from per-pair shots."""
    x = np.zeros((pairs.n_effectors, pairs.n_threats), dtype=np.int64)
    x[pairs.eff, pairs.thr] = xp
    return x


def ranges(starts: np.ndarray, stops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated aranges [starts[n], stops[n]) and the n each element came from."""
    lens = stops - starts
    owner = np.repeat(np.arange(len(starts)), lens)
    offs = np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens)
    return starts[owner] + offs, owner
