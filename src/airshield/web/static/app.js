// The live picture: one WebSocket feeding a small state, a map and side panels.
// Between steps the map dead-reckons every track along its velocity, so the
// picture moves several times a second even at one step per second; but only
// when that moves a track by a pixel or more at the current zoom. The moving
// picture is one canvas over the map (overlay.js); the map repaints only when
// the view moves.
import { createMap, setEffectors } from "./map.js";
import { createOverlay, drawOverlay, pick } from "./overlay.js";
import { TRACK_SYMBOLS, symbolDataUrl } from "./symbols.js";
import * as P from "./panels.js";

const FRAME_MS = 200;  // map redraw period at most (5 Hz)
const MIN_PX = 1.0;    // dead-reckon between steps only when the fastest track moves this many pixels
const TRAIL_LEN = 60;
// Effector stock labels are map symbols: a change repaints the whole map (most of
// a second in software WebGL), so during a busy raid the map's labels follow at
// most this often; the effector panel follows at once.
const EFFECTOR_MAP_MS = 2000;

const S = {
  I: {}, tracks: new Map(), trails: new Map(), threats: [], threatsTotal: 0, recs: [], effectors: [],
  effectorById: new Map(), outcomes: [], engagements: [], counters: {}, clock: {}, meta: {}, mode: "live", t: null,
  lastSeq: 0, epoch: null, tickWall: performance.now(), dirty: { tracks: true, panels: true, effectors: true },
  drawnEl: 0, vmax: 0, effMapDirty: false, effMapWall: -Infinity,
  messages: 0, connected: false,
};
// latency: per step message, [scenario t, reports entered the tracker, server sent, page received,
// page applied] (Unix ms; same machine as the server in the benchmark); frames: animation-frame times.
window.airshield = { state: S, map: null, overlay: null, ready: false, errors: [], frameMs: [], latency: [], frames: [] };
const LATENCY_KEEP = 5000;

function noteLatency(m, recv) {
  if (!m.wall_track) return;
  const L = window.airshield.latency;
  L.push([m.t, m.wall_track[0] * 1000, (m.wall_sent ?? 0) * 1000, recv, performance.timeOrigin + performance.now()]);
  if (L.length > LATENCY_KEEP) L.splice(0, L.length - LATENCY_KEEP);
}

function setFields(fields) { S.I = Object.fromEntries(fields.map((f, i) => [f, i])); }

function applyTracks(rows, removed) {
  const I = S.I;
  for (const r of rows) {
    const id = r[I.track];
    S.tracks.set(id, r);
    let tr = S.trails.get(id);
    if (!tr) S.trails.set(id, (tr = []));
    const last = tr[tr.length - 1];
    if (!last || last[0] !== r[I.lon] || last[1] !== r[I.lat]) tr.push([r[I.lon], r[I.lat]]);
    if (tr.length > TRAIL_LEN) tr.splice(0, tr.length - TRAIL_LEN);
  }
  for (const id of removed || []) { S.tracks.delete(id); S.trails.delete(id); }
}

function applyEvents(events) {
  const fresh = (events || []).filter((e) => e.seq > S.lastSeq);
  if (!fresh.length) return;
  S.lastSeq = fresh[fresh.length - 1].seq;
  for (const e of fresh) if (e.result || e.outcome || e.kind === "impact") { S.outcomes.push(e); S.dirty.tracks = true; }
  if (S.outcomes.length > 500) S.outcomes.splice(0, S.outcomes.length - 500);
  P.appendLog(fresh);
}

function applyCommon(m) {
  if (m.threats) { S.threats = m.threats; S.threatsTotal = m.threats_total ?? m.threats.length; }
  if (m.recommendations) S.recs = m.recommendations;
  if (m.engagements) S.engagements = m.engagements;
  if (m.counters) S.counters = m.counters;
  if (m.clock) S.clock = m.clock;
  if (m.effectors) {
    S.effectors = m.effectors;
    S.effectorById = new Map(m.effectors.map((e) => [String(e.id), e]));
    S.dirty.effectors = true;
  }
  S.dirty.panels = true;
}

function onMessage(m) {
  S.messages++;
  if (m.type === "full") {
    setFields(m.fields);
    S.tracks.clear(); S.trails.clear();
    if (m.epoch !== S.epoch) {  // a new picture (first connect, a replay's seek): start the log afresh
      S.epoch = m.epoch; S.outcomes = []; S.lastSeq = 0; P.clearLog();
    }
    S.mode = m.mode || S.mode; S.meta = m.meta || S.meta;
    applyTracks(m.tracks, []);
    for (const [id, tr] of Object.entries(m.trails || {})) S.trails.set(id, tr.slice(-TRAIL_LEN));
    S.t = m.t; S.tickWall = performance.now();
    applyCommon(m); applyEvents(m.events);
    S.dirty.tracks = true;
    setMode();
  } else if (m.type === "tick") {
    if (m.fields) setFields(m.fields);
    applyTracks(m.tracks, m.removed);
    S.t = m.t; S.tickWall = performance.now();
    applyCommon(m); applyEvents(m.events);
    S.dirty.tracks = true;
  } else if (m.type === "plan") {  // a plan applied between steps: threats, recommendations, events
    applyCommon(m); applyEvents(m.events);
  } else if (m.type === "events") {
    if (m.recommendations) S.recs = m.recommendations;
    if (m.engagements) S.engagements = m.engagements;
    applyEvents(m.events); S.dirty.panels = true;
  } else if (m.type === "clock") {
    S.clock = m.clock; S.tickWall = performance.now(); S.dirty.panels = true; S.dirty.tracks = true;
  } else if (m.type === "error") {
    console.warn("server:", m.error);
    if (m.fatal) { P.banner("The chain stopped: " + m.error); S.clock = m.clock || S.clock; S.dirty.panels = true; }
    else window.airshield.errors.push(m.error);
  }
}

function setMode() {
  const badge = document.getElementById("mode");
  badge.textContent = S.mode === "replay" ? "REPLAY" : "LIVE";
  badge.classList.toggle("replay", S.mode === "replay");
  document.getElementById("scenario").textContent = S.meta?.scenario || "";
}

let socket = null, backoff = 500;
function connect() {
  socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  socket.onopen = () => { backoff = 500; S.connected = true; document.getElementById("conn").className = "conn on"; };
  socket.onmessage = (ev) => {
    const recv = performance.timeOrigin + performance.now();
    try { const m = JSON.parse(ev.data); onMessage(m); noteLatency(m, recv); }
    catch (e) { console.error(e); window.airshield.errors.push(String(e)); }
  };
  socket.onclose = () => {
    S.connected = false; document.getElementById("conn").className = "conn off";
    setTimeout(connect, backoff); backoff = Math.min(backoff * 2, 5000);
  };
}

async function post(path, body) {
  const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body || {}) });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) { P.banner(data.error || `request failed (${r.status})`); setTimeout(() => P.banner(""), 4000); }
  return data;
}

function decide(id, verdict) { return post(`/api/recommendations/${encodeURIComponent(id)}/${verdict}`, { by: "operator" }); }

function pickTrack(map, id) {
  const r = S.tracks.get(String(id));
  if (r) map.flyTo({ center: [r[S.I.lon], r[S.I.lat]], zoom: Math.max(map.getZoom(), 10), duration: 600 });
}

function popupHtml(r) {
  const I = S.I, speed = Math.hypot(r[I.ve] || 0, r[I.vn] || 0);
  const course = ((Math.atan2(r[I.ve] || 0, r[I.vn] || 0) * 180) / Math.PI + 360) % 360;
  const th = S.threats.find((x) => String(x.track) === r[I.track]);
  const rows = [["track", r[I.track]], ["class", `${r[I.cls] ?? "?"}${r[I.conf] != null ? ` (${Math.round(r[I.conf] * 100)}%)` : ""}`],
    ["status", r[I.status]], ["altitude", `${r[I.alt]} m`], ["speed", `${Math.round(speed * 3.6)} km/h`], ["course", `${Math.round(course)}\u00b0`],
    ["95% error", r[I.ell_a] != null ? `${Math.round(r[I.ell_a])} \u00d7 ${Math.round(r[I.ell_b])} m` : "?"],
    ["impact in", th ? P.hms(P.threatFields(th, S).tti) : "-"], ["nation", r[I.nation] ?? "-"]];
  return `<table>${rows.map(([k, v]) => `<tr><td>${k}</td><td>${String(v).replace(/</g, "&lt;")}</td></tr>`).join("")}</table>`;
}

function legend() {
  const box = document.getElementById("legend");
  box.innerHTML = Object.values(TRACK_SYMBOLS).map((d) => `<img src="${symbolDataUrl(d, 14)}" alt=""><span>${d.label}</span>`).join("");
}

function frame(map) {
  const t0 = performance.now();
  if (!draw(map)) return;
  const ms = window.airshield.frameMs;
  ms.push(performance.now() - t0);
  if (ms.length > 100) ms.shift();
}

// Returns true when it drew the moving picture (the cost the benchmark records).
function draw(map) {
  const ov = window.airshield.overlay;
  let drew = false;
  const clk = S.clock || {};
  const wallEl = (performance.now() - S.tickWall) / 1000;
  // Scenario seconds since the last step, capped so a stalled feed doesn't fly tracks away.
  const el = clk.paused || clk.finished ? 0 : Math.min(wallEl * (clk.speed || 1), 2);
  if (S.dirty.tracks) {
    S.vmax = fastest(S);
    drawOverlay(ov, map, S, el); S.drawnEl = el; S.dirty.tracks = false; drew = true;
  } else if (Math.abs(el - S.drawnEl) * S.vmax * pixelsPerMetre(map, S) >= MIN_PX) {
    drawOverlay(ov, map, S, el); S.drawnEl = el; drew = true;
  }
  if (S.dirty.effectors) { P.renderEffectors(S); S.dirty.effectors = false; S.effMapDirty = true; }
  if (S.effMapDirty && performance.now() - S.effMapWall >= EFFECTOR_MAP_MS) {
    setEffectors(map, S.effectors); S.effMapDirty = false; S.effMapWall = performance.now();
  }
  if (S.dirty.panels) {
    P.renderBar(S); P.renderThreats(S, (id) => pickTrack(map, id)); P.renderRecs(S, decide);
    S.dirty.panels = false;
  }
  return drew;
}

// Horizontal speed (m/s) of the fastest track: how far dead reckoning can move anything.
function fastest(S) {
  const I = S.I;
  let v = 0;
  for (const r of S.tracks.values()) v = Math.max(v, Math.hypot(r[I.ve] || 0, r[I.vn] || 0));
  return v;
}

// Screen pixels per metre north at the map's centre (the rows' own degrees per metre).
function pixelsPerMetre(map, S) {
  const r = S.tracks.values().next().value;
  const dlat = r ? r[S.I.dlat_m] : null;
  if (!dlat) return 0;
  const c = map.getCenter(), a = map.project(c), b = map.project([c.lng, c.lat + dlat * 1000]);
  return Math.hypot(b.x - a.x, b.y - a.y) / 1000;
}

async function main() {
  if (!window.maplibregl || !window.ms || !window.topojson) {
    P.banner("Map libraries missing: run `make web-assets` (npm ci in web/) and reload.");
    return;
  }
  const layers = await (await fetch("/api/static")).json();
  S.meta = layers.meta || {};
  setFields(layers.fields);
  S.effectors = layers.effectors || [];
  S.effectorById = new Map(S.effectors.map((e) => [String(e.id), e]));
  setMode();
  let map;
  try { map = await createMap("map", layers); } catch (e) { P.banner("Map failed: " + e); throw e; }
  window.airshield.map = map;
  const ov = window.airshield.overlay = createOverlay(map);
  legend();
  map.on("click", (ev) => {
    const hit = pick(ov, ev.point), r = hit && S.tracks.get(hit.track);
    if (r) new maplibregl.Popup({ closeButton: true, maxWidth: "260px" }).setLngLat(ev.lngLat).setHTML(popupHtml(r)).addTo(map);
  });
  map.on("mousemove", (ev) => { map.getCanvas().style.cursor = pick(ov, ev.point) ? "pointer" : ""; });
  // The view moved: the overlay follows in the same frame (as seen at the last drawing's time).
  map.on("move", () => drawOverlay(ov, map, S, S.drawnEl));
  map.on("resize", () => { S.dirty.tracks = true; });
  document.getElementById("log-recs").onchange = (ev) => document.getElementById("log").classList.toggle("hide-recs", !ev.target.checked);
  document.getElementById("btn-play").onclick = () => post("/api/control", { paused: !S.clock.paused });
  document.getElementById("speed").onchange = (ev) => post("/api/control", { speed: Number(ev.target.value) });
  document.getElementById("seek").onchange = (ev) => post("/api/control", { seek_t: Number(ev.target.value) });
  connect();
  setInterval(() => frame(map), FRAME_MS);
  const F = window.airshield.frames;  // animation frames actually painted (the page's frame rate)
  const tick = (ts) => { F.push(ts); if (F.length > 600) F.shift(); requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  window.airshield.ready = true;
}

main().catch((e) => { console.error(e); window.airshield.errors.push(String(e)); });
