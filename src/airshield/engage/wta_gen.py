"""Synthetic WTA instances for tests and benchmarks.

``layered_defence`` mimics a night raid against a few defended sites: each site
has a ring of effectors (mobile fire groups with guns, interceptor drones,
short-range SAM, now and then a medium SAM); each threat is a snapshot of a
drone inbound to one site at 0-15 km out. pk falls off with range, so each
effector reaches only the threats near it: a sparse pk matrix, as in practice.
Geometry is a small abstract plane (tens of km) used only to make pk sparse and
plausible; it is not geodesy.

``dense_random`` draws every pk uniformly: the hard, unrealistic case.
"""

from __future__ import annotations

import numpy as np

from airshield.engage.wta import Instance, make_instance

# kind: share, range km, pk at zero range, cost per shot, shots
EFFECTOR_KINDS = {
    "gun": (0.40, 2.5, 0.45, 2.0e3, 6),
    "interceptor_drone": (0.30, 8.0, 0.65, 6.0e3, 3),
    "sam_short": (0.22, 12.0, 0.85, 1.5e5, 4),
    "sam_medium": (0.08, 35.0, 0.92, 1.0e6, 2),
}
# kind: share, value range (expected loss if it leaks), pk multiplier vs it
THREAT_KINDS = {
    "shahed": (0.60, (2.0e5, 5.0e6), 1.0),
    "decoy": (0.30, (2.0e3, 2.0e4), 1.0),
    "jet_drone": (0.10, (1.0e6, 1.0e7), 0.6),
}


def layered_defence(rng: np.random.Generator, n_threats: int, n_effectors: int,
                    n_sites: int | None = None, lam: float = 1.0, site_spacing_km: float = 30.0
                    ) -> Instance:
    n_sites = n_sites or max(1, round(n_effectors / 8))
    side = int(np.ceil(np.sqrt(n_sites)))
    sites = np.stack(np.divmod(np.arange(n_sites), side), axis=1) * site_spacing_km
    sites = sites + rng.normal(0.0, 3.0, sites.shape)

    ek = list(EFFECTOR_KINDS)
    e_kind = rng.choice(len(ek), n_effectors, p=[EFFECTOR_KINDS[k][0] for k in ek])
    e_tab = np.array([EFFECTOR_KINDS[k][1:] for k in ek])
    e_site = rng.integers(0, n_sites, n_effectors)
    e_pos = sites[e_site] + rng.normal(0.0, 4.0, (n_effectors, 2))

    tk = list(THREAT_KINDS)
    t_kind = rng.choice(len(tk), n_threats, p=[THREAT_KINDS[k][0] for k in tk])
    t_site = rng.integers(0, n_sites, n_threats)
    ang = rng.uniform(0, 2 * np.pi, n_threats)
    rad = rng.uniform(0.0, 15.0, n_threats)
    t_pos = sites[t_site] + rad[:, None] * np.stack([np.cos(ang), np.sin(ang)], axis=1)
    lo = np.array([THREAT_KINDS[k][1][0] for k in tk])[t_kind]
    hi = np.array([THREAT_KINDS[k][1][1] for k in tk])[t_kind]
    value = np.exp(rng.uniform(np.log(lo), np.log(hi)))
    t_mult = np.array([THREAT_KINDS[k][2] for k in tk])[t_kind]

    rng_km, pk0, cost, shots = (e_tab[e_kind, c] for c in range(4))
    d = np.linalg.norm(e_pos[:, None, :] - t_pos[None, :, :], axis=2)
    frac = d / rng_km[:, None]
    pk = np.where(frac <= 1.0, pk0[:, None] * (1.0 - 0.5 * frac**2) * t_mult[None, :], 0.0)
    pk = np.round(pk, 3)
    return make_instance(value, shots.astype(np.int64), cost, pk, lam)


def dense_random(rng: np.random.Generator, n_threats: int, n_effectors: int,
                 lam: float = 1.0, max_shots: int = 4) -> Instance:
    value = np.exp(rng.uniform(np.log(1e4), np.log(5e6), n_threats))
    cost = np.exp(rng.uniform(np.log(1e3), np.log(5e5), n_effectors))
    shots = rng.integers(1, max_shots + 1, n_effectors)
    pk = np.round(rng.uniform(0.2, 0.9, (n_effectors, n_threats)), 3)
    return make_instance(value, shots, cost, pk, lam)
