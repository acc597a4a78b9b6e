// Bundle the widget into ../prefect_widgets/static/widget.{js,css} and the history chart
// into ../prefect_widgets/static/history.{js,css}.
// Usage: node build.mjs [--watch] [--dev]
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.resolve(here, "../prefect_widgets/static");
const watch = process.argv.includes("--watch");
const dev = process.argv.includes("--dev") || watch;

const options = {
  entryPoints: { widget: path.join(here, "src/index.ts"), history: path.join(here, "src/history/index.ts") },
  outdir,
  bundle: true,
  format: "esm",
  minify: !dev,
  sourcemap: dev ? "inline" : false,
  target: ["es2020", "chrome90", "firefox90", "safari15"],
  define: { "define.amd": "false" },
  legalComments: "none",
  logLevel: "info",
};

if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
  console.log("watching…");
} else {
  const result = await esbuild.build({ ...options, metafile: true });
  const outs = result.metafile.outputs;
  for (const [file, info] of Object.entries(outs)) {
    console.log(`${path.relative(process.cwd(), file)}  ${(info.bytes / 1024).toFixed(1)} KiB`);
  }
}
