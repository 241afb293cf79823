// The moving picture on one 2-D canvas over the map: tracks (milsymbol sprites,
// drawn once per symbol), heading vectors, trails, uncertainty ellipses,
// engagement lines and outcome rings. A step redraws this canvas only (a few
// milliseconds for 1,000 tracks); the WebGL map underneath repaints only when the
// view moves. Updating a map source instead re-tiles and repaints the whole map,
// which without a GPU (software WebGL) stalls the page for a large part of a
// second: outcome rings fade every step during a raid, so they live here too.
import { TRACK_SYMBOLS, milCanvas } from "./symbols.js";

const LEADER_S = 60;        // heading vector: where the track will be in one minute
const ELLIPSE_MINZOOM = 9;  // uncertainty ellipses only when zoomed in
const HIT_PX = 12;          // a click this close to a track picks it
const OUTCOME_KEEP_S = 180; // outcome rings fade out over this much scenario time
const COAST_ALPHA = 0.45;   // coasting tracks (no report lately, dead-reckoned) are faded
const OUTCOME_COLORS = { defeated: "61,220,132", leaked: "255,92,92", other: "255,176,32" };
const COLORS = {
  trail: { hostile: "rgba(255,107,107,0.45)", friend: "rgba(124,200,255,0.45)", neutral: "rgba(126,224,126,0.45)", unknown: "rgba(230,211,106,0.45)" },
  vector: { hostile: "#ff8f8f", friend: "#9fd8ff", neutral: "#a6f0a6", unknown: "#f2e28c" },
};

export function affiliation(sym) {
  if (sym === "aircraft-friend") return "friend";
  if (sym === "aircraft-neutral") return "neutral";
  if (sym === "unknown" || sym === "bird") return "unknown";
  return "hostile";
}

// Dead-reckoned position of a track row `el` scenario seconds after its report.
export function ahead(r, I, el) {
  return [r[I.lon] + (r[I.ve] || 0) * r[I.dlon_m] * el, r[I.lat] + (r[I.vn] || 0) * r[I.dlat_m] * el];
}

export function createOverlay(map) {
  const canvas = document.createElement("canvas");
  canvas.className = "overlay";
  map.getCanvasContainer().after(canvas);  // over the map, under its controls and popups
  const dpr = Math.min(window.devicePixelRatio || 1, 2);
  const sprites = {};
  for (const [key, def] of Object.entries(TRACK_SYMBOLS)) sprites[key] = milCanvas(def, 22);
  const ov = { canvas, ctx: canvas.getContext("2d"), sprites, dpr, drawn: [], ellipses: 0, outcomes: 0, draws: 0, width: 0, height: 0 };
  const resize = () => {
    const c = map.getCanvas();
    ov.width = c.clientWidth; ov.height = c.clientHeight;
    canvas.width = Math.round(ov.width * dpr); canvas.height = Math.round(ov.height * dpr);
    canvas.style.width = ov.width + "px"; canvas.style.height = ov.height + "px";
  };
  resize();
  map.on("resize", resize);
  return ov;
}

// Screen position and pixels per degree (east, north) at each track: two
// projections per track, through the map's own transform. Trails, vectors and
// ellipses are a few kilometres across, where these local scales hold to a
// fraction of a pixel.
function place(map, r, I, p) {
  const a = map.project(p), b = map.project([p[0] + 0.01, p[1] + 0.01]);
  return { x: a.x, y: a.y, sx: (b.x - a.x) / 0.01, sy: (b.y - a.y) / 0.01 };
}

export function drawOverlay(ov, map, S, el) {
  const I = S.I, ctx = ov.ctx, zoom = map.getZoom();
  ctx.setTransform(ov.dpr, 0, 0, ov.dpr, 0, 0);
  ctx.clearRect(0, 0, ov.width, ov.height);
  const margin = 80, drawn = [];
  const trails = { hostile: new Path2D(), friend: new Path2D(), neutral: new Path2D(), unknown: new Path2D() };
  const vectors = { hostile: new Path2D(), friend: new Path2D(), neutral: new Path2D(), unknown: new Path2D() };
  const ellipses = new Path2D();
  let nEll = 0;
  for (const r of S.tracks.values()) {
    const p = ahead(r, I, el), q = place(map, r, I, p), sym = r[I.sym], aff = affiliation(sym);
    const far = q.x < -margin * 4 || q.y < -margin * 4 || q.x > ov.width + margin * 4 || q.y > ov.height + margin * 4;
    const tr = S.trails.get(r[I.track]);
    if (tr && tr.length && !far) {
      const path = trails[aff];
      path.moveTo(q.x, q.y);  // from the symbol back along the reported positions
      for (let k = tr.length - 1; k >= 0; k--) path.lineTo(q.x + (tr[k][0] - p[0]) * q.sx, q.y + (tr[k][1] - p[1]) * q.sy);
    }
    if (!far && sym !== "bird" && r[I.ve] != null && r[I.vn] != null) {
      const v = vectors[aff];
      v.moveTo(q.x, q.y);
      v.lineTo(q.x + r[I.ve] * r[I.dlon_m] * LEADER_S * q.sx, q.y + r[I.vn] * r[I.dlat_m] * LEADER_S * q.sy);
    }
    if (zoom >= ELLIPSE_MINZOOM && r[I.ell_a] != null && r[I.ell_b] != null && !far) {
      // Semi-axes in metres -> pixels with the north scale; bearing from north -> canvas angle from +x.
      const pxm = Math.abs(q.sy * r[I.dlat_m]), rot = ((r[I.ell_deg] - 90) * Math.PI) / 180;
      ellipses.moveTo(q.x + r[I.ell_a] * pxm * Math.cos(rot), q.y + r[I.ell_a] * pxm * Math.sin(rot));
      ellipses.ellipse(q.x, q.y, Math.max(r[I.ell_a] * pxm, 0.5), Math.max(r[I.ell_b] * pxm, 0.5), rot, 0, 2 * Math.PI);
      nEll++;
    }
    if (q.x >= -margin && q.y >= -margin && q.x <= ov.width + margin && q.y <= ov.height + margin) {
      drawn.push({ track: r[I.track], sym, aff, x: q.x, y: q.y, coast: r[I.status] === "coasting" });
    }
  }
  ctx.lineWidth = 1.2;
  for (const [aff, path] of Object.entries(trails)) { ctx.strokeStyle = COLORS.trail[aff]; ctx.stroke(path); }
  if (nEll) {
    ctx.fillStyle = "rgba(255,255,255,0.06)"; ctx.fill(ellipses);
    ctx.strokeStyle = "rgba(255,255,255,0.5)"; ctx.lineWidth = 1; ctx.stroke(ellipses);
  }
  ctx.lineWidth = 1.5;
  for (const [aff, path] of Object.entries(vectors)) { ctx.strokeStyle = COLORS.vector[aff]; ctx.stroke(path); }
  drawEngagements(ctx, map, S, el);
  ov.outcomes = drawOutcomes(ctx, map, S, ov);
  // Symbols last, hostile on top; birds small. Sizes follow the zoom as the map's icons do.
  const f = Math.min(Math.max((zoom - 6) / 4, 0), 1);
  const scale = { bird: 0.4 + 0.15 * f, other: 0.7 + 0.3 * f };
  drawn.sort((a, b) => (a.aff === "hostile") - (b.aff === "hostile"));
  for (const d of drawn) {
    const img = ov.sprites[d.sym] || ov.sprites.unknown;
    const s = (d.sym === "bird" ? scale.bird : scale.other) / ov.dpr;
    const w = img.width * s, h = img.height * s;
    ctx.globalAlpha = d.coast ? COAST_ALPHA : 1;
    ctx.drawImage(img, d.x - w / 2, d.y - h / 2, w, h);
  }
  ctx.globalAlpha = 1;
  ov.drawn = drawn; ov.ellipses = nEll; ov.draws++;
}

export function outcomeResult(e) {
  return e.kind === "impact" ? "leaked" : e.result || e.outcome || "missed";
}

// Rings where engagements ended (defeated green, missed amber) and drones hit
// (leaked red), fading with scenario age. Returns how many it drew.
function drawOutcomes(ctx, map, S, ov) {
  const now = S.t ?? 0, m = 20;
  let n = 0;
  ctx.save();
  ctx.lineWidth = 2.5;
  for (const e of S.outcomes) {
    const age = now - (e.t ?? now);
    if (age > OUTCOME_KEEP_S || e.lat == null || e.lon == null) continue;
    const q = map.project([e.lon, e.lat]);
    if (q.x < -m || q.y < -m || q.x > ov.width + m || q.y > ov.height + m) continue;
    const res = outcomeResult(e), rgb = OUTCOME_COLORS[res] || OUTCOME_COLORS.other;
    ctx.strokeStyle = `rgba(${rgb},${Math.max(0.15, 1 - age / OUTCOME_KEEP_S).toFixed(2)})`;
    ctx.beginPath(); ctx.arc(q.x, q.y, 9, 0, 2 * Math.PI); ctx.stroke();
    n++;
  }
  ctx.restore();
  return n;
}

function drawEngagements(ctx, map, S, el) {
  // Engagements in flight, and approvals the next step has not yet turned into one.
  const flying = [...S.engagements, ...S.recs.filter((rec) => rec.status === "approved")];
  if (!flying.length) return;
  ctx.save();
  ctx.strokeStyle = "#3ddc84"; ctx.lineWidth = 2; ctx.setLineDash([4, 4]);
  ctx.beginPath();
  for (const g of flying) {
    const r = S.tracks.get(String(g.threat)), e = S.effectorById.get(String(g.effector));
    if (!r || !e) continue;
    const a = map.project([e.lon, e.lat]), b = map.project(ahead(r, S.I, el));
    ctx.moveTo(a.x, a.y); ctx.lineTo(b.x, b.y);
  }
  ctx.stroke();
  ctx.restore();
}

// The track drawn nearest a screen point, if within HIT_PX.
export function pick(ov, point) {
  let best = null, bestD = HIT_PX * HIT_PX;
  for (const d of ov.drawn) {
    const dd = (d.x - point.x) ** 2 + (d.y - point.y) ** 2;
    if (dd <= bestD) { best = d; bestD = dd; }
  }
  return best;
}
