import { describe, expect, it } from "vitest";

import {
  durationText,
  NO_FILTERS,
  queryString,
  RunRecord,
  runsCountText,
  stateClass,
  ticks,
  viewCell,
  widgetCell,
} from "../lab/src/model";

const ID = "0b6c8a3e-7f1d-4c2a-9e55-2d1f0c3b4a59";

function run(over: Partial<RunRecord>): RunRecord {
  return {
    id: ID, name: "brave-fox", flow_id: "f", flow_name: "etl", state_type: "COMPLETED",
    state_name: "Completed", state_message: null, start_time: "2026-01-01T00:00:00+00:00",
    end_time: "2026-01-01T00:01:05+00:00", expected_start_time: null, duration: 65, tags: [],
    deployment_id: null, deployment_name: null, ui_url: null, ...over,
  };
}

describe("the panel's query string", () => {
  it("sends only the filters set, trimmed, and always the limit", () => {
    expect(queryString(NO_FILTERS, 50)).toBe("limit=50");
    const filters = { flow: " etl ", deployment: "", state: "FAILED", tag: "a&b", sinceHours: 24 };
    expect(queryString(filters, 20)).toBe("flow=etl&tag=a%26b&state=FAILED&since_hours=24&limit=20");
    expect(queryString(filters, 20, false)).toBe("flow=etl&tag=a%26b&since_hours=24&limit=20");
  });
});

describe("durations", () => {
  const now = Date.parse("2026-01-01T00:02:00Z");
  it("tick from the start while running", () => {
    const running = run({ state_type: "RUNNING", end_time: null, duration: 1 });
    expect(ticks(running)).toBe(true);
    expect(durationText(running, now)).toBe("2m 00s");
    expect(durationText(running, now + 5000)).toBe("2m 05s");
  });
  it("stay fixed once ended, and a dash without a start", () => {
    expect(ticks(run({}))).toBe(false);
    expect(durationText(run({}), now)).toBe("1m 05s");
    const scheduled = run({ state_type: "SCHEDULED", start_time: null, end_time: null, duration: null });
    expect(ticks(scheduled)).toBe(false);
    expect(durationText(scheduled, now)).toBe("—");
  });
});

describe("the cells the actions insert", () => {
  it("name the run by id", () => {
    expect(viewCell(ID)).toBe(
      `from prefect_widgets import FlowRunView\n\nFlowRunView.from_flow_run_id("${ID}")`);
    expect(widgetCell(ID)).toBe(`from prefect_widgets import FlowRunWidget\n\nFlowRunWidget("${ID}")`);
  });
  it("refuse anything but a run id", () => {
    expect(() => viewCell('x")\nimport os')).toThrow(/not a flow run id/);
    expect(() => widgetCell(`${ID} `)).toThrow(/not a flow run id/);
  });
});

describe("labels", () => {
  it("badge classes follow repr.css and unknown states fall back", () => {
    expect(stateClass("FAILED")).toBe("pw-state-failed");
    expect(stateClass("WEIRD")).toBe("pw-state-unknown");
  });
  it("say when the list is cut", () => {
    expect(runsCountText(1, 1)).toBe("1 run");
    expect(runsCountText(20, 312)).toBe("20 of 312 runs");
    expect(runsCountText(3, null)).toBe("3 runs");
  });
});
