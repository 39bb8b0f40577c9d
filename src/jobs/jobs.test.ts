import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { PRODUCTION_ENV, silentLog, type TestDb, testConfig, testDb } from "../../test/harness.js";
import { loadConfig } from "../config/load.js";
import { MetricsRegistry } from "../metrics/registry.js";
import { StartError, start } from "../server.js";
import { JobsService } from "./service.js";

/**
 * OPS-2, OBS-6: scheduled jobs run in the processes that run background work, once per period among
 * every process sharing the database. Each "process" here is a JobsService of its own (its own node
 * name is the same pid, so the lease's holder is not what decides: the lease's expiry is) on one
 * database; timers and the clock are frozen and moved together.
 */
describe("scheduled jobs across processes (OPS-2, OBS-6)", () => {
  let t: TestDb;
  let now = 1_000_000;
  const clock = () => now;
  beforeAll(async () => {
    t = await testDb();
  });
  afterAll(async () => t?.cleanup());
  afterEach(() => vi.useRealTimers());

  const node = (background = true) =>
    new JobsService(t.db.global, silentLog, new MetricsRegistry(), background, clock);
  /** Moves the frozen timers and clock on by `ms`, then waits for the runs the timers started. */
  const advance = async (ms: number, until: () => Promise<void>) => {
    now += ms;
    await vi.advanceTimersByTimeAsync(ms);
    await vi.waitFor(until);
  };

  it("OPS-2: a job's lease is taken by one process per period, and by another once it has run out", async () => {
    const a = node();
    const b = node();
    expect(await a.claim("lease.demo", 10_000)).toBe(true);
    expect(await b.claim("lease.demo", 10_000)).toBe(false);
    expect(await a.claim("lease.demo", 10_000)).toBe(false);
    now += 9_999;
    expect(await b.claim("lease.demo", 10_000)).toBe(false);
    now += 1;
    expect(await b.claim("lease.demo", 10_000)).toBe(true);
    expect(await a.claim("lease.demo", 10_000)).toBe(false);
  });

  it("OPS-2, OBS-6: two workers run a scheduled job once per period between them; a process serving HTTP only never runs it", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"] });
    const ran: string[] = [];
    const job = (who: string) => async () => {
      ran.push(who);
      return 1;
    };
    const workers = [node(), node()];
    const httpOnly = node(false);
    workers.forEach((w, i) => {
      w.schedule("demo.purge", { everyMs: 60_000, firstMs: 1_000 }, job(`worker${i}`));
    });
    // Due first: were it to run background work, it would take every period's lease before the workers.
    httpOnly.schedule("demo.purge", { everyMs: 60_000, firstMs: 500 }, job("http"));
    httpOnly.start();
    for (const w of workers) w.start();
    const succeeded = async (n: number) =>
      expect((await httpOnly.list(50, "demo.purge")).filter((r) => r.status === "succeeded")).toHaveLength(n);
    await advance(1_000, () => succeeded(1));
    for (const n of [2, 3, 4]) await advance(60_000, () => succeeded(n));
    // Each period once, whichever worker's tick came first; never the HTTP-only process.
    expect(ran).toHaveLength(4);
    expect(ran).not.toContain("http");
    for (const p of [...workers, httpOnly]) p.stop();
  });

  it("OBS-6: a scheduled job that throws is recorded as failed, with its message", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"] });
    const worker = node();
    worker.schedule("demo.broken", { everyMs: 60_000, firstMs: 1_000 }, async () => {
      throw new Error("storage unreachable");
    });
    worker.start();
    await advance(1_000, async () =>
      expect(await worker.list(5, "demo.broken")).toMatchObject([
        { status: "failed", error: "storage unreachable", finished_at: now },
      ]),
    );
    worker.stop();
  });
});

describe("running as root (OPS-2)", () => {
  const production = (env: Record<string, string> = {}) =>
    loadConfig({
      ...PRODUCTION_ENV,
      BULWARK_DATA_DIR: mkdtempSync(join(tmpdir(), "bulwark-root-")),
      PORT: "0",
      HOST: "127.0.0.1",
      ...env,
    });

  it("OPS-2: production refuses to start as root, before it opens anything; BULWARK_ALLOW_ROOT or another user starts", async () => {
    const refused = start(production(), { log: silentLog, uid: 0 });
    await expect(refused).rejects.toThrow(StartError);
    await expect(refused).rejects.toThrow(/refuses to run as root in production/);
    for (const [config, uid] of [
      [production({ BULWARK_ALLOW_ROOT: "true" }), 0],
      [production(), 1000],
    ] as const) {
      const running = await start(config, { log: silentLog, uid });
      expect(running.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      await running.close();
    }
    // Development runs as whoever starts it (a laptop, CI).
    const dev = await start(testConfig({ PORT: "0" }), { log: silentLog, uid: 0 });
    await dev.close();
  });
});
