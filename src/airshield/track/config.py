"""Every tunable of the tracker in one dataclass, with the reasoning for its default.

docs/TRACKER.md explains each group; change them with ``TrackerConfig(**overrides)``
or ``dataclasses.replace``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import orjson

from airshield.errors import InputError


@dataclass(frozen=True)
class TrackerConfig:
    # --- motion (process noise is white acceleration in the local ENU at the track)
    q_h: float = 0.5  # m^2/s^3, horizontal, nearly-constant-velocity mode: cruising drones
    q_v: float = 0.05  # m^2/s^3, vertical: drones hold height
    imm: bool = True  # False: one NCV model (faster, no manoeuvre handling)
    turn_rate_dps: float = 6.0  # the coordinated-turn modes turn at +/- this rate
    q_turn_h: float = 2.0  # m^2/s^3 horizontal noise in the turn modes (rate mismatch)
    q_turn_v: float = 0.05  # m^2/s^3 vertical noise in the turn (manoeuvre) modes
    sojourn_s: tuple[float, float, float] = (60.0, 10.0, 10.0)  # mean time in NCV, CT+, CT-
    dive: bool = True  # a fourth IMM mode for terminal dives (NCV, q_dive_v, no vertical decay)
    q_dive_v: float = 50.0  # m^2/s^3 vertical noise of the dive mode
    dive_sojourn_s: float = 10.0  # mean time in the dive mode
    dive_entry: float = 0.005  # weight of the dive among the modes a track may leave into (a
    # dive is rare: at 1.0 an unobserved height wanders with it, demo localisation +50 %;
    # 0.1: GOSPA 1,549 m, 0.02: 1,522, 0.005: 1,514 (docs/TRACKER.md))
    v_max_mps: float = 300.0  # fastest object a new track may be (bounds the velocity prior)
    vu_sigma_mps: float = 15.0  # vertical-velocity prior of a new track
    vu_tau_s: float = 30.0  # vertical velocity decays with this time constant (drones hold
    # height; a climb is not carried for minutes by a track that lost its height measurement)

    alt_floor_m: float | None = None  # no track below this height (None: lowest sensor ...
    alt_floor_margin_m: float = 100.0  # ... minus this margin, for terrain below it)

    # --- association
    gate_p: float = 0.9999  # chi-square gate probability (threshold per measurement dimension)
    batch_s: float = 1.0  # one sensor scan batch: that sensor's reports within this window
    batch_bins_max: int = 1  # scan batches handled in one pass (>1 is faster; see TRACKER.md)
    init_suppress_d2: float = 9.0  # an unassigned plot this close to a track starts no new one
    icao_bonus: float = 20.0  # cost bonus for a pair whose ADS-B identities agree

    # faster update variants (session 6, TRACKER.md "Speed (session 6)"): each is neutral
    # on the picture within the run-to-run scatter (demo and raid-300 better, raid-1000
    # -0.2 % GOSPA / +1.5 % tracks per truth, as much as a 0.1 % change in the sensor
    # sigmas moves it), radar reports 57k -> 64k per CPU s together; but they change the
    # picture, and with them tests/test_closed_loop_night.py fails (optimal 725 defeated
    # against nearest's 744, though less lost and less spent), so they are off
    shared_linearisation: bool = False  # radar/bearing models linearised once per
    # (track, report) pair at the predicted mixture mean, not at each IMM mode's prediction
    mix_once_per_batch: bool = False  # a track updated by several reports in one scan
    # batch mixes its modes once, over the span to its last report, then predicts per mode
    gate_in_update: bool = False  # later rounds of a batch gated by the IMM update's own
    # per-mode innovations instead of a separate NCV carry (Tracker._regate)

    # --- management
    confirm_m: int = 3  # M-of-N confirmation ...
    confirm_n: int = 5  # ... over the track's last N revisits (a gap counts as misses)
    default_period_s: float = 2.0  # a sensor's revisit period when sensors.json has none
    tentative_timeout_s: float = 12.0  # a tentative track with no update for this long dies
    coast_after_s: float = 6.0  # a confirmed track not updated for this long is "coasting"
    delete_after_s: float = 30.0  # ... and is deleted after this long ...
    coast_history_frac: float = 0.5  # ... or this fraction of the time it has been held ...
    delete_after_max_s: float = 90.0  # ... up to this long (manage.delete_after)
    max_pos_sigma_m: float = 5000.0  # or when its largest position sigma exceeds this
    merge_p: float = 0.99  # younger track merged into an older one within this chi2(6) quantile
    merge_radius_m: float = 3000.0  # merge candidates are searched within this distance
    merge_keeps_better_state: bool = False  # the older id survives a merge with the two
    # estimates fused by covariance intersection where the younger is more precise
    # (manage._take_better_state). Measured mixed, so off: raid-300 GOSPA 10,518 -> 10,509 m,
    # tracks per truth 1.20 -> 1.19; raid-1000 18,160 -> 18,195 m, 1.61 -> 1.63 (TRACKER.md)
    stitch: bool = True  # a freshly confirmed track continues a lost one's id (stitch.py)
    stitch_radius_m: float = 3000.0  # ... found within this distance (+ 3 slack sigmas) of its path
    stitch_max_silence_s: float = 300.0  # ... lost for at most this long (600 s: tracks per
    # truth 1.20 -> 1.19 on raid-300, 1.61 -> 1.59 on raid-1000, but the live demo's
    # engagement test tips over; TRACKER.md "Quality (session 3)")
    stitch_long_silence_s: float | None = None  # ... or, only when unambiguous (one lost
    # track and one new one that pass the test only with each other), for at most this
    # long: objects out of every radar's cover for many minutes (the Poland night:
    # silences of 8-50 min); None: no long continuation (TRACKER.md "Other seeds")
    stitch_accel_mps2: float = 3.0  # ... widened by this manoeuvre held over the silence ...
    stitch_drift_mps: float = 10.0  # ... or, over long silences, by this drift off its line
    stitch_vdrift_mps: float = 2.0  # ... and vertically this drift (drones hold their height)
    stitch_vel_sigma_mps: float = 20.0  # ... and at most this velocity change per axis
    stitch_pos_sigma_m: float = 200.0  # ... and this position sigma (model error)
    stitch_p: float = 0.999  # ... inside this chi2(6) quantile
    manage_every_s: float = 1.0  # prune/merge/triangulate cadence (scenario time)
    show_max_rms_m: float | None = 750.0  # track quality: a confirmed track whose RMS 3-D
    # position error sqrt(trace P_pos) exceeds this is held but not shown. 750 m = 0.75 c
    # for the contract's GOSPA cut-off c = 1 km: with a Gaussian error of that RMS,
    # E[min(d^2, c^2)] = c^2/2, i.e. showing it costs as much as leaving it out (a miss);
    # beyond, it is more often a false track plus a miss. None: show every confirmed track.
    # 550 m with unseen_height_sigma_m = 500 (session 4): raid-1000 tracks per truth
    # 1.61 -> 1.46, observable GOSPA -0.6/-3.5/-4.7 % (demo/raid-300/raid-1000), full
    # GOSPA +0.1-0.3 %, but tests/test_closed_loop_night.py fails with it (TRACKER.md)

    dead_reckon_s: float | None = 300.0  # a confirmed track that falls silent beyond every
    # sensor's reach (track/cover.py: negative information) is carried by dead reckoning
    # and shown as coasting for up to this long since its last report (alive, or in the
    # continuation graveyard); one silent inside some sensor's reach is dropped as before.
    # None: no dead reckoning (TRACKER.md "Dead reckoning out of cover")
    q_cruise_h: float = 0.02  # m^2/s^3 horizontal process noise of a dead-reckoned track:
    q_cruise_v: float = 0.005  # ... and vertical: a drone cruising on its course, unseen
    dead_reckon_rms_m: float | None = None  # a dead-reckoned track is shown while its RMS
    # position error is at most this; None: show_max_rms_m, as any track
    dead_reckon_max_vu_mps: float = 10.0  # ... and only a track in level flight (above the
    # ground floor, climbing or sinking no faster than this): one that was diving has most
    # likely hit the ground (demo seed 7: terminal dives dead-reckoned underground, +2.9 % GOSPA)

    # --- late reports
    reorder_s: float = 1.0  # reports are held this long and processed in time order
    max_late_s: float = 120.0  # older than now - this: counted as late_dropped, not applied

    # --- conservative defaults for sensors that give no sigma (warned once per sensor)
    sigma_range_m: float = 150.0
    sigma_az_deg: float = 2.0
    sigma_el_deg: float = 3.0
    sigma_rr_mps: float = 5.0
    sigma_h_m: float = 300.0
    sigma_v_m: float = 300.0
    sigma_bearing_deg: float = 6.0
    missing_alt_m: float = 1000.0  # a pos report without alt is placed here ...
    missing_alt_sigma_m: float = 2000.0  # ... with this vertical sigma
    bearing_range_m: float = 8000.0  # bearing sensors without range_max_m: search radius

    # --- bearing-only initiation (track/triangulate.py)
    bearing_window_s: float = 3.0  # unassociated bearings are kept this long for crossing
    bearing_min_sensors: int = 2

    # --- classification (track/classify.py)
    class_every_s: float = 2.0  # kinematic class evidence (and geodetic cache) cadence

    # --- output
    sources_window_s: float = 5.0  # TRACK "sources": sensors that updated it this recently

    # --- continuation of tracks held by one bearing sensor (stitch.py, session 4)
    stitch_ray: bool = False  # an old track whose recent updates all came from one sensor
    # that fixes no range (acoustic, EO) is known only along that sensor's ray: its
    # covariance is widened along the line of sight before the continuation test ...
    stitch_ray_sigma_frac: float = 0.5  # ... by this fraction of the sensor's reach (position)
    stitch_ray_vel_sigma_mps: float = 75.0  # ... and this velocity sigma along the ray
    stitch_ray_hidden_only: bool = True  # ... only where its own covariance no longer lets
    # the picture show it (manage.shown)
    show_max_rms_h_m: float | None = None  # track quality across the ground: with the
    # track positions (manage.shown(P, cfg, x)), a track whose RMS horizontal error
    # exceeds this is held but not shown either (session 4; TRACKER.md)
    show_max_sigma_v_m: float | None = None  # ... and one whose height sigma exceeds this
    show_again_rms_m: float | None = None  # show hysteresis (session 5): a track hidden for
    # its quality (show_max_rms_m) is shown again only once its RMS 3-D position error is
    # at most this (lower) limit; None: the one limit both ways. Without it a track whose
    # sigma hovers at the limit is shown and hidden in turn (track gaps; TRACKER.md)
    show_again_unseen_rms_m: float | None = None  # ... and a track fed only by height-blind
    # sensors (azimuth-only microphones), whose height sigma never falls below the crossing
    # prior, once hidden is shown again when its RMS error with the height variance up to
    # that prior (500 m) taken out is at most this; None: judged like any other track, so
    # it returns only when a sensor that fixes range or height takes it (TRACKER.md)
    stale_gate_p: float | None = None  # association (manage.stale_pairs, called from
    # Tracker._batch when set): a track not updated for coast_after_s gates
    # at this chi-square probability instead of gate_p, so a coasting track (whose gate
    # has grown to kilometres) does not take a neighbour's plots; None: gate_p for all
    unseen_height_sigma_m: float | None = None  # tracks fed only by height-blind sensors
    # (azimuth-only microphones) keep a height sigma of at most this: the prior of a
    # crossing of azimuths (triangulate.py, 500 m); None: not bounded (manage.bound_unseen_height)


def with_settings(settings: list[str], base: TrackerConfig | None = None,
                  source: str = "--set") -> TrackerConfig:
    """``TrackerConfig`` with ``KEY=VALUE`` settings applied (the CLI's ``--set``).
    VALUE is JSON (``0.99``, ``true``, ``null``, ``[60, 10, 10]``; ``none`` is
    null). An unknown key or a value of the wrong kind is an InputError naming
    the setting, before any tracking starts."""
    kinds = {f.name: f.type for f in fields(TrackerConfig)}
    over: dict = {}
    for item in settings:
        key, eq, text = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise InputError(f"expected KEY=VALUE, got {item!r}", file=source)
        if key not in kinds:
            raise InputError(f"unknown tracker setting (one of: {', '.join(sorted(kinds))})",
                             file=source, field=key)
        over[key] = _setting_value(key, kinds[key], text.strip(), source)
    return replace(base or TrackerConfig(), **over)


def stitch_horizon_s(cfg: TrackerConfig) -> float:
    """Longest silence after which a lost track may still be continued."""
    return max(cfg.stitch_max_silence_s, cfg.stitch_long_silence_s or 0.0)


def _setting_value(key: str, kind: str, text: str, source: str):
    def bad(why: str):
        return InputError(f"{text!r}: {why}", file=source, field=key)

    try:
        v = None if text.lower() == "none" else orjson.loads(text)
    except orjson.JSONDecodeError:
        raise bad("not a JSON value") from None

    def number(x):
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
            raise bad("expected a finite number")
        if key.endswith("_p") and not 0.0 < x < 1.0:
            raise bad("a probability must lie strictly between 0 and 1")
        if key.endswith("_s") and x < 0:
            raise bad("a duration cannot be negative")
        return float(x)

    if v is None:
        if "None" not in kind:
            raise bad(f"this setting cannot be null (expected {kind})")
        return None
    if kind == "bool":
        if not isinstance(v, bool):
            raise bad("expected true or false")
        return v
    if kind == "int":
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise bad("expected a whole number of at least 1")
        return v
    if kind.startswith("tuple"):
        size = kind.count("float")
        if not isinstance(v, list) or len(v) != size:
            raise bad(f"expected a list of {size} numbers")
        return tuple(number(x) for x in v)
    return number(v)
