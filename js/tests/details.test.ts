// @vitest-environment happy-dom
import { describe, expect, it } from "vitest";
import type { Timeline } from "../src/decode";
import { Details, cleanHtml, normalizeDetails } from "../src/details";
import { stateIndex } from "../src/states";

/** One failed task run, 2 s long, run 3 times. */
function timeline(): Timeline {
  return {
    n: 1,
    t0: Date.UTC(2026, 0, 1),
    start: Float32Array.of(0),
    end: Float32Array.of(2000),
    state: Uint8Array.of(stateIndex("FAILED")),
    key: Int32Array.of(0),
    keys: ["parse_rows"],
    mapIndex: Int32Array.of(-1),
    runCount: Uint16Array.of(3),
    highlight: null,
  };
}

/** What `widget.run_details` sends for a failed task run (shape and words of the kernel). */
const FAILED = {
  index: 0,
  task_run_id: "0195",
  fields: [["Name", "parse_rows-a1b"], ["Task run id", "0195"]],
  failure: {
    state_type: "FAILED",
    state_name: "Failed",
    message: "Task run encountered an exception ValueError: boom: row 'x' is not a number",
    exception_line: "ValueError: boom: row 'x' is not a number",
    sections: [{
      follows: null,
      items: [
        { folded: 3, origins: "internal", text: 'File "/venv/site-packages/prefect/task_engine.py", line 10, in run' },
        { frame: 'File "/work/etl/samples.py", line 12, in check_row\n    raise ValueError(f"boom: row {row!r} is not a number")' },
      ],
      exception: "ValueError: boom: row 'x' is not a number",
    }],
    sections_more: 0,
  },
  states: [
    { type: "PENDING", name: "Pending", start_ms: Date.UTC(2026, 0, 1), duration_ms: 120, message: "" },
    { type: "RUNNING", name: "Running", start_ms: Date.UTC(2026, 0, 1, 0, 0, 0, 120), duration_ms: 1880, message: "" },
    { type: "FAILED", name: "Failed", start_ms: Date.UTC(2026, 0, 1, 0, 0, 2), duration_ms: null, message: "boom" },
  ],
  states_more: 0,
  artifacts: [{ key: "summary", kind: "markdown", html: '<div class="pw-artifact"><h1>Summary</h1><a href="https://docs.prefect.io" target="_blank">docs</a></div>' }],
  artifacts_more: 0,
  problems: [],
};

function shown(raw: unknown): Details {
  const details = new Details(() => undefined);
  document.body.append(details.root);
  details.showLocal(timeline(), 0, false, Date.now(), true);
  details.showDetails(raw, false);
  return details;
}

describe("Details panel", () => {
  it("shows the user's frame and the final exception line, internal frames folded", () => {
    const root = shown(FAILED).root;
    const frames = [...root.querySelectorAll("pre.pw-tb-frame")].map((e) => e.textContent);
    expect(frames).toEqual([FAILED.failure.sections[0].items[1].frame]);
    expect(root.querySelector("pre.pw-tb-exception")?.textContent).toBe("ValueError: boom: row 'x' is not a number");
    const folded = root.querySelector("details.pw-tb-folded") as HTMLDetailsElement;
    expect(folded.open).toBe(false);
    expect(folded.querySelector("summary")?.textContent).toBe("… 3 internal frames");
    expect(folded.querySelector("pre")?.textContent).toContain("prefect/task_engine.py");
    expect(root.querySelector(".pw-details-failure-head")?.textContent).toContain("Task run encountered an exception");
    expect(root.querySelector(".pw-details-status")?.hasAttribute("hidden")).toBe(true);
  });

  it("shows each field once: the row's own fields, then the kernel's others", () => {
    const root = shown(FAILED).root;
    const labels = [...root.querySelectorAll("dt")].map((e) => e.textContent);
    expect(labels).toEqual(["Kind", "State", "Start", "End", "Duration", "Retries", "Name", "Task run id"]);
    expect(new Set(labels).size).toBe(labels.length);
    expect(root.querySelector(".pw-details-title")?.textContent).toBe("parse_rows");
  });

  it("shows the state history with durations", () => {
    const rows = [...shown(FAILED).root.querySelectorAll("table.pw-details-states tr")];
    expect(rows.map((r) => r.querySelector(".pw-details-state")?.textContent)).toEqual(["Pending", "Running", "Failed"]);
    expect(rows.map((r) => r.querySelector(".pw-details-duration")?.textContent)).toEqual(["120ms", "1.88s", "—"]);
    expect(rows[2].querySelector(".pw-details-message")?.textContent).toBe("boom");
  });

  it("renders artifacts' HTML, and ignores details of another row", () => {
    const details = shown(FAILED);
    const artifact = details.root.querySelector(".pw-details-artifact") as HTMLElement;
    expect(artifact.dataset.key).toBe("summary");
    expect(artifact.querySelector("h1")?.textContent).toBe("Summary");
    expect(artifact.querySelector("a")?.getAttribute("rel")).toBe("noopener noreferrer");
    details.showDetails({ ...FAILED, index: 5, fields: [["Name", "other"]] }, false);
    expect(details.root.textContent).toContain("parse_rows-a1b");
    expect(details.root.textContent).not.toContain("other");
  });

  it("says when there is no traceback, and shows what could not be read", () => {
    const root = shown({ ...FAILED, failure: { ...FAILED.failure, sections: [] }, problems: ["Could not read the artifacts: 503"] }).root;
    expect(root.querySelector("pre.pw-tb-exception")?.textContent).toBe("ValueError: boom: row 'x' is not a number");
    expect(root.textContent).toContain("No traceback in the run's logs.");
    expect(root.querySelector(".pw-details-problem")?.textContent).toBe("Could not read the artifacts: 503");
  });

  it("keeps hostile text as text", () => {
    const evil = '<img src=x onerror="globalThis.pwned=1">';
    const root = shown({ ...FAILED, fields: [["Name", evil]], failure: { ...FAILED.failure, message: evil } }).root;
    expect(root.querySelector("img")).toBeNull();
    expect(root.textContent).toContain(evil);
  });
});

describe("normalizeDetails", () => {
  it("coerces junk and rejects a trait without an index", () => {
    expect(normalizeDetails({})).toBeNull();
    expect(normalizeDetails(null)).toBeNull();
    const d = normalizeDetails({ index: 2, fields: [["a", 1], "bad"], failure: 7, states: [{ duration_ms: "x" }], artifacts_more: -3 });
    expect(d?.fields).toEqual([["a", "1"]]);
    expect(d?.failure).toBeNull();
    expect(d?.states[0].duration_ms).toBeNull();
    expect(d?.artifacts_more).toBe(0);
  });
});

describe("cleanHtml", () => {
  it("drops active content even if the kernel let it through", () => {
    const box = document.createElement("div");
    box.append(cleanHtml('<p onclick="x()" style="position:fixed">hi</p><script>alert(1)</script>'
      + '<a href="javascript:alert(1)">a</a><img src="http://tracker/x.png"><img src="data:image/png;base64,AA==">'
      + '<iframe src="https://evil"></iframe><svg><script>alert(2)</script></svg>'));
    expect(box.querySelector("script, iframe, svg")).toBeNull();
    const p = box.querySelector("p") as HTMLElement;
    expect(p.hasAttribute("onclick") || p.hasAttribute("style")).toBe(false);
    expect(box.querySelector("a")?.hasAttribute("href")).toBe(false);
    const images = [...box.querySelectorAll("img")].map((i) => i.getAttribute("src"));
    expect(images).toEqual([null, "data:image/png;base64,AA=="]);
  });
});
