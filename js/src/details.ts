import { Timeline, isSubflow, labelOf } from "./decode";
import { formatDateTime, formatDuration } from "./scale";
import { stateColor, stateLabel } from "./states";
import { displayValue } from "./util";

function tz(ms: number): number {
  return -new Date(ms).getTimezoneOffset();
}

/** Details panel for the selected task run. Text only (textContent). */
export class Details {
  readonly root: HTMLDivElement;
  private title: HTMLSpanElement;
  private dot: HTMLSpanElement;
  private local: HTMLDListElement;
  private remote: HTMLDListElement;
  private status: HTMLDivElement;
  index = -1;

  constructor(onClose: () => void) {
    this.root = document.createElement("div");
    this.root.className = "pw-details";
    this.root.hidden = true;
    this.root.dataset.kind = "";
    const head = document.createElement("div");
    head.className = "pw-details-head";
    this.dot = document.createElement("span");
    this.dot.className = "pw-dot";
    this.title = document.createElement("span");
    this.title.className = "pw-details-title";
    const close = document.createElement("button");
    close.type = "button";
    close.className = "pw-close";
    close.textContent = "×";
    close.title = "Close details";
    close.setAttribute("aria-label", "Close details");
    close.addEventListener("click", onClose);
    head.append(this.dot, this.title, close);
    this.local = document.createElement("dl");
    this.local.className = "pw-details-list";
    this.remote = document.createElement("dl");
    this.remote.className = "pw-details-list pw-details-remote";
    this.status = document.createElement("div");
    this.status.className = "pw-details-status";
    this.root.append(head, this.local, this.remote, this.status);
  }

  /** Show what the browser already knows about row i; `pending` shows a loading note. */
  showLocal(tl: Timeline, i: number, dark: boolean, now: number, pending: boolean): void {
    if (i < 0 || i >= tl.n) {
      this.hide();
      return;
    }
    const changed = i !== this.index;
    this.index = i;
    this.title.textContent = labelOf(tl, i);
    this.root.dataset.kind = isSubflow(tl, i) ? "subflow-run" : "task-run";
    this.dot.style.background = stateColor(tl.state[i], dark);
    const s = tl.start[i];
    const e = tl.end[i];
    const abs = (o: number) => o + tl.t0;
    fill(this.local, [
      ["Kind", isSubflow(tl, i) ? "Subflow run" : "Task run"],
      ["State", stateLabel(tl.state[i])],
      ["Start", s === s ? formatDateTime(abs(s), tz(abs(s))) : "—"],
      ["End", e === e ? formatDateTime(abs(e), tz(abs(e))) : s === s ? "running" : "—"],
      ["Duration", s === s ? formatDuration((e === e ? e : now - tl.t0) - s) : "—"],
      ["Retries", String(Math.max(0, tl.runCount[i] - 1))],
    ]);
    if (changed) fill(this.remote, []);
    if (pending) this.status.textContent = "Loading details…";
    this.status.hidden = !pending;
    this.root.hidden = false;
  }

  /** Fields from the kernel's {type: "details"} reply. */
  showFields(index: number, fields: unknown): void {
    if (index !== this.index) return; // stale reply
    const entries: Array<[string, string]> =
      fields && typeof fields === "object"
        ? Object.entries(fields as Record<string, unknown>).map(([k, v]) => [k, displayValue(v)])
        : [];
    fill(this.remote, entries);
    this.status.hidden = true;
  }

  hide(): void {
    this.index = -1;
    this.root.hidden = true;
    fill(this.remote, []);
  }
}

function fill(dl: HTMLDListElement, rows: Array<[string, string]>): void {
  const nodes: HTMLElement[] = [];
  for (const [k, v] of rows) {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = v;
    nodes.push(dt, dd);
  }
  dl.replaceChildren(...nodes);
}
