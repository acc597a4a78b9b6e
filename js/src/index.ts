/**
 * anywidget entry point for prefect_widgets' flow-run view.
 * Contract (traits and messages): see js/README.md.
 */
import "./widget.css";
import { BufferLike, DecodeError, Timeline, decodeIntInto, decodeTimeline, emptyTimeline, toBytes } from "./decode";
import { Details } from "./details";
import { bindLayoutTrait, Gantt } from "./gantt";
import { Header } from "./header";
import { applyPatch, PatchMessage } from "./patch";
import { STATE_TYPES } from "./states";
import { readTheme, Theme } from "./theme";
import { closedAt, countStates, filterIndices, normalizeHeader, toggleFilter } from "./util";
import { SearchBox, SearchController } from "./search";
import { bindKeys, keyActions } from "./keys";
import { Announcer, summaryLabel } from "./a11y";
import { isSubflowRow } from "./subflows";

/** The subset of the anywidget model API used here. */
export interface AnyModel {
  get(name: string): any; // eslint-disable-line @typescript-eslint/no-explicit-any
  set(name: string, value: unknown): void;
  save_changes(): void;
  on(event: string, cb: (...args: any[]) => void): void; // eslint-disable-line @typescript-eslint/no-explicit-any
  off(event?: string | null, cb?: ((...args: any[]) => void) | null): void; // eslint-disable-line @typescript-eslint/no-explicit-any
  send(content: unknown, callbacks?: unknown, buffers?: ArrayBuffer[] | ArrayBufferView[]): void;
}

export interface RenderProps {
  model: AnyModel;
  el: HTMLElement;
}

function applyThemeVars(el: HTMLElement, theme: Theme): void {
  el.classList.toggle("pw-dark", theme.dark);
  STATE_TYPES.forEach((s, i) => el.style.setProperty(`--pw-state-${s.toLowerCase()}`, theme.stateColors[i]));
}

/** The newest shape of the synced state this front end reads (the `format` trait). */
export const SAVED_FORMAT = 3;

/**
 * Why a widget state of `format` cannot be read here, or null when it can. A state without
 * `format` was saved before the trait existed (format 1): its timeline decodes as it is,
 * the columns added since simply absent. Format 2 sent plain `edge_from`/`edge_to` columns
 * where 3 sends `edge_in`/`edge_up` varints: `decodeEdges` reads both.
 */
export function savedFormatProblem(format: unknown): string | null {
  if (format == null) return null;
  if (!Number.isInteger(format) || (format as number) < 1) {
    return `This widget's saved state has an unknown format (${JSON.stringify(format)}): run the cell again to redraw it.`;
  }
  if ((format as number) > SAVED_FORMAT) {
    return `This widget was saved by a newer prefect-widgets (state format ${format}; this view reads formats up to ${SAVED_FORMAT}): run the cell again, or upgrade prefect-widgets.`;
  }
  return null;
}

/** The DOM event dispatched (bubbling, on the widget's root) once changed rows are drawn. */
export const DRAWN_EVENT = "pw-drawn";

/** One drawn row of a `pw-drawn` event: its index, state type and task name. */
export interface DrawnRow {
  index: number;
  state: string;
  key: string;
}

/** `pw-drawn`'s detail: what was applied ("patch" rows or a whole "timeline"), rows, time. */
export interface DrawnDetail {
  kind: "patch" | "timeline";
  n: number;
  rows: DrawnRow[];
  /** `Date.now()` right after the frame that drew them */
  at: number;
}

/** Whether the page asked for `pw-drawn` events (`<html data-pw-drawn>`): else none are made. */
const drawnWanted = (): boolean => typeof document !== "undefined" && document.documentElement.hasAttribute("data-pw-drawn");

/** The row indices a patch's index buffer names (Int32, as `applyPatch` reads it). */
function patchedIndices(buffers: readonly BufferLike[]): Int32Array {
  const m = (toBytes(buffers[0])?.byteLength ?? 0) / 4;
  return Number.isInteger(m) ? decodeIntInto(buffers[0], m, new Int32Array(m), true, -1, "patch.index") : new Int32Array(0);
}

function render({ model, el }: RenderProps): () => void {
  el.classList.add("pw-widget");
  let theme = readTheme(el);
  applyThemeVars(el, theme);

  const listeners: Array<[string, (...a: any[]) => void]> = []; // eslint-disable-line @typescript-eslint/no-explicit-any
  const listen = (ev: string, cb: (...a: any[]) => void) => { // eslint-disable-line @typescript-eslint/no-explicit-any
    model.on(ev, cb);
    listeners.push([ev, cb]);
  };

  let localError: string | null = null;
  const errorBox = document.createElement("div");
  errorBox.className = "pw-error";
  errorBox.setAttribute("role", "alert");
  errorBox.hidden = true;
  const errorText = document.createElement("span");
  errorText.className = "pw-error-text";
  const errorClose = document.createElement("button");
  errorClose.type = "button";
  errorClose.className = "pw-close";
  errorClose.textContent = "×";
  errorClose.setAttribute("aria-label", "Dismiss");
  let dismissed = "";
  errorClose.addEventListener("click", () => {
    dismissed = errorText.textContent ?? "";
    errorBox.hidden = true;
  });
  errorBox.append(errorText, errorClose);

  const currentFilter = (): string[] => filterIndices(model.get("state_filter")).map((i) => STATE_TYPES[i]);
  const setFilter = (f: string[]) => {
    model.set("state_filter", f);
    model.save_changes();
    syncFilter();
  };
  const header = new Header(
    (s) => setFilter(toggleFilter(currentFilter(), s)),
    () => setFilter([]),
  );

  const details = new Details(() => select(-1, false), (i) => select(i, true));

  // rows applied but not yet drawn, for `pw-drawn` (gathered only when the page asked)
  let drawnKind: DrawnDetail["kind"] | null = null; // "timeline": every row
  const drawnRows = new Set<number>();
  const noteApplied = (kind: DrawnDetail["kind"], rows: ArrayLike<number> = []) => {
    if (!drawnWanted()) return;
    drawnKind = drawnKind === "timeline" ? "timeline" : kind;
    for (let j = 0; j < rows.length; j++) if (rows[j] >= 0) drawnRows.add(rows[j]);
  };
  const dispatchDrawn = () => {
    if (drawnKind === null) return;
    const t = gantt.tl;
    const indices = drawnKind === "timeline" ? Array.from({ length: t.n }, (_, i) => i) : [...drawnRows].filter((i) => i < t.n);
    const rows = indices.map((i) => ({ index: i, state: STATE_TYPES[t.state[i]] ?? "", key: t.keys[t.key[i]] ?? "" }));
    const detail: DrawnDetail = { kind: drawnKind, n: t.n, rows, at: Date.now() };
    drawnKind = null;
    drawnRows.clear();
    el.dispatchEvent(new CustomEvent(DRAWN_EVENT, { bubbles: true, detail }));
  };

  const gantt = new Gantt(theme, {
    onSelect: (i) => select(i, true),
    onFrame: (bars, ms, gaps) => {
      el.dataset.bars = String(bars);
      el.dataset.gaps = String(gaps);
      el.dataset.drawMs = ms.toFixed(2);
      el.dataset.rendered = "1";
      dispatchDrawn();
    },
    onSubflow: (index, expand) => {
      try {
        model.send({ type: "subflow", index, expand }); // the kernel reads the child run once
      } catch {
        /* no kernel (a saved notebook): rows already sent still open and close */
      }
    },
  });

  el.replaceChildren(header.root, errorBox, gantt.root, details.root);
  const unbindLayout = bindLayoutTrait(model, gantt);

  // search (search.ts), keys (keys.ts) and the live region (a11y.ts)
  const announcer = new Announcer();
  const setSearch = (q: string) => {
    model.set("search", q);
    model.save_changes();
    search.run();
  };
  const search = new SearchController(gantt, new SearchBox(setSearch), el, () => String(model.get("search") ?? ""));
  header.top.append(search.box.root);
  el.append(announcer.region);
  el.setAttribute("role", "region");
  const unbindKeys = bindKeys(el, keyActions({
    get tl() { return gantt.tl; },
    get selected() { return gantt.selected; },
    layoutNow: () => gantt.layoutNow(),
    nowOffset: () => gantt.nowOffset(),
    revealBar: (i) => gantt.revealBar(i),
    select: (i, open) => select(i, open),
    stepMatch: (dir) => search.step(dir),
    focusSearch: () => search.box.input.focus(),
    toggleSubflow: (i, expand) => isSubflowRow(gantt.tl, i) && gantt.isExpanded(i) !== expand && gantt.toggleSubflow(i, expand),
    clearSearch: () => {
      if (!String(model.get("search") ?? "")) return false;
      search.box.input.value = "";
      setSearch("");
      return true;
    },
  }));

  const tl = (): Timeline => gantt.tl;

  function select(i: number, fromClick: boolean): void {
    gantt.setSelected(i);
    el.dataset.selected = String(i);
    if (model.get("selected_index") !== i) {
      model.set("selected_index", i);
      model.save_changes();
    }
    search.showCount();
    if (i >= 0) {
      details.showLocal(tl(), i, theme.dark, Date.now(), fromClick);
      if (fromClick) model.send({ type: "details", index: i });
      showDetails(); // the trait may already hold this row's details (the same row again)
    } else {
      details.hide();
    }
  }

  /** The `details` trait into the panel (ignored unless it is about the row shown). */
  function showDetails(): void {
    details.showDetails(model.get("details"), theme.dark);
  }

  function showErrors(): void {
    const h = normalizeHeader(model.get("header"));
    const msg = [h.error, localError].filter(Boolean).join(" — ");
    errorText.textContent = msg;
    errorBox.hidden = !msg || msg === dismissed;
  }

  function syncHeader(): void {
    const h = normalizeHeader(model.get("header"));
    gantt.setRunEnd(closedAt(h), h.unfinished > 0); // a finished run's open bars end with it
    const counts = Object.keys(h.counts).length ? h.counts : countStates(tl());
    header.update(h, counts, currentFilter(), theme.dark);
    el.setAttribute("aria-label", summaryLabel(h.run_name, counts));
    showErrors();
  }

  function syncTimeline(): void {
    let t = emptyTimeline();
    localError = savedFormatProblem(model.get("format")); // a newer saved widget: say why
    if (!localError) {
      try {
        t = decodeTimeline(model.get("timeline"));
      } catch (e) {
        localError = `Could not decode the timeline: ${e instanceof DecodeError ? e.message : String(e)}`;
      }
    }
    gantt.setTimeline(t);
    noteApplied("timeline");
    announcer.observe(t, true);
    search.dataChanged(model.get("timeline"));
    syncSelected(true);
    syncHeader();
  }

  function syncFilter(): void {
    gantt.setFilter(filterIndices(model.get("state_filter")));
    search.run();
    syncHeader();
  }

  /** Follow `selected_index`; `refresh` re-reads the row even if it was already shown. */
  function syncSelected(refresh = false): void {
    const v = Number(model.get("selected_index"));
    const i = Number.isInteger(v) && v >= 0 && v < tl().n ? v : -1;
    gantt.setSelected(i);
    el.dataset.selected = String(i);
    if (i >= 0) {
      const changed = details.index !== i;
      if (refresh || changed) details.showLocal(tl(), i, theme.dark, Date.now(), false);
      if (changed) showDetails(); // a new view, or the row set from Python
    } else details.hide();
  }

  listen("change:header", syncHeader);
  listen("change:timeline", syncTimeline);
  listen("change:state_filter", syncFilter);
  listen("change:selected_index", () => syncSelected());
  listen("change:details", showDetails);
  listen("change:search", () => search.run());
  listen("msg:custom", (msg: Record<string, unknown>, buffers?: unknown[]) => {
    if (!msg || typeof msg !== "object") return;
    if (msg.type === "patch") {
      try {
        applyPatch(tl(), msg as unknown as PatchMessage, (buffers ?? []) as DataView[]);
        if (drawnWanted()) noteApplied("patch", patchedIndices((buffers ?? []) as DataView[]));
        localError = null;
      } catch (e) {
        localError = `Could not apply a live update: ${e instanceof Error ? e.message : String(e)}`;
      }
      gantt.invalidateData(); // repack + redraw on the next animation frame
      announcer.observe(tl());
      search.dataChanged();
      if (details.index >= 0) details.showLocal(tl(), details.index, theme.dark, Date.now(), false);
      if (!Object.keys(normalizeHeader(model.get("header")).counts).length || localError) syncHeader();
    }
  });

  // initial state
  gantt.setFilter(filterIndices(model.get("state_filter")));
  syncTimeline();
  // The trait may be older than the live patches the kernel has sent (a second view, a
  // page reload): ask for the whole timeline; the kernel re-sets the trait if it is stale.
  try {
    model.send({ type: "resync" });
  } catch {
    /* no kernel (static export): the trait is all there is */
  }

  // theme changes (JupyterLab toggles attributes on <body>; OS scheme changes)
  let themeAttached = el.isConnected;
  const applyTheme = () => {
    const t = readTheme(el);
    if (JSON.stringify(t) === JSON.stringify(theme)) return;
    theme = t;
    applyThemeVars(el, theme);
    gantt.setTheme(theme);
    syncHeader();
  };
  // JupyterLab flips the theme attribute before the new stylesheet's variables apply:
  // read now, on the next frame, and once more after the stylesheet has loaded.
  const themeTimers: ReturnType<typeof setTimeout>[] = [];
  const refreshTheme = () => {
    applyTheme();
    requestAnimationFrame(applyTheme);
    themeTimers.push(setTimeout(applyTheme, 500));
  };

  // size changes + first paint. In JupyterLab `el` is often attached after
  // render(): the first resize notification then paints (and re-reads the
  // theme, whose CSS variables were not inherited while detached).
  const ro = new ResizeObserver(() => {
    if (!themeAttached && el.isConnected) {
      themeAttached = true;
      refreshTheme();
    }
    gantt.requestDraw();
  });
  ro.observe(gantt.root);
  if (el.isConnected && gantt.root.clientWidth > 0) gantt.drawNow();
  const mo = new MutationObserver(refreshTheme);
  if (document.body) mo.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-name", "data-jp-theme-light", "class", "style"] });
  const mq = typeof matchMedia === "function" ? matchMedia("(prefers-color-scheme: dark)") : null;
  mq?.addEventListener?.("change", refreshTheme);

  // 1 Hz: ticking duration and bars that extend to "now"
  const timer = setInterval(() => {
    if (typeof document !== "undefined" && document.hidden) return;
    if (header.ticking) header.tick();
    if (gantt.hasOpenBars()) gantt.requestDraw();
  }, 1000);

  return () => {
    clearInterval(timer);
    ro.disconnect();
    mo.disconnect();
    mq?.removeEventListener?.("change", refreshTheme);
    themeTimers.forEach(clearTimeout);
    for (const [ev, cb] of listeners) model.off(ev, cb);
    unbindLayout();
    unbindKeys();
    announcer.destroy();
    el.removeAttribute("aria-label");
    el.removeAttribute("role");
    gantt.destroy();
    el.replaceChildren();
    el.classList.remove("pw-widget", "pw-dark");
    delete el.dataset.rendered;
    delete el.dataset.bars;
    delete el.dataset.gaps;
    delete el.dataset.drawMs;
    delete el.dataset.selected;
  };
}

export default { render };
