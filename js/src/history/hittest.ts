/** Which run a click lands on: the nearest dot within a few pixels. */
import { durationLevel, PAD, View, xOf, yOf } from "./axes";
import type { HistoryData } from "./data";

/** The run whose dot is nearest to (mx, my) (CSS px, canvas-relative) within `radius`; -1 if none. */
export function nearestRun(data: HistoryData, view: View, mx: number, my: number, radius = 8): number {
  if (mx < PAD.l - radius || mx > view.width - PAD.r + radius) return -1;
  let best = -1;
  let bestD = radius * radius;
  for (let i = 0; i < data.n; i++) {
    const dx = xOf(view, data.x[i]) - mx;
    if (dx * dx > bestD) continue;
    const dy = yOf(view, durationLevel(data.seconds[i])) - my;
    const d = dx * dx + dy * dy;
    if (d < bestD) {
      bestD = d;
      best = i;
    }
  }
  return best;
}
