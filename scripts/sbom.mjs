// The software bill of materials (SUPPLY-1): CycloneDX, by npm itself, from package-lock.json alone (no
// network, no node_modules needed), of the packages the server runs with. Written to dist/sbom.json by
// `npm run build`; the server serves it at /security/sbom.json.
//
// Dev dependencies are left out here, from the lockfile's own `dev` flags, not with `npm sbom --omit dev`:
// npm 11 drops about a third of the runtime packages with it (those reached only through deduplicated
// edges, e.g. @peculiar/asn1-cms under @simplewebauthn/server), and an SBOM that misses what runs is worse
// than none. src/posture/sbom.test.ts checks the result against the lockfile.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";

const root = new URL("..", import.meta.url);
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const text = execFileSync(
  npm,
  ["sbom", "--sbom-format", "cyclonedx", "--package-lock-only", "--sbom-type", "application"],
  { cwd: root, encoding: "utf8", maxBuffer: 64 * 1024 * 1024, stdio: ["ignore", "pipe", "inherit"] },
);
const bom = JSON.parse(text);
if (bom.bomFormat !== "CycloneDX" || !Array.isArray(bom.components))
  throw new Error("npm sbom did not produce a CycloneDX document");
// name@version of every package some runtime path installs; anything else is dev tooling.
const lock = JSON.parse(readFileSync(new URL("package-lock.json", root), "utf8"));
const runtime = new Set(
  Object.entries(lock.packages)
    .filter(([path, p]) => path !== "" && !p.dev && !p.link)
    .map(
      ([path, p]) => `${path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length)}@${p.version}`,
    ),
);
const keep = (c) => runtime.has(`${c.name}@${c.version}`);
const kept = new Set(bom.components.filter(keep).map((c) => c["bom-ref"]));
kept.add(bom.metadata.component["bom-ref"]);
bom.components = bom.components.filter(keep);
bom.dependencies = (bom.dependencies ?? [])
  .filter((d) => kept.has(d.ref))
  .map((d) => ({ ...d, dependsOn: (d.dependsOn ?? []).filter((r) => kept.has(r)) }));
mkdirSync(new URL("dist/", root), { recursive: true });
// Written aside, then renamed: a server or test reading it never sees half a file.
writeFileSync(new URL("dist/sbom.json.tmp", root), `${JSON.stringify(bom, null, 2)}\n`);
renameSync(new URL("dist/sbom.json.tmp", root), new URL("dist/sbom.json", root));
