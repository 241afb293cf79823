"""Track quality in the picture: the show hysteresis (session 5). A track hidden
for its quality is shown again only below a lower RMS limit, so a track whose
sigma hovers at the show limit does not blink in and out of the picture."""

from __future__ import annotations

import numpy as np

import tracksim as ts
from airshield.track import manage
from airshield.track.config import TrackerConfig
from airshield.track.tracker import Tracker


def _P(rms):
    """Position covariances with the given RMS 3-D error (equal axes)."""
    P = np.zeros((len(rms), 6, 6))
    for a in range(3):
        P[:, a, a] = np.asarray(rms, float) ** 2 / 3.0
    return P


def test_shown_held_hand_case():
    cfg = TrackerConfig(show_max_rms_m=650.0, show_again_rms_m=550.0)
    ids = np.array([1, 2, 3])
    ok, held = manage.shown_held(_P([500.0, 600.0, 700.0]), ids, np.zeros(0, np.int64), cfg)
    assert ok.tolist() == [True, True, False] and held.tolist() == [3]
    # id 3 back to 600 m: under the show limit but not under the show-again limit
    ok, held = manage.shown_held(_P([500.0, 600.0, 600.0]), ids, held, cfg)
    assert ok.tolist() == [True, True, False] and held.tolist() == [3]
    # id 2 (shown) at 640 m stays shown; id 3 at 540 m comes back
    ok, held = manage.shown_held(_P([500.0, 640.0, 540.0]), ids, held, cfg)
    assert ok.tolist() == [True, True, True] and held.size == 0
    # a held track absent from this picture (silent too long) keeps its flag
    ok, held = manage.shown_held(_P([500.0]), ids[:1], np.array([3, 7]), cfg)
    assert ok.tolist() == [True] and held.tolist() == [3, 7]
    # without a show-again limit it is the plain one-limit rule
    one = TrackerConfig(show_max_rms_m=650.0)
    ok, held = manage.shown_held(_P([500.0, 600.0, 700.0]), ids, np.array([2, 3]), one)
    assert ok.tolist() == manage.shown(_P([500.0, 600.0, 700.0]), one).tolist() == [True, True, False]
    assert held.tolist() == [3]


def _blinks(pics, lo, hi):
    """Times (picture index) a track reappears after being absent, within [lo, hi)."""
    on = np.array([len(p) > 0 for p in pics])
    return [k for k in range(max(lo, 1), hi) if on[k] and not on[k - 1]]


def test_hysteresis_holds_a_hovering_track_back_until_it_is_good_again():
    """A radar track coasts through 25 s of silence (RMS ~46 m -> ~137 m), then
    the radar sees the drone every 8 s only, so its RMS hovers at ~86-110 m, then
    every second again (back to ~50 m). With one show limit of 100 m it blinks
    in and out with every revisit; with the hysteresis (hide above 100 m, show
    again below 80 m) it stays hidden while it hovers and returns, under the
    same id, once it is good again."""
    rng = np.random.default_rng(5)
    S = ts.sensors(ts.radar(sid="R1"))
    t = np.arange(0.0, 240.0, 1.0)
    x, v = ts.line(t, 15e3, 5e3, 800.0, 0.0, 50.0)
    seen = (t < 60) | ((t >= 85) & (t < 170) & (t % 8 == 0)) | (t >= 170)
    det = ts.merge(ts.polar_reports(S, 0, t[seen], x[seen], v[seen], rng))

    one = ts.run(Tracker(S, TrackerConfig(show_max_rms_m=100.0)), det)
    assert len(_blinks(one, 86, 170)) >= 5  # shown again after most revisits

    cfg = TrackerConfig(show_max_rms_m=100.0, show_again_rms_m=80.0)
    pics = ts.run(Tracker(S, cfg), det)
    rms = [np.sqrt(np.trace(p.cov_enu, axis1=1, axis2=2)) for p in pics]
    assert all((r <= 100.0 + 1e-6).all() for r in rms)
    assert sum(len(p) for p in pics[90:170]) == 0  # hovering: held back throughout
    back = _blinks(pics, 86, 240)
    assert len(back) == 1 and 170 <= back[0] < 200
    assert rms[back[0]][0] <= 80.0 + 1e-6  # it came back under the lower limit
    ids = {int(i) for p in pics for i in p.ids}
    assert len(ids) == 1  # the same id before the silence and after
    assert all(len(p) == 1 for p in pics[back[0]:])


def test_unseen_height_is_not_held_against_a_returning_track():
    """An azimuth-only track's height sigma never falls below the crossing prior
    (500 m): with show_again_unseen_rms_m, coming back, only the rest of its
    error is judged (against that limit); without, it is judged in 3-D."""
    from airshield import geo

    x = np.zeros((2, 6))
    x[:, :3] = np.array(geo.geodetic_to_ecef(48.0, 35.0, 800.0), float).reshape(3)
    up = x[0, :3] / np.linalg.norm(x[0, :3])
    P = np.zeros((2, 6, 6))
    # both: 300 m RMS across the ground; height sigma 500 m (at the prior) and 560 m
    for k, sv in enumerate((500.0, 560.0)):
        h = np.eye(3) - np.outer(up, up)
        P[k, :3, :3] = h * 300.0 ** 2 / 2.0 + np.outer(up, up) * sv ** 2
    rms = np.sqrt(np.trace(P[:, :3, :3], axis1=1, axis2=2))
    assert np.allclose(rms, [583.1, 635.3], atol=0.1)  # under the 650 m show limit
    ids, held = np.array([4, 5]), np.array([4, 5])
    unseen = np.array([True, True])
    cfg = TrackerConfig(show_max_rms_m=650.0, show_again_rms_m=450.0, unseen_height_sigma_m=500.0,
                        show_again_unseen_rms_m=400.0)
    ok, left = manage.shown_held(P, ids, held, cfg, x, unseen)
    # 4: 300 m once the prior is taken out -> back; 5: sqrt(300^2 + 560^2 - 500^2) = 390 m
    assert ok.tolist() == [True, True] and left.size == 0
    ok, left = manage.shown_held(P, ids, held, cfg, x, np.array([False, True]))
    assert ok.tolist() == [False, True] and left.tolist() == [4]  # 4 measured: 583 m > 450
    tighter = TrackerConfig(show_max_rms_m=650.0, show_again_rms_m=450.0,
                            unseen_height_sigma_m=500.0, show_again_unseen_rms_m=350.0)
    ok, left = manage.shown_held(P, ids, held, tighter, x, unseen)
    assert ok.tolist() == [True, False] and left.tolist() == [5]  # 390 m > 350 m
    strict = TrackerConfig(show_max_rms_m=650.0, show_again_rms_m=450.0, unseen_height_sigma_m=500.0)
    ok, left = manage.shown_held(P, ids, held, strict, x, unseen)
    assert ok.tolist() == [False, False] and left.tolist() == [4, 5]


def test_stale_pairs_gate_coasting_tracks_tighter():
    """Pairs of a track silent past coast_after_s are refused outside the
    stale_gate_p quantile; fresh tracks keep the full gate; off by default."""
    from scipy.stats import chi2

    d2 = np.array([10.0, 12.0, 12.0, 16.0, 5.0])
    dim = np.array([3, 3, 3, 4, 2])
    silent = np.array([20.0, 20.0, 2.0, 20.0, 20.0])
    assert not manage.stale_pairs(d2, dim, silent, TrackerConfig()).any()
    cfg = TrackerConfig(stale_gate_p=0.99)  # chi2(3) 11.34, chi2(4) 13.28, chi2(2) 9.21
    assert np.isclose(chi2.ppf(0.99, 3), 11.34, atol=0.01)
    assert manage.stale_pairs(d2, dim, silent, cfg).tolist() == [False, True, False, True, False]



def _stale_case(cfg: TrackerConfig, d2_target: float):
    """A drone reported every second for 60 s by a position sensor (50 m sigmas),
    then silent for 20 s (coasting), then one noise-free plot placed east of the
    truth at Mahalanobis distance sqrt(d2_target) from the track's gate
    prediction. Returns the tracker and its pictures."""
    from airshield import geo
    from airshield.track.predict import predict_ncv

    rng = np.random.default_rng(11)
    S = ts.sensors({"id": "F", "kind": "eo", "lat": ts.LAT0, "lon": ts.LON0, "alt": 0.0,
                    "sigma_h_m": 50.0, "sigma_v_m": 50.0, "period_s": 1.0})
    t = np.arange(0.0, 60.0, 1.0)
    x, _ = ts.line(np.r_[t, 80.0], 5e3, 3e3, 800.0, 45.0, 10.0)
    tr = Tracker(S, cfg)
    ts.run(tr, ts.pos_reports(0, t, x[:-1], rng), t_end=61.0)
    st = tr.state
    assert st.n == 1
    xc, Pc = predict_ncv(st.x, st.P, np.array([80.0]) - st.t, st.R, *tr._q_gate)
    Sinv = np.linalg.inv(Pc[0, :3, :3] + 50.0 ** 2 * np.eye(3))
    east = np.array(geo.enu_to_ecef_vectors(1.0, 0.0, 0.0, ts.LAT0, ts.LON0), float).reshape(3)
    plot = xc[0, :3] + east * np.sqrt(d2_target / (east @ Sinv @ east))
    det = ts.pos_reports(0, [80.0], plot[None, :], rng, sigma_h=1e-9, sigma_v=1e-9)
    det.sigma[:, 0] = det.sigma[:, 1] = 50.0  # reported with the sensor's sigmas
    det.line[:] = 61
    pics = ts.run(tr, det, t_end=82.0)
    return tr, pics


def test_stale_gate_refuses_a_far_plot_only_when_set():
    """chi2(3): 0.99 -> 11.34, 0.9999 -> 21.11. A plot at d2 = 16 from a track
    silent for 30 s updates it with the default gate and is refused (left to
    start a track of its own) with stale_gate_p = 0.99; a plot at d2 = 6 updates
    it either way. The first track lives on, coasting, in every case."""
    for cfg, d2, taken in ((TrackerConfig(), 16.0, True),
                           (TrackerConfig(stale_gate_p=0.99), 16.0, False),
                           (TrackerConfig(stale_gate_p=0.99), 6.0, True)):
        tr, _ = _stale_case(cfg, d2)
        st = tr.state
        assert st.id[0] == 1 and tr.stats.deleted == 0
        assert (st.t_hit[0] == 80.0) == taken, (cfg.stale_gate_p, d2)
        assert st.n == (1 if taken else 2)  # a refused plot starts a tentative track
        assert tr.stats.updated == 59 + taken  # the first plot started the track
