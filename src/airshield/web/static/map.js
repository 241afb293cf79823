// The map: MapLibre GL with a plain background, Natural Earth countries
// (world-atlas TopoJSON -> GeoJSON) and the static picture (coverage, assets,
// sensors, effectors) as WebGL layers. What changes every step is drawn on the
// overlay canvas (overlay.js): a source's setData repaints the whole map.
import { addSymbolImages, ensureLabel } from "./symbols.js";

const EMPTY = { type: "FeatureCollection", features: [] };

export async function createMap(container, layers) {
  const map = new maplibregl.Map({
    container, attributionControl: false, maxZoom: 15, minZoom: 3, dragRotate: false,
    fadeDuration: 0,  // symbols appear at once: a fade is several extra repaints after every step
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

function fitToPicture(map, layers) {
  const pts = [...(layers.assets || []), ...(layers.effectors || []),
    ...(layers.sensors || []).filter((s) => s.kind === "radar")].filter((p) => p.lat != null);
  if (!pts.length) return;
  const b = new maplibregl.LngLatBounds([pts[0].lon, pts[0].lat], [pts[0].lon, pts[0].lat]);
  for (const p of pts) b.extend([p.lon, p.lat]);
  map.fitBounds(b, { padding: 60, duration: 0, maxZoom: 10 });
}

