import { STATE_TYPES, badgeTextColor, stateGlyph, stateIndex, stateLabel, stateColor } from "./states";
import { formatDuration } from "./scale";
import { HeaderData, formatCount, liveChip, runCountsText, runDuration, safeUrl, unfinishedText } from "./util";

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

export class Header {
  readonly root: HTMLDivElement;
  private badge = el("span", "pw-badge");
  private title = el("div", "pw-title");
  private nameSlot = el("span", "pw-run-name-slot");
  private flow = el("span", "pw-flow-name");
  private duration = el("span", "pw-duration");
  private live = el("span", "pw-live", "live");
  private runs = el("span", "pw-run-counts");
  private chips = el("div", "pw-chips");
  private message = el("div", "pw-message");
  /** "N task runs never reached a final state (…)" */
  private unfinished = el("div", "pw-unfinished-note");
  private data: HeaderData | null = null;
  private dark = false;
  /** the header's first line (badge, title, meta); the search box is appended to it */
  readonly top = el("div", "pw-header-top");

  constructor(
    private onToggle: (state: string) => void,
    private onClear: () => void,
  ) {
    this.root = el("div", "pw-header");
    const top = this.top;
    this.title.append(this.nameSlot, this.flow);
    const meta = el("div", "pw-meta");
    meta.append(this.runs, this.duration, this.live);
    top.append(this.badge, this.title, meta);
    this.chips.setAttribute("role", "group");
    this.chips.setAttribute("aria-label", "Filter task runs by state");
    this.message.hidden = true;
    this.unfinished.hidden = true;
    this.unfinished.setAttribute("role", "note");
    this.root.append(top, this.message, this.unfinished, this.chips);
  }

  update(h: HeaderData, counts: Record<string, number>, filter: string[], dark: boolean): void {
    this.data = h;
    this.dark = dark;
    // badge
    const st = h.state_type;
    const color = st ? stateColor(st, dark) : "";
    this.badge.textContent = h.state_name || (st ? stateLabel(st) : "Unknown");
    this.badge.dataset.state = st || "UNKNOWN";
    this.badge.dataset.glyph = stateGlyph(st || ""); // drawn by CSS ::before, not in the text
    this.badge.style.background = color || "var(--pw-muted)";
    this.badge.style.color = color ? badgeTextColor(color) : "#fff";
    // name (link only for http(s) URLs)
    const url = safeUrl(h.ui_url);
    const name = h.run_name || "(unnamed run)";
    let node: HTMLElement;
    if (url) {
      const a = el("a", "pw-run-name", name);
      a.href = url;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      a.title = "Open in the Prefect UI";
      node = a;
    } else {
      node = el("span", "pw-run-name", name);
    }
    this.nameSlot.replaceChildren(node);
    this.flow.textContent = h.flow_name;
    this.flow.hidden = !h.flow_name;
    this.live.hidden = !h.live;
    const live = liveChip(h);
    this.live.textContent = live.text;
    this.live.title = live.title;
    this.live.dataset.via = h.live_via;
    this.unfinished.textContent = h.unfinished > 0 ? unfinishedText(h.unfinished) : "";
    this.unfinished.hidden = !(h.unfinished > 0);
    this.runs.textContent = runCountsText(h.task_runs, h.subflow_runs);
    this.runs.hidden = !this.runs.textContent;
    this.message.textContent = h.state_message ?? "";
    this.message.hidden = !h.state_message;
    this.renderChips(counts, filter);
    this.tick();
  }

  private renderChips(counts: Record<string, number>, filter: string[]): void {
    const active = new Set(filter);
    const frag: HTMLElement[] = [];
    for (const s of STATE_TYPES) {
      const c = counts[s] ?? 0;
      if (c <= 0 && !active.has(s)) continue;
      const b = el("button", "pw-chip");
      b.type = "button";
      b.dataset.state = s;
      const on = active.has(s);
      b.setAttribute("aria-pressed", on ? "true" : "false");
      if (active.size && !on) b.classList.add("pw-chip-off");
      b.title = on ? `Stop filtering on ${stateLabel(s)}` : `Show only ${stateLabel(s)} (click more chips to add)`;
      const dot = el("span", "pw-dot");
      dot.style.background = stateColor(s, this.dark);
      b.append(dot, el("span", "pw-chip-label", stateLabel(s)), el("span", "pw-chip-count", formatCount(c)));
      b.addEventListener("click", () => this.onToggle(s));
      frag.push(b);
    }
    if (active.size) {
      const clear = el("button", "pw-chip pw-chip-clear", "Show all");
      clear.type = "button";
      clear.addEventListener("click", () => this.onClear());
      frag.push(clear);
    }
    this.chips.replaceChildren(...frag);
  }

  /** Refresh the (possibly ticking) duration. */
  tick(now = Date.now()): void {
    const h = this.data;
    if (!h) return;
    const d = runDuration(h, now);
    this.duration.textContent = d == null ? "" : formatDuration(d);
    this.duration.hidden = d == null;
  }

  get ticking(): boolean {
    const h = this.data;
    return !!h && h.end_ms == null && h.start_ms != null && [1, 2, 8].includes(stateIndex(h.state_type));
  }
}
