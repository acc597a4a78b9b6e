/**
 * Search over the timeline's task runs (issue 19, item 5): a case-insensitive substring
 * match on each run's label (task name, with "[map index]" when mapped), its state's name
 * and its tags (the `tag_keys` / `tag_offsets` / `tag_ids` columns, js/README.md). The lower-cased strings are built once per data change (`SearchIndex`); a query
 * tests each distinct task name and state once, then marks the hits in a typed array,
 * so a keystroke stays cheap at 100,000 task runs. Stepping (Enter / Shift+Enter) walks
 * the placed matches in time order, like Perfetto's and speedscope's search.
 */
import { BufferLike, decodeIntInto, DecodeError, Timeline, labelOf } from "./decode";
import { STATE_TYPES, stateLabel } from "./states";

/** The lower-cased strings a query is matched against, for one version of the data. */
export interface SearchIndex {
  n: number;
  /** task name of each key, lower-cased */
  keys: string[];
  /** state name of each state index, lower-cased */
  states: string[];
  /** lower-cased label of each mapped run ("extract[3]"), "" when not mapped */
  mapped: string[];
  /** the runs' tags, their keys lower-cased; null when no run has tags */
  tags: Tags | null;
}

/** Tags of the first `n` rows, dictionary-coded: row i's are ids[offsets[i] .. offsets[i+1]). */
export interface Tags {
  n: number;
  keys: string[];
  offsets: Int32Array;
  ids: Int32Array;
}

/** The tag columns of a raw `timeline` trait value; null when it has none. */
export function decodeTags(raw: unknown): Tags | null {
  if (raw == null || typeof raw !== "object") return null;
  const r = raw as Record<string, unknown>;
  if (!Array.isArray(r.tag_keys)) return null;
  const n = Number(r.n ?? 0);
  const offsets = decodeIntInto(r.tag_offsets as BufferLike, n + 1, new Int32Array(n + 1), false, 0, "timeline.tag_offsets");
  const m = offsets[n];
  const ids = decodeIntInto(r.tag_ids as BufferLike, m, new Int32Array(m), false, -1, "timeline.tag_ids");
  for (let i = 0; i < n; i++) {
    if (offsets[i] > offsets[i + 1]) throw new DecodeError(`timeline.tag_offsets must not decrease (row ${i})`);
  }
  return { n, keys: r.tag_keys.map((k) => String(k)), offsets, ids };
}

/** What a query matched: 1 per hit in `mask`, and how many. */
export interface SearchResult {
  query: string;
  mask: Uint8Array;
  count: number;
}

export function buildSearchIndex(tl: Timeline, tags: Tags | null = null): SearchIndex {
  const mapped = new Array<string>(tl.n);
  for (let i = 0; i < tl.n; i++) mapped[i] = tl.mapIndex[i] >= 0 ? labelOf(tl, i).toLowerCase() : "";
  return {
    n: tl.n,
    keys: tl.keys.map((k) => k.toLowerCase()),
    states: STATE_TYPES.map((s) => stateLabel(s).toLowerCase()),
    mapped,
    tags: tags && { ...tags, keys: tags.keys.map((k) => k.toLowerCase()) },
  };
}

/** The runs matching `query` (trimmed, case-insensitive); null for an empty query. */
export function searchTimeline(tl: Timeline, index: SearchIndex, query: string): SearchResult | null {
  const q = query.trim().toLowerCase();
  if (!q) return null;
  const keyHit = Uint8Array.from(index.keys, (k) => (k.includes(q) ? 1 : 0));
  const stateHit = Uint8Array.from(index.states, (s) => (s.includes(q) ? 1 : 0));
  const tags = index.tags;
  const tagHit = tags ? Uint8Array.from(tags.keys, (t) => (t.includes(q) ? 1 : 0)) : null;
  const tagged = (i: number): boolean => {
    if (!tags || !tagHit || i >= tags.n) return false;
    for (let k = tags.offsets[i]; k < tags.offsets[i + 1]; k++) if (tagHit[tags.ids[k]] === 1) return true;
    return false;
  };
  const mask = new Uint8Array(tl.n);
  let count = 0;
  for (let i = 0; i < tl.n; i++) {
    const k = tl.key[i];
    const hit =
      (k >= 0 && k < keyHit.length && keyHit[k] === 1) ||
      stateHit[tl.state[i]] === 1 ||
      (index.mapped[i] !== "" && index.mapped[i].includes(q)) ||
      tagged(i);
    if (hit) {
      mask[i] = 1;
      count++;
    }
  }
  return { query: q, mask, count };
}

/** Matches placed on the timeline (`rowOf[i] ≥ 0`), ordered by start time then row index. */
export function matchOrder(tl: Timeline, rowOf: Int32Array, mask: Uint8Array): Int32Array {
  const hits: number[] = [];
  for (let i = 0; i < tl.n; i++) if (mask[i] && rowOf[i] >= 0) hits.push(i);
  hits.sort((a, b) => tl.start[a] - tl.start[b] || a - b);
  return Int32Array.from(hits);
}

/**
 * The match after (`dir` = 1) or before (-1) `current` in `order`, wrapping around; the
 * first (or last) match when `current` is not one of them; -1 when there are none.
 */
export function stepMatch(tl: Timeline, order: Int32Array, current: number, dir: 1 | -1): number {
  const m = order.length;
  if (!m) return -1;
  const at = current >= 0 ? order.indexOf(current) : -1;
  if (at >= 0) return order[(at + dir + m) % m];
  if (current < 0 || current >= tl.n) return dir > 0 ? order[0] : order[m - 1];
  // from a bar that is not a match: the first match starting after it (or before it)
  const s = tl.start[current];
  if (dir > 0) {
    for (let k = 0; k < m; k++) if (tl.start[order[k]] > s || (tl.start[order[k]] === s && order[k] > current)) return order[k];
    return order[0];
  }
  for (let k = m - 1; k >= 0; k--) if (tl.start[order[k]] < s || (tl.start[order[k]] === s && order[k] < current)) return order[k];
  return order[m - 1];
}

/** "3 of 12" (the current match's place among the placed ones), "12 matches" or "No matches";
 * matches the state filter or a missing start time keeps off the timeline are counted apart. */
export function resultText(order: Int32Array, count: number, current: number): string {
  if (!count) return "No matches";
  const fmt = (v: number) => v.toLocaleString("en-US");
  const hidden = count - order.length;
  const note = hidden > 0 ? ` (${fmt(hidden)} not shown)` : "";
  const at = current >= 0 ? order.indexOf(current) : -1;
  if (at >= 0) return `${fmt(at + 1)} of ${fmt(order.length)}${note}`;
  return `${fmt(count)} match${count === 1 ? "" : "es"}${note}`;
}

/** The search field of the header with its result count ("3 of 12"). */
export class SearchBox {
  readonly root: HTMLDivElement;
  readonly input: HTMLInputElement;
  readonly count: HTMLSpanElement;

  constructor(onQuery: (query: string) => void) {
    this.root = document.createElement("div");
    this.root.className = "pw-search";
    this.root.setAttribute("role", "search");
    this.input = document.createElement("input");
    this.input.type = "search";
    this.input.className = "pw-search-input";
    this.input.placeholder = "Search (/)";
    this.input.setAttribute("aria-label", "Search task runs by task name, state or tag; Enter: next match, Shift+Enter: previous, Escape: clear");
    this.input.spellcheck = false;
    this.input.autocomplete = "off";
    this.count = document.createElement("span");
    this.count.className = "pw-search-count";
    this.count.setAttribute("role", "status");
    this.count.hidden = true;
    this.input.addEventListener("input", () => onQuery(this.input.value));
    this.root.append(this.input, this.count);
  }

  /** Show `query` (unless the user is typing it) and the result text ("" hides the count). */
  show(query: string, text: string): void {
    if (this.input.value !== query && document.activeElement !== this.input) this.input.value = query;
    this.count.textContent = text;
    this.count.hidden = !text;
  }
}

/** What the search controller reads and changes on the Gantt. */
export interface SearchHost {
  readonly tl: Timeline;
  readonly selected: number;
  layoutNow(): { rowOf: Int32Array };
  setMatch(mask: Uint8Array | null): void;
}

/**
 * The widget's search: the query (the `search` trait) → the dimmed bars, the box's count and
 * the root's `data-search-count` / `data-search-total` / `data-search-current`; Enter and
 * Shift+Enter step through the matches. The index is rebuilt lazily after a data change.
 */
export class SearchController {
  private index: SearchIndex | null = null;
  private result: SearchResult | null = null;
  private order: Int32Array = new Int32Array(0);
  private tags: Tags | null = null;
  /** why the tag columns could not be read ("" when they could) */
  private tagError = "";

  constructor(
    private host: SearchHost,
    readonly box: SearchBox,
    private root: HTMLElement,
    private query: () => string,
  ) {}

  /** The timeline changed: a new trait value `raw` (its tags are read again), or a live
   * patch (no `raw`: rows the tags do not cover have none until the next trait value). */
  dataChanged(raw?: unknown): void {
    if (raw !== undefined) {
      try {
        this.tags = decodeTags(raw);
        this.tagError = "";
      } catch (e) {
        this.tags = null;
        this.tagError = `tags unreadable: ${e instanceof Error ? e.message : String(e)}`;
      }
    }
    this.index = null;
    this.run();
  }

  /** Match the current query (after a query, data or state-filter change). */
  run(): void {
    const q = this.query();
    if (!q.trim()) {
      this.result = null;
      this.order = new Int32Array(0);
      this.host.setMatch(null);
    } else {
      const tl = this.host.tl;
      if (!this.index || this.index.n !== tl.n) this.index = buildSearchIndex(tl, this.tags);
      this.result = searchTimeline(tl, this.index, q);
      this.order = this.result ? matchOrder(tl, this.host.layoutNow().rowOf, this.result.mask) : new Int32Array(0);
      this.host.setMatch(this.result?.mask ?? null);
    }
    this.showCount(q);
  }

  /** The match to select after (1) or before (-1) the selection; -1 when none. */
  step(dir: 1 | -1): number {
    return stepMatch(this.host.tl, this.order, this.host.selected, dir);
  }

  /** Refresh the count ("3 of 12") and the root's data attributes. */
  showCount(q = this.query()): void {
    const r = this.result;
    const text = r ? resultText(this.order, r.count, this.host.selected) + (this.tagError ? ` (${this.tagError})` : "") : "";
    this.box.show(q, text);
    const d = this.root.dataset;
    if (r) {
      d.searchCount = String(r.count);
      d.searchShown = String(this.order.length);
      d.searchCurrent = String(this.order.indexOf(this.host.selected) + 1);
    } else {
      delete d.searchCount;
      delete d.searchShown;
      delete d.searchCurrent;
    }
  }
}
