// APP-6 / MIL-STD-2525 symbols (milsymbol) and text labels, drawn once each into
// the map's image sprite: the map then draws thousands of tracks on the GPU
// instead of one DOM element per track. No glyph server is needed: labels are
// canvas images too.

// Symbol key (sent by the server for each track) -> 2525C letter SIDC and options.
export const TRACK_SYMBOLS = {
  "shahed": { sidc: "SHAPMFQA-------", label: "hostile attack drone" },
  "jet_drone": { sidc: "SHAPMFQA-------", opts: { type: "JET" }, label: "hostile jet drone" },
  "recon": { sidc: "SHAPMFQR-------", label: "hostile recon UAV" },
  "decoy": { sidc: "SSAPMFQ--------", opts: { type: "DCY" }, label: "decoy (suspect)" },
  "unknown": { sidc: "SUAP-----------", label: "unknown air track" },
  "bird": { sidc: "SUAP-----------", opts: { type: "BIRD" }, label: "bird (unknown)" },
  "aircraft-friend": { sidc: "SFAPMF---------", label: "friendly aircraft" },
  "aircraft-neutral": { sidc: "SNAPCF---------", label: "neutral civil aircraft" },
};

export const EFFECTOR_SIDC = {
  "mobile_fire_group": { sidc: "SFGPUCDG-------", opts: { type: "MFG" } },
  "spaag": { sidc: "SFGPUCDG-------", opts: { type: "SPAAG" } },
  "interceptor_drone": { sidc: "SFGPUCD--------", opts: { type: "UAV" } },
  "sam_short_range": { sidc: "SFGPUCDM-------", opts: { type: "SHORAD" } },
  "sam_medium_range": { sidc: "SFGPUCDM-------", opts: { type: "MRAD" } },
  "ew_jammer": { sidc: "SFGPUUE--------", opts: { type: "EW" } },
  "default": { sidc: "SFGPUCD--------" },
};

export const SENSOR_SIDC = {
  "radar": { sidc: "SFGPESR--------" },
  "adsb": { sidc: "SFGPES---------", opts: { type: "ADS-B" } },
  "default": { sidc: "SFGPES---------" },
};

const DPR = Math.min(window.devicePixelRatio || 1, 2);

export function milCanvas(def, size) {
  let sym = new ms.Symbol(def.sidc, { size: size * DPR, ...(def.opts || {}) });
  if (!sym.isValid()) {  // keep the frame and affiliation if this milsymbol lacks the function icon
    console.warn("milsymbol: invalid SIDC", def.sidc);
    sym = new ms.Symbol(def.sidc.slice(0, 4) + "-----------", { size: size * DPR, ...(def.opts || {}) });
  }
  return sym.asCanvas();
}

function addCanvas(map, key, canvas) {
  const ctx = canvas.getContext("2d");
  const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
  if (map.hasImage(key)) map.updateImage(key, img); else map.addImage(key, img, { pixelRatio: DPR });
}

export function addSymbolImages(map) {
  for (const [key, def] of Object.entries(TRACK_SYMBOLS)) addCanvas(map, "trk:" + key, milCanvas(def, 22));
  for (const [key, def] of Object.entries(EFFECTOR_SIDC)) addCanvas(map, "eff:" + key, milCanvas(def, 20));
  for (const [key, def] of Object.entries(SENSOR_SIDC)) addCanvas(map, "sen:" + key, milCanvas(def, 16));
}

export function symbolDataUrl(def, size) {
  return milCanvas(def, size).toDataURL();
}

// A text label as a sprite image (white text, dark halo).
export function ensureLabel(map, text, { color = "#d7e2ec", size = 12, bold = false } = {}) {
  const key = `lbl:${color}:${size}:${bold ? 1 : 0}:${text}`;
  if (map.hasImage(key)) return key;
  const font = `${bold ? "bold " : ""}${size * DPR}px "DejaVu Sans", "Liberation Sans", Arial, sans-serif`;
  const probe = document.createElement("canvas").getContext("2d");
  probe.font = font;
  const w = Math.ceil(probe.measureText(text).width) + 6 * DPR;
  const h = Math.ceil(size * 1.5 * DPR);
  const c = document.createElement("canvas");
  c.width = w; c.height = h;
  const ctx = c.getContext("2d");
  ctx.font = font; ctx.textBaseline = "middle";
  ctx.lineWidth = 3 * DPR; ctx.strokeStyle = "rgba(6, 14, 22, 0.9)"; ctx.lineJoin = "round";
  ctx.strokeText(text, 3 * DPR, h / 2);
  ctx.fillStyle = color; ctx.fillText(text, 3 * DPR, h / 2);
  addCanvas(map, key, c);
  return key;
}
