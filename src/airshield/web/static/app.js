// The live picture: one WebSocket feeding a small state, a map and side panels.
// Between steps the map dead-reckons every track along its velocity, so the
// picture moves several times a second even at one step per second.
import { createMap, drawEllipses, drawOutcomes, drawTrails, drawTracks, setEffectors } from "./map.js";
import { TRACK_SYMBOLS, symbolDataUrl } from "./symbols.js";
import * as P from "./panels.js";

const FRAME_MS = 200;  // map redraw period (5 Hz)
const TRAIL_LEN = 60;

const S = {
  I: {}, tracks: new Map(), trails: new Map(), threats: [], threatsTotal: 0, recs: [], effectors: [],
  effectorById: new Map(), outcomes: [], engagements: [], counters: {}, clock: {}, meta: {}, mode: "live", t: null,
  lastSeq: 0, epoch: null, tickWall: performance.now(), dirty: { trails: true, panels: true, effectors: true },
  messages: 0, connected: false,
};
window.airshield = { state: S, map: null, ready: false, errors: [], frameMs: [] };

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
  for (const e of fresh) if (e.result || e.outcome || e.kind === "impact") S.outcomes.push(e);
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
    S.dirty.trails = true;
    setMode();
  } else if (m.type === "tick") {
    if (m.fields) setFields(m.fields);
    applyTracks(m.tracks, m.removed);
    S.t = m.t; S.tickWall = performance.now();
    applyCommon(m); applyEvents(m.events);
    S.dirty.trails = true;
  } else if (m.type === "events") {
    if (m.recommendations) S.recs = m.recommendations;
    if (m.engagements) S.engagements = m.engagements;
    applyEvents(m.events); S.dirty.panels = true;
  } else if (m.type === "clock") {
    S.clock = m.clock; S.tickWall = performance.now(); S.dirty.panels = true;
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
  socket.onmessage = (ev) => { try { onMessage(JSON.parse(ev.data)); } catch (e) { console.error(e); window.airshield.errors.push(String(e)); } };
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
  draw(map);
  const ms = window.airshield.frameMs;
  ms.push(performance.now() - t0);
  if (ms.length > 100) ms.shift();
}

function draw(map) {
  const clk = S.clock || {};
  const wallEl = (performance.now() - S.tickWall) / 1000;
  // Scenario seconds since the last step, capped so a stalled feed doesn't fly tracks away.
  const el = clk.paused || clk.finished ? 0 : Math.min(wallEl * (clk.speed || 1), 2);
  drawTracks(map, S, el);
  if (S.dirty.trails) { drawTrails(map, S); drawEllipses(map, S); drawOutcomes(map, S); S.dirty.trails = false; }
  if (S.dirty.effectors) { setEffectors(map, S.effectors); P.renderEffectors(S); S.dirty.effectors = false; }
  if (S.dirty.panels) {
    P.renderBar(S); P.renderThreats(S, (id) => pickTrack(map, id)); P.renderRecs(S, decide);
    S.dirty.panels = false;
  }
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
  legend();
  map.on("click", "tracks", (ev) => {
    const r = S.tracks.get(ev.features[0].properties.track);
    if (r) new maplibregl.Popup({ closeButton: true, maxWidth: "260px" }).setLngLat(ev.lngLat).setHTML(popupHtml(r)).addTo(map);
  });
  map.on("mouseenter", "tracks", () => { map.getCanvas().style.cursor = "pointer"; });
  map.on("mouseleave", "tracks", () => { map.getCanvas().style.cursor = ""; });
  map.on("zoomend", () => drawEllipses(map, S));
  map.on("moveend", () => drawEllipses(map, S));
  document.getElementById("log-recs").onchange = (ev) => document.getElementById("log").classList.toggle("hide-recs", !ev.target.checked);
  document.getElementById("btn-play").onclick = () => post("/api/control", { paused: !S.clock.paused });
  document.getElementById("speed").onchange = (ev) => post("/api/control", { speed: Number(ev.target.value) });
  document.getElementById("seek").onchange = (ev) => post("/api/control", { seek_t: Number(ev.target.value) });
  connect();
  setInterval(() => frame(map), FRAME_MS);
  window.airshield.ready = true;
}

main().catch((e) => { console.error(e); window.airshield.errors.push(String(e)); });
