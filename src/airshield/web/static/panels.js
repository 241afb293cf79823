// The side panels and the top bar: plain DOM, rebuilt at most a few times a
// second and bounded in size (top threats, last events), never per track.

const $ = (id) => document.getElementById(id);
const MAX_THREAT_ROWS = 60;
const MAX_LOG_ROWS = 300;
const MAX_REC_CARDS = 40;

export const money = (x) => {
  const v = Number(x) || 0;
  if (Math.abs(v) >= 1e6) return "$" + (v / 1e6).toFixed(v >= 1e7 ? 0 : 1) + "M";
  if (Math.abs(v) >= 1e4) return "$" + Math.round(v / 1e3) + "k";
  return "$" + Math.round(v).toLocaleString("en-US");
};

export function hms(sec) {
  if (sec == null || !isFinite(sec)) return "--";
  const s = Math.max(0, Math.round(sec));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return (h ? h + ":" + String(m).padStart(2, "0") : String(m)) + ":" + String(r).padStart(2, "0");
}

const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

export function renderBar(S) {
  const c = S.counters || {};
  $("c-live").textContent = c.live_tracks ?? S.tracks.size;
  $("c-threats").textContent = S.threatsTotal ?? 0;
  $("c-defeated").textContent = c.defeated ?? 0;
  $("c-leaked").textContent = c.leaked ?? 0;
  $("c-shots").textContent = c.shots ?? 0;
  $("c-spent").textContent = money(c.money_spent);
  $("c-lost").textContent = money(c.value_lost);
  renderClock(S);
}

export function renderClock(S) {
  const clk = S.clock || {}, t = S.t ?? clk.t ?? 0;
  $("clock-t").textContent = "T+" + hms(t) + (clk.finished ? "  END" : "") + (clk.paused ? "  PAUSED" : "");
  const epoch = S.meta?.epoch ? Date.parse(S.meta.epoch) : NaN;
  $("clock-utc").textContent = isFinite(epoch) ? new Date(epoch + t * 1000).toISOString().slice(11, 19) + "Z" : hms(t);
  $("btn-play").innerHTML = clk.paused ? "&#9654;" : "&#10074;&#10074;";
  const sp = $("speed");
  if (document.activeElement !== sp) {
    const v = String(clk.speed ?? 1);
    if (![...sp.options].some((o) => o.value === v)) sp.add(new Option(v + "\u00d7", v));
    sp.value = v;
  }
  const seek = $("seek");
  seek.hidden = !clk.seekable;
  if (clk.seekable && document.activeElement !== seek) {
    seek.min = clk.start_t ?? 0; seek.max = clk.duration_s ?? 1; seek.value = t;
  }
}

export function threatFields(th, S) {
  const r = S.tracks.get(String(th.track)), I = S.I;
  const cls = th.class ?? (r ? r[I.cls] : null) ?? "unknown";
  const conf = th.confidence ?? th.p_class?.[cls] ?? (r ? r[I.conf] : null);
  const tti = th.tti_s ?? th.time_to_impact_s ?? th.time_to_target_s ?? (r ? r[I.tti] : null);
  const target = th.asset ?? th.target ?? th.targets?.[0]?.asset ?? "";
  return { cls, conf, tti, target };
}

export function renderThreats(S, onPick) {
  const body = $("threats").tBodies[0];
  const rows = S.threats.slice(0, MAX_THREAT_ROWS).map((th, i) => {
    const f = threatFields(th, S);
    const urgency = f.tti != null && f.tti < 120 ? "soon" : f.tti != null && f.tti < 300 ? "near" : "";
    return `<tr data-track="${esc(th.track)}"><td>${i + 1}</td><td>${esc(th.track)}</td>` +
      `<td class="cls-${esc(f.cls)}">${esc(f.cls)}</td><td>${f.conf == null ? "" : Math.round(f.conf * 100) + "%"}</td>` +
      `<td class="${urgency}">${hms(f.tti)}</td><td>${esc(String(f.target).replaceAll("_", " "))}</td></tr>`;
  });
  body.innerHTML = rows.join("");
  $("threats-count").textContent = S.threatsTotal ? `(${S.threatsTotal})` : "";
  body.onclick = (ev) => { const tr = ev.target.closest("tr"); if (tr) onPick(tr.dataset.track); };
}

// Keyed update: a card (and its buttons) stays the same element while its
// recommendation is open, so a click is never lost to a redraw.
export function renderRecs(S, decide) {
  const box = $("recs"), ro = S.mode === "replay";
  $("recs-count").textContent = S.recs.length ? `(${S.recs.length})` : "";
  box.querySelector(".empty")?.remove();
  const keep = new Set(), cards = new Map([...box.querySelectorAll(":scope > .rec")].map((c) => [c.dataset.rec, c]));
  let prev = null;
  // Soonest intercept first: the decision that cannot wait goes on top.
  const recs = [...S.recs].sort((a, b) => (a.t_intercept ?? Infinity) - (b.t_intercept ?? Infinity)).slice(0, MAX_REC_CARDS);
  for (const r of recs) {
    const id = String(r.id);
    keep.add(id);
    let card = cards.get(id);
    if (!card) {
      card = document.createElement("div");
      card.dataset.rec = id;
      card.innerHTML = `<div class="what"></div><div class="why"></div><div class="buttons">` +
        `<button type="button" class="approve" data-rec="${esc(id)}">Approve</button>` +
        `<button type="button" class="reject" data-rec="${esc(id)}">Reject</button></div>`;
    }
    const status = card.dataset.sent ? "sent" : r.status || "open";
    const open = (r.status || "open") === "open" && !ro && !card.dataset.sent;
    card.className = `rec ${status}`;
    const tr = S.tracks.get(String(r.threat)), cls = tr ? tr[S.I.cls] : "";
    const what = `${esc(r.effector)} &rarr; ${esc(r.threat)} <span class="cls-${esc(cls)}">${esc(cls)}</span> <span class="dim">${esc(id)}</span>`;
    const why = `${esc(String(r.effector_kind ?? "").replaceAll("_", " "))} &middot; ${r.shots ?? "?"} shot${r.shots === 1 ? "" : "s"} ${money(r.cost)} &middot; Pk ${r.pk == null ? "?" : Number(r.pk).toFixed(2)} &middot; saves ${money(r.value_saved)}` +
      (r.t_intercept != null && S.t != null ? ` &middot; hit in ${hms(r.t_intercept - S.t)}` : "") +
      ((r.status || "open") !== "open" ? ` &middot; <span class="state">${esc(r.status)}</span>` : "");
    const w = card.children[0], y = card.children[1];
    if (w.innerHTML !== what) w.innerHTML = what;
    if (y.innerHTML !== why) y.innerHTML = why;
    for (const btn of card.querySelectorAll("button")) btn.disabled = !open;
    const want = prev ? prev.nextSibling : box.firstChild;
    if (want !== card) box.insertBefore(card, want);
    prev = card;
  }
  for (const [id, card] of cards) if (!keep.has(id)) card.remove();
  if (!S.recs.length) box.innerHTML = `<p class="empty">none open</p>`;
  box.onclick = (ev) => {
    const b = ev.target.closest("button");
    if (!b || b.disabled) return;
    const card = b.closest(".rec");
    card.dataset.sent = "1";
    card.querySelectorAll("button").forEach((x) => { x.disabled = true; });
    decide(b.dataset.rec, b.classList.contains("approve") ? "approve" : "reject")
      .finally(() => { delete card.dataset.sent; });
  };
}

export function renderEffectors(S) {
  $("effectors").innerHTML = S.effectors.map((e) => {
    const stock = e.stock ?? e.shots, cls = stock === 0 ? "out" : stock != null && stock <= 4 ? "low" : "";
    return `<div class="eff"><span>${esc(e.id)} <span class="dim">${esc(String(e.kind ?? "").replaceAll("_", " "))}</span></span>` +
      `<span class="stock ${cls}">${stock ?? "?"}</span></div>`;
  }).join("");
}

export function eventText(e) {
  const k = e.kind || e.type || "event";
  const res = e.result || e.outcome;
  const rec = e.rec ?? e.id ?? "";
  switch (k) {
    case "recommendation":
      return `recommend ${e.id ?? e.rec}: ${e.effector} \u2192 ${e.threat} (${e.shots ?? "?"} shot${e.shots === 1 ? "" : "s"}, ${money(e.cost)}, Pk ${e.pk == null ? "?" : Number(e.pk).toFixed(2)})`;
    case "withdrawn": return `withdrawn ${rec}: ${e.effector ?? ""} \u2192 ${e.threat ?? ""}`;
    case "approval": case "approved": return `APPROVED ${rec}: ${e.effector ?? ""} \u2192 ${e.threat ?? ""} by ${e.by ?? "operator"}`;
    case "rejection": case "rejected": return `REJECTED ${rec}: ${e.effector ?? ""} \u2192 ${e.threat ?? ""} by ${e.by ?? "operator"}`;
    case "engagement": return `ENGAGING ${e.threat}: ${e.effector} fires ${e.shots ?? "?"} (${money(e.cost)})`;
    case "impact": return `IMPACT ${e.class ?? ""} ${e.object ?? ""}${e.asset ? " on " + e.asset.replaceAll("_", " ") : ""}${e.value_lost ? " (" + money(e.value_lost) + " lost)" : ""}`;
    default: break;
  }
  if (res) return `${String(res).toUpperCase()} ${e.threat ?? e.track ?? ""}${e.effector ? " by " + e.effector : ""}${e.truth_class ? " (" + e.truth_class + ")" : ""}`;
  const skip = new Set(["kind", "type", "t", "seq", "lat", "lon"]);
  return k + " " + Object.entries(e).filter(([x]) => !skip.has(x)).map(([x, v]) => `${x}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(" ");
}

export function eventClass(e) {
  const k = e.kind || e.type;
  if (k === "impact") return "leaked";
  if (e.result || e.outcome) return String(e.result || e.outcome);
  return k === "approval" || k === "rejection" || k === "engagement" ? "decision" : (k || "");
}

// Newest first; prepend only the new ones.
export function appendLog(events) {
  const ol = $("log");
  const frag = document.createDocumentFragment();
  for (const e of events) {
    const li = document.createElement("li");
    li.className = eventClass(e);
    li.dataset.seq = e.seq;
    li.innerHTML = `<span class="tt">T+${hms(e.t)}</span>${esc(eventText(e))}`;
    frag.prepend(li);
  }
  ol.prepend(frag);
  while (ol.children.length > MAX_LOG_ROWS) ol.lastChild.remove();
}

export function clearLog() { $("log").innerHTML = ""; }

export function banner(text) {
  const b = $("banner");
  b.hidden = !text;
  b.textContent = text || "";
}
