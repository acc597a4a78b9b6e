/**
 * Theme: JupyterLab CSS variables (with fallbacks for VS Code, Colab, plain
 * pages) resolved into concrete colours for the canvas.
 */
import { STATE_TYPES, isDarkColor, palette, parseColor, packRGBA } from "./states";

export interface Theme {
  dark: boolean;
  bg: string;
  fg: string;
  muted: string;
  grid: string;
  border: string;
  accent: string;
  font: string;
  fontSize: number;
  /** per state index */
  stateColors: string[];
  /** per state index, ImageData-packed (ABGR) */
  statePacked: Uint32Array;
  /** per state index, packed and dimmed (for bars off the critical path) */
  stateDimmed: Uint32Array;
}

function cssVar(style: CSSStyleDeclaration, names: string[]): string {
  for (const n of names) {
    const v = style.getPropertyValue(n).trim();
    if (v) return v;
  }
  return "";
}

/** First non-transparent computed background among el and its ancestors. */
function inheritedBackground(el: Element | null): string {
  for (let e = el; e; e = e.parentElement) {
    const bg = getComputedStyle(e).backgroundColor;
    const c = parseColor(bg);
    if (c && c[3] > 0.5) return bg;
  }
  return "";
}

export function readTheme(el: Element): Theme {
  const st = getComputedStyle(el);
  const prefersDark =
    typeof matchMedia === "function" && matchMedia("(prefers-color-scheme: dark)").matches;
  let bg = cssVar(st, ["--jp-layout-color0", "--vscode-editor-background", "--colab-primary-surface-color"]);
  if (!parseColor(bg)) bg = inheritedBackground(el) || (prefersDark ? "#111111" : "#ffffff");
  const body = typeof document !== "undefined" ? document.body : null;
  const jpLight = body?.getAttribute("data-jp-theme-light");
  const dark = jpLight === "false" ? true : jpLight === "true" ? false : isDarkColor(bg);
  const fg = cssVar(st, ["--jp-ui-font-color1", "--vscode-editor-foreground"]) || (dark ? "#e6e6e6" : "#1f2328");
  const muted = cssVar(st, ["--jp-ui-font-color2", "--vscode-descriptionForeground"]) || (dark ? "#a0a0a0" : "#616161");
  const border = cssVar(st, ["--jp-border-color1", "--vscode-panel-border"]) || (dark ? "#4a4a4a" : "#bdbdbd");
  const grid = cssVar(st, ["--jp-border-color2", "--jp-layout-color2"]) || (dark ? "#333333" : "#e0e0e0");
  const accent = cssVar(st, ["--jp-brand-color1", "--vscode-focusBorder"]) || (dark ? "#64b5f6" : "#1565c0");
  const font =
    cssVar(st, ["--jp-ui-font-family", "--vscode-font-family"]) ||
    "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
  const fontSize = parseFloat(cssVar(st, ["--jp-ui-font-size1"])) || 13;
  const pal = palette(dark);
  const stateColors = STATE_TYPES.map((s) => pal[s]);
  const statePacked = new Uint32Array(stateColors.map((c) => packRGBA(c)));
  const stateDimmed = new Uint32Array(stateColors.map((c) => packRGBA(c, 0.3)));
  return { dark, bg, fg, muted, grid, border, accent, font, fontSize, stateColors, statePacked, stateDimmed };
}
