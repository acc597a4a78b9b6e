import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  DARK_PALETTE,
  LIGHT_PALETTE,
  STATE_TYPES,
  badgeTextColor,
  contrastRatio,
  isActiveState,
  isDarkColor,
  packRGBA,
  parseColor,
  relativeLuminance,
  stateColor,
  stateIndex,
  stateLabel,
  statePriority,
} from "../src/states";

function hsl(hex: string): [number, number, number] {
  const [r, g, b] = parseColor(hex)!.slice(0, 3).map((v) => v / 255);
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  const l = (max + min) / 2;
  const d = max - min;
  if (d === 0) return [0, 0, l];
  const s = d / (1 - Math.abs(2 * l - 1));
  let h: number;
  if (max === r) h = ((g - b) / d) % 6;
  else if (max === g) h = (b - r) / d + 2;
  else h = (r - g) / d + 4;
  return [(h * 60 + 360) % 360, s, l];
}

describe("STATE_TYPES", () => {
  it("has the fixed wire order", () => {
    expect(STATE_TYPES).toEqual([
      "SCHEDULED", "PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED", "CRASHED", "PAUSED", "CANCELLING",
    ]);
  });

  it("matches the Python encoder's STATE_TYPES tuple", () => {
    const py = readFileSync(
      fileURLToPath(new URL("../../prefect_widgets/_timeline_encoding.py", import.meta.url)),
      "utf8",
    );
    const m = /STATE_TYPES[^=]*=\s*\(([^)]*)\)/.exec(py);
    expect(m).not.toBeNull();
    const names = [...m![1].matchAll(/"([A-Z_]+)"/g)].map((x) => x[1]);
    expect(names).toEqual([...STATE_TYPES]);
  });

  it("looks names up case-insensitively and tolerates enum reprs", () => {
    expect(stateIndex("COMPLETED")).toBe(3);
    expect(stateIndex("failed")).toBe(4);
    expect(stateIndex(" StateType.CANCELLING ")).toBe(8);
    expect(stateIndex("nope")).toBe(-1);
    expect(stateIndex(null)).toBe(-1);
    expect(stateLabel(2)).toBe("Running");
    expect(stateLabel("CANCELLED")).toBe("Cancelled");
    expect(stateLabel(42)).toBe("Unknown");
    expect(isActiveState("RUNNING")).toBe(true);
    expect(isActiveState("PENDING")).toBe(true);
    expect(isActiveState("COMPLETED")).toBe(false);
  });
});

describe("state colour table", () => {
  for (const [theme, pal] of [["light", LIGHT_PALETTE], ["dark", DARK_PALETTE]] as const) {
    describe(theme, () => {
      const hue = (s: keyof typeof pal) => hsl(pal[s])[0];
      const sat = (s: keyof typeof pal) => hsl(pal[s])[1];

      it("covers every state with a valid hex colour", () => {
        for (const s of STATE_TYPES) expect(pal[s]).toMatch(/^#[0-9A-F]{6}$/i);
      });
      it("uses green for completed, blue for running", () => {
        expect(hue("COMPLETED")).toBeGreaterThan(90);
        expect(hue("COMPLETED")).toBeLessThan(160);
        expect(hue("RUNNING")).toBeGreaterThan(200);
        expect(hue("RUNNING")).toBeLessThan(240);
      });
      it("uses red for failed and crashed", () => {
        for (const s of ["FAILED", "CRASHED"] as const) {
          const h = hue(s);
          expect(h < 15 || h > 340).toBe(true);
          expect(sat(s)).toBeGreaterThan(0.5);
        }
      });
      it("uses amber/yellow for scheduled and pending", () => {
        for (const s of ["SCHEDULED", "PENDING"] as const) {
          expect(hue(s)).toBeGreaterThan(30);
          expect(hue(s)).toBeLessThan(60);
        }
      });
      it("uses greys for cancelled and cancelling", () => {
        expect(sat("CANCELLED")).toBeLessThan(0.25);
        expect(sat("CANCELLING")).toBeLessThan(0.3);
      });
      it("gives paused a distinct purple", () => {
        expect(hue("PAUSED")).toBeGreaterThan(250);
        expect(hue("PAUSED")).toBeLessThan(290);
      });
      it("keeps all nine colours pairwise distinct", () => {
        const cols = STATE_TYPES.map((s) => parseColor(pal[s])!);
        for (let i = 0; i < cols.length; i++)
          for (let j = i + 1; j < cols.length; j++) {
            const d = Math.hypot(cols[i][0] - cols[j][0], cols[i][1] - cols[j][1], cols[i][2] - cols[j][2]);
            expect(d, `${STATE_TYPES[i]} vs ${STATE_TYPES[j]}`).toBeGreaterThan(30);
          }
      });
      it("stands out against the theme background", () => {
        const bg = theme === "light" ? [255, 255, 255] : [17, 17, 17];
        for (const s of STATE_TYPES) {
          expect(contrastRatio(parseColor(pal[s])!, bg), s).toBeGreaterThan(1.9);
        }
      });
      it("picks readable badge text for every state", () => {
        for (const s of STATE_TYPES) {
          const text = badgeTextColor(pal[s]);
          expect(contrastRatio(parseColor(text)!, parseColor(pal[s])!), s).toBeGreaterThanOrEqual(4.5);
        }
      });
    });
  }

  it("selects the palette by theme and falls back to grey", () => {
    expect(stateColor("COMPLETED")).toBe(LIGHT_PALETTE.COMPLETED);
    expect(stateColor(3, true)).toBe(DARK_PALETTE.COMPLETED);
    expect(stateColor(99)).toBe("#6B7280");
  });

  it("draws failures above completions when bars share a pixel", () => {
    expect(statePriority(4)).toBeGreaterThan(statePriority(3));
    expect(statePriority(6)).toBeGreaterThan(statePriority(2));
    expect(statePriority(2)).toBeGreaterThan(statePriority(3));
    expect(new Set(STATE_TYPES.map((_, i) => statePriority(i))).size).toBe(STATE_TYPES.length);
  });
});

describe("colour parsing", () => {
  it("parses hex and rgb() forms", () => {
    expect(parseColor("#fff")).toEqual([255, 255, 255, 1]);
    expect(parseColor("#11223380")).toEqual([17, 34, 51, 128 / 255]);
    expect(parseColor("rgba(0, 0, 0, 0.87)")).toEqual([0, 0, 0, 0.87]);
    expect(parseColor("rgb(10 20 30 / 50%)")).toEqual([10, 20, 30, 0.5]);
    expect(parseColor("var(--x)")).toBeNull();
    expect(parseColor("#12")).toBeNull();
  });
  it("computes luminance and darkness", () => {
    expect(relativeLuminance([255, 255, 255])).toBeCloseTo(1, 6);
    expect(relativeLuminance([0, 0, 0])).toBe(0);
    expect(isDarkColor("#111111")).toBe(true);
    expect(isDarkColor("#212121")).toBe(true);
    expect(isDarkColor("#ffffff")).toBe(false);
    expect(isDarkColor("transparent")).toBe(false);
  });
  it("packs colours in ImageData (little-endian ABGR) order", () => {
    const v = packRGBA("#102030");
    const bytes = new Uint8Array(new Uint32Array([v]).buffer);
    expect([...bytes]).toEqual([0x10, 0x20, 0x30, 0xff]);
    expect(packRGBA("#102030", 0.5) >>> 24).toBe(128);
  });
});
