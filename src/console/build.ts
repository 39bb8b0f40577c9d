import { existsSync, readFileSync } from "node:fs";

/** One built file of the console, served from memory. */
export interface ConsoleAsset {
  readonly name: string;
  readonly type: string;
  readonly body: Buffer;
  readonly gzip?: Buffer;
}

/** The console as `npm run build` left it (web/build.mjs writes dist/web/manifest.json). */
export interface ConsoleBuild {
  readonly js: string;
  readonly css: string;
  readonly icon: string;
  readonly assets: readonly ConsoleAsset[];
}

interface Manifest {
  js: string;
  css: string;
  icon: string;
  files: string[];
}

const TYPES: Record<string, string> = {
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
};

/**
 * Reads the built console. Found from src/console/ (tests run the sources after `npm ci` built it) and
 * from dist/src/console/ (the built server and the published package). A missing build stops start-up
 * with the command that makes it, rather than serving pages that cannot load.
 */
let loaded: ConsoleBuild | undefined;
export function loadConsoleBuild(): ConsoleBuild {
  loaded ??= readBuild();
  return loaded;
}

function readBuild(): ConsoleBuild {
  const dir = ["../../web/", "../../dist/web/"]
    .map((rel) => new URL(rel, import.meta.url))
    .find((d) => existsSync(new URL("manifest.json", d)));
  if (!dir) throw new Error("The console is not built: run `npm run build` (npm ci and npm start do it).");
  const manifest = JSON.parse(readFileSync(new URL("manifest.json", dir), "utf8")) as Manifest;
  const assets = manifest.files.map((name): ConsoleAsset => {
    const file = new URL(`assets/${name}`, dir);
    const gz = new URL(`assets/${name}.gz`, dir);
    return {
      name,
      type: TYPES[name.slice(name.lastIndexOf(".") + 1)] ?? "application/octet-stream",
      body: readFileSync(file),
      ...(existsSync(gz) ? { gzip: readFileSync(gz) } : {}),
    };
  });
  return { js: manifest.js, css: manifest.css, icon: manifest.icon, assets };
}

/** The one HTML document of every console address: static, so nothing from the request can reach it. */
export function renderShell(build: Pick<ConsoleBuild, "js" | "css" | "icon">): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="color-scheme" content="light dark">
<title>Bulwark</title>
<link rel="icon" href="/assets/${build.icon}" type="image/svg+xml">
<link rel="stylesheet" href="/assets/${build.css}">
<script type="module" src="/assets/${build.js}"></script>
</head>
<body>
<div id="app" data-console="bulwark"><noscript><p>The Bulwark console needs JavaScript. The API works without it: see <a href="/docs">/docs</a>.</p></noscript></div>
</body>
</html>
`;
}
