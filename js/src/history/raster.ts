/**
 * Dots written straight into ImageData pixels: 100,000 `fillRect` calls are slow on a
 * software canvas, a loop over a Uint32Array is not.
 */

export interface Pixels {
  data: Uint32Array;
  width: number;
  height: number;
}

/**
 * Paint a (2r+1)² square per point, in `order` (later points win: see `drawOrder`), in the
 * packed colour of its code; points whose centre falls outside [left, right] are skipped.
 */
export function paintDots(
  target: Pixels,
  xs: Float64Array,
  ys: Float64Array,
  codes: Uint8Array,
  packed: Uint32Array,
  order: Uint32Array,
  left: number,
  right: number,
  r: number,
): number {
  const { data, width, height } = target;
  let painted = 0;
  for (let k = 0; k < order.length; k++) {
    const i = order[k];
    const x = Math.round(xs[i]);
    if (!(x >= left && x <= right)) continue;
    const y = Math.round(ys[i]);
    const colour = packed[codes[i]];
    painted++;
    for (let dy = -r; dy <= r; dy++) {
      const row = y + dy;
      if (row < 0 || row >= height) continue;
      const base = row * width;
      for (let dx = -r; dx <= r; dx++) {
        const col = x + dx;
        if (col >= 0 && col < width) data[base + col] = colour;
      }
    }
  }
  return painted;
}
