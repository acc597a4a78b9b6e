// Bundle the widget into ../prefect_widgets/static/widget.{js,css}, the history chart
// into ../prefect_widgets/static/history.{js,css}, and the JupyterLab extension's source into
// lib/index.js (package.json's `main`: `jupyter labextension build .` takes it from there,
// JupyterLab's own packages left to the app: `@jupyterlab/*` and `@lumino/*` stay imports).
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

const lab = {
  entryPoints: { index: path.join(here, "lab/src/index.ts") },
  outdir: path.resolve(here, "lib"),
  bundle: true,
  format: "esm",
  minify: false,  // webpack (the labextension build) minifies
  target: ["es2020"],
  external: ["@jupyterlab/*", "@lumino/*"],
  legalComments: "none",
  logLevel: "info",
};

if (watch) {
  for (const each of [options, lab]) await (await esbuild.context(each)).watch();
  console.log("watching…");
} else {
  for (const each of [options, lab]) {
    const result = await esbuild.build({ ...each, metafile: true });
    for (const [file, info] of Object.entries(result.metafile.outputs)) {
      console.log(`${path.relative(process.cwd(), file)}  ${(info.bytes / 1024).toFixed(1)} KiB`);
    }
  }
}
