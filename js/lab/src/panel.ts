/**
 * The "Prefect runs" side panel: filters, counts by state and the recent flow runs of the
 * configured Prefect server, refreshed by a `Poll` (backoff on failure; standby while the
 * panel or the browser tab is hidden, refreshed at once when shown again).
 * Every string from the server is set as text (`textContent`, `title`), never as HTML.
 */
import type { Message } from "@lumino/messaging";
import { Poll } from "@lumino/polling";
import { Widget } from "@lumino/widgets";

import { stateGlyph, stateLabel, STATE_TYPES } from "../../src/states";
import { safeUrl } from "../../src/util";
import { getJSON, PanelError } from "./api";
import {
  CountsAnswer,
  durationText,
  Filters,
  queryString,
  RunRecord,
  RunsAnswer,
  runsCountText,
  stateClass,
  ticks,
  WINDOWS,
} from "./model";

/** What the panel does with a run, given by the plugin (it knows the notebooks). */
export interface RunActions {
  insertView(id: string): void;
  insertWidget(id: string): void;
  copyId(id: string): void;
}

export interface PanelOptions {
  actions: RunActions;
  filters: Filters;
  refreshSeconds: number;
  limit: number;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className = "", text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function badge(stateType: string, label: string): HTMLElement {
  const node = el("span", `pw-badge ${stateClass(stateType)}`, label);
  node.dataset.glyph = stateGlyph(stateType);
  return node;
}

export class RunsPanel extends Widget {
  readonly poll: Poll;
  private filters: Filters;
  private limit: number;
  private readonly actions: RunActions;
  private readonly status = el("div", "pw-lab-status");
  private readonly counts = el("div", "pw-lab-counts");
  private readonly list = el("ul", "pw-lab-runs");
  private readonly footer = el("div", "pw-lab-footer pw-muted");
  private runs: RunRecord[] = [];
  /** server clock minus browser clock (ms), from the last answer's `now` */
  private skew = 0;
  private readonly ticker: number;

  constructor(options: PanelOptions) {
    super();
    this.id = "prefect-widgets-runs";
    this.addClass("pw-root");
    this.addClass("pw-lab-panel");
    this.title.caption = "Prefect runs";
    this.title.label = "Prefect";
    this.filters = { ...options.filters };
    this.limit = options.limit;
    this.actions = options.actions;
    this.node.append(el("h2", "pw-lab-title", "Prefect runs"), this.filterForm(), this.status,
                     this.counts, this.list, this.footer);
    this.poll = new Poll({
      factory: () => this.refresh(),
      frequency: { interval: options.refreshSeconds * 1000, backoff: true, max: 60_000 },
      standby: () => !this.isVisible || document.visibilityState === "hidden",
      name: "prefect-widgets:runs",
    });
    this.ticker = window.setInterval(() => this.tick(), 1000);
  }

  /** New refresh interval, filters or limit (from the settings registry). */
  configure(refreshSeconds: number, limit: number): void {
    this.limit = limit;
    this.poll.frequency = { ...this.poll.frequency, interval: refreshSeconds * 1000 };
    void this.poll.refresh();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    void this.poll.refresh();
  }

  dispose(): void {
    if (this.isDisposed) return;
    window.clearInterval(this.ticker);
    this.poll.dispose();
    super.dispose();
  }

  private filterForm(): HTMLElement {
    const form = el("form", "pw-lab-filters");
    form.addEventListener("submit", (event) => event.preventDefault());
    const text = (key: "flow" | "deployment" | "tag", label: string) => {
      const input = el("input", "jp-mod-styled pw-lab-filter");
      input.type = "search";
      input.placeholder = label;
      input.setAttribute("aria-label", label);
      input.dataset.filter = key;
      input.value = this.filters[key];
      input.addEventListener("change", () => this.setFilter({ [key]: input.value }));
      return input;
    };
    const state = el("select", "jp-mod-styled pw-lab-filter");
    state.dataset.filter = "state";
    state.setAttribute("aria-label", "State");
    state.append(new Option("Any state", ""),
                 ...STATE_TYPES.map((s) => new Option(stateLabel(s), s)));
    state.value = this.filters.state;
    state.addEventListener("change", () => this.setFilter({ state: state.value }));
    const since = el("select", "jp-mod-styled pw-lab-filter");
    since.dataset.filter = "since";
    since.setAttribute("aria-label", "Started within");
    since.append(...WINDOWS.map(([label, hours]) => new Option(label, hours === null ? "" : String(hours))));
    since.value = this.filters.sinceHours === null ? "" : String(this.filters.sinceHours);
    since.addEventListener("change", () => this.setFilter({
      sinceHours: since.value ? Number(since.value) : null }));
    form.append(text("flow", "Flow name"), text("deployment", "Deployment name"), state,
                text("tag", "Tag"), since);
    return form;
  }

  private setFilter(change: Partial<Filters>): void {
    this.filters = { ...this.filters, ...change };
    void this.poll.refresh();
  }

  /** One poll: the runs and the counts, drawn together; a failure is said and rethrown
   * (the poll backs off, and the next success clears it). */
  private async refresh(): Promise<void> {
    try {
      const [runs, counts] = await Promise.all([
        getJSON<RunsAnswer>("flow-runs", queryString(this.filters, this.limit)),
        getJSON<CountsAnswer>("counts", queryString(this.filters, this.limit, false)),
      ]);
      this.skew = Date.parse(runs.now) - Date.now();
      this.runs = runs.runs;
      this.drawCounts(counts);
      this.drawRuns();
      this.footer.textContent = runsCountText(runs.runs.length, runs.total);
      this.setStatus(null);
    } catch (err) {
      this.setStatus(err instanceof PanelError ? err : new PanelError("Error", String(err), 0));
      throw err;
    }
  }

  private setStatus(error: PanelError | null): void {
    this.node.dataset.status = error ? "error" : "ok";
    this.node.dataset.errorType = error ? error.kind : "";
    this.status.textContent = "";
    if (!error) return;
    const what = error.kind === "ServerUnreachable" || error.kind === "DeadlineExceeded"
      ? "Prefect server unreachable" : error.kind === "Missing" ? "Server part missing"
      : error.kind;
    this.status.append(el("strong", "", `${what}: `), el("span", "", error.message),
                       el("div", "pw-muted", "Retrying; the list below may be out of date."));
  }

  private drawCounts(answer: CountsAnswer): void {
    this.counts.replaceChildren();
    for (const state of STATE_TYPES) {
      const n = answer.counts[state];
      if (!n) continue;
      const item = badge(state, `${stateLabel(state)} ${n}`);
      item.dataset.state = state;
      item.dataset.count = String(n);
      this.counts.append(item);
    }
    if (!this.counts.childElementCount) this.counts.append(el("span", "pw-muted", "No runs."));
  }

  private drawRuns(): void {
    const now = Date.now() + this.skew;
    this.list.replaceChildren(...this.runs.map((run) => this.runItem(run, now)));
  }

  private runItem(run: RunRecord, now: number): HTMLElement {
    const item = el("li", "pw-lab-run");
    item.dataset.id = run.id;
    item.dataset.state = run.state_type;
    if (run.state_message) item.title = run.state_message;
    const head = el("div", "pw-lab-run-head");
    head.append(badge(run.state_type, run.state_name), el("span", "pw-lab-run-name", run.name));
    const where = [run.flow_name ?? "", run.deployment_name ?? ""].filter(Boolean).join(" · ");
    const meta = el("div", "pw-lab-run-meta pw-muted");
    const when = run.start_time ?? run.expected_start_time;
    meta.append(el("span", "pw-lab-run-flow", where),
                el("span", "pw-lab-run-start", when ? new Date(when).toLocaleString() : "not started"));
    const duration = el("span", "pw-lab-duration", durationText(run, now));
    if (ticks(run)) duration.dataset.ticking = "1";
    meta.append(duration);
    item.append(head, meta);
    if (run.tags.length) {
      const tags = el("div", "pw-lab-tags");
      tags.append(...run.tags.map((tag) => el("span", "pw-lab-tag", tag)));
      item.append(tags);
    }
    if (run.state_message) item.append(el("div", "pw-lab-message", run.state_message));
    item.append(this.actionBar(run));
    return item;
  }

  private actionBar(run: RunRecord): HTMLElement {
    const bar = el("div", "pw-lab-actions");
    const button = (label: string, action: string, title: string, act: () => void) => {
      const node = el("button", "jp-Button jp-mod-minimal pw-lab-action", label);
      node.type = "button";
      node.title = title;
      node.dataset.action = action;
      node.addEventListener("click", act);
      bar.append(node);
    };
    button("View", "view", "Insert a FlowRunView cell below the active cell",
           () => this.actions.insertView(run.id));
    button("Widget", "widget", "Insert a live FlowRunWidget cell below the active cell",
           () => this.actions.insertWidget(run.id));
    button("Copy id", "copy", "Copy the flow run id", () => this.actions.copyId(run.id));
    const url = safeUrl(run.ui_url);
    if (url) {
      const link = el("a", "pw-lab-action", "Prefect UI");
      link.href = url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      link.dataset.action = "ui";
      link.title = "Open this run in Prefect's UI";
      bar.append(link);
    }
    return bar;
  }

  /** Advance the durations of running runs (once a second, between polls). */
  private tick(): void {
    if (!this.isVisible) return;
    const now = Date.now() + this.skew;
    const byId = new Map(this.runs.map((run) => [run.id, run]));
    for (const node of this.list.querySelectorAll<HTMLElement>(".pw-lab-duration[data-ticking]")) {
      const run = byId.get((node.closest(".pw-lab-run") as HTMLElement | null)?.dataset.id ?? "");
      if (run) node.textContent = durationText(run, now);
    }
  }
}
