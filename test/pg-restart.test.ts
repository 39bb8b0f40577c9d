import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PG_URL, type TestApp, testApp } from "./harness.js";
import { needs } from "./services.js";

/**
 * Stops the real PostgreSQL server under a running Bulwark and starts it again. It runs only when
 * TEST_PG_RESTART=1 (its own step in .ci/run, after every other suite), because it takes the shared
 * database away from anything else running at the time.
 */
const ENABLED = Boolean(PG_URL && process.env.TEST_PG_RESTART === "1");
const version = ENABLED ? (readdirSync("/etc/postgresql")[0] ?? "15") : "";
const pgctl = (action: "start" | "stop") =>
  execFileSync(
    "pg_ctlcluster",
    ["--skip-systemctl-redirect", version, "main", action, ...(action === "stop" ? ["-m", "fast"] : [])],
    { stdio: "inherit" },
  );

async function until(fn: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await fn()) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

describe.runIf(needs("pg-restart"))("PostgreSQL restart", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp({ DATABASE_URL: PG_URL ?? "" });
  });
  afterAll(async () => {
    // Whatever happened above, leave the server running for the steps after this one.
    try {
      execFileSync("pg_isready", ["-h", "127.0.0.1", "-q"]);
    } catch {
      pgctl("start");
    }
    await t.close();
  });

  it("OPS-1/OBS-4: /health turns 503 when PostgreSQL stops and 200 again after it restarts, without restarting Bulwark", async () => {
    expect((await t.app.inject({ url: "/health" })).statusCode).toBe(200);
    pgctl("stop");
    const down = await t.app.inject({ url: "/health" });
    expect(down.statusCode).toBe(503);
    expect(down.json().checks.database.status).toBe("down");
    pgctl("start");
    const back = await until(async () => (await t.app.inject({ url: "/health" })).statusCode === 200, 30_000);
    expect(back).toBe(true);
    // Real queries work again on the same pool, not just the probe.
    await expect(t.db.withOrg("org_a", async () => "ok")).resolves.toBe("ok");
  });
});
