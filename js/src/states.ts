/**
 * State types, their fixed wire order, and the colour tables.
 *
 * The order of STATE_TYPES is part of the Python <-> JS contract: the
 * `timeline.state` buffer holds indices into this tuple (see
 * prefect_widgets/_timeline_encoding.py, which defines the same tuple).
 */
export const STATE_TYPES = [
  "SCHEDULED",
  "PENDING",
  "RUNNING",
  "COMPLETED",
  "FAILED",
  "CANCELLED",
  "CRASHED",
  "PAUSED",
  "CANCELLING",
] as const;

export type StateType = (typeof STATE_TYPES)[number];
export const N_STATES = STATE_TYPES.length;

const INDEX: Record<string, number> = Object.create(null);
STATE_TYPES.forEach((s, i) => (INDEX[s] = i));

/** Index of a state type name (case-insensitive, "StateType.X" tolerated); -1 if unknown. */
export function stateIndex(name: string | null | undefined): number {
  if (typeof name !== "string") return -1;
  let s = name.trim().toUpperCase();
  const dot = s.lastIndexOf(".");
  if (dot >= 0) s = s.slice(dot + 1);
  const i = INDEX[s];
  return i === undefined ? -1 : i;
}

/** "COMPLETED" -> "Completed"; unknown indices give "Unknown". */
export function stateLabel(state: number | string): string {
  const name = typeof state === "number" ? STATE_TYPES[state] : STATE_TYPES[stateIndex(state)];
  if (!name) return "Unknown";
  return name.charAt(0) + name.slice(1).toLowerCase();
}

/**
 * Light-theme palette: the package's one palette, `STATE_COLORS` in
 * prefect_widgets/states.py (tests/test_contrast.py checks the two are equal and that
 * every badge and bar label reaches WCAG AA, 4.5:1, with `badgeTextColor`).
 */
export const LIGHT_PALETTE: Readonly<Record<StateType, string>> = {
  SCHEDULED: "#d97706", // amber
  PENDING: "#a16207", // darker, yellower amber
  RUNNING: "#2563eb", // blue
  COMPLETED: "#15803d", // green
  FAILED: "#dc2626", // red
  CANCELLED: "#4b5563", // grey
  CRASHED: "#991b1b", // dark red
  PAUSED: "#7c3aed", // purple
  CANCELLING: "#6b7280", // lighter grey
};

/** Dark-theme palette (`STATE_COLORS_DARK`): same hues, lifted so they read on dark backgrounds. */
export const DARK_PALETTE: Readonly<Record<StateType, string>> = {
  SCHEDULED: "#f59e0b",
  PENDING: "#d97706",
  RUNNING: "#4f8ff7",
  COMPLETED: "#22c55e",
  FAILED: "#f05252",
  CANCELLED: "#7d8696",
  CRASHED: "#f87171",
  PAUSED: "#a78bfa",
  CANCELLING: "#9ca3af",
};

/**
 * A glyph per state, shown beside the state's name (badges, chips), so states that
 * share a hue differ without colour: `STATE_GLYPHS` in prefect_widgets/states.py.
 */
export const STATE_GLYPHS: Readonly<Record<StateType, string>> = {
  SCHEDULED: "\u25f7",
  PENDING: "\u2026",
  RUNNING: "\u25b8",
  COMPLETED: "\u2713",
  FAILED: "\u2715",
  CANCELLED: "\u2298",
  CRASHED: "\u21af",
  PAUSED: "\u2016",
  CANCELLING: "\u2296",
};

/** Glyph of a state (index or name); unknown -> "?". */
export function stateGlyph(state: number | string): string {
  const name = typeof state === "number" ? STATE_TYPES[state] : STATE_TYPES[stateIndex(state)];
  return name ? STATE_GLYPHS[name] : "?";
}

export function palette(dark: boolean): Readonly<Record<StateType, string>> {
  return dark ? DARK_PALETTE : LIGHT_PALETTE;
}

/** Colour of a state (index or name) for the given theme; unknown -> neutral grey. */
export function stateColor(state: number | string, dark = false): string {
  const name = typeof state === "number" ? STATE_TYPES[state] : STATE_TYPES[stateIndex(state)];
  return name ? palette(dark)[name] : dark ? "#9CA3AF" : "#6B7280";
}

/**
 * When several bars fall on the same device pixel, the one with the higher
 * priority wins, so rare-but-important states (failures) stay visible when a
 * flow with 100k task runs is zoomed out.
 */
export const DRAW_PRIORITY: Readonly<Record<StateType, number>> = {
  COMPLETED: 1,
  CANCELLED: 2,
  SCHEDULED: 3,
  PENDING: 4,
  CANCELLING: 5,
  PAUSED: 6,
  RUNNING: 7,
  CRASHED: 8,
  FAILED: 9,
};

export function statePriority(state: number): number {
  const name = STATE_TYPES[state];
  return name ? DRAW_PRIORITY[name] : 0;
}

/** States whose run is still in progress (duration ticks, bar extends to now). */
export function isActiveState(state: string | null | undefined): boolean {
  const i = stateIndex(state);
  return i === 1 || i === 2 || i === 8; // PENDING, RUNNING, CANCELLING
}

// ---------------------------------------------------------------- colours

export type RGBA = [number, number, number, number];

/** Parse #rgb, #rgba, #rrggbb, #rrggbbaa, rgb(), rgba() (comma or space syntax). */
export function parseColor(css: string | null | undefined): RGBA | null {
  if (typeof css !== "string") return null;
  const s = css.trim().toLowerCase();
  if (s.startsWith("#")) {
    const h = s.slice(1);
    if (!/^[0-9a-f]+$/.test(h)) return null;
    if (h.length === 3 || h.length === 4) {
      const v = [...h].map((c) => parseInt(c + c, 16));
      return [v[0], v[1], v[2], h.length === 4 ? v[3] / 255 : 1];
    }
    if (h.length === 6 || h.length === 8) {
      const v = [0, 2, 4, 6].map((i) => parseInt(h.slice(i, i + 2), 16));
      return [v[0], v[1], v[2], h.length === 8 ? v[3] / 255 : 1];
    }
    return null;
  }
  const m = /^rgba?\(([^)]*)\)$/.exec(s);
  if (m) {
    const parts = m[1].split(/[\s,/]+/).filter(Boolean);
    if (parts.length < 3) return null;
    const ch = parts.slice(0, 3).map((p) => (p.endsWith("%") ? (parseFloat(p) * 255) / 100 : parseFloat(p)));
    let a = 1;
    if (parts.length >= 4) a = parts[3].endsWith("%") ? parseFloat(parts[3]) / 100 : parseFloat(parts[3]);
    if ([...ch, a].some((x) => !Number.isFinite(x))) return null;
    return [clamp255(ch[0]), clamp255(ch[1]), clamp255(ch[2]), Math.max(0, Math.min(1, a))];
  }
  if (s === "white") return [255, 255, 255, 1];
  if (s === "black") return [0, 0, 0, 1];
  if (s === "transparent") return [0, 0, 0, 0];
  return null;
}

function clamp255(x: number): number {
  return Math.max(0, Math.min(255, Math.round(x)));
}

/** WCAG relative luminance in [0, 1]. */
export function relativeLuminance(rgb: ArrayLike<number>): number {
  const lin = (c: number) => {
    const v = c / 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  };
  return 0.2126 * lin(rgb[0]) + 0.7152 * lin(rgb[1]) + 0.0722 * lin(rgb[2]);
}

export function contrastRatio(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const la = relativeLuminance(a);
  const lb = relativeLuminance(b);
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

/** True when a (parsable, opaque-ish) colour is dark; unknown -> false. */
export function isDarkColor(css: string | null | undefined): boolean {
  const c = parseColor(css);
  if (!c || c[3] < 0.5) return false;
  return relativeLuminance(c) < 0.2;
}

/** Text colour ("#ffffff" or "#111111") with the better contrast on `bg`. */
export function badgeTextColor(bg: string): string {
  const c = parseColor(bg);
  if (!c) return "#ffffff";
  return contrastRatio(c, [255, 255, 255]) >= contrastRatio(c, [17, 17, 17]) ? "#ffffff" : "#111111";
}

/** Pack a colour into the uint32 layout of ImageData on little-endian machines (ABGR). */
export function packRGBA(css: string, alpha = 1): number {
  const c = parseColor(css) ?? [128, 128, 128, 1];
  const a = Math.round(Math.max(0, Math.min(1, c[3] * alpha)) * 255);
  return ((a << 24) | (c[2] << 16) | (c[1] << 8) | c[0]) >>> 0;
}
