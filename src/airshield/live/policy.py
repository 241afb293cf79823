"""Approval policies: who says yes to a recommendation.

airshield recommends; a person approves. In simulation a policy stands in for
the operator and answers each new recommendation at once:

- ``approve_all``: yes to everything (the planner's judgement, unchecked);
- ``cost_cap``: yes only when the recommendation costs less than the cap (all
  its shots), no otherwise — an operator told to spend missiles only on orders;
- ``manual``: no answer: the recommendation stays open until ``Chain.approve``
  or ``Chain.reject`` is called (the live picture's buttons), or until the
  planner withdraws it.

A policy returns ``"approve"``, ``"reject"`` or ``None`` (undecided).

``Roe`` holds the rules of engagement every planner obeys before anything is
recommended at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from airshield.errors import InputError

POLICIES = ("approve_all", "cost_cap", "manual")


@dataclass(frozen=True)
class Roe:
    """Rules of engagement, the same for every planner: a track is engaged only
    once it is identified as an attack drone (P(shahed, decoy, jet_drone or
    recon) at least ``min_p_hostile``; a new track starts from the raid prior,
    so this waits for its own evidence), has been held ``min_age_s``, and is
    updated now (confirmed, not coasting: a weapon needs a live track)."""

    min_p_hostile: float = 0.6
    min_age_s: float = 10.0


@dataclass(frozen=True)
class Policy:
    name: str
    cost_cap: float | None = None

    @property
    def who(self) -> str:
        """How decisions by this policy are signed in the event log."""
        return f"policy:{self.name}"

    def decide(self, rec: dict) -> str | None:
        if self.name == "approve_all":
            return "approve"
        if self.name == "cost_cap":
            return "approve" if rec["cost"] < self.cost_cap else "reject"
        return None


def make_policy(name: str, cost_cap: float | None = None) -> Policy:
    """A policy by name; a missing or bad cap is a one-line InputError."""
    if name not in POLICIES:
        raise InputError(f"unknown policy {name!r} (use one of {', '.join(POLICIES)})", field="--policy")
    if name == "cost_cap":
        if cost_cap is None:
            raise InputError("the cost_cap policy needs --cost-cap (currency per recommendation)",
                             field="--cost-cap")
        if not (math.isfinite(cost_cap) and cost_cap > 0):
            raise InputError(f"must be a positive number, got {cost_cap}", field="--cost-cap")
        return Policy(name, float(cost_cap))
    return Policy(name, None)
