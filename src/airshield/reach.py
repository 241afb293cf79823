"""How far a sensor sees a target of each class: its *reach*, from the sensor
record alone (``sensors.json``, contract fields plus the optional radar
equation ones). The coverage metric (``metrics.coverage``) and the tracker's
negative information (``track.cover``) share it.

- radar: where one look detects the target at least half the time. With
  ``pd`` at ``ref_range_m`` for ``ref_rcs_m2`` and the false-alarm probability
  ``pfa`` (Swerling I: pd = pfa^(1 / (1 + SNR)), SNR ~ RCS / R^4), that is
  ``ref_range_m * (SNR_ref / SNR_half * rcs_m2[class] / ref_rcs_m2) ** 0.25``;
  without ``pfa``, the range at which the class is seen with the reference
  ``pd``; capped at ``range_max_m``; without ``ref_range_m``/``rcs_m2``,
  ``range_max_m``;
- direction sensors: ``range_by_class_m[class]``, else ``range_max_m``.

A reach that a record does not give is NaN: callers decide what unknown means.
"""

from __future__ import annotations

import numpy as np

from airshield import CLASSES

DIRECTION_KINDS = ("acoustic", "eo", "df", "rf", "bearing")


def num(rec: dict, key: str, default: float) -> float:
    v = rec.get(key)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else default


def reach(rec: dict, kind: str) -> np.ndarray:
    """(n_classes,) reach of one sensor by truth class, metres."""
    rmax = num(rec, "range_max_m", np.nan)
    if kind == "radar":
        ref, rcs = rec.get("ref_range_m"), rec.get("rcs_m2")
        if isinstance(ref, (int, float)) and isinstance(rcs, dict):
            r_ref = num(rec, "ref_rcs_m2", 1.0)
            sigma = np.array([num(rcs, c, 0.1) for c in CLASSES])
            gain = 1.0
            pd, pfa = num(rec, "pd", np.nan), num(rec, "pfa", np.nan)
            if 0.0 < pfa < 0.5 and 0.5 < pd < 1.0:
                snr_ref = np.log(pfa) / np.log(pd) - 1.0
                snr_half = np.log(pfa) / np.log(0.5) - 1.0
                gain = snr_ref / snr_half
            r = float(ref) * (gain * np.maximum(sigma, 0.0) / r_ref) ** 0.25
            return np.fmin(r, rmax) if np.isfinite(rmax) else r
        return np.full(len(CLASSES), rmax)
    by = rec.get("range_by_class_m")
    if isinstance(by, dict):
        return np.array([num(by, c, rmax) for c in CLASSES])
    return np.full(len(CLASSES), rmax)


def in_sectors(rec: dict, az: np.ndarray) -> np.ndarray:
    sectors = rec.get("sectors")
    if not isinstance(sectors, list) or not sectors:
        return np.ones(az.shape, bool)
    ok = np.zeros(az.shape, bool)
    for s in sectors:
        a0, a1 = num(s, "az_from_deg", 0.0), num(s, "az_to_deg", 360.0)
        width = (a1 - a0) % 360.0 or 360.0
        ok |= np.mod(az - a0, 360.0) <= width
    return ok
