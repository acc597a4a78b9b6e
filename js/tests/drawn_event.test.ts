// @vitest-environment happy-dom
/**
 * The `pw-drawn` hook (issue 20's latency measurement): once a live patch or a whole timeline
 * has been applied and drawn, the widget's root dispatches a bubbling CustomEvent naming each
 * changed row's index, state and task name; a page that did not ask (`<html data-pw-drawn>`)
 * gets none.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { stubCanvas } from "./fake_canvas";
import widget, { AnyModel, DRAWN_EVENT, DrawnDetail } from "../src/index";

const fx = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), "fixtures", "encoded.json"), "utf8"));
const b64 = (s: string | null) => (s == null ? null : new DataView(Uint8Array.from(Buffer.from(s, "base64")).buffer));

type Listener = (...args: unknown[]) => void;

/** A model holding the fixture's timeline; `emit` delivers a kernel message. */
function liveModel(): AnyModel & { emit: (ev: string, ...args: unknown[]) => void } {
  const state: Record<string, unknown> = {
    header: { run_name: "r", live: true, live_via: "stream" },
    timeline: Object.fromEntries(Object.entries(fx.timeline).map(([k, v]) => [k, typeof v === "string" ? b64(v) : v])),
    state_filter: [],
    selected_index: -1,
  };
  const listeners = new Map<string, Listener[]>();
  return {
    get: (name) => state[name],
    set: (name, value) => (state[name] = value),
    save_changes: () => undefined,
    on: (ev, cb) => listeners.set(ev, [...(listeners.get(ev) ?? []), cb]),
    off: () => undefined,
    send: () => undefined,
    emit: (ev, ...args) => (listeners.get(ev) ?? []).forEach((cb) => cb(...args)),
  };
}

/** The next `pw-drawn` event's detail seen at `document` (it bubbles), or null after `ms`. */
function nextDrawn(ms = 500): Promise<DrawnDetail | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      document.removeEventListener(DRAWN_EVENT, on);
      resolve(null);
    }, ms);
    const on = (e: Event) => {
      clearTimeout(timer);
      document.removeEventListener(DRAWN_EVENT, on);
      resolve((e as CustomEvent<DrawnDetail>).detail);
    };
    document.addEventListener(DRAWN_EVENT, on);
  });
}

beforeAll(() => {
  stubCanvas();
  // happy-dom lays nothing out: give the timeline a width so frames are drawn
  Object.defineProperty(HTMLElement.prototype, "clientWidth", { configurable: true, get: () => 800 });
});

afterEach(() => {
  document.documentElement.removeAttribute("data-pw-drawn");
  document.body.replaceChildren();
});

describe("pw-drawn", () => {
  it("names every row of a whole timeline once it is drawn, then only the rows a patch changed", async () => {
    document.documentElement.setAttribute("data-pw-drawn", "");
    const el = document.createElement("div");
    document.body.append(el);
    const model = liveModel();
    const first = nextDrawn();
    const dispose = widget.render({ model, el });
    const whole = await first;
    expect(whole).not.toBeNull();
    expect(whole!.kind).toBe("timeline");
    expect(whole!.n).toBe(5);
    expect(whole!.rows.map((r) => r.index)).toEqual([0, 1, 2, 3, 4]);
    expect(whole!.rows.map((r) => r.state)).toEqual(["COMPLETED", "FAILED", "RUNNING", "PENDING", "CRASHED"]);
    expect(whole!.rows.map((r) => r.key)).toEqual(["say_hello", "fetch", "fetch", "fetch", "notify"]);
    expect(el.dataset.rendered).toBe("1"); // dispatched after the frame, not before

    const before = Date.now();
    const patched = nextDrawn();
    model.emit("msg:custom", fx.patch.msg, fx.patch.buffers.map(b64));
    const detail = await patched;
    expect(detail).not.toBeNull();
    expect(detail!.kind).toBe("patch");
    expect(detail!.n).toBe(6);
    // the fixture's patch: row 2 completes, row 5 (a subflow run, "cleanup") is appended running
    expect(detail!.rows).toEqual([
      { index: 2, state: "COMPLETED", key: "fetch" },
      { index: 5, state: "RUNNING", key: "cleanup" },
    ]);
    expect(detail!.at).toBeGreaterThanOrEqual(before);
    expect(await nextDrawn(100)).toBeNull(); // one event per drawn change, not per frame
    dispose();
  });

  it("is not dispatched unless the page asked for it", async () => {
    const el = document.createElement("div");
    document.body.append(el);
    const model = liveModel();
    const drawn = nextDrawn(300);
    const dispose = widget.render({ model, el });
    model.emit("msg:custom", fx.patch.msg, fx.patch.buffers.map(b64));
    expect(await drawn).toBeNull();
    expect(el.dataset.rendered).toBe("1"); // it did draw
    dispose();
  });
});
