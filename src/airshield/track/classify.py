"""Per-track class probabilities over ``airshield.CLASSES``.

A recursive Bayes filter on a discrete class variable: each update multiplies the
track's class probabilities by tempered likelihoods from (a) the track's kinematics
(speed, height, climb, turn rate), (b) a sensor's own class hint and (c) a
cooperative ADS-B report, then floors and renormalises.

Why tempered: successive kinematic estimates of one track are strongly correlated
(the same filter state, re-used), so multiplying full likelihoods scan after scan
would count the same evidence many times and make the class brittle. Each update is
raised to a power below one and its largest likelihood ratio is capped, so a single
noisy update cannot flip a confident class. The floor keeps every class reachable,
so a track recovers from a wrong hint within a few updates.

Kinematic figures (public, open-source reporting; see docs/CLASSIFY_TRIANGULATE.md):
Shahed-136/Geran-2 150-190 km/h at 100-2,500 m; Gerbera-class decoys 100-150 km/h,
lower; Geran-3 class jet drones 400-600 km/h; Orlan-10/Zala class recon 80-150 km/h
at 1,000-5,000 m, loitering; aircraft: airliners/military jets ~200-250 m/s high, or
light aircraft ~50-80 m/s; birds 8-20 m/s, mostly below 500 m, erratic.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

from airshield import CLASS_INDEX, CLASSES
from airshield.track.linalg import max_last, sum_last

K = len(CLASSES)
AIRCRAFT = CLASS_INDEX["aircraft"]
UNKNOWN = CLASS_INDEX["unknown"]

# Class mix of an air picture during a raid: mostly attack drones and decoys,
# some recon, background aircraft and the birds a sensitive sensor always sees.
RAID_PRIOR = {"shahed": 0.33, "decoy": 0.20, "jet_drone": 0.05, "recon": 0.07,
              "aircraft": 0.10, "bird": 0.12, "unknown": 0.13}

# One row per kinematic mode: (class, weight within the class, speed median m/s,
# speed log-sigma, height lo m, height hi m, height edge m, climb scale m/s,
# turn scale deg/s). Height is a soft box: flat on [lo, hi], Gaussian edges.
# Aircraft and unknown are mixtures / broad; "unknown" is deliberately flat so it
# keeps mass only when nothing else fits.
MODES = (
    ("shahed",    1.0,  47.0, 0.12,  100.0,  2500.0, 250.0,  3.0,  1.5),
    ("decoy",     1.0,  34.0, 0.15,   50.0,  1500.0, 200.0,  3.0,  1.5),
    ("jet_drone", 1.0, 136.0, 0.17,  100.0,  6000.0, 400.0,  8.0,  1.5),
    ("recon",     1.0,  31.0, 0.22, 1000.0,  5000.0, 400.0,  3.0,  5.0),
    ("aircraft",  0.6, 215.0, 0.25, 2500.0, 12500.0, 800.0, 10.0,  1.5),  # jets
    ("aircraft",  0.4,  62.0, 0.25,  300.0,  4000.0, 400.0,  4.0,  2.5),  # light aircraft
    ("bird",      1.0,  13.0, 0.30,    0.0,   500.0, 250.0,  2.0, 12.0),
)
UNKNOWN_SPEED = (1.0, 400.0)  # log-uniform support, m/s
UNKNOWN_HEIGHT = (0.0, 15000.0, 1000.0)
UNKNOWN_CLIMB, UNKNOWN_TURN = 20.0, 25.0
STUDENT_DOF = 4.0  # heavy tails: a manoeuvre or a bad estimate is not impossible


def prior(n: int) -> np.ndarray:
    """(n, 7) class probabilities for a new track in an air picture under a raid."""
    p = np.array([RAID_PRIOR[c] for c in CLASSES], float)
    return np.tile(p / p.sum(), (max(int(n), 0), 1))


def _soft_box_logpdf(x, lo, hi, edge):
    """Log density flat on [lo, hi] with Gaussian shoulders of sd ``edge``."""
    d = np.maximum(lo - x, 0.0) + np.maximum(x - hi, 0.0)
    return -0.5 * (d / edge) ** 2 - np.log((hi - lo) + np.sqrt(2 * np.pi) * edge)


def _lognormal_logpdf(v, median, s):
    v = np.maximum(v, 1e-3)
    return -0.5 * ((np.log(v) - np.log(median)) / s) ** 2 - np.log(v * s * np.sqrt(2 * np.pi))


def _t_logpdf(x, nu: float = None):
    """Standard Student-t log-density in closed form. scipy.stats.t.logpdf costs
    about 1 ms per call in argument checking alone; this is the same formula."""
    nu = STUDENT_DOF if nu is None else nu
    c = gammaln((nu + 1) / 2) - gammaln(nu / 2) - 0.5 * np.log(nu * np.pi)
    return c - (nu + 1) / 2 * np.log1p(np.square(x) / nu)


def _half_t_logpdf(x, scale):
    return np.log(2.0) + _t_logpdf(np.abs(x) / scale) - np.log(scale)


def class_log_likelihoods(speed_mps, alt_m, climb_mps, turn_rate_dps) -> np.ndarray:
    """(N, 7) log densities of the kinematics under each class (see class_likelihoods).

    Every kinematic mode of ``MODES`` is one column of (N, modes) arrays, so the
    whole table is a few dozen numpy calls whatever the number of modes (a loop
    over the modes cost about 200 small calls per kinematic pass)."""
    v, h, c, w = (np.atleast_1d(np.asarray(a, float)) for a in (speed_mps, alt_m, climb_mps,
                                                                   turn_rate_dps))
    v, h, c, w = np.broadcast_arrays(v, h, c, w)
    v, h, c, w = v[:, None], h[:, None], c[:, None], w[:, None]
    # NaN feature = not observed (e.g. no height on a bearing-only track): factor 1.
    def term(x, logpdf):
        return np.where(np.isfinite(x), logpdf, 0.0)

    wt, med, s, lo, hi, edge, climb, turn = _MODE_TABLE
    with np.errstate(invalid="ignore", over="ignore"):
        ll = (np.log(wt) + term(v, _lognormal_logpdf(v, med, s))
              + term(h, _soft_box_logpdf(h, lo, hi, edge))
              + term(c, _t_logpdf(c / climb) - np.log(climb))
              + term(w, _half_t_logpdf(w, turn)))
        out = np.full((v.shape[0], K), -np.inf)
        for m, j in enumerate(_MODE_CLASS):  # columns; a class with two modes sums them
            out[:, j] = np.logaddexp(out[:, j], ll[:, m])
        vmin, vmax = UNKNOWN_SPEED
        lu = (term(v, -np.log(np.clip(v, vmin, vmax) * np.log(vmax / vmin)))
              + term(h, _soft_box_logpdf(h, *UNKNOWN_HEIGHT))
              + term(c, _t_logpdf(c / UNKNOWN_CLIMB) - np.log(UNKNOWN_CLIMB))
              + term(w, _half_t_logpdf(w, UNKNOWN_TURN)))
    out[:, UNKNOWN] = lu[:, 0]
    return out


# MODES as columns: weight, speed median, log-sigma, height lo/hi/edge, climb, turn scales
_MODE_TABLE = tuple(np.array([m[k] for m in MODES], float) for k in range(1, 9))
_MODE_CLASS = [CLASS_INDEX[m[0]] for m in MODES]


def class_likelihoods(speed_mps, alt_m, climb_mps, turn_rate_dps) -> np.ndarray:
    """(N, 7) likelihoods of each class given a track's kinematics, vectorised.

    speed_mps: ground speed; alt_m: height above ground (m; the ellipsoid height will
    do where terrain is unknown and low); climb_mps: vertical speed; turn_rate_dps:
    turn rate (sign ignored). NaN in any input means "not observed" and leaves that
    factor out. Rows are scaled so their largest entry is 1 (only ratios matter).
    """
    ll = class_log_likelihoods(speed_mps, alt_m, climb_mps, turn_rate_dps)
    return np.exp(ll - max_last(ll)[:, None])


def _floor_vector(floor: float) -> np.ndarray:
    f = np.full(K, float(floor))
    f[UNKNOWN] = max(10.0 * floor, f[UNKNOWN])  # "unknown" keeps a small mass
    return f


def update_class(p_class, kin_like, hint, is_adsb, hint_weight: float = 0.7, *,
                 kin_weight: float = 0.3, max_ratio: float = 8.0, floor: float = 1e-3,
                 hint_floor: float = 0.05, adsb_leak: float = 1e-4) -> np.ndarray:
    """One recursive Bayes step of the class probabilities, vectorised over tracks.

    p_class (N,7): current probabilities. kin_like (N,7): class_likelihoods() of the
    track's current kinematics (NaN row = no kinematic evidence this time). hint
    (N,7): a sensor's class hint as likelihoods (NaN row = no hint). is_adsb (N,):
    a cooperative ADS-B report was associated this update.

    Kinematics enter as kin_like**kin_weight with the spread of any one update
    capped at ``max_ratio``; hints as (hint + hint_floor)**hint_weight (a class the
    sensor did not name is unlikely, not impossible); ADS-B as near certainty of
    ``aircraft`` (others get ``adsb_leak``). The result is floored at ``floor``
    (ten times that for ``unknown``) and sums to 1.
    """
    p = np.asarray(p_class, float).reshape(-1, K)
    n = p.shape[0]
    logp = np.log(np.clip(p, 1e-300, None))
    logp[~np.isfinite(p).all(axis=1)] = np.log(prior(1)[0])  # corrupt row: restart

    # each kind of evidence only where some row has it (a term of zeros adds
    # nothing: the same result, fewer passes over (N, 7) arrays)
    post = logp
    kin = np.asarray(kin_like, float).reshape(n, K)
    ok = np.isfinite(kin).all(axis=1) & (kin > 0).any(axis=1)
    if ok.any():
        with np.errstate(divide="ignore", invalid="ignore"):
            lk = kin_weight * np.log(np.clip(kin, 0.0, None))
        lk = np.where(ok[:, None], lk, 0.0)
        lk = lk - max_last(lk)[:, None]
        lk = np.maximum(lk, -np.log(max_ratio))
        post = post + lk

    h = np.asarray(hint, float).reshape(n, K)
    hok = np.isfinite(h).all(axis=1) & (h >= 0).all(axis=1) & (sum_last(h) > 0)
    if hok.any():
        hs = np.where(hok[:, None], h, 1.0)
        hs = hs / sum_last(hs)[:, None]
        post = post + np.where(hok[:, None], hint_weight * np.log(hs + hint_floor), 0.0)

    adsb = np.asarray(is_adsb, bool).reshape(n)
    if adsb.any():
        la = np.zeros((n, K))
        la[adsb] = np.log(adsb_leak)
        la[adsb, AIRCRAFT] = 0.0
        post = post + la
    post = np.exp(post - max_last(post)[:, None])
    post /= sum_last(post)[:, None]
    f = _floor_vector(floor)
    return f + (1.0 - f.sum()) * post


def best_class(p_class) -> list[str]:
    """Argmax class names, for writing TRACK ``class``."""
    return [CLASSES[i] for i in np.argmax(np.asarray(p_class).reshape(-1, K), axis=1)]


__all__ = ["MODES", "RAID_PRIOR", "best_class", "class_likelihoods", "class_log_likelihoods",
           "prior", "update_class"]
