import type { Reporter, TestModule } from "vitest/node";

/**
 * CI's net under `needs()` (test/services.ts): in a run that names the services it provides
 * (BULWARK_REQUIRE_SERVICES), no test may be skipped at all, so a test that skips some other way (an
 * `it.skipIf` on an environment variable, a forgotten `.skip`) cannot pass CI silently either. The run
 * fails and names every skipped test.
 */
export default class SkipsFail implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const skipped: string[] = [];
    for (const m of modules)
      for (const test of m.children.allTests())
        if (test.result().state === "skipped") skipped.push(`${m.moduleId} > ${test.fullName}`);
    if (skipped.length === 0) return;
    process.exitCode = 1;
    process.stderr.write(
      `\n${skipped.length} test(s) skipped in a run with BULWARK_REQUIRE_SERVICES=${process.env.BULWARK_REQUIRE_SERVICES}; nothing may be skipped here:\n${skipped.map((s) => `  - ${s}`).join("\n")}\n`,
    );
  }
}
