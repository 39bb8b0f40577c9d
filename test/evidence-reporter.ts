import { mkdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import type { Reporter, TestModule } from "vitest/node";

/**
 * CI's record of what each test did (POST-3): with BULWARK_EVIDENCE_DIR set (.ci/run), every vitest run
 * writes one file there listing each test's file, title and outcome; scripts/evidence.mjs then joins them
 * to the requirement IDs the titles name, for the security page's "proven by".
 */
export default class EvidenceReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const dir = process.env.BULWARK_EVIDENCE_DIR;
    if (!dir) return;
    const root = process.cwd();
    const runs = modules.flatMap((m) =>
      [...m.children.allTests()].map((t) => ({
        file: relative(root, m.moduleId),
        name: t.name,
        state: t.result().state,
      })),
    );
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `run-${Date.now()}-${process.pid}.json`), JSON.stringify(runs));
  }
}
