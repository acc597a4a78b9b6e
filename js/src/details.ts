import "./details.css";
import { Timeline, isSubflow, labelOf } from "./decode";
import { formatDateTime, formatDuration } from "./scale";
import { stateColor, stateIndex, stateLabel } from "./states";

function tz(ms: number): number {
  return -new Date(ms).getTimezoneOffset();
}

// ---------------------------------------------------------------- the `details` trait

/** One item of a traceback section: a frame shown, or a run of frames folded. */
export type TracebackItem = { frame: string } | { folded: number; origins: string; text: string };

export interface TracebackSection {
  follows: string | null;
  items: TracebackItem[];
  exception: string;
}

export interface FailureData {
  state_type: string;
  state_name: string;
  message: string;
  exception_line: string;
  /** the run that failed, when it is not the row's (a task run inside a subflow run) */
  where: string;
  sections: TracebackSection[];
  sections_more: number;
  /** the whole traceback as logged (what "Copy traceback" copies); "" when none */
  text: string;
}

export interface StateSpanData {
  type: string;
  name: string;
  start_ms: number | null;
  duration_ms: number | null;
  message: string;
}

export interface ArtifactData {
  key: string;
  kind: string;
  /** sanitised in Python (`html.artifact_body`: nh3 for markdown); cleaned again here */
  html: string;
}

export interface LogLineData {
  t_ms: number | null;
  level: string;
  levelno: number;
  message: string;
}

/** A linked task run (upstream or downstream): its row (-1: not in the timeline). */
export interface LinkData {
  index: number;
  label: string;
  state_type: string;
  /** the arguments the value passes through, e.g. "rows, wait_for" */
  via: string;
}

/** A persisted result: a preview (`text`), or why it cannot be loaded here (`note`). */
export interface ResultData {
  text: string;
  note: string;
}

/** What the kernel puts in the `details` trait for the row clicked (`widget_details.run_details`). */
export interface DetailsData {
  index: number;
  fields: Array<[string, string]>;
  failure: FailureData | null;
  states: StateSpanData[];
  states_more: number;
  logs: LogLineData[];
  /** lines read but not shown (over the size budget) */
  logs_more: number;
  /** older lines exist beyond those read */
  logs_older: boolean;
  upstream: LinkData[];
  upstream_more: number;
  downstream: LinkData[];
  downstream_more: number;
  inputs: Array<[string, string]>;
  inputs_more: number;
  result: ResultData | null;
  artifacts: ArtifactData[];
  artifacts_more: number;
  ui_url: string;
  problems: string[];
}

const str = (v: unknown): string => (v == null ? "" : String(v));
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const count = (v: unknown): number => Math.max(0, Math.floor(num(v) ?? 0));
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const obj = (v: unknown): Record<string, unknown> => (v && typeof v === "object" ? (v as Record<string, unknown>) : {});

function normalizeItem(raw: unknown): TracebackItem {
  const r = obj(raw);
  if (typeof r.folded === "number") return { folded: count(r.folded), origins: str(r.origins), text: str(r.text) };
  return { frame: str(r.frame) };
}

function normalizeFailure(raw: unknown): FailureData | null {
  if (!raw || typeof raw !== "object") return null;
  const r = obj(raw);
  return {
    state_type: str(r.state_type),
    state_name: str(r.state_name),
    message: str(r.message),
    exception_line: str(r.exception_line),
    where: str(r.where),
    sections: list(r.sections).map((s) => {
      const o = obj(s);
      return { follows: o.follows == null ? null : str(o.follows), items: list(o.items).map(normalizeItem), exception: str(o.exception) };
    }),
    sections_more: count(r.sections_more),
    text: str(r.text),
  };
}

function normalizeLinks(v: unknown): LinkData[] {
  return list(v).map((l) => {
    const o = obj(l);
    const index = num(o.index);
    return { index: index != null && index >= 0 ? Math.floor(index) : -1, label: str(o.label), state_type: str(o.state_type), via: str(o.via) };
  });
}

const pairs = (v: unknown): Array<[string, string]> =>
  list(v).filter(Array.isArray).map((f) => [str((f as unknown[])[0]), str((f as unknown[])[1])] as [string, string]);

/** Coerce whatever arrived in the `details` trait into well-typed DetailsData (null: none). */
export function normalizeDetails(raw: unknown): DetailsData | null {
  const r = obj(raw);
  const index = num(r.index);
  if (index == null) return null;
  return {
    index,
    fields: pairs(r.fields),
    failure: normalizeFailure(r.failure),
    states: list(r.states).map((s) => {
      const o = obj(s);
      return { type: str(o.type), name: str(o.name), start_ms: num(o.start_ms), duration_ms: num(o.duration_ms), message: str(o.message) };
    }),
    states_more: count(r.states_more),
    logs: list(r.logs).map((l) => {
      const o = obj(l);
      return { t_ms: num(o.t_ms), level: str(o.level), levelno: num(o.levelno) ?? 0, message: str(o.message) };
    }),
    logs_more: count(r.logs_more),
    logs_older: r.logs_older === true,
    upstream: normalizeLinks(r.upstream),
    upstream_more: count(r.upstream_more),
    downstream: normalizeLinks(r.downstream),
    downstream_more: count(r.downstream_more),
    inputs: pairs(r.inputs),
    inputs_more: count(r.inputs_more),
    result: r.result && typeof r.result === "object" ? { text: str(obj(r.result).text), note: str(obj(r.result).note) } : null,
    artifacts: list(r.artifacts).map((a) => {
      const o = obj(a);
      return { key: str(o.key), kind: str(o.kind), html: str(o.html) };
    }),
    artifacts_more: count(r.artifacts_more),
    ui_url: str(r.ui_url),
    problems: list(r.problems).map(str),
  };
}

// ---------------------------------------------------------------- artifact HTML, cleaned again

const DROP = "script,style,iframe,frame,object,embed,link,meta,base,form,input,button,textarea,select,svg,math,template,noscript";
/** links: http(s) and mailto; images: https and data:image (as `html.markdown` allows) */
const SAFE_HREF = /^(https?:|mailto:)/i;
const SAFE_SRC = /^(https:|data:image\/)/i;

/** Artifact HTML as DOM, cleaned once more in the browser (defence in depth: the kernel
 * already sanitised it): active elements dropped, event-handler and style attributes
 * removed, links kept only to http(s)/mailto URLs and images to https/data:image ones. */
export function cleanHtml(html: string): DocumentFragment {
  const template = document.createElement("template");
  template.innerHTML = html;
  const root = template.content;
  root.querySelectorAll(DROP).forEach((el) => el.remove());
  root.querySelectorAll("*").forEach((el) => {
    for (const attr of Array.from(el.attributes)) {
      const name = attr.name.toLowerCase();
      if (name.startsWith("on") || name === "style" || name === "srcdoc" || name === "srcset" || name === "formaction") el.removeAttribute(attr.name);
      else if ((name === "href" || name === "xlink:href") && !SAFE_HREF.test(attr.value.trim())) el.removeAttribute(attr.name);
      else if (name === "src" && !SAFE_SRC.test(attr.value.trim())) el.removeAttribute(attr.name);
    }
    if (el.tagName === "A") el.setAttribute("rel", "noopener noreferrer");
  });
  return root;
}

// ---------------------------------------------------------------- DOM helpers

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className = "", text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function section(title: string, extra = ""): HTMLElement {
  const box = el("section", "pw-details-section");
  const head = el("div", "pw-details-section-title", title);
  if (extra) head.append(el("span", "pw-details-muted", ` ${extra}`));
  box.append(head);
  return box;
}

function foldedItem(item: { folded: number; origins: string; text: string }): HTMLDetailsElement {
  const box = el("details", "pw-tb-folded");
  const noun = item.folded === 1 ? "frame" : "frames";
  box.append(el("summary", "", `… ${item.folded} ${item.origins || "internal"} ${noun}`), el("pre", "pw-tb-frames", item.text));
  return box;
}

// ---------------------------------------------------------------- copying

/** Copy `text` to the clipboard: the Clipboard API where the page may use it, else a
 * selected off-screen textarea and `execCommand("copy")` (plain http, older hosts).
 * Resolves to whether one of them worked. */
export async function copyText(text: string, near: HTMLElement): Promise<boolean> {
  try {
    if (typeof navigator !== "undefined" && navigator.clipboard && typeof navigator.clipboard.writeText === "function") {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    /* refused (no permission, insecure context): fall back */
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.top = "-1000px";
  area.style.opacity = "0";
  (near.ownerDocument.body ?? near).append(area);
  area.select();
  let done = false;
  try {
    done = typeof document.execCommand === "function" && document.execCommand("copy");
  } catch {
    done = false;
  }
  area.remove();
  return done;
}

/** A button that copies `text()`; it says "Copied" (or "Copy failed") for a moment and
 * keeps the outcome in `data-copied` ("1" / "0"). */
export function copyButton(label: string, text: () => string): HTMLButtonElement {
  const button = el("button", "pw-copy", label);
  button.type = "button";
  button.title = label;
  button.addEventListener("click", async (e) => {
    e.preventDefault();
    e.stopPropagation(); // inside a <summary>: copying must not fold it
    const ok = await copyText(text(), button);
    button.dataset.copied = ok ? "1" : "0";
    button.textContent = ok ? "Copied" : "Copy failed";
    setTimeout(() => {
      button.textContent = label;
    }, 1500);
  });
  return button;
}

/** The traceback as logged, else as the sections show it (frames, folded frames, lines). */
export function tracebackText(f: FailureData): string {
  if (f.text) return f.text;
  return f.sections
    .map((s) => [s.follows ?? "", ...s.items.map((i) => ("frame" in i ? i.frame : i.text)), s.exception].filter(Boolean).join("\n"))
    .join("\n\n");
}

/** The error block: state and message, then each exception of the traceback with the
 * user's frames shown, other frames folded (a closed <details>), and its exception line. */
export function failureBlock(f: FailureData, dark: boolean): HTMLElement {
  const box = section("Error");
  box.classList.add("pw-details-error");
  const head = el("div", "pw-details-failure-head");
  const dot = el("span", "pw-dot");
  dot.style.background = stateColor(stateIndex(f.state_type), dark);
  head.append(dot, el("span", "pw-details-state", f.state_name));
  if (f.where) head.append(el("span", "pw-details-muted", f.where));
  if (f.text || f.sections.length) head.append(copyButton("Copy traceback", () => tracebackText(f)));
  if (f.message) head.append(el("span", "pw-details-message", f.message));
  box.append(head);
  const tb = el("div", "pw-tb");
  if (f.sections_more) tb.append(el("div", "pw-details-muted", `… ${f.sections_more} earlier exceptions of the chain`));
  for (const s of f.sections) {
    if (s.follows) tb.append(el("div", "pw-tb-follows", s.follows));
    for (const item of s.items) tb.append("frame" in item ? el("pre", "pw-tb-frame", item.frame) : foldedItem(item));
    tb.append(el("pre", "pw-tb-exception", s.exception));
  }
  if (!f.sections.length) {
    if (f.exception_line) tb.append(el("pre", "pw-tb-exception", f.exception_line));
    tb.append(el("div", "pw-details-muted", "No traceback in the run's logs."));
  }
  box.append(tb);
  return box;
}

/** State history: state, local start time, time spent in it, message. */
export function statesBlock(states: StateSpanData[], more: number, dark: boolean): HTMLElement {
  const box = section("States", `${states.length + more}`);
  const table = el("table", "pw-details-states");
  const half = more ? Math.ceil(states.length / 2) : states.length;
  states.forEach((s, i) => {
    if (more && i === half) {
      const gap = el("tr");
      const cell = el("td", "pw-details-muted", `… ${more} more states`);
      cell.colSpan = 4;
      gap.append(cell);
      table.append(gap);
    }
    const row = el("tr");
    const name = el("td", "pw-details-state");
    const dot = el("span", "pw-dot");
    dot.style.background = stateColor(stateIndex(s.type), dark);
    name.append(dot, document.createTextNode(s.name || stateLabel(stateIndex(s.type))));
    const start = s.start_ms == null ? "—" : formatDateTime(s.start_ms, tz(s.start_ms));
    row.append(name, el("td", "pw-details-time", start), el("td", "pw-details-duration", s.duration_ms == null ? "—" : formatDuration(s.duration_ms)), el("td", "pw-details-message", s.message));
    table.append(row);
  });
  box.append(table);
  return box;
}

export function artifactsBlock(artifacts: ArtifactData[], more: number): HTMLElement {
  const box = section("Artifacts", `${artifacts.length + more}`);
  for (const a of artifacts) {
    const item = el("div", "pw-details-artifact");
    item.dataset.kind = a.kind;
    item.dataset.key = a.key;
    item.append(cleanHtml(a.html));
    box.append(item);
  }
  if (more) box.append(el("div", "pw-details-muted", `… ${more} more artifacts`));
  return box;
}

/** Log levels the panel's filter offers: the lowest level shown. */
export const LOG_LEVELS: ReadonlyArray<[number, string]> = [
  [0, "All levels"],
  [20, "Info and above"],
  [30, "Warning and above"],
  [40, "Error and above"],
];

function clockTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** One log line: time, level, message; a multi-line message (a traceback) folds behind its
 * first line, with a copy button for the whole message. */
function logLine(line: LogLineData): HTMLElement {
  const row = el("div", "pw-log-line");
  row.dataset.level = line.level;
  row.dataset.levelno = String(line.levelno);
  row.append(el("span", "pw-log-time", line.t_ms == null ? "" : clockTime(line.t_ms)), el("span", "pw-log-level", line.level));
  const cut = line.message.indexOf("\n");
  if (cut < 0) {
    row.append(el("span", "pw-log-message", line.message));
    return row;
  }
  const fold = el("details", "pw-log-fold");
  const summary = el("summary", "pw-log-message", line.message.slice(0, cut));
  summary.append(copyButton("Copy", () => line.message));
  fold.append(summary, el("pre", "pw-log-text", line.message.slice(cut + 1)));
  row.append(fold);
  return row;
}

/** The newest log lines with a level filter (lines below the chosen level are hidden);
 * `level` is the filter's starting value, `onLevel` hears its changes. */
export function logsBlock(d: DetailsData, level: number, onLevel: (level: number) => void): HTMLElement {
  const box = section("Logs", `${d.logs.length}${d.logs_more || d.logs_older ? "+" : ""}`);
  const bar = el("div", "pw-log-bar");
  const select = el("select", "pw-log-filter");
  select.setAttribute("aria-label", "Lowest log level shown");
  for (const [value, text] of LOG_LEVELS) {
    const option = el("option", "", text);
    option.value = String(value);
    select.append(option);
  }
  select.value = String(level);
  const shown = el("span", "pw-details-muted");
  bar.append(select, shown);
  const lines = el("div", "pw-log-lines");
  const rows = d.logs.map(logLine);
  lines.append(...rows);
  const apply = () => {
    const min = Number(select.value) || 0;
    let visible = 0;
    d.logs.forEach((l, i) => {
      rows[i].hidden = l.levelno < min;
      if (!rows[i].hidden) visible++;
    });
    shown.textContent = visible === d.logs.length ? "" : `${visible} of ${d.logs.length} lines`;
    box.dataset.level = String(min);
  };
  select.addEventListener("change", () => {
    apply();
    onLevel(Number(select.value) || 0);
  });
  apply();
  box.append(bar, lines);
  if (d.logs_more || d.logs_older) box.append(el("div", "pw-details-muted", "Older lines are not shown: see the task run's .get_logs()."));
  return box;
}

/** Upstream or downstream task runs, each a button that selects its bar. */
export function linksBlock(title: string, links: LinkData[], more: number, dark: boolean, onSelect: (i: number) => void): HTMLElement {
  const box = section(title, `${links.length + more}`);
  const list = el("div", "pw-links");
  for (const l of links) {
    const button = el("button", "pw-link");
    button.type = "button";
    button.dataset.index = String(l.index);
    const dot = el("span", "pw-dot");
    dot.style.background = stateColor(stateIndex(l.state_type), dark);
    button.append(dot, el("span", "pw-link-label", l.label));
    if (l.via) button.append(el("span", "pw-details-muted", l.via));
    if (l.index < 0) {
      button.disabled = true;
      button.title = "Not in this timeline";
    } else {
      button.title = `Select ${l.label}`;
      button.addEventListener("click", () => onSelect(l.index));
    }
    list.append(button);
  }
  box.append(list);
  if (more) box.append(el("div", "pw-details-muted", `… ${more} more`));
  return box;
}

function inputsBlock(inputs: Array<[string, string]>, more: number): HTMLElement {
  const box = section("Inputs", "not from task runs");
  const dl = el("dl", "pw-details-list");
  fill(dl, inputs);
  box.append(dl);
  if (more) box.append(el("div", "pw-details-muted", `… ${more} more`));
  return box;
}

function resultBlock(r: ResultData): HTMLElement {
  const box = section("Result");
  box.append(r.text ? el("pre", "pw-details-result", r.text) : el("div", "pw-details-muted", r.note));
  return box;
}

function fill(dl: HTMLDListElement, rows: Array<[string, string]>): void {
  const nodes: HTMLElement[] = [];
  for (const [k, v] of rows) nodes.push(el("dt", "", k), el("dd", "", v));
  dl.replaceChildren(...nodes);
}

// ---------------------------------------------------------------- the panel

/** Details panel for the selected task run: what the browser knows of the row at once,
 * then what the kernel sends in the `details` trait (fields the row does not show, the
 * error, state history, artifacts). Text through textContent; artifact HTML only after
 * `cleanHtml`. */
export class Details {
  readonly root: HTMLDivElement;
  private title: HTMLSpanElement;
  private dot: HTMLSpanElement;
  private local: HTMLDListElement;
  private remote: HTMLDivElement;
  private status: HTMLDivElement;
  private link: HTMLAnchorElement;
  /** the lowest log level shown, kept from row to row */
  private logLevel = 0;
  index = -1;

  /** `onSelect(i)` selects row i (a linked upstream or downstream run was clicked). */
  constructor(onClose: () => void, private onSelect: (i: number) => void = () => undefined) {
    this.root = el("div", "pw-details");
    this.root.hidden = true;
    this.root.dataset.kind = "";
    const head = el("div", "pw-details-head");
    this.dot = el("span", "pw-dot");
    this.title = el("span", "pw-details-title");
    const close = el("button", "pw-close", "×");
    close.type = "button";
    close.title = "Close details";
    close.setAttribute("aria-label", "Close details");
    close.addEventListener("click", onClose);
    this.link = el("a", "pw-details-ui", "Open in Prefect UI");
    this.link.target = "_blank";
    this.link.rel = "noopener noreferrer";
    this.link.hidden = true;
    head.append(this.dot, this.title, this.link, close);
    this.local = el("dl", "pw-details-list");
    this.remote = el("div", "pw-details-remote");
    this.status = el("div", "pw-details-status");
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
    if (changed) {
      this.remote.replaceChildren();
      this.link.hidden = true;
    }
    if (pending) this.status.textContent = "Loading details…";
    this.status.hidden = !pending;
    this.root.hidden = false;
  }

  /** The kernel's `details` trait, if it is about the row shown (else it is stale). */
  showDetails(raw: unknown, dark: boolean): void {
    const d = normalizeDetails(raw);
    if (!d || d.index !== this.index) return;
    const parts: HTMLElement[] = [];
    if (d.fields.length) {
      const dl = el("dl", "pw-details-list");
      fill(dl, d.fields);
      parts.push(dl);
    }
    for (const p of d.problems) parts.push(el("div", "pw-details-problem", p));
    if (d.failure) parts.push(failureBlock(d.failure, dark));
    if (d.logs.length) parts.push(logsBlock(d, this.logLevel, (level) => (this.logLevel = level)));
    if (d.upstream.length) parts.push(linksBlock("Upstream", d.upstream, d.upstream_more, dark, this.onSelect));
    if (d.downstream.length) parts.push(linksBlock("Downstream", d.downstream, d.downstream_more, dark, this.onSelect));
    if (d.inputs.length) parts.push(inputsBlock(d.inputs, d.inputs_more));
    if (d.result && (d.result.text || d.result.note)) parts.push(resultBlock(d.result));
    if (d.states.length) parts.push(statesBlock(d.states, d.states_more, dark));
    if (d.artifacts.length) parts.push(artifactsBlock(d.artifacts, d.artifacts_more));
    this.remote.replaceChildren(...parts);
    const safe = /^https?:\/\//i.test(d.ui_url);
    if (safe) this.link.href = d.ui_url;
    else this.link.removeAttribute("href");
    this.link.hidden = !safe;
    this.status.hidden = true;
  }

  hide(): void {
    this.index = -1;
    this.root.hidden = true;
    this.link.hidden = true;
    this.remote.replaceChildren();
  }
}
