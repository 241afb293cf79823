"""Track management: M-of-N confirmation, coasting, deletion and merging.

Confirmation counts revisits, not wall time: each track keeps a bit history
(newest bit = latest revisit, 1 = updated). When a report updates a track after a
gap, the revisits the track missed are inferred from the gap and the reporting
sensor's period (gap / (1.5 period), rounded down) and shifted in as zeros. A
tentative track is confirmed when at least M of its last N revisits were hits
(default 3 of 5). This needs no per-sensor coverage model and costs nothing for
tracks that were not updated.

Deletion: a tentative track not updated for tentative_timeout_s; a confirmed
track whose position sigma grew past max_pos_sigma_m, or not updated for
``delete_after`` (delete_after_s, longer for a track with a long history; it shows
as "coasting" from coast_after_s on and is hidden after delete_after_s, but kept
so that it can be re-acquired under its id).

Merging: two tracks on one object (seen first by two sensors far apart, or born
from a late report) are found with a KD-tree on positions and tested on the
6-D state difference against chi2(6); the younger one is deleted so the older id
lives on.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from airshield import SENSOR_KINDS
from airshield.track.config import TrackerConfig
from airshield.track.gate import chi2_gate
from airshield.track.motion import predict_positions
from airshield.track.state import CONFIRMED, TENTATIVE, TrackState

_POPCOUNT = np.array([bin(i).count("1") for i in range(1 << 16)], np.uint8)


def record_hits(state: TrackState, rows: np.ndarray, t: np.ndarray, period: np.ndarray,
                cfg: TrackerConfig) -> None:
    """Shift a hit (and the misses implied by the gap since the last hit) into
    the revisit history of ``rows`` updated at times ``t``."""
    gap = t - state.t_hit[rows]
    missed = np.clip(np.floor(gap / (1.5 * period)), 0, cfg.confirm_n).astype(np.uint32)
    state.hist[rows] = (state.hist[rows] << (missed + np.uint32(1))) | np.uint32(1)
    state.n_hits[rows] += 1
    state.t_hit[rows] = np.maximum(state.t_hit[rows], t)


def confirm(state: TrackState, rows: np.ndarray, cfg: TrackerConfig) -> np.ndarray:
    """Confirm tentative tracks among ``rows`` that reached M of N. Returns the
    rows newly confirmed."""
    mask = np.uint32((1 << cfg.confirm_n) - 1)
    hits = _POPCOUNT[(state.hist[rows] & mask).astype(np.int64)]
    new = rows[(state.status[rows] == TENTATIVE) & (hits >= cfg.confirm_m)]
    state.status[new] = CONFIRMED
    return new


def delete_after(state: TrackState, rows: np.ndarray | slice, cfg: TrackerConfig) -> np.ndarray:
    """Silence a confirmed track may coast through before deletion: delete_after_s,
    longer for a track with a long consistent history (a fraction of the time it
    was held, up to delete_after_max_s). A drone that drops under the radar
    horizon or between microphones keeps its id; a young track dies quickly. The
    position-sigma limit still removes a coasting track that has lost its object."""
    held = state.t_hit[rows] - state.t_birth[rows]
    return np.clip(cfg.coast_history_frac * held, cfg.delete_after_s,
                   max(cfg.delete_after_s, cfg.delete_after_max_s))


def doomed(state: TrackState, now: float, cfg: TrackerConfig) -> np.ndarray:
    """Boolean mask of the tracks to delete at ``now``."""
    silent = now - state.t_hit
    tent = state.status == TENTATIVE
    d = tent & (silent > cfg.tentative_timeout_s)
    d |= ~tent & (silent > delete_after(state, slice(None), cfg))
    bad = ~np.isfinite(state.x).all(axis=1) | ~np.isfinite(state.P[:, :3, :3]).all(axis=(1, 2))
    d |= bad
    # largest eigenvalue <= trace: only tracks whose trace is over the limit can be
    lim2 = cfg.max_pos_sigma_m ** 2
    cand = np.flatnonzero(~bad & (np.trace(state.P[:, :3, :3], axis1=1, axis2=2) > lim2))
    if cand.size:
        d[cand] |= np.linalg.eigvalsh(state.P[cand, :3, :3])[:, -1] > lim2
    return d


def coasting(state: TrackState, rows: np.ndarray, now: float, cfg: TrackerConfig) -> np.ndarray:
    """True where a confirmed track has not been updated for coast_after_s."""
    return now - state.t_hit[rows] > cfg.coast_after_s


def shown(P: np.ndarray, cfg: TrackerConfig, x: np.ndarray | None = None,
          ranged: np.ndarray | None = None) -> np.ndarray:
    """Track quality: True where a confirmed track's position is good enough to
    show (RMS 3-D position error sqrt(trace P_pos) <= show_max_rms_m). A vaguer
    track (coasting long after its last report, or held by one microphone's
    bearings, which fix no range) is kept and updated under its id, but the
    picture does not carry it: beyond that RMS it is more likely a false track
    plus a missed object than a useful one (see TrackerConfig.show_max_rms_m).

    Options (off by default; they need the ECEF states ``x``, whose positions
    fix the local vertical): a horizontal RMS limit (show_max_rms_h_m) and a
    height-sigma limit (show_max_sigma_v_m), the latter only for rows where
    ``ranged`` is True (a sensor measured the height) when it is given. In a
    wave of drones 1-3 km apart the vague shown track is the one GOSPA gives to
    a neighbour, mostly through its height (TRACKER.md "Quality (session 4)")."""
    lim = cfg.show_max_rms_m
    ok = (np.ones(P.shape[0], bool) if lim is None or not np.isfinite(lim)
          else np.trace(P[:, :3, :3], axis1=1, axis2=2) <= lim * lim)
    lim_h = cfg.show_max_rms_h_m
    if x is not None and lim_h is not None and np.isfinite(lim_h) and P.shape[0]:
        # up: the ellipsoid normal (geocentric direction is within 0.2 deg of it)
        up = x[:, :3] / np.linalg.norm(x[:, :3], axis=1, keepdims=True)
        var_up = np.einsum("ni,nij,nj->n", up, P[:, :3, :3], up)
        ok &= np.trace(P[:, :3, :3], axis1=1, axis2=2) - var_up <= lim_h * lim_h
    lim_v = cfg.show_max_sigma_v_m
    if x is not None and lim_v is not None and np.isfinite(lim_v) and P.shape[0]:
        up = x[:, :3] / np.linalg.norm(x[:, :3], axis=1, keepdims=True)
        vague = np.einsum("ni,nij,nj->n", up, P[:, :3, :3], up) > lim_v * lim_v
        if ranged is not None:  # only where a sensor measured its height: a track
            vague &= ranged  # whose height no sensor sees is judged in 3-D alone
        ok &= ~vague
    return ok


def shown_held(P: np.ndarray, ids: np.ndarray, held: np.ndarray, cfg: TrackerConfig,
               x: np.ndarray | None = None, unseen: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """Track quality with hysteresis: ``shown`` for tracks ``ids`` (their predicted
    covariances ``P``), except that a track in ``held`` (hidden for its quality
    at an earlier picture) is shown again only once its RMS 3-D position error
    is at most show_again_rms_m, the lower limit. A track whose sigma hovers at
    the show limit (a radar track between scans, a microphone-held one) is
    otherwise shown and hidden in turn: every return is a track gap, and the
    vague spells are the ones GOSPA gives to a neighbour.

    With show_again_unseen_rms_m, the states ``x`` (for the local vertical)
    and ``unseen`` (True for tracks whose height no sensor measures:
    ``only_height_blind``), such a track comes back when its error without the
    height variance up to the crossing prior (UNSEEN_HEIGHT_SIGMA_M, or
    unseen_height_sigma_m when set) is at most that limit: its height sigma
    never shrinks, so otherwise it returns only when a sensor that fixes range
    or height takes it, however well its bearings cross.

    Returns the mask of rows to show and the ids now held back (sorted): the
    rows not shown, plus ids of ``held`` not among ``ids`` (tracks silent too
    long to be shown keep their flag; the caller drops ids that were deleted)."""
    ok = shown(P, cfg, x)
    again = cfg.show_again_rms_m
    if again is not None and np.isfinite(again) and held.size:
        was = np.flatnonzero(np.isin(ids, held, assume_unique=True))
        if was.size:
            tr = np.trace(P[was, :3, :3], axis1=1, axis2=2)
            lim2 = np.full(was.size, again * again)
            lim_u = cfg.show_again_unseen_rms_m
            if x is not None and unseen is not None and lim_u is not None:
                k = unseen[was]
                u = was[k]
                if u.size:
                    up = x[u, :3] / np.linalg.norm(x[u, :3], axis=1, keepdims=True)
                    var_up = np.einsum("ni,nij,nj->n", up, P[u, :3, :3], up)
                    prior = cfg.unseen_height_sigma_m or UNSEEN_HEIGHT_SIGMA_M
                    tr[k] -= np.minimum(var_up, prior * prior)
                    lim2[k] = lim_u * lim_u
            ok[was] &= tr <= lim2
    held = np.union1d(np.setdiff1d(held, ids, assume_unique=True), ids[~ok])
    return ok, held


UNSEEN_HEIGHT_SIGMA_M = 500.0  # the height prior of a crossing of azimuths (triangulate.py)


def only_height_blind(state: TrackState, blind: np.ndarray) -> np.ndarray:
    """(n,) True for tracks that only height-blind sensors (``height_blind``)
    fed recently: their whole source ring."""
    src = state.src[:state.n]
    valid = src >= 0
    return valid.any(axis=1) & (~valid | blind[np.maximum(src, 0)]).all(axis=1)


def stale_pairs(d2: np.ndarray, dim: np.ndarray, silent_s: np.ndarray,
                cfg: TrackerConfig) -> np.ndarray:
    """Gated (track, plot) pairs to refuse because the track is stale: not
    updated for coast_after_s (``silent_s`` per pair) and the plot outside the
    stricter stale_gate_p gate (``d2`` and measurement dimension ``dim`` per
    pair). A coasting track's covariance has grown for as long as it was
    missed (0.9999 gate: 4.6 sigma, 2.6 km at 575 m RMS); in a wave, drones
    1-3 km apart, the plot that falls inside it is usually a neighbour's, and
    with no other track competing for it the assignment gives it to the stale
    track (TRACKER.md "Quality (session 4)"). Refused, the plot is free and the
    neighbour's own track (or a new one) takes it. All False when stale_gate_p
    is None."""
    p = cfg.stale_gate_p
    if p is None or d2.size == 0:
        return np.zeros(d2.shape, bool)
    lim = np.array([np.inf] + [chi2_gate(p, d) for d in range(1, 7)])
    return (silent_s > cfg.coast_after_s) & (d2 >= lim[dim])


def height_blind(sensors) -> np.ndarray:
    """(S,) True for sensors that never measure height: acoustic arrays that
    report azimuth only (no ``sigma_el_deg`` in sensors.json)."""
    kind = np.asarray(sensors.kind)
    sig_el = sensors.sensors.param("sigma_el_deg")
    return (kind == SENSOR_KINDS.index("acoustic")) & ~(sig_el > 0)


def bound_unseen_height(state: TrackState, blind: np.ndarray, cfg: TrackerConfig) -> np.ndarray:
    """Height sigma of tracks that only height-blind sensors fed recently (their
    whole source ring) held at ``unseen_height_sigma_m``, the prior a crossing of
    azimuths starts from (triangulate.py): no sensor sees the height, so it can
    never be less known than that population prior, yet the IMM grows it (the
    dive mode's vertical noise mixes in at every prediction: an azimuth-only
    track went from 500 to 720 m in two minutes). Covariance projection: the
    vertical position row and column of every mode and of the combination are
    scaled (a congruence, so they stay positive definite); the estimate is not
    moved. Returns the rows bounded."""
    lim = cfg.unseen_height_sigma_m
    if lim is None or state.n == 0:
        return np.zeros(0, np.int64)
    rows = np.flatnonzero(only_height_blind(state, blind))
    if rows.size == 0:
        return rows
    up = state.x[rows, :3] / np.linalg.norm(state.x[rows, :3], axis=1, keepdims=True)
    var = np.einsum("ni,nij,nj->n", up, state.P[rows, :3, :3], up)
    big = var > lim * lim
    rows, up = rows[big], up[big]
    if rows.size == 0:
        return rows
    e = np.zeros((rows.size, 6))
    e[:, :3] = up
    ee = e[:, :, None] * e[:, None, :]
    eye = np.eye(6)

    def project(P):  # P: (K, 6, 6); scale its vertical position part down to lim
        v = np.einsum("ni,nij,nj->n", e, P, e)
        k = np.minimum(1.0, lim / np.sqrt(np.maximum(v, 1e-12)))
        D = eye + (k - 1.0)[:, None, None] * ee
        return D @ P @ D

    state.P[rows] = project(state.P[rows])
    Pm = state.Pm[rows]
    for m in range(Pm.shape[1]):
        Pm[:, m] = project(Pm[:, m])
    state.Pm[rows] = Pm
    return rows


def duplicates(state: TrackState, now: float, cfg: TrackerConfig) -> np.ndarray:
    """Boolean mask of tracks that duplicate an older track on the same object."""
    n = state.n
    out = np.zeros(n, bool)
    if n < 2:
        return out
    pos = predict_positions(state.x, state.t, now)
    pairs = cKDTree(pos).query_pairs(cfg.merge_radius_m, output_type="ndarray")
    if pairs.size == 0:
        return out
    a, b = pairs[:, 0], pairs[:, 1]
    icao = state.icao
    ok = ~((icao[a] >= 0) & (icao[b] >= 0) & (icao[a] != icao[b]))  # two transponders: two aircraft
    a, b = a[ok], b[ok]
    if a.size == 0:
        return out
    # both states carried to ``now`` along straight lines (same map for both, so
    # the test compares like with like; process noise would only widen it)
    dta, dtb = now - state.t[a], now - state.t[b]
    xa, xb = state.x[a].copy(), state.x[b].copy()
    xa[:, :3] = pos[a]
    xb[:, :3] = pos[b]
    Pa, Pb = carry_covariance(state.P[a], dta), carry_covariance(state.P[b], dtb)
    dx = xa - xb
    S = Pa + Pb + 1e-6 * np.eye(6)  # a degenerate plot must not make S singular
    d2 = (dx[:, None, :] @ np.linalg.solve(S, dx[:, :, None]))[:, 0, 0]
    same = d2 < chi2_gate(cfg.merge_p, 6)
    a, b = a[same], b[same]
    # keep the confirmed one, then the older one (earlier birth, then lower id)
    key = np.stack([state.status, -state.t_birth, -state.id.astype(float)], axis=1)
    a_wins = _lex_greater(key[a], key[b])
    loser = np.where(a_wins, b, a)
    winner = np.where(a_wins, a, b)
    # an identity (ICAO address) survives the merge
    give = (state.icao[winner] < 0) & (state.icao[loser] >= 0)
    state.icao[winner[give]] = state.icao[loser[give]]
    if cfg.merge_keeps_better_state:
        _take_better_state(state, winner, loser)
    out[loser] = True
    return out


# what a merged track takes from its twin when the twin's estimate is the better one
KINEMATIC = ("x", "P", "xm", "Pm", "mu", "t", "t_hit", "hist", "lat", "lon", "alt", "R",
             "src", "src_t")


_CI_W = np.linspace(0.0, 1.0, 21)


def _take_better_state(state: TrackState, winner: np.ndarray, loser: np.ndarray) -> None:
    """The id goes to the older track, the estimate to both: where the loser's
    position is known more precisely (smaller trace of the position covariance),
    the two estimates are fused by covariance intersection (their errors are
    correlated, both fed by the same sensors, so a Kalman-style fusion would be
    overconfident; CI is consistent for any correlation), and the winner takes
    the fused state with the loser's time and revisit history. An old track that
    went vague (coasting, or held by one microphone) and a fresh one on the same
    object otherwise merge into the vague estimate, which the picture may then
    not even show (``shown``)."""
    if winner.size == 0:
        return
    # one merge per winner row: several losers of one winner give the best of them
    tr = np.trace(state.P[:, :3, :3], axis1=1, axis2=2)
    order = np.lexsort((tr[loser], winner))
    w, l_ = winner[order], loser[order]
    first = np.r_[True, w[1:] != w[:-1]]
    w, l_ = w[first], l_[first]
    better = (tr[l_] < tr[w]) & ~np.isin(w, loser)  # a winner that also loses goes anyway
    w, l_ = w[better], l_[better]
    if w.size == 0:
        return
    # both carried (straight lines) to the newer one's time
    t = np.maximum(state.t[w], state.t[l_])
    xa, xb = state.x[w].copy(), state.x[l_].copy()
    xa[:, :3] += xa[:, 3:] * (t - state.t[w])[:, None]
    xb[:, :3] += xb[:, 3:] * (t - state.t[l_])[:, None]
    Ia = np.linalg.inv(carry_covariance(state.P[w], t - state.t[w]) + 1e-6 * np.eye(6))
    Ib = np.linalg.inv(carry_covariance(state.P[l_], t - state.t[l_]) + 1e-6 * np.eye(6))
    # covariance intersection: P^-1 = om Pa^-1 + (1 - om) Pb^-1, om minimising trace P
    info = _CI_W[None, :, None, None] * Ia[:, None] + (1 - _CI_W)[None, :, None, None] * Ib[:, None]
    Pw = np.linalg.inv(info)
    k = np.argmin(np.trace(Pw, axis1=2, axis2=3), axis=1)
    om = _CI_W[k]
    P = Pw[np.arange(w.size), k]
    x = (P @ ((om[:, None, None] * Ia) @ xa[:, :, None]
              + ((1 - om)[:, None, None] * Ib) @ xb[:, :, None]))[:, :, 0]
    for name in KINEMATIC:
        getattr(state, name)[w] = getattr(state, name)[l_]
    P = 0.5 * (P + np.swapaxes(P, -1, -2))
    state.x[w], state.P[w], state.t[w] = x, P, t
    state.xm[w] = x[:, None, :]
    state.Pm[w] = P[:, None]
    state.kin_due[w] = True


def carry_covariance(P: np.ndarray, dt: np.ndarray) -> np.ndarray:
    """6x6 covariances carried ``dt`` along straight lines (no process noise)."""
    F = np.broadcast_to(np.eye(6), P.shape).copy()
    F[:, 0, 3] = F[:, 1, 4] = F[:, 2, 5] = dt
    return F @ P @ np.swapaxes(F, -1, -2)


def _lex_greater(ka: np.ndarray, kb: np.ndarray) -> np.ndarray:
    """Row-wise lexicographic ka > kb (ties: False)."""
    out = np.zeros(ka.shape[0], bool)
    undecided = np.ones(ka.shape[0], bool)
    for j in range(ka.shape[1]):
        gt, lt = ka[:, j] > kb[:, j], ka[:, j] < kb[:, j]
        out |= undecided & gt
        undecided &= ~(gt | lt)
    return out
