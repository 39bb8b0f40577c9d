// Builds the console (web/src) into dist/web: one fingerprinted script, one stylesheet and an icon, each
// also pre-compressed with gzip, and manifest.json naming them for the server (src/console/build.ts).
// esbuild only: one small, dependency-free bundler, fast enough to run inside `npm ci` and `npm start`.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const root = new URL("..", import.meta.url);
const out = new URL("dist/web/", root);
const assets = new URL("assets/", out);
rmSync(out, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });

const result = await build({
  absWorkingDir: root.pathname,
  entryPoints: { console: "web/src/main.tsx" },
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2022", "chrome111", "firefox111", "safari16.4"],
  jsx: "automatic",
  jsxImportSource: "preact",
  entryNames: "[name]-[hash]",
  outdir: assets.pathname,
  metafile: true,
  legalComments: "none",
  define: { "process.env.NODE_ENV": '"production"' },
  logLevel: "warning",
});

const files = Object.keys(result.metafile.outputs).map((p) => p.slice(p.lastIndexOf("/") + 1));
const js = files.find((f) => f.endsWith(".js"));
const css = files.find((f) => f.endsWith(".css"));
if (!js || !css) throw new Error(`web/build.mjs: expected one .js and one .css, got ${files.join(", ")}`);

const iconBody = readFileSync(new URL("web/icon.svg", root));
const icon = `icon-${createHash("sha256").update(iconBody).digest("hex").slice(0, 8).toUpperCase()}.svg`;
writeFileSync(new URL(icon, assets), iconBody);

const sizes = {};
for (const name of [js, css, icon]) {
  const body = readFileSync(new URL(name, assets));
  const gz = gzipSync(body, { level: 9 });
  writeFileSync(new URL(`${name}.gz`, assets), gz);
  sizes[name] = { bytes: body.length, gzip: gz.length };
}
writeFileSync(
  new URL("manifest.json", out),
  `${JSON.stringify({ js, css, icon, files: [js, css, icon], sizes }, null, 2)}\n`,
);
// On stderr: `npm pack --json` (scripts/pack-test.mjs) runs this build through `prepare` and reads stdout.
if (process.env.WEB_BUILD_QUIET !== "1")
  process.stderr.write(
    `console: ${Object.entries(sizes)
      .map(([n, s]) => `${n} ${(s.gzip / 1024).toFixed(1)} kB gzip`)
      .join(", ")}\n`,
  );
