"""The streaming multi-target tracker: ``Tracker.step(reports, now) -> Picture``.

Per step: reports that arrived join a reorder buffer; those older than
``now - reorder_s`` are processed in time order, cut into scan batches (every
sensor's reports within ``batch_s``); a track takes at most one report per sensor
per batch. A batch is: spatial search (KD-tree) -> chi-square gate on the NCV-carried
combined state -> clustered optimal assignment -> IMM prediction and EKF update of
the chosen pairs (in time order when a track took several) -> initiation from free
plots; free bearings go to the bearing pool. Every ``manage_every_s`` of scenario
time: bearing crossings become tracks, duplicates merge, dead tracks go. At the end
of a step: class evidence, then the picture predicted to ``now``.

Late reports: one that arrives after its reorder window is processed at once; where
its track's state is newer, it is applied by the retrodiction-free update
(update.oosm_update) and counted as ``retrodicted``. One older than
``now - max_late_s`` on arrival is not applied: counted as ``late_dropped`` with
its line. docs/TRACKER.md has the whole design.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from airshield.io.records import Detections, Sensors
from airshield.track import classify, identity, manage, stitch
from airshield.track import measure as ms
from airshield.track.associate import assign
from airshield.track.bearings import BearingPool
from airshield.track.config import TrackerConfig, stitch_horizon_s
from airshield.track.cover import Cover
from airshield.track.deadreckon import dead_reckoned
from airshield.track.gate import (bearing_pregate, carried_innovation, gate_thresholds,
                                  range_pregate, reach_candidates, spatial_candidates)
from airshield.track.initiate import initial_modes, initial_state
from airshield.track.linalg import max_last
from airshield.track.motion import MotionModels, models_from_config, process_noise
from airshield.track.picture import Picture
from airshield.track.plots import Plots, SensorTable, SigmaWarnings, make_plots
from airshield.track.predict import combine, ncv_transition, predict_modes, predict_ncv
from airshield.track.state import CONFIRMED, TrackState
from airshield.track.update import imm_update, limit_speed, mahalanobis, oosm_update


def _rows(r: np.ndarray, n: int):
    """``r`` (sorted, unique track rows) as a slice when it is every row: a
    slice reads views and writes by memcpy, a fancy index copies element-wise."""
    return slice(None) if r.size == n else r


@dataclass
class TrackerStats:
    reports_in: int = 0
    processed: int = 0
    updated: int = 0  # reports that updated a track
    initiated: int = 0  # reports that started a track
    in_fixes: int = 0  # bearings that formed a fix (and so a track)
    late: int = 0  # arrived after their reorder window
    retrodicted: int = 0  # applied to a track whose state was newer
    late_dropped: int = 0  # too old on arrival: not applied
    late_dropped_lines: list[int] = field(default_factory=list)  # first few
    confirmed: int = 0
    deleted: int = 0
    merged: int = 0
    continued: int = 0  # freshly confirmed tracks that took over a lost track's id

    @property
    def used(self) -> int:
        return self.updated + self.initiated + self.in_fixes


class Tracker:
    def __init__(self, sensors: Sensors, config: TrackerConfig | None = None,
                 source: str = "detections.jsonl"):
        self.cfg = config or TrackerConfig()
        self.models = models_from_config(self.cfg)
        m = self.models  # the NCV mode alone, for carrying late reports back in time
        self.ncv = MotionModels(m.omega[:1], m.q_h[:1], m.q_v[:1], m.sojourn_s[:1])
        # gating: the noisiest mode
        self._q_gate = (float(m.q_h.max()), float(m.q_v.max()), self.cfg.vu_tau_s)
        self.sensors = SensorTable.build(sensors, self.cfg)
        # the ground, from the lowest sensor (sensors stand on it): tracks stay above
        alts = np.asarray(sensors.alt, float)
        alts = alts[np.isfinite(alts)]
        self.alt_floor = (self.cfg.alt_floor_m if self.cfg.alt_floor_m is not None
                          else float(alts.min()) - self.cfg.alt_floor_margin_m if alts.size
                          else -np.inf)
        self.state = TrackState(self.models.M)
        self.stats = TrackerStats()
        self.warnings = SigmaWarnings(source)
        self.icao_codes: dict[str, int] = {}
        self._icao_names: list[str] = []
        self.bearings = BearingPool(self.cfg)
        self.gates = gate_thresholds(self.cfg.gate_p)
        self.n_sigma = float(np.sqrt(self.gates[3]))
        self._pending: list[Plots] = []
        self._next_manage = -np.inf
        self._identity = identity.IdentityQueue()
        self._next_kin = -np.inf
        self.clock = -np.inf  # the latest ``now`` seen
        self._fresh: list[np.ndarray] = []  # ids confirmed since the last continuation pass
        self.grave = stitch.Graveyard()  # recently deleted confirmed tracks, for continuation
        self._held = np.zeros(0, np.int64)  # ids hidden for their quality (show hysteresis)
        self._blind = manage.height_blind(self.sensors)  # sensors that never see height

    # -- public -------------------------------------------------------------
    def step(self, reports: Detections | None, now: float) -> Picture:
        """Take the reports that arrived since the last step, process what the
        reorder window releases, and return the picture predicted to ``now``."""
        self.clock = max(self.clock, now)
        if reports is not None and len(reports):
            self.ingest(reports, now)
        self.advance(now)
        return self.picture(now)

    @property
    def idle(self) -> bool:
        """No track, no buffered report, no pooled bearing: time may jump."""
        return self.state.n == 0 and not self._pending and len(self.bearings) == 0

    def ingest(self, reports: Detections, now: float) -> None:
        """Take reports that arrived at ``now`` into the reorder buffer (as
        Plots: converted once, buffered and cut with numpy alone)."""
        self.stats.reports_in += len(reports)
        too_old = reports.t < now - self.cfg.max_late_s
        if too_old.any():
            self.stats.late_dropped += int(too_old.sum())
            room = 20 - len(self.stats.late_dropped_lines)
            self.stats.late_dropped_lines += reports.line[too_old][:max(room, 0)].tolist()
            reports = reports.take(~too_old)
        self.stats.late += int((reports.t < now - self.cfg.reorder_s).sum())
        if len(reports):
            self._pending.append(make_plots(reports, self.sensors, self.cfg, self.warnings,
                                            self.icao_codes))

    def advance(self, now: float) -> None:
        """Process every buffered report with t <= now - reorder_s."""
        if self._pending:
            cut = now - self.cfg.reorder_s
            parts, k = self._pending, 0
            while k < len(parts) and parts[k].t.max() <= cut:
                k += 1
            if 0 < k < len(parts) and all(q.t.min() > cut for q in parts[k:]):
                # whole parts ready, then whole parts waiting (reports arrive in
                # time order): no copy of the waiting ones
                self._pending = parts[k:]
                self._process(Plots.concat(parts[:k]))
            else:
                self._advance_buffer(cut)
        if now >= self._next_manage:
            self._manage(now)
        self._continue(now)
        self._flush_identity()

    def _advance_buffer(self, cut: float) -> None:
        """The buffer as one: process its reports with t <= cut, keep the rest."""
        buf = Plots.concat(self._pending)
        ready = buf.t <= cut
        if ready.all():
            self._pending = []
            self._process(buf)
            return
        k = int(ready.sum())
        if ready[:k].all():  # time-ordered buffer: the ready prefix as views
            rest, ready = slice(k, None), slice(0, k)
        else:
            rest = ~ready
        self._pending = [buf.take(rest)]
        if k:
            self._process(buf.take(ready))

    def flush(self, now: float | None = None) -> None:
        """Process everything still buffered (end of a recording)."""
        if self._pending:
            buf = Plots.concat(self._pending)
            self._pending = []
            self._process(buf)
        if now is not None:
            self._manage(now)
            self._continue(now)
        self._flush_identity()

    def picture(self, now: float) -> Picture:
        """Confirmed and coasting tracks predicted to ``now``. Output ticks are
        short hops, so the combined state is carried by the NCV mode alone
        (exact for straight flight; the IMM proper runs at every update).
        With dead_reckon_s, tracks silent beyond every sensor's reach follow
        (``deadreckon.dead_reckoned``)."""
        st, cfg = self.state, self.cfg
        # a track silent for longer than delete_after_s is not shown, but one with a long
        # history is kept a while longer to be re-acquired under its id (manage.delete_after)
        rows = np.flatnonzero((st.status == CONFIRMED) & (now - st.t_hit <= cfg.delete_after_s))
        dr = self._dead_reckoned(now) if cfg.dead_reckon_s else None
        if rows.size == 0 and dr is None:
            return Picture.empty(now)
        x, P = predict_ncv(st.x[rows], st.P[rows], now - st.t[rows], st.R[rows],
                           self.cfg.q_h, self.cfg.q_v, self.cfg.vu_tau_s)
        if cfg.show_again_rms_m is None:
            good = manage.shown(P, cfg)  # track quality: held, but not shown, while too vague
        else:  # ... and, once hidden, shown again only below a lower limit (hysteresis)
            held = self._held[np.isin(self._held, st.id)]
            unseen = manage.only_height_blind(st, self._blind)[rows]
            good, self._held = manage.shown_held(P, st.id[rows], held, cfg, x, unseen)
        if not good.all():
            rows, x, P = rows[good], x[good], P[good]
            if rows.size == 0 and dr is None:
                return Picture.empty(now)
        status = manage.coasting(st, rows, now, cfg).astype(np.int8)
        if len(self._icao_names) != len(self.icao_codes):
            self._icao_names = sorted(self.icao_codes, key=self.icao_codes.get)
        src, ok = identity.recent_sources(st, rows, cfg.sources_window_s)
        cols = [st.id[rows].copy(), x, P, status, st.p_class[rows].copy(), st.icao[rows].copy(),
                src, ok]
        if dr is not None:  # coasting, no recent sources
            k = dr["id"].size
            more = [dr["id"], dr["x"], dr["P"], np.ones(k, np.int8), dr["p_class"], dr["icao"],
                    dr["src"], np.zeros((k, ok.shape[1]), bool)]
            cols = [np.concatenate([a, b]) for a, b in zip(cols, more)]
        ids, x, P, status, p_class, icao, src, ok = cols
        return Picture.build(now, ids, x, P, status, p_class, icao, self._icao_names, src, ok,
                             self.sensors.ids)

    def _dead_reckoned(self, now: float) -> dict | None:
        cover = self.__dict__.get("_cover")
        if cover is None:  # built once, on first use
            cover = self._cover = Cover.build(self.sensors.sensors)
        return dead_reckoned(self.state, self.grave, cover, now, self.cfg, self.alt_floor)

    # -- processing -----------------------------------------------------------
    def _process(self, plots: Plots) -> None:
        self.stats.processed += len(plots)
        bins = np.floor(plots.t / self.cfg.batch_s).astype(np.int64)
        order = np.lexsort((plots.t, bins))
        in_order = bool((order[1:] > order[:-1]).all())  # already sorted: slices, no copies
        b = bins[order]
        starts = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
        ends = np.r_[starts[1:], order.size]
        positional = np.isfinite(plots.pos[order, 0])
        has_pos = np.add.reduceat(positional, starts) > 0 if starts.size else np.zeros(0, bool)
        # Consecutive bins share one call when at most one of them holds position
        # reports (late bearings spread over a few bins cost one pass, not several;
        # initiation still sees each bin's plots against the tracks of the one before).
        chunks, first, n_pos = [], 0, int(has_pos[0]) if starts.size else 0
        for g in range(1, starts.size):
            if g - first >= self.cfg.batch_bins_max or (has_pos[g] and n_pos):
                chunks.append((first, g))
                first, n_pos = g, 0
            n_pos += int(has_pos[g])
        if starts.size:
            chunks.append((first, starts.size))
        for a, e in chunks:
            rows = order[starts[a]:ends[e - 1]]
            t0 = plots.t[rows[0]]
            if t0 >= self._next_manage:
                self._manage(t0)
            if in_order:
                rows = slice(starts[a], ends[e - 1])
            self._batch(plots.take(rows), bins[rows])

    def _batch(self, p: Plots, bins: np.ndarray) -> None:
        """Scan batches (every sensor's reports within batch_s; ``bins`` numbers
        them). The assignment gives each track at most one report per sensor per
        batch; a track taking several reports is updated with them in time order,
        one round each."""
        st, cfg, nb = self.state, self.cfg, len(p)
        ti, pj, forced = self._candidates(p)
        gated = np.zeros(0, bool)
        d2 = np.zeros(0)
        chosen = np.zeros(0, np.int64)
        if ti.size:
            # gate on the combined state carried by NCV with the manoeuvre modes'
            # noise: cheap block algebra for every candidate; the IMM proper runs
            # only for the pairs chosen
            dt = p.t[pj] - st.t[ti]
            # one candidate per track, every track (a position feed): views, no gathers
            every = ti.size == st.n and bool((ti == np.arange(st.n)).all())
            rt = slice(None) if every else ti
            xt, Pt, Rt = st.x[rt], st.P[rt], st.R[rt]
            # radar plots whose range alone is outside the gate (and the
            # initiation-suppression radius) go before the full prediction
            mt_pj = p.mtype[pj]
            lim = np.maximum(self.gates[np.take(ms.DIM, mt_pj)], cfg.init_suppress_d2)
            z, sig, s_ecef = p.z[pj], p.sig[pj], p.s_ecef[pj]
            ok = range_pregate(xt, Pt, dt, Rt, *self._q_gate, mt_pj, z, sig, s_ecef, lim)
            # bearings whose azimuth alone is outside the gate, likewise
            ok &= bearing_pregate(xt, Pt, dt, Rt, *self._q_gate, mt_pj, z, sig, s_ecef,
                                  p.s_R[pj], lim)
            ok |= forced
            if not ok.all():
                ti, pj, forced, dt, xt, Pt, Rt = (a[ok] for a in (ti, pj, forced, dt, xt, Pt, Rt))
            d2, cost = np.empty(ti.size), np.empty(ti.size)
            mt_pj = p.mtype[pj]
            kinds = np.unique(mt_pj)
            for mt in kinds:
                g = np.flatnonzero(mt_pj == mt) if kinds.size > 1 else slice(None)
                j = pj[g]
                # the NCV carry's innovation covariance without carrying P (gate.py)
                y, S = carried_innovation(int(mt), xt[g], Pt[g], dt[g], Rt[g], *self._q_gate,
                                          p.z[j], p.sig[j], p.s_ecef[j], p.s_R[j])
                d2[g], logdet, _ = mahalanobis(y, S)
                cost[g] = d2[g] + logdet - ms.log_det_noise(int(mt), p.sig[j])
            gated = (d2 < self.gates[np.take(ms.DIM, mt_pj)]) | forced
            # a late report older than the track itself would be compared with a
            # state the track never had (extrapolated back from a velocity it did
            # not yet know): a crowd report 70 s late "explained" a one-plot track
            # with a 500 m/s velocity
            gated &= p.t[pj] >= st.t_birth[ti] - cfg.batch_s
            if cfg.stale_gate_p is not None:  # option: a stale track gates tighter
                gated &= ~manage.stale_pairs(d2, np.take(ms.DIM, mt_pj),
                                             p.t[pj] - st.t_hit[ti], cfg) | forced
            cost -= cfg.icao_bonus * forced
            keep = np.flatnonzero(gated)
            b = bins[pj[keep]] - bins.min()
            span = int(bins.max() - bins.min()) + 1
            node = (ti[keep] * span + b) * len(self.sensors.ids) + p.sensor[pj[keep]]
            miss = 0.5 * (self.gates[3] + 20.0)
            chosen = keep[assign(node, pj[keep], cost[keep], miss, miss)]
        taken = np.zeros(nb, bool)
        if chosen.size:
            taken[self._update_rounds(p, ti[chosen], pj[chosen], forced[chosen])] = True
        near = np.zeros(nb, bool)
        close = gated & (d2 < cfg.init_suppress_d2)
        near[pj[close]] = True
        positional = np.isfinite(p.pos[:, 0])
        free = positional & ~taken & ~near
        # a report older than a tentative track may live starts nothing (it stays
        # counted as processed but unused)
        fresh = p.t >= self.clock - cfg.tentative_timeout_s
        self._initiate(p.take(free & fresh))
        self.bearings.add(p.take(~positional & ~taken), max(self.clock, float(p.t.max())))

    def _update_rounds(self, p: Plots, rows, j, forced) -> np.ndarray:
        """Apply chosen pairs; a track's k-th report (by time) goes in round k,
        predicted (IMM) from the state the earlier rounds left and gated again
        against it (the first gate saw the state before the batch). Returns the
        reports applied."""
        order = np.lexsort((p.t[j], rows))
        rows, j, forced = rows[order], j[order], forced[order]
        first = np.r_[True, rows[1:] != rows[:-1]]
        idx = np.arange(rows.size)
        rank = idx - np.maximum.accumulate(np.where(first, idx, 0))
        st = self.state
        applied = [j[rank == 0]]
        n_rounds = int(rank.max()) + 1
        if n_rounds > 1 and self.cfg.mix_once_per_batch:
            # a track's last report of the batch: its first round mixes over the
            # whole span, the later rounds predict mode-matched (predict_modes)
            last = np.r_[first[1:], True]
            t_last = np.repeat(p.t[j[last]], np.diff(np.r_[np.flatnonzero(first), rows.size]))
        for k in range(n_rounds):
            sel = np.flatnonzero(rank == k)
            if k and not self.cfg.gate_in_update:
                sel = sel[self._regate(p, rows[sel], j[sel]) | forced[sel]]
                applied.append(j[sel])
            elif k:  # reports older than the state: gated here, the rest by the update
                back = p.t[j[sel]] < st.t[rows[sel]]
                if back.any():
                    ok = np.ones(sel.size, bool)
                    ok[back] = self._regate(p, rows[sel[back]], j[sel[back]]) | forced[sel[back]]
                    sel = sel[ok]
            r, jj = rows[sel], j[sel]
            dt = p.t[jj] - st.t[r]
            fwd = dt >= 0
            xp = Pp = cb = None
            if fwd.any():
                rf = _rows(r[fwd], st.n)  # every track (a position feed): views, no gathers
                mix_dt, mixing = None, True
                if n_rounds > 1 and self.cfg.mix_once_per_batch:
                    if k:
                        mixing = False
                    else:
                        mix_dt = (t_last[sel] - st.t[r])[fwd]
                xp, Pp, cb = predict_modes(st.xm[rf], st.Pm[rf], st.mu[rf], dt[fwd], st.R[rf],
                                           self.models, mix_dt, mixing)
            if k and self.cfg.gate_in_update:
                kept = self._update(p, r, jj, fwd, xp, Pp, cb, dt, regate=forced[sel])
                applied.append(jj if kept is None else jj[kept])
            else:
                self._update(p, r, jj, fwd, xp, Pp, cb, dt)
        return np.concatenate(applied)

    def _regate(self, p: Plots, r: np.ndarray, jj: np.ndarray) -> np.ndarray:
        """Chi-square gate of reports jj against tracks r as they are now."""
        st = self.state
        dt = p.t[jj] - st.t[r]
        ok = np.zeros(r.size, bool)
        for mt in np.unique(p.mtype[jj]):
            g = np.flatnonzero(p.mtype[jj] == mt)
            q, rg = jj[g], r[g]
            y, S = carried_innovation(int(mt), st.x[rg], st.P[rg], dt[g], st.R[rg], *self._q_gate,
                                      p.z[q], p.sig[q], p.s_ecef[q], p.s_R[q])
            ok[g] = mahalanobis(y, S)[0] < self.gates[ms.DIM[mt]]
        return ok

    def _candidates(self, p: Plots):
        """Candidate (track row, plot index) pairs and whether each is an
        ADS-B identity match (kept regardless of the gate)."""
        st, cfg, nb = self.state, self.cfg, len(p)
        empty = np.zeros(0, np.int64)
        if st.n == 0:
            return empty, empty, np.zeros(0, bool)
        t_ref = float(p.t.mean())
        spread = float(np.abs(p.t - t_ref).max())
        dt = np.abs(t_ref - st.t) + spread
        x = st.x
        tpos = x[:, :3] + x[:, 3:] * (t_ref - st.t)[:, None]
        # traces of the position and velocity blocks from the flat covariances (the
        # same sums as np.trace, which costs several times more per small batch)
        P = st.P.reshape(-1, 36)
        sig = (np.sqrt(P[:, 0] + P[:, 7] + P[:, 14])
               + dt * np.sqrt(P[:, 21] + P[:, 28] + P[:, 35])
               + np.sqrt(self.models.q_h.max() * dt ** 3))
        margin = spread * cfg.v_max_mps
        ti_parts, pj_parts = [], []
        positional = np.flatnonzero(np.isfinite(p.pos[:, 0]))
        if positional.size:
            a, b = spatial_candidates(tpos, sig, p.pos[positional], p.pos_sigma[positional],
                                      self.n_sigma, margin)
            ti_parts.append(a)
            pj_parts.append(positional[b])
        brg = np.flatnonzero(~np.isfinite(p.pos[:, 0]))
        if brg.size:
            a, b = reach_candidates(tpos, self.sensors.ecef, self.sensors.reach + margin,
                                    p.sensor[brg], brg)
            ti_parts.append(a)
            pj_parts.append(b)
        with_icao = np.flatnonzero(p.icao >= 0)
        if with_icao.size:
            known = np.flatnonzero(st.icao >= 0)
            order = known[np.argsort(st.icao[known], kind="stable")]
            pos = np.searchsorted(st.icao[order], p.icao[with_icao])
            pos = np.minimum(pos, max(order.size - 1, 0))
            hit = (order.size > 0) & (st.icao[order[pos]] == p.icao[with_icao]) if order.size else \
                np.zeros(with_icao.size, bool)
            ti_parts.append(order[pos[hit]] if order.size else empty)
            pj_parts.append(with_icao[hit])
        ti = np.concatenate(ti_parts) if ti_parts else empty
        pj = np.concatenate(pj_parts) if pj_parts else empty
        # pairs are unique within each part (spatial search, bearing reach, ICAO):
        # one part only needs the order np.unique would give
        key = np.sort(ti * nb + pj) if len(ti_parts) == 1 else np.unique(ti * nb + pj)
        ti, pj = key // nb, key % nb
        ic_t, ic_p = st.icao[ti], p.icao[pj]
        both = (ic_t >= 0) & (ic_p >= 0)
        ok = ~both | (ic_t == ic_p)  # two different transponders are two aircraft
        return ti[ok], pj[ok], (both & (ic_t == ic_p))[ok]

    def _update(self, p: Plots, rows, j, fwd, xp, Pp, cbar, dt, regate=None):
        """Update ``rows`` with reports ``j``: IMM for reports newer than the
        track (``fwd``, predicted modes given), the late-report update otherwise.

        With ``regate`` (a later round of a batch; True where a pair is kept
        regardless, an ADS-B identity match) a forward pair is applied only if
        some mode's prediction passes the chi-square gate (the update's own
        innovations: no separate NCV carry); returns the mask of pairs applied,
        None when all were."""
        st = self.state
        rf, jf = rows[fwd], j[fwd]
        keep = None
        for mt in np.unique(p.mtype[jf]):
            g = np.flatnonzero(p.mtype[jf] == mt)
            g = slice(None) if g.size == jf.size else g  # one kind: views of the prediction
            jj, r = jf[g], _rows(rf[g], st.n)
            # every row (a position feed) and no gate to apply: the update writes
            # the modes straight into the state columns
            direct = isinstance(r, slice) and regate is None
            out = imm_update(int(mt), xp[g], Pp[g], cbar[g], p.z[jj], p.sig[jj], p.s_ecef[jj],
                             p.s_R[jj], with_d2=regate is not None,
                             shared=self.cfg.shared_linearisation,
                             out=(st.xm, st.Pm) if direct else None)
            xm, Pm, mu = out[:3]
            if regate is not None:
                ok = (-max_last(-out[3]) < self.gates[ms.DIM[mt]]) | regate[fwd][g]
                if not ok.all():
                    if keep is None:
                        keep = np.ones(rows.size, bool)
                    keep[np.flatnonzero(fwd)[g][~ok]] = False
                    xm, Pm, mu, jj, r = xm[ok], Pm[ok], mu[ok], jj[ok], rf[g][ok]
            limit_speed(xm, self.cfg.v_max_mps)
            if direct:
                st.mu[r] = mu
            else:
                st.xm[r], st.Pm[r], st.mu[r] = xm, Pm, mu
            st.x[r], st.P[r] = combine(xm, Pm, mu)
            st.t[r] = p.t[jj]
        if keep is not None:
            rows, j, fwd, dt = rows[keep], j[keep], fwd[keep], dt[keep]
        late = ~fwd
        for mt in np.unique(p.mtype[j[late]]):
            g = np.flatnonzero(late & (p.mtype[j] == mt))
            self._update_late(int(mt), p, rows[g], j[g], dt[g])
        t = p.t[j]
        self.stats.updated += rows.size
        self.stats.retrodicted += int(late.sum())
        manage.record_hits(st, rows, t, self.sensors.period[p.sensor[j]], self.cfg)
        new = manage.confirm(st, rows, self.cfg)
        self.stats.confirmed += new.size
        if new.size and self.cfg.stitch:
            self._fresh.append(st.id[new])
        ic = p.icao[j]
        st.icao[rows[ic >= 0]] = ic[ic >= 0]
        identity.push_sources(st, rows, p.sensor[j], t)
        self._queue_identity(rows, p.hint[j], p.is_adsb[j])
        return keep

    def _update_late(self, mt: int, p: Plots, r, jj, dt) -> None:
        """Reports older than their track's state: the Bl1 update of the combined
        state at its own time (the modes collapse onto it, probabilities kept)."""
        st = self.state
        R = st.R[r]
        F = ncv_transition(dt, R, self.ncv.vu_tau_s)  # = transition(self.ncv, ...), fewer calls
        Q = process_noise(self.ncv, dt, R)[:, 0]
        x, P = oosm_update(mt, st.x[r], st.P[r], F, Q, p.z[jj], p.sig[jj], p.s_ecef[jj], p.s_R[jj])
        limit_speed(x[:, None, :], self.cfg.v_max_mps)
        st.x[r], st.P[r] = x, P
        st.xm[r] = x[:, None, :]
        st.Pm[r] = P[:, None, :, :]

    def _queue_identity(self, rows: np.ndarray, hint: np.ndarray, is_adsb: np.ndarray) -> None:
        self._identity.add(self.state.id[rows], hint, is_adsb)

    def _flush_identity(self) -> None:
        """End of step: class hints and ADS-B flags; every class_every_s the
        kinematic class evidence (see identity.IdentityQueue)."""
        kin = self.clock >= self._next_kin
        if kin:
            self._next_kin = self.clock + self.cfg.class_every_s
        self._identity.flush(self.state, self.models.omega, kinematic=kin,
                             alt_floor=self.alt_floor)

    def _initiate(self, p: Plots) -> None:
        """Tentative tracks from free radar plots and position reports."""
        k = len(p)
        if k == 0:
            return
        cov = np.empty((k, 3, 3))
        pol = p.mtype <= ms.POLAR
        if pol.any():
            cov[pol] = ms.polar_position_cov(p.z[pol, 0], p.z[pol, 1], p.z[pol, 2], p.sig[pol], p.s_R[pol])
        if (~pol).any():
            cov[~pol] = ms.noise(ms.POS, p.sig[~pol], p.s_R[~pol])
        cov += np.eye(3)  # 1 m^2: a plot at zero range has no cross-range spread at all
        los = p.pos - p.s_ecef
        los /= np.maximum(np.linalg.norm(los, axis=1, keepdims=True), 1.0)
        rr = np.where(p.mtype == ms.POLAR_RR, p.z[:, 3], np.nan)
        self._new_tracks(p.pos, cov, p.t, p.sensor, p.hint, p.is_adsb, p.icao, p.s_R, los, rr,
                         p.sig[:, 3])
        self.stats.initiated += k

    def _new_tracks(self, pos, cov, t, sensor, hint, is_adsb, icao, R, los=None, rr=None,
                    sig_rr=None):
        """Append tentative tracks. ``R`` orients the velocity prior until the
        first refresh (the sensor's frame for a radar plot: within radar range
        the local vertical turns by less than a degree)."""
        k = pos.shape[0]
        x, P = initial_state(pos, cov, R, self.cfg, los, rr, sig_rr)
        xm, Pm, mu = initial_modes(x, P, self.models.M)
        src = np.full((k, 4), -1, np.int32)
        src[:, 0] = sensor
        src_t = np.full((k, 4), -np.inf)
        src_t[:, 0] = t
        rows = self.state.append(
            x=x, P=P, xm=xm, Pm=Pm, mu=mu, t=t, t_hit=t, t_birth=t, hist=np.ones(k, np.uint32),
            n_hits=np.ones(k, np.int32), icao=icao, R=R, src=src, src_t=src_t,
            p_class=classify.prior(k))
        self._queue_identity(rows, hint, is_adsb)

    # -- management -----------------------------------------------------------
    def _continue(self, now: float) -> None:
        """Tracks confirmed since the last call that continue a lost track take
        its id (stitch.py) before the picture shows them."""
        if not self._fresh:
            return
        st = self.state
        fresh = np.flatnonzero(np.isin(st.id, np.concatenate(self._fresh)))
        self._fresh = []
        self.grave.prune(now, stitch_horizon_s(self.cfg))
        rays = self.__dict__.get("_rays")
        if rays is None:  # built once: which sensors fix no range, where they stand
            rays = self._rays = stitch.Rays.from_table(self.sensors)
        old, new = stitch.continuation_pairs(st, fresh, now, self.cfg, self.grave, rays)
        if old.size:
            stitch.continue_tracks(st, old, new, self.grave, self.cfg, rays)
            self.stats.continued += int(old.size)

    def _manage(self, now: float) -> None:
        st, cfg = self.state, self.cfg
        self._next_manage = now + cfg.manage_every_s
        if len(self.bearings):
            existing = st.x[:, :3] + st.x[:, 3:] * (now - st.t)[:, None]
            fx, first, hint, n_used = self.bearings.fixes(now, self.sensors, existing)
            if len(fx):
                k = len(fx)
                self._new_tracks(fx.ecef, fx.cov, fx.t, first, hint, np.zeros(k, bool),
                                 np.full(k, -1, np.int32), self.sensors.R[first])
                self.stats.in_fixes += n_used
        if st.n == 0:
            return
        if cfg.unseen_height_sigma_m is not None:  # heights no sensor sees stay at the prior
            blind = self.__dict__.get("_blind")
            if blind is None:
                blind = self._blind = manage.height_blind(self.sensors)
            manage.bound_unseen_height(st, blind, cfg)
        dup = manage.duplicates(st, now, cfg)
        dead = manage.doomed(st, now, cfg)
        self.stats.merged += int(dup.sum())
        self.stats.deleted += int((dead & ~dup).sum())
        if dup.any() or dead.any():
            if self.cfg.stitch:
                self.grave.bury(st, np.flatnonzero(dead & ~dup & (st.status == CONFIRMED)))
            st.keep(~(dup | dead))

