"""Dead reckoning out of cover: which silent tracks the picture still shows.

A confirmed track silent past ``delete_after_s`` leaves the picture where some
sensor should see it (it has most likely ended or been lost there). Where no
sensor reaches (``cover.Cover``), a drone in level flight is most likely
flying on unseen: it is carried by a cruising model and shown as coasting for
up to ``dead_reckon_s`` of silence, from the live tracks or from the
continuation graveyard alike. The tracker's state is not touched: this only
decides what the picture carries (TRACKER.md "Dead reckoning out of cover").
"""

from __future__ import annotations

import numpy as np

from airshield import CLASSES, geo
from airshield.track.config import TrackerConfig
from airshield.track.cover import Cover
from airshield.track.predict import predict_ncv
from airshield.track.state import CONFIRMED, TrackState
from airshield.track.stitch import Graveyard

COLS = ("id", "x", "P", "t", "R", "p_class", "icao", "src")  # what the picture needs
_UNKNOWN = CLASSES.index("unknown")


def dead_reckoned(state: TrackState, grave: Graveyard, cover: Cover, now: float,
                  cfg: TrackerConfig, alt_floor: float) -> dict | None:
    """Confirmed tracks silent for longer than delete_after_s (alive, or
    deleted into the graveyard) and at most dead_reckon_s, carried to ``now``
    by the cruising model (q_cruise_*), in level flight (|vertical speed| at
    most dead_reckon_max_vu_mps) above ``alt_floor``, where no sensor would see
    them and whose RMS position error passes the show limit: their columns
    ``COLS`` (x, P at ``now``), or None when there are none."""
    silent = now - state.t_hit
    live = np.flatnonzero((state.status == CONFIRMED) & (silent > cfg.delete_after_s)
                          & (silent <= cfg.dead_reckon_s))
    cols = {k: getattr(state, k)[live] for k in COLS}
    if len(grave):
        s_g = now - grave.cols["t_hit"]
        dead = np.flatnonzero((s_g > cfg.delete_after_s) & (s_g <= cfg.dead_reckon_s))
        if dead.size:
            cols = {k: np.concatenate([cols[k], grave.cols[k][dead]]) for k in COLS}
    if cols["id"].size == 0:
        return None
    x, P = predict_ncv(cols["x"], cols["P"], now - cols["t"], cols["R"], cfg.q_cruise_h,
                       cfg.q_cruise_v, cfg.vu_tau_s)
    alt = np.atleast_1d(geo.ecef_to_geodetic(x[:, 0], x[:, 1], x[:, 2])[2])
    # a diving track has most likely hit the ground: only level flight goes on unseen
    up = x[:, :3] / np.linalg.norm(x[:, :3], axis=1, keepdims=True)  # ellipsoid normal to 0.2 deg
    keep = np.abs(np.einsum("ni,ni->n", up, x[:, 3:])) <= cfg.dead_reckon_max_vu_mps
    keep &= alt > alt_floor
    lim = cfg.dead_reckon_rms_m if cfg.dead_reckon_rms_m is not None else cfg.show_max_rms_m
    if lim is not None:
        keep &= np.trace(P[:, :3, :3], axis1=1, axis2=2) <= lim * lim
    if keep.any():  # the class sets the reach: a decoy is seen nearer than an airliner
        pc = cols["p_class"]
        cls = np.where(np.isfinite(pc).all(axis=1), np.argmax(np.nan_to_num(pc), axis=1), _UNKNOWN)
        k = np.flatnonzero(keep)
        keep[k] = ~cover.seen(x[k, :3], alt[k], cls[k])
    if not keep.any():
        return None
    out = {k: v[keep] for k, v in cols.items()}
    out["x"], out["P"] = x[keep], P[keep]
    return out
