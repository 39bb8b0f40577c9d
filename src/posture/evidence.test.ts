import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { idsOf, titlesOf, withOutcomes } from "../../scripts/evidence.mjs";
import { testApp } from "../../test/harness.js";
import { proofText } from "./evidence.js";

const root = new URL("../../", import.meta.url);

describe("POST-3 each claim linked to the tests that prove it", () => {
  const results = mkdtempSync(join(tmpdir(), "bulwark-evidence-"));
  afterAll(() => {
    rmSync(results, { recursive: true, force: true });
    // Back to what `npm run build` writes.
    execFileSync("node", ["scripts/evidence.mjs"], {
      cwd: root,
      stdio: "ignore",
      env: { ...process.env, BULWARK_EVIDENCE_DIR: "" },
    });
  });

  it("POST-3: test titles name their requirement IDs before the colon, whatever the call's shape", () => {
    const source = `
      it("AUTH-4: reset token is single-use", () => {});
      it.runIf(x)(
        "DATA-3, OBS-2: a link's signature never reaches the log",
        async () => {},
      );
      test(\`AUTHZ-1: \${role} may do exactly its actions\`, () => {});
      it("every route answers (no ID here: AUTH-9 is not its subject)", () => {});
      it('INPUT-1/INPUT-5: hostile bodies are refused', () => {});`;
    const titles = titlesOf(source);
    expect(titles.map(idsOf)).toEqual([
      ["AUTH-4"],
      ["DATA-3", "OBS-2"],
      ["AUTHZ-1"],
      [],
      ["INPUT-1", "INPUT-5"],
    ]);
    const ids = {
      "AUTHZ-1": [{ file: "a.test.ts", title: titles[2]! }],
      "AUTH-4": [{ file: "a.test.ts", title: titles[0]! }],
    };
    const runs = [
      { file: "a.test.ts", name: "AUTHZ-1: OWNER may do exactly its actions", state: "passed" },
      { file: "a.test.ts", name: "AUTHZ-1: VIEWER may do exactly its actions", state: "skipped" },
      { file: "b.test.ts", name: "AUTH-4: reset token is single-use", state: "passed" },
    ];
    // Passed where it ran (skipped elsewhere is not a failure); a test of another file is not this one.
    expect(withOutcomes(ids, runs)["AUTHZ-1"]![0]!.state).toBe("passed");
    expect(withOutcomes(ids, runs)["AUTH-4"]![0]!.state).toBe("not run");
    expect(
      withOutcomes(ids, [
        ...runs,
        { file: "a.test.ts", name: "AUTHZ-1: ADMIN may do exactly its actions", state: "failed" },
      ])["AUTHZ-1"]![0]!.state,
    ).toBe("failed");
  });

  it("POST-3: the page says per claim how many tests prove it and at which commit they passed; a claim with a failing test or none is not shown as proven", async () => {
    // CI's record of this very file's first test passing, and of the SBOM test failing.
    writeFileSync(
      join(results, "run-1.json"),
      JSON.stringify([
        {
          file: "src/posture/evidence.test.ts",
          name: "POST-3: test titles name their requirement IDs before the colon, whatever the call's shape",
          state: "passed",
        },
        {
          file: "src/posture/sbom.test.ts",
          name: "SUPPLY-1: /security/sbom.json is a CycloneDX SBOM of exactly the lockfile's runtime packages, with hashes",
          state: "failed",
        },
      ]),
    );
    const commit = "0123456789abcdef0123456789abcdef01234567";
    execFileSync("node", ["scripts/evidence.mjs", "--results", results, "--commit", commit], {
      cwd: root,
      stdio: "ignore",
    });
    const t = await testApp();
    try {
      const controls = (await t.app.inject({ url: "/security.json" })).json().controls as {
        id: string;
        evidence?: { tests: number; passed?: number; failed?: number; commit?: string };
      }[];
      const byId = Object.fromEntries(controls.map((c) => [c.id, c.evidence]));
      // Every claim this configuration shows is named by tests.
      expect(controls.filter((c) => !c.evidence?.tests).map((c) => c.id)).toEqual([]);
      expect(proofText({ tests: 0 })).toBe("No test names this requirement: not shown as proven.");
      expect(byId["POST-3"]).toMatchObject({ commit, failed: 0 });
      expect(byId["POST-3"]!.passed).toBeGreaterThanOrEqual(1);
      expect(byId["SUPPLY-1"]?.failed ?? 1).toBe(1);
      const page = (await t.app.inject({ url: "/security" })).body;
      const claim = (id: string) =>
        page.slice(page.indexOf(`id="${id}"`), page.indexOf("</div>", page.indexOf(`id="${id}"`)));
      expect(claim("POST-3")).toMatch(
        /Proven by \d+ tests?: 1 passing, \d+ not run at commit 0123456789ab|Proven by 1 test, all passing at commit 0123456789ab/,
      );
      if (byId["SUPPLY-1"])
        expect(claim("SUPPLY-1")).toMatch(/class="proof unproven".*1 FAILING at commit 0123456789ab/);
      expect(claim("HDR-2") || claim("HDR-3")).toContain('href="/security/evidence.json"');
      const manifest = await t.app.inject({ url: "/security/evidence.json" });
      expect(manifest.json().commit).toBe(commit);
    } finally {
      await t.close();
    }
  });
});
