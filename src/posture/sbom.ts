import { existsSync, readFileSync } from "node:fs";

/** The CycloneDX SBOM `npm run build` wrote (scripts/sbom.mjs), as served, with what the page says of it. */
export interface Sbom {
  readonly text: string;
  readonly specVersion: string;
  /** Runtime packages listed. */
  readonly components: number;
}

/**
 * The build's SBOM (SUPPLY-1): dist/sbom.json beside the compiled server, or the checkout's when running
 * from the sources. Undefined when there is none (a build that skipped it): then no route serves one and
 * the security page claims nothing about it.
 */
export function loadSbom(): Sbom | undefined {
  // From src/posture/ (tests) or dist/src/posture/ (the built server): the package root's dist/.
  for (const rel of ["../../dist/sbom.json", "../../sbom.json"]) {
    const file = new URL(rel, import.meta.url);
    if (!existsSync(file)) continue;
    const text = readFileSync(file, "utf8");
    const bom = JSON.parse(text) as { bomFormat?: string; specVersion?: string; components?: unknown[] };
    if (bom.bomFormat !== "CycloneDX" || !Array.isArray(bom.components)) return undefined;
    return { text, specVersion: String(bom.specVersion), components: bom.components.length };
  }
  return undefined;
}
