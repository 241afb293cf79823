// The map: MapLibre GL with a plain background, Natural Earth countries
// (world-atlas TopoJSON -> GeoJSON) and the picture's GeoJSON sources. All
// drawing is WebGL layers fed by setData; nothing here is one element per track.
import { addSymbolImages, ensureLabel } from "./symbols.js";

const EMPTY = { type: "FeatureCollection", features: [] };
const LEADER_S = 60;        // heading vector: where the track will be in one minute
const ELLIPSE_MINZOOM = 9;  // uncertainty ellipses only when zoomed in
const OUTCOME_KEEP_S = 180; // outcome markers fade out after this much scenario time

export async function createMap(container, layers) {
  const map = new maplibregl.Map({
    container, attributionControl: false, maxZoom: 15, minZoom: 3, dragRotate: false,
    style: { version: 8, sources: {}, layers: [{ id: "bg", type: "background", paint: { "background-color": "#0b1622" } }] },
    center: [layers.origin?.lon ?? 30, layers.origin?.lat ?? 50], zoom: 8,
  });
  // Style and data errors are kept where a test (or a curious operator) can read them.
  map.on("error", (e) => { console.error(e.error || e); window.airshield.errors.push(String(e.error?.message || e.error || e)); });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-left");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-right");
  map.addControl(new maplibregl.AttributionControl({ compact: true, customAttribution: "Natural Earth (world-atlas)" }));
  await new Promise((ok) => map.on("load", ok));
  addSymbolImages(map);
  await addBasemap(map);
  addStaticLayers(map, layers);
  addDynamicLayers(map);
  fitToPicture(map, layers);
  return map;
}

async function addBasemap(map) {
  const topo = await (await fetch("/static/vendor/countries-50m.json")).json();
  const land = topojson.feature(topo, topo.objects.countries);
  const borders = topojson.mesh(topo, topo.objects.countries, (a, b) => a !== b);
  const coast = topojson.mesh(topo, topo.objects.countries, (a, b) => a === b);
  map.addSource("land", { type: "geojson", data: land });
  map.addSource("borders", { type: "geojson", data: borders });
  map.addSource("coast", { type: "geojson", data: coast });
  map.addLayer({ id: "land", type: "fill", source: "land", paint: { "fill-color": "#13263a" } });
  map.addLayer({ id: "coast", type: "line", source: "coast", paint: { "line-color": "#2c4a66", "line-width": 1 } });
  map.addLayer({ id: "borders", type: "line", source: "borders",
    paint: { "line-color": "#6d8aa6", "line-width": 1.4, "line-dasharray": [4, 2] } });
}

function pointsFC(items, props) {
  return { type: "FeatureCollection", features: items.filter((x) => x.lat != null && x.lon != null).map((x) => ({
    type: "Feature", geometry: { type: "Point", coordinates: [x.lon, x.lat] }, properties: props(x) })) };
}

function addStaticLayers(map, layers) {
  map.addSource("coverage", { type: "geojson", data: layers.coverage || EMPTY });
  map.addLayer({ id: "coverage-fill", type: "fill", source: "coverage", paint: { "fill-color": "#4fb3ff", "fill-opacity": 0.035 } });
  map.addLayer({ id: "coverage-line", type: "line", source: "coverage",
    paint: { "line-color": "#4fb3ff", "line-opacity": 0.35, "line-width": 1, "line-dasharray": [2, 3] } });
  map.addSource("effector-ranges", { type: "geojson", data: layers.effector_ranges || EMPTY });
  map.addLayer({ id: "effector-range-line", type: "line", source: "effector-ranges",
    paint: { "line-color": "#3ddc84", "line-opacity": 0.3, "line-width": 1, "line-dasharray": [1, 3] } });
  map.addSource("asset-areas", { type: "geojson", data: layers.asset_areas || EMPTY });
  map.addLayer({ id: "asset-fill", type: "fill", source: "asset-areas", paint: { "fill-color": "#ffd166", "fill-opacity": 0.18 } });
  map.addLayer({ id: "asset-line", type: "line", source: "asset-areas", paint: { "line-color": "#ffd166", "line-width": 1.5 } });
  const assets = layers.assets || [];
  for (const a of assets) a._label = ensureLabel(map, a.name.replaceAll("_", " "), { color: "#ffd166", size: 12, bold: true });
  map.addSource("assets", { type: "geojson", data: pointsFC(assets, (a) => ({ name: a.name, label: a._label })) });
  map.addLayer({ id: "asset-labels", type: "symbol", source: "assets",
    layout: { "icon-image": ["get", "label"], "icon-anchor": "top", "icon-offset": [0, 6], "icon-allow-overlap": true } });
  const sensors = layers.sensors || [];
  const big = (s) => s.kind === "radar" || s.kind === "adsb";
  map.addSource("sensors", { type: "geojson", data: pointsFC(sensors.filter((s) => s.kind !== "visual"), (s) => ({
    id: s.id, kind: s.kind, big: big(s), icon: "sen:" + (s.kind in { radar: 1, adsb: 1 } ? s.kind : "default") })) });
  map.addLayer({ id: "sensor-dots", type: "circle", source: "sensors", filter: ["!", ["get", "big"]],
    paint: { "circle-radius": 2, "circle-color": "#4fb3ff", "circle-opacity": 0.55 } });
  map.addLayer({ id: "sensor-icons", type: "symbol", source: "sensors", filter: ["get", "big"],
    layout: { "icon-image": ["get", "icon"], "icon-allow-overlap": true } });
  map.addSource("effectors", { type: "geojson", data: EMPTY });
  map.addLayer({ id: "effector-icons", type: "symbol", source: "effectors",
    layout: { "icon-image": ["get", "icon"], "icon-allow-overlap": true } });
  map.addLayer({ id: "effector-labels", type: "symbol", source: "effectors",
    layout: { "icon-image": ["get", "label"], "icon-anchor": "top", "icon-offset": [0, 14], "icon-allow-overlap": true } });
  setEffectors(map, layers.effectors || []);
}

export function setEffectors(map, effectors) {
  const data = pointsFC(effectors, (e) => {
    const stock = e.stock ?? e.shots;
    return { id: e.id, icon: map.hasImage("eff:" + e.kind) ? "eff:" + e.kind : "eff:default",
      label: ensureLabel(map, `${e.id}  ${stock ?? ""}`, { color: stock === 0 ? "#ff5c5c" : "#9fd8ff", size: 11 }) };
  });
  map.getSource("effectors")?.setData(data);
}

function addDynamicLayers(map) {
  for (const id of ["trails", "vectors", "ellipses", "tracks", "engagements", "outcomes"]) {
    map.addSource(id, { type: "geojson", data: EMPTY });
  }
  map.addLayer({ id: "trails", type: "line", source: "trails",
    paint: { "line-color": ["match", ["get", "aff"], "hostile", "#ff6b6b", "friend", "#7cc8ff", "neutral", "#7ee07e", "#e6d36a"],
      "line-opacity": 0.45, "line-width": 1.2 } });
  map.addLayer({ id: "ellipses-fill", type: "fill", source: "ellipses", minzoom: ELLIPSE_MINZOOM,
    paint: { "fill-color": "#ffffff", "fill-opacity": 0.06 } });
  map.addLayer({ id: "ellipses-line", type: "line", source: "ellipses", minzoom: ELLIPSE_MINZOOM,
    paint: { "line-color": "#ffffff", "line-opacity": 0.5, "line-width": 1 } });
  map.addLayer({ id: "vectors", type: "line", source: "vectors",
    paint: { "line-color": ["match", ["get", "aff"], "hostile", "#ff8f8f", "friend", "#9fd8ff", "neutral", "#a6f0a6", "#f2e28c"],
      "line-width": 1.5 } });
  map.addLayer({ id: "engagements", type: "line", source: "engagements",
    paint: { "line-color": "#3ddc84", "line-width": 2, "line-dasharray": [2, 2] } });
  map.addLayer({ id: "tracks", type: "symbol", source: "tracks",
    layout: { "icon-image": ["concat", "trk:", ["get", "sym"]], "icon-allow-overlap": true, "icon-ignore-placement": true,
      // Birds are drawn small: they are many and matter least.
      "icon-size": ["interpolate", ["linear"], ["zoom"], 6, ["match", ["get", "sym"], "bird", 0.4, 0.7],
        10, ["match", ["get", "sym"], "bird", 0.55, 1.0]],
      "symbol-sort-key": ["match", ["get", "aff"], "hostile", 2, 1] } });
  map.addLayer({ id: "outcomes", type: "circle", source: "outcomes",
    paint: { "circle-radius": 9, "circle-color": "rgba(0,0,0,0)", "circle-stroke-width": 2.5,
      "circle-stroke-color": ["match", ["get", "result"], "defeated", "#3ddc84", "leaked", "#ff5c5c", "#ffb020"],
      "circle-stroke-opacity": ["get", "fade"] } });
}

function fitToPicture(map, layers) {
  const pts = [...(layers.assets || []), ...(layers.effectors || []),
    ...(layers.sensors || []).filter((s) => s.kind === "radar")].filter((p) => p.lat != null);
  if (!pts.length) return;
  const b = new maplibregl.LngLatBounds([pts[0].lon, pts[0].lat], [pts[0].lon, pts[0].lat]);
  for (const p of pts) b.extend([p.lon, p.lat]);
  map.fitBounds(b, { padding: 60, duration: 0, maxZoom: 10 });
}

// Dead-reckoned position of a track row `el` scenario seconds after its report.
function ahead(r, I, el) {
  return [r[I.lon] + (r[I.ve] || 0) * r[I.dlon_m] * el, r[I.lat] + (r[I.vn] || 0) * r[I.dlat_m] * el];
}

export function affiliation(sym) {
  if (sym === "aircraft-friend") return "friend";
  if (sym === "aircraft-neutral") return "neutral";
  if (sym === "unknown" || sym === "bird") return "unknown";
  return "hostile";
}

// Redraw tracks and heading vectors (every animation frame tick), `el` seconds ahead.
export function drawTracks(map, S, el) {
  const I = S.I, tracks = [], vectors = [];
  for (const r of S.tracks.values()) {
    const p = ahead(r, I, el);
    const aff = affiliation(r[I.sym]);
    tracks.push({ type: "Feature", geometry: { type: "Point", coordinates: p },
      properties: { track: r[I.track], sym: r[I.sym], cls: r[I.cls], aff } });
    if (r[I.ve] != null && r[I.vn] != null && r[I.sym] !== "bird") {
      vectors.push({ type: "Feature", geometry: { type: "LineString", coordinates: [p, ahead(r, I, el + LEADER_S)] },
        properties: { aff } });
    }
  }
  map.getSource("tracks").setData({ type: "FeatureCollection", features: tracks });
  map.getSource("vectors").setData({ type: "FeatureCollection", features: vectors });
  const eng = [];
  // Engagements in flight, and approvals the next step has not yet turned into one.
  const flying = [...S.engagements, ...S.recs.filter((rec) => rec.status === "approved")];
  for (const g of flying) {
    const r = S.tracks.get(String(g.threat)), e = S.effectorById.get(String(g.effector));
    if (r && e) eng.push({ type: "Feature", geometry: { type: "LineString", coordinates: [[e.lon, e.lat], ahead(r, I, el)] }, properties: {} });
  }
  map.getSource("engagements").setData({ type: "FeatureCollection", features: eng });
}

export function drawTrails(map, S) {
  const I = S.I, feats = [];
  for (const [id, tr] of S.trails) {
    const r = S.tracks.get(id);
    if (!r || tr.length < 2) continue;
    feats.push({ type: "Feature", geometry: { type: "LineString", coordinates: tr }, properties: { aff: affiliation(r[I.sym]) } });
  }
  map.getSource("trails").setData({ type: "FeatureCollection", features: feats });
}

// 95 % horizontal uncertainty ellipses (server-computed axes), only when zoomed in.
export function drawEllipses(map, S) {
  if (map.getZoom() < ELLIPSE_MINZOOM - 0.5) {
    if (S.ellipsesShown) { map.getSource("ellipses").setData(EMPTY); S.ellipsesShown = false; }
    return;
  }
  const I = S.I, feats = [], n = 28, bounds = map.getBounds();
  for (const r of S.tracks.values()) {
    const a = r[I.ell_a], b = r[I.ell_b];
    if (a == null || b == null || !bounds.contains([r[I.lon], r[I.lat]])) continue;
    const beta = (r[I.ell_deg] * Math.PI) / 180, ring = [];
    const ue = Math.sin(beta), un = Math.cos(beta);   // major axis, east/north components
    for (let k = 0; k <= n; k++) {
      const phi = (2 * Math.PI * k) / n, x = a * Math.cos(phi), y = b * Math.sin(phi);
      const east = x * ue + y * un, north = x * un - y * ue;
      ring.push([r[I.lon] + east * r[I.dlon_m], r[I.lat] + north * r[I.dlat_m]]);
    }
    feats.push({ type: "Feature", geometry: { type: "Polygon", coordinates: [ring] }, properties: {} });
  }
  map.getSource("ellipses").setData({ type: "FeatureCollection", features: feats });
  S.ellipsesShown = true;
}

export function drawOutcomes(map, S) {
  const now = S.t ?? 0, feats = [];
  for (const e of S.outcomes) {
    const age = now - (e.t ?? now);
    if (age > OUTCOME_KEEP_S || e.lat == null) continue;
    feats.push({ type: "Feature", geometry: { type: "Point", coordinates: [e.lon, e.lat] },
      properties: { result: e.kind === "impact" ? "leaked" : e.result || e.outcome || "missed", fade: Math.max(0.15, 1 - age / OUTCOME_KEEP_S) } });
  }
  map.getSource("outcomes").setData({ type: "FeatureCollection", features: feats });
}
