/**
 * The "Prefect runs" panel's pure logic: the server part's records, the query string of the
 * filters, live durations and the code of the cells the actions insert. No DOM here.
 */
import { formatDuration } from "../../src/scale";
import { stateIndex } from "../../src/states";

/** One flow run as the server part sends it (`prefect_widgets/lab/runs.py: run_record`). */
export interface RunRecord {
  id: string;
  name: string;
  flow_id: string;
  flow_name: string | null;
  state_type: string;
  state_name: string;
  state_message: string | null;
  start_time: string | null;
  end_time: string | null;
  expected_start_time: string | null;
  duration: number | null;
  tags: string[];
  deployment_id: string | null;
  deployment_name: string | null;
  ui_url: string | null;
}

export interface RunsAnswer {
  runs: RunRecord[];
  total: number | null;
  now: string;
}

export interface CountsAnswer {
  counts: Record<string, number>;
  total: number;
}

/** The panel's filters; empty strings and null mean "any". */
export interface Filters {
  flow: string;
  deployment: string;
  state: string;
  tag: string;
  sinceHours: number | null;
}

export const NO_FILTERS: Filters = { flow: "", deployment: "", state: "", tag: "", sinceHours: null };

/** The time windows the panel offers (hours; null: any time). */
export const WINDOWS: ReadonlyArray<[string, number | null]> = [
  ["Any time", null], ["Last hour", 1], ["Last 24 hours", 24], ["Last 7 days", 168],
  ["Last 30 days", 720],
];

/** The query string of the filters (and `limit`), as `runs.PanelQuery.from_args` reads it. */
export function queryString(filters: Filters, limit: number, withState = true): string {
  const params = new URLSearchParams();
  const text: Array<[string, string]> = [["flow", filters.flow], ["deployment", filters.deployment],
    ["tag", filters.tag]];
  if (withState) text.push(["state", filters.state]);
  for (const [key, value] of text) {
    if (value.trim()) params.set(key, value.trim());
  }
  if (filters.sinceHours !== null) params.set("since_hours", String(filters.sinceHours));
  params.set("limit", String(limit));
  return params.toString();
}

/** States whose duration grows while the panel shows them. */
const ACTIVE = new Set(["RUNNING", "PENDING", "CANCELLING"]);

/** A run's duration at `nowMs` (server clock): ticking while active, fixed once ended. */
export function durationText(run: RunRecord, nowMs: number): string {
  const start = run.start_time ? Date.parse(run.start_time) : NaN;
  if (ticks(run) && Number.isFinite(start)) return formatDuration(nowMs - start);
  return run.duration === null ? "—" : formatDuration(run.duration * 1000);
}

/** Whether the run's duration ticks. */
export function ticks(run: RunRecord): boolean {
  return !run.end_time && ACTIVE.has(run.state_type) && !!run.start_time;
}

/** The CSS class of a state type's badge (repr.css), `pw-state-unknown` for one we lack. */
export function stateClass(stateType: string): string {
  return stateIndex(stateType) < 0 ? "pw-state-unknown" : `pw-state-${stateType.toLowerCase()}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function checkedId(id: string): string {
  if (!UUID.test(id)) throw new Error(`not a flow run id: ${JSON.stringify(id.slice(0, 40))}`);
  return id;
}

/** The cell the "view" action inserts: the run's `FlowRunView` repr. */
export function viewCell(id: string): string {
  return `from prefect_widgets import FlowRunView\n\nFlowRunView.from_flow_run_id("${checkedId(id)}")`;
}

/** The cell the "widget" action inserts: the run's live `FlowRunWidget`. */
export function widgetCell(id: string): string {
  return `from prefect_widgets import FlowRunWidget\n\nFlowRunWidget("${checkedId(id)}")`;
}

/** "2 runs" / "1 run" / "20 of 312 runs". */
export function runsCountText(shown: number, total: number | null): string {
  const all = total !== null && total > shown ? total : shown;
  const noun = all === 1 ? "run" : "runs";
  return all > shown ? `${shown} of ${all} ${noun}` : `${shown} ${noun}`;
}
