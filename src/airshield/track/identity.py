"""What a track is, beside where: class probabilities (track/classify.py fed
with the track's kinematics and the reports' hints), the ADS-B identity and the
sensors that fed it lately."""

from __future__ import annotations

import numpy as np

from airshield import geo
from airshield.track import classify
from airshield.track.state import TrackState

# Kinematics too uncertain to say anything about class are left out (NaN),
# so a new track's wide velocity prior cannot vote "jet" or "bird".
MAX_VEL_SIGMA_MPS = 25.0
MAX_ALT_SIGMA_M = 500.0


def kinematics(state: TrackState, rows: np.ndarray, omega: np.ndarray):
    """Ground speed, height, climb (m/s) and turn rate (deg/s) of ``rows``, NaN
    where the estimate is too loose to classify on."""
    x, P, R = state.x[rows], state.P[rows], state.R[rows]
    v = (np.swapaxes(R, -1, -2) @ x[:, 3:, None])[..., 0]
    speed = np.hypot(v[:, 0], v[:, 1])
    climb = v[:, 2].copy()
    vel_sig = np.sqrt(np.maximum(np.trace(P[:, 3:, 3:], axis1=1, axis2=2), 0.0) / 3.0)
    up = R[:, :, 2]
    alt_sig = np.sqrt(np.maximum(np.einsum("ki,kij,kj->k", up, P[:, :3, :3], up), 0.0))
    alt = np.where(alt_sig <= MAX_ALT_SIGMA_M, state.alt[rows], np.nan)
    loose = vel_sig > MAX_VEL_SIGMA_MPS
    speed[loose] = np.nan
    climb[loose] = np.nan
    if omega.size > 1:
        turn = np.abs(np.degrees(state.mu[rows] @ omega))
        turn[loose] = np.nan
    else:
        turn = np.full(rows.size, np.nan)
    return speed, alt, climb, turn


def push_sources(state: TrackState, rows: np.ndarray, sensor: np.ndarray, t: np.ndarray) -> None:
    """Remember which sensor updated each of ``rows`` and when (ring of 4)."""
    for ring, new in ((state.src, sensor), (state.src_t, t)):  # shifted in place
        ring[rows, 1:] = ring[rows, :-1]
        ring[rows, 0] = new


def recent_sources(state: TrackState, rows: np.ndarray, window_s: float):
    """The source ring of ``rows`` and which entries are within ``window_s`` of
    each track's last hit (the TRACK ``sources``)."""
    src, src_t, t_hit = state.src[rows], state.src_t[rows], state.t_hit[rows]
    return src, (src >= 0) & (src_t >= (t_hit - window_s)[:, None])


def refresh_geodetic(state: TrackState, rows: np.ndarray, alt_floor: float = -np.inf) -> None:
    """Refresh the cached lat/lon/alt and ENU rotation of ``rows``.

    Nothing flies underground: a track whose height fell below ``alt_floor`` (a
    low drone seen by a radar near its horizon, where one elevation sigma is a
    kilometre, or azimuth-only updates that do not hold the height) is projected
    back onto the floor and stops descending (estimate projection onto the
    constraint; the covariance is kept)."""
    x = state.x[rows]
    lat, lon, alt = geo.ecef_to_geodetic(x[:, 0], x[:, 1], x[:, 2])
    lat, lon, alt = np.atleast_1d(lat), np.atleast_1d(lon), np.atleast_1d(alt)
    R = geo.enu_to_ecef_rotation(lat, lon).reshape(-1, 3, 3)
    low = np.flatnonzero(alt < alt_floor)
    if low.size:
        r, u = rows[low], R[low, :, 2]
        lift = (alt_floor - alt[low])[:, None] * u
        xv = state.x[r]  # the combined state and every IMM mode
        xv[:, :3] += lift
        xv[:, 3:] -= np.minimum((xv[:, 3:] * u).sum(axis=1), 0.0)[:, None] * u
        state.x[r] = xv
        xm = state.xm[r]
        xm[..., :3] += lift[:, None]
        vu = np.minimum((xm[..., 3:] * u[:, None]).sum(axis=-1), 0.0)
        xm[..., 3:] -= vu[..., None] * u[:, None]
        state.xm[r] = xm
        alt[low] = alt_floor
    state.lat[rows], state.lon[rows], state.alt[rows] = lat, lon, alt
    state.R[rows] = R


class IdentityQueue:
    """Class evidence collected during a step, applied at its end.

    Every report's class hint and ADS-B flag is applied in arrival order (round k
    takes each track's k-th report). With ``kinematic``, the tracks updated since
    the last kinematic pass get a refresh of their cached geodetic position and
    ENU rotation and one kinematic class likelihood. Doing this per step rather
    than per batch keeps classification's fixed per-call cost off the report
    path; kinematics change slowly and classify.py tempers them anyway.
    Tracks are named by id, so deletions in between do no harm."""

    def __init__(self):
        self._items: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, ids: np.ndarray, hint: np.ndarray, is_adsb: np.ndarray) -> None:
        self._items.append((ids.copy(), hint, is_adsb))

    def flush(self, st: TrackState, omega: np.ndarray, kinematic: bool,
              alt_floor: float = -np.inf) -> None:
        if self._items:
            ids = np.concatenate([q[0] for q in self._items])
            hint = np.concatenate([q[1] for q in self._items])
            adsb = np.concatenate([q[2] for q in self._items])
            self._items = []
            rows = np.minimum(np.searchsorted(st.id, ids), max(st.n - 1, 0))  # ids ascend by row
            alive = (st.id[rows] == ids) if st.n else np.zeros(ids.size, bool)
            rows, hint, adsb = rows[alive], hint[alive], adsb[alive]
            st.kin_due[rows] = True
            has = np.isfinite(hint).all(axis=1) | adsb
            self._hints(st, rows[has], hint[has], adsb[has])
        if kinematic and st.n:
            rows = np.flatnonzero(st.kin_due)
            if rows.size:
                st.kin_due[rows] = False
                refresh_geodetic(st, rows, alt_floor)
                kin = classify.class_likelihoods(*kinematics(st, rows, omega))
                none = np.full(kin.shape, np.nan)
                st.p_class[rows] = classify.update_class(st.p_class[rows], kin, none,
                                                         np.zeros(rows.size, bool))

    @staticmethod
    def _hints(st: TrackState, rows, hint, adsb) -> None:
        if rows.size == 0:
            return
        order = np.argsort(rows, kind="stable")
        rows, hint, adsb = rows[order], hint[order], adsb[order]
        first = np.r_[True, rows[1:] != rows[:-1]]
        idx = np.arange(rows.size)
        rank = idx - np.maximum.accumulate(np.where(first, idx, 0))
        nan_kin = np.full(hint.shape, np.nan)
        for k in range(int(rank.max()) + 1):
            sel = rank == k
            r = rows[sel]
            st.p_class[r] = classify.update_class(st.p_class[r], nan_kin[sel], hint[sel], adsb[sel])
