/** A 2D context that accepts every call (happy-dom has no canvas); `measureText` gives 7 px a
 * character. Installed on every canvas by `stubCanvas()`. */
export function stubCanvas(): void {
  const ctx = new Proxy({} as Record<string | symbol, unknown>, {
    get: (target, name) =>
      name in target ? target[name] : name === "measureText" ? (t: string) => ({ width: t.length * 7 }) : () => undefined,
    set: (target, name, value) => {
      target[name] = value;
      return true;
    },
  });
  HTMLCanvasElement.prototype.getContext = (() => ctx) as unknown as HTMLCanvasElement["getContext"];
}
