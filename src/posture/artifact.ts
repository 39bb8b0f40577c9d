import { existsSync, readFileSync } from "node:fs";

/**
 * A JSON file `npm run build` writes into dist/ (the SBOM, the evidence manifest): its text as served and
 * its parsed content. Found from src/posture/ (tests) or dist/src/posture/ (the built server); undefined
 * when the build wrote none, or wrote something that is not JSON.
 */
export function buildArtifact(name: string): { text: string; doc: unknown } | undefined {
  for (const rel of [`../../dist/${name}`, `../../${name}`]) {
    const file = new URL(rel, import.meta.url);
    if (!existsSync(file)) continue;
    const text = readFileSync(file, "utf8");
    try {
      return { text, doc: JSON.parse(text) };
    } catch {
      return undefined;
    }
  }
  return undefined;
}
