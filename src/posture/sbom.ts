import { buildArtifact } from "./artifact.js";

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
  const found = buildArtifact("sbom.json");
  const bom = found?.doc as { bomFormat?: string; specVersion?: string; components?: unknown[] } | undefined;
  if (!found || bom?.bomFormat !== "CycloneDX" || !Array.isArray(bom.components)) return undefined;
  return { text: found.text, specVersion: String(bom.specVersion), components: bom.components.length };
}
