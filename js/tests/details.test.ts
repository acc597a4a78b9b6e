// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Timeline } from "../src/decode";
import { Details, cleanHtml, copyText, normalizeDetails } from "../src/details";
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

function shown(raw: unknown, onSelect: (i: number) => void = () => undefined): Details {
  const details = new Details(() => undefined, onSelect);
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

const TRACEBACK = 'Traceback (most recent call last):\n  File "/work/etl/samples.py", line 12, in check_row\nValueError: boom';

/** The same failed task run with what the explorer adds: logs, links, inputs, a link. */
const FULL = {
  ...FAILED,
  failure: { ...FAILED.failure, text: TRACEBACK },
  fields: [...FAILED.fields, ["Retry policy", "up to 2 retries, 1.0s apart"]],
  logs: [
    { t_ms: Date.UTC(2026, 0, 1), level: "DEBUG", levelno: 10, message: "connecting" },
    { t_ms: Date.UTC(2026, 0, 1, 0, 0, 1), level: "INFO", levelno: 20, message: "parsing 3 rows" },
    { t_ms: Date.UTC(2026, 0, 1, 0, 0, 2), level: "ERROR", levelno: 40, message: "Task run failed\n" + TRACEBACK },
  ],
  logs_more: 0,
  logs_older: false,
  upstream: [{ index: 3, label: "load_rows", state_type: "COMPLETED", via: "rows" }, { index: -1, label: "0199-elsewhere", state_type: "", via: "wait_for" }],
  upstream_more: 0,
  downstream: [{ index: 7, label: "write[2]", state_type: "PENDING", via: "" }],
  downstream_more: 4,
  inputs: [["limit", "constant"]],
  inputs_more: 0,
  result: null,
  ui_url: "http://127.0.0.1:4200/runs/task-run/0195",
};

describe("Details panel: the explorer's parts", () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllGlobals();
  });

  it("lists the logs and filters them by level, keeping the level from row to row", () => {
    const details = shown(FULL);
    const lines = () => [...details.root.querySelectorAll<HTMLElement>(".pw-log-line")];
    expect(lines().map((l) => l.dataset.level)).toEqual(["DEBUG", "INFO", "ERROR"]);
    const select = details.root.querySelector("select.pw-log-filter") as HTMLSelectElement;
    select.value = "30";
    select.dispatchEvent(new Event("change"));
    expect(lines().map((l) => l.hidden)).toEqual([true, true, false]);
    expect(details.root.querySelector(".pw-log-bar")?.textContent).toContain("1 of 3 lines");
    details.showDetails({ ...FULL }, false); // the same row again (or the next one)
    expect((details.root.querySelector("select.pw-log-filter") as HTMLSelectElement).value).toBe("30");
    expect(lines().map((l) => l.hidden)).toEqual([true, true, false]);
  });

  it("folds a multi-line log message behind its first line", () => {
    const error = shown(FULL).root.querySelectorAll(".pw-log-line")[2];
    const fold = error.querySelector("details.pw-log-fold") as HTMLDetailsElement;
    expect(fold.open).toBe(false);
    expect(fold.querySelector("summary")?.firstChild?.textContent).toBe("Task run failed");
    expect(fold.querySelector("pre")?.textContent).toBe(TRACEBACK);
    expect(fold.querySelector("button.pw-copy")).not.toBeNull();
  });

  it("copies the whole traceback with the Clipboard API", async () => {
    const writeText = vi.fn(async () => undefined);
    vi.stubGlobal("navigator", { clipboard: { writeText } });
    const button = shown(FULL).root.querySelector(".pw-details-error button.pw-copy") as HTMLButtonElement;
    expect(button.textContent).toBe("Copy traceback");
    button.click();
    await vi.waitFor(() => expect(button.dataset.copied).toBe("1"));
    expect(writeText).toHaveBeenCalledWith(TRACEBACK);
    expect(button.textContent).toBe("Copied");
  });

  it("falls back to a selected textarea where the Clipboard API is refused", async () => {
    vi.stubGlobal("navigator", { clipboard: { writeText: () => Promise.reject(new Error("denied")) } });
    const copied: string[] = [];
    const exec = vi.fn(() => {
      const area = document.activeElement instanceof HTMLTextAreaElement ? document.activeElement : document.querySelector("textarea");
      copied.push(area?.value ?? "");
      return true;
    });
    Object.defineProperty(document, "execCommand", { value: exec, configurable: true });
    expect(await copyText("line 1\nline 2", document.body)).toBe(true);
    expect(exec).toHaveBeenCalledWith("copy");
    expect(copied).toEqual(["line 1\nline 2"]);
    expect(document.querySelector("textarea")).toBeNull(); // cleaned up
  });

  it("selects a linked run on click; a run outside the timeline is not a button to press", () => {
    const picked: number[] = [];
    const root = shown(FULL, (i) => picked.push(i)).root;
    const [load, elsewhere] = [...root.querySelectorAll<HTMLButtonElement>(".pw-details-section button.pw-link")];
    expect(load.textContent).toContain("load_rows");
    expect(load.textContent).toContain("rows");
    load.click();
    elsewhere.click();
    expect(elsewhere.disabled).toBe(true);
    const titles = [...root.querySelectorAll(".pw-details-section-title")].map((t) => t.firstChild?.textContent);
    expect(titles).toEqual(["Error", "Logs", "Upstream", "Downstream", "Inputs", "States", "Artifacts"]);
    (root.querySelector('button.pw-link[data-index="7"]') as HTMLButtonElement).click();
    expect(picked).toEqual([3, 7]);
    expect(root.textContent).toContain("… 4 more");
  });

  it("shows each field once and leaves out parts without data", () => {
    const root = shown({ ...FULL, failure: null, logs: [], upstream: [], downstream: [], inputs: [], artifacts: [], states: [], ui_url: "" }).root;
    const labels = [...root.querySelectorAll(".pw-details-list dt")].map((e) => e.textContent);
    expect(labels).toEqual(["Kind", "State", "Start", "End", "Duration", "Retries", "Name", "Task run id", "Retry policy"]);
    expect(root.querySelectorAll(".pw-details-section").length).toBe(0);
    expect((root.querySelector("a.pw-details-ui") as HTMLElement).hidden).toBe(true);
  });

  it("links to Prefect's UI only over http(s), and shows a result as text", () => {
    const details = shown({ ...FULL, result: { text: '{\n  "rows": 3\n}' } });
    const link = details.root.querySelector("a.pw-details-ui") as HTMLAnchorElement;
    expect(link.hidden).toBe(false);
    expect(link.getAttribute("href")).toBe(FULL.ui_url);
    expect(link.rel).toBe("noopener noreferrer");
    expect(details.root.querySelector("pre.pw-details-result")?.textContent).toBe('{\n  "rows": 3\n}');
    details.showDetails({ ...FULL, ui_url: "javascript:alert(1)", result: { note: "pickled: not loaded" } }, false);
    expect(link.hidden).toBe(true);
    expect(link.hasAttribute("href")).toBe(false);
    expect(details.root.textContent).toContain("pickled: not loaded");
  });

  it("keeps hostile text in logs, links, inputs and results as text", () => {
    const evil = '<img src=x onerror="globalThis.pwned=1">';
    const root = shown({
      ...FULL,
      logs: [{ t_ms: 0, level: "INFO", levelno: 20, message: evil }, { t_ms: 0, level: "ERROR", levelno: 40, message: `${evil}\n${evil}` }],
      upstream: [{ index: 1, label: evil, state_type: "FAILED", via: evil }],
      inputs: [[evil, evil]],
      result: { text: evil },
    }).root;
    expect(root.querySelector("img")).toBeNull();
    expect(root.textContent?.split(evil).length).toBeGreaterThanOrEqual(7);
  });
});
