// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ANNOUNCE_EVERY_MS, Announcer, changedRows, describeChanges, summaryLabel } from "../src/a11y";
import { emptyTimeline, Timeline } from "../src/decode";
import { stateIndex } from "../src/states";

function timeline(states: string[]): Timeline {
  const n = states.length;
  return {
    ...emptyTimeline(),
    n,
    keys: ["extract"],
    key: new Int32Array(n),
    mapIndex: Int32Array.from(states.keys()),
    state: Uint8Array.from(states.map((s) => stateIndex(s))),
    start: new Float32Array(n),
    end: new Float32Array(n),
    runCount: new Uint16Array(n),
  };
}

describe("summaryLabel", () => {
  it("names the run, the task-run count and the count of each state", () => {
    expect(summaryLabel("etl-42", { COMPLETED: 116, FAILED: 3, RUNNING: 1 })).toBe(
      "Flow run etl-42: 120 task runs, 1 Running, 116 Completed, 3 Failed",
    );
    expect(summaryLabel("", {})).toBe("Flow run (unnamed): 0 task runs");
  });
});

describe("describeChanges", () => {
  const tl = timeline(["COMPLETED", "RUNNING", "FAILED", "COMPLETED", "COMPLETED"]);
  it("names a few changes and counts many", () => {
    expect(describeChanges(tl, [0])).toBe("extract[0] Completed");
    expect(describeChanges(tl, [1, 2])).toBe("extract[1] Running; extract[2] Failed");
    expect(describeChanges(tl, [0, 1, 2, 3, 4])).toBe("5 task runs changed state: 3 Completed, 1 Running, 1 Failed");
    expect(describeChanges(tl, [])).toBe("");
  });
  it("finds changed and new rows", () => {
    expect(changedRows(Uint8Array.of(stateIndex("COMPLETED"), stateIndex("PENDING")), tl)).toEqual([1, 2, 3, 4]);
  });
});

describe("Announcer", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("is a polite live region that announces at most once a second", () => {
    let now = 0;
    const a = new Announcer(() => now);
    expect(a.region.getAttribute("aria-live")).toBe("polite");
    const tl = timeline(["PENDING", "PENDING", "PENDING", "PENDING", "PENDING"]);
    a.observe(tl); // the first data: nothing to announce
    vi.advanceTimersByTime(5000);
    expect(a.region.textContent).toBe("");

    tl.state[0] = stateIndex("RUNNING");
    a.observe(tl);
    vi.advanceTimersByTime(0);
    expect(a.region.textContent).toBe("extract[0] Running");
    now = 100;
    tl.state[0] = stateIndex("COMPLETED");
    a.observe(tl);
    tl.state[1] = stateIndex("RUNNING");
    a.observe(tl);
    vi.advanceTimersByTime(ANNOUNCE_EVERY_MS - 200);
    expect(a.region.textContent).toBe("extract[0] Running"); // coalesced: not yet
    now = ANNOUNCE_EVERY_MS;
    vi.advanceTimersByTime(200);
    expect(a.region.textContent).toBe("extract[0] Completed; extract[1] Running");
    expect(a.region.dataset.announced).toBe("2");

    // new data (not a live change) resets without announcing
    a.observe(timeline(["FAILED"]), true);
    vi.advanceTimersByTime(5000);
    expect(a.region.dataset.announced).toBe("2");
    a.destroy();
  });
});
