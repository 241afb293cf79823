"""Engagement planning: recommend (never command) which effector fires how many
shots at which threat.

``wta`` holds the static weapon-target assignment: the instance and plan
formats and the ``solve`` dispatcher; ``wta_exact`` (provably optimal MILP),
``wta_fast`` (greedy + local search) and ``wta_bound`` (Lagrangian lower bound)
are the swappable solvers behind it.
"""
