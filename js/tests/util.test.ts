import { describe, expect, it } from "vitest";
import { decodeTimeline } from "../src/decode";
import { countStates, displayValue, formatCount, filterIndices, normalizeHeader, runCountsText, runDuration, safeUrl, toggleFilter } from "../src/util";

describe("safeUrl", () => {
  it("allows only absolute http(s) URLs", () => {
    expect(safeUrl("https://app.prefect.cloud/runs/flow-run/abc")).toBe("https://app.prefect.cloud/runs/flow-run/abc");
    expect(safeUrl("http://localhost:4200/runs/flow-run/1")).toBe("http://localhost:4200/runs/flow-run/1");
    expect(safeUrl("  HTTPS://Example.com/x ")).toBe("https://example.com/x");
    for (const bad of ["javascript:alert(1)", "JAVASCRIPT:alert(1)", "data:text/html,hi", "//evil.com", "/runs/1",
      "ftp://x", "https://has space.com", "", null, 42, "http://"]) {
      expect(safeUrl(bad), String(bad)).toBeNull();
    }
  });
});

describe("normalizeHeader", () => {
  it("coerces types and drops junk", () => {
    const h = normalizeHeader({
      run_name: "crimson-otter",
      flow_name: "etl",
      state_type: "running",
      state_name: "",
      state_message: "",
      start_ms: 1000,
      end_ms: "x",
      ui_url: null,
      counts: { COMPLETED: 3, failed: 2, BOGUS: 9, RUNNING: -1, PENDING: "4" },
      live: 1,
      error: "",
    });
    expect(h.state_type).toBe("RUNNING");
    expect(h.state_name).toBe("Running");
    expect(h.state_message).toBeNull();
    expect(h.end_ms).toBeNull();
    expect(h.counts).toEqual({ COMPLETED: 3, FAILED: 2, PENDING: 4 });
    expect(h.live).toBe(true);
    expect(h.error).toBeNull();
  });
  it("tolerates a missing header", () => {
    const h = normalizeHeader(undefined);
    expect(h.run_name).toBe("");
    expect(h.state_type).toBe("");
    expect(h.counts).toEqual({});
  });
});

describe("runDuration", () => {
  const h = normalizeHeader({ state_type: "RUNNING", start_ms: 1000 });
  it("ticks while active, is fixed once ended, unknown otherwise", () => {
    expect(runDuration(h, 5000)).toBe(4000);
    expect(runDuration({ ...h, end_ms: 3000 }, 5000)).toBe(2000);
    expect(runDuration({ ...h, state_type: "COMPLETED" }, 5000)).toBeNull();
    expect(runDuration({ ...h, start_ms: null }, 5000)).toBeNull();
    expect(runDuration(h, 0)).toBe(0);
  });
});

describe("filters", () => {
  it("toggles states in canonical order", () => {
    expect(toggleFilter([], "FAILED")).toEqual(["FAILED"]);
    expect(toggleFilter(["FAILED"], "completed")).toEqual(["COMPLETED", "FAILED"]);
    expect(toggleFilter(["COMPLETED", "FAILED"], "FAILED")).toEqual(["COMPLETED"]);
    expect(toggleFilter(["nope", "RUNNING"], "bogus")).toEqual(["RUNNING"]);
  });
  it("maps names to indices", () => {
    expect(filterIndices(["FAILED", "CRASHED", "FAILED", "zzz"])).toEqual([4, 6]);
    expect(filterIndices(null)).toEqual([]);
  });
  it("counts states from a timeline", () => {
    const tl = decodeTimeline({ n: 4, t0: 0, state: new DataView(Uint8Array.from([3, 3, 4, 2]).buffer), keys: [] });
    expect(countStates(tl)).toEqual({ COMPLETED: 2, FAILED: 1, RUNNING: 1 });
  });
});

describe("displayValue", () => {
  it("renders values as text", () => {
    expect(displayValue(null)).toBe("—");
    expect(displayValue("<b>x</b>")).toBe("<b>x</b>");
    expect(displayValue(3)).toBe("3");
    expect(displayValue({ a: [1] })).toBe('{"a":[1]}');
  });
});

describe("formatCount", () => {
  it("groups thousands", () => {
    expect(formatCount(0)).toBe("0");
    expect(formatCount(999)).toBe("999");
    expect(formatCount(1000)).toBe("1,000");
    expect(formatCount(97027)).toBe("97,027");
    expect(formatCount(1234567)).toBe("1,234,567");
    expect(formatCount(-4500)).toBe("-4,500");
    expect(formatCount(NaN)).toBe("—");
  });
});

describe("runCountsText", () => {
  it("counts task runs and subflow runs apart", () => {
    expect(runCountsText(2, 1)).toBe("2 task runs · 1 subflow run");
    expect(runCountsText(1, 0)).toBe("1 task run");
    expect(runCountsText(0, 2)).toBe("2 subflow runs");
    expect(runCountsText(0, 0)).toBe("0 task runs");
    expect(runCountsText(null, null)).toBe("");
    expect(runCountsText(12345, null)).toBe("12,345 task runs");
  });
  it("is read from the header", () => {
    const h = normalizeHeader({ task_runs: 3, subflow_runs: "x" });
    expect(h.task_runs).toBe(3);
    expect(h.subflow_runs).toBeNull();
  });
});
