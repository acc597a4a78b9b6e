import type { Timeline } from "../src/decode";
import { Gantt } from "../src/gantt";
import { readTheme } from "../src/theme";

/** A Gantt in the document, 900 px wide (happy-dom lays nothing out), holding `tl`. */
export function mountGantt(tl: Timeline): Gantt {
  const g = new Gantt(readTheme(document.body), { onSelect: () => undefined });
  Object.defineProperty(g.root, "clientWidth", { value: 900 });
  document.body.append(g.root);
  g.setTimeline(tl);
  return g;
}
