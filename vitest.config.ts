import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  // The examples import Bulwark by its package name, as an app would; in this repo that is the source.
  resolve: { alias: { bulwark: fileURLToPath(new URL("./src/index.ts", import.meta.url)) } },
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts", "examples/**/*.test.ts"],
    // Argon2 and real databases make some tests slower than the 5 s default on a 2-core machine.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Memory-bound tests (the audit export) collect garbage before they measure the heap.
    execArgv: ["--expose-gc"],
    // CI (.ci/run) names the services it provides: there a skipped test fails the run (test/skips-fail.ts).
    // With BULWARK_EVIDENCE_DIR (.ci/run) each run also records every test's outcome (test/evidence-reporter.ts).
    reporters: [
      "default",
      ...(process.env.BULWARK_REQUIRE_SERVICES ? ["./test/skips-fail.ts"] : []),
      ...(process.env.BULWARK_EVIDENCE_DIR ? ["./test/evidence-reporter.ts"] : []),
    ],
  },
});
