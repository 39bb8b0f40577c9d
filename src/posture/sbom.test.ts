import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditVerdict, unreviewedScripts } from "../../scripts/supply-chain.mjs";
import { type TestApp, testApp } from "../../test/harness.js";

const root = new URL("../../", import.meta.url);

/** The lockfile's runtime packages, read here on its own: what the SBOM must list, no more, no less. */
function runtimePackages(): string[] {
  const lock = JSON.parse(readFileSync(new URL("package-lock.json", root), "utf8")) as {
    packages: Record<string, { version?: string; dev?: boolean; link?: boolean }>;
  };
  return Object.entries(lock.packages)
    .filter(([path, p]) => path !== "" && !p.dev && !p.link)
    .map(([path, p]) => `${path.slice(path.lastIndexOf("node_modules/") + 13)}@${p.version}`);
}

describe("SUPPLY-1 software bill of materials and the supply-chain gate", () => {
  let t: TestApp;
  beforeAll(async () => {
    // What `npm run build` does: the SBOM from the lockfile alone.
    execFileSync("node", ["scripts/sbom.mjs"], { cwd: root, stdio: "ignore" });
    t = await testApp();
  });
  afterAll(() => t.close());

  it("SUPPLY-1: /security/sbom.json is a CycloneDX SBOM of exactly the lockfile's runtime packages, with hashes", async () => {
    const res = await t.app.inject({ url: "/security/sbom.json" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^application\/vnd\.cyclonedx\+json/);
    const bom = res.json() as {
      bomFormat: string;
      specVersion: string;
      components: { name: string; version: string; purl: string; hashes?: { alg: string }[] }[];
    };
    expect(bom.bomFormat).toBe("CycloneDX");
    const listed = bom.components.map((c) => `${c.name}@${c.version}`);
    expect(new Set(listed)).toEqual(new Set(runtimePackages()));
    // Dev tooling is not what runs: never listed.
    for (const dev of ["vitest", "@biomejs/biome", "s3rver", "playwright-core"])
      expect(listed.some((l) => l.startsWith(`${dev}@`))).toBe(false);
    expect(bom.components.every((c) => c.purl.startsWith("pkg:npm/"))).toBe(true);
    expect(bom.components.every((c) => c.hashes?.some((h) => h.alg === "SHA-512"))).toBe(true);
    // The page claims it, with its size, and links it.
    const claim = (await t.app.inject({ url: "/security.json" }))
      .json()
      .controls.find((c: { id: string }) => c.id === "SUPPLY-1");
    expect(claim.settings.components).toBe(listed.length);
    expect((await t.app.inject({ url: "/security" })).body).toContain(
      '<a href="/security/sbom.json">SBOM</a>',
    );
  });

  it("SUPPLY-1: the gate fails on a high or critical advisory, says when the advisory service did not answer, and names unreviewed install scripts", () => {
    const report = (vulnerabilities: Record<string, { severity: string }>) =>
      JSON.stringify({
        auditReportVersion: 2,
        vulnerabilities,
        metadata: { vulnerabilities: { total: Object.keys(vulnerabilities).length } },
      });
    expect(auditVerdict(report({})).status).toBe("ok");
    expect(auditVerdict(report({ minimist: { severity: "moderate" } })).status).toBe("ok");
    expect(auditVerdict(report({ minimist: { severity: "high" }, tar: { severity: "critical" } }))).toEqual({
      status: "vulnerable",
      detail: "minimist (high), tar (critical)",
    });
    // What this machine's registry answers: no advisory data, said as such, never taken for "none found".
    expect(auditVerdict(JSON.stringify({ message: "405 Method Not Allowed", statusCode: 405 }))).toEqual({
      status: "unreachable",
      detail: "405 Method Not Allowed",
    });
    expect(auditVerdict("").status).toBe("unreachable");
    expect(unreviewedScripts("No packages with unreviewed install scripts.\n")).toEqual([]);
    expect(
      unreviewedScripts(
        "1 package has install scripts not yet covered by allowScripts:\n  esbuild@0.28.2 (postinstall: node install.js)\n",
      ),
    ).toEqual(["esbuild@0.28.2"]);
    // And this checkout's own: every install script reviewed.
    expect(
      unreviewedScripts(execFileSync("npm", ["install-scripts", "ls"], { cwd: root, encoding: "utf8" })),
    ).toEqual([]);
  });
});
