import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { PRODUCTION_ENV, silentLog, type TestDb, testConfig, testDb } from "../../test/harness.js";
import { bulwarkMigrations } from "../app.js";
import { runCli } from "../cli/main.js";
import { loadConfig } from "../config/load.js";
import { Database } from "../db/database.js";
import { MetricsRegistry } from "../metrics/registry.js";
import { StartError, start } from "../server.js";
import { JobsService } from "./service.js";

/**
 * OPS-2, OBS-6: scheduled jobs run in the processes that run background work, once per period among
 * every process sharing the database. Each "process" here is a JobsService of its own (a lease holder
 * of its own) on one database; timers and the clock are frozen and moved together. The lease itself is
 * taken on the suite's engine (PostgreSQL in CI); the scheduling tests run on SQLite, whose answers come
 * within the fake timers' step (PostgreSQL's real I/O lets the timers run ahead of them), and real
 * processes share a PostgreSQL lease in test/split-roles.test.ts.
 */
describe("scheduled jobs across processes (OPS-2, OBS-6)", () => {
  let t: TestDb;
  let local: Database;
  beforeAll(async () => {
    t = await testDb();
    local = Database.sqlite(":memory:");
    await local.migrate({ extra: bulwarkMigrations() });
  });
  afterAll(async () => {
    await local?.close();
    await t?.cleanup();
  });
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
  });
  afterEach(() => vi.useRealTimers());

  const HOUR = 3_600_000;
  const node = (background = true, db = local.global) =>
    new JobsService(db, silentLog, new MetricsRegistry(), background, () => Date.now());
  /**
   * Moves the frozen timers and clock on by `ms`, then waits for what the timers started (vi.waitFor
   * moves fake time on by its interval between checks: a little slack, never a period).
   */
  const advance = async (ms: number, until: () => Promise<void> = async () => {}) => {
    await vi.advanceTimersByTimeAsync(ms);
    await vi.waitFor(until, { timeout: 10_000, interval: 20 });
  };
  const runsOf = async (w: JobsService, name: string, status?: string) =>
    (await w.list(50, name)).filter((r) => !status || r.status === status);

  it("OBS-6: the newest run of each job, whatever ran since", async () => {
    const w = node(true, t.db.global);
    for (const [name, outcome] of [
      ["demo.daily", "ok"],
      ["demo.hourly", "ok"],
      ["demo.daily", "fail"],
      ["demo.hourly", "ok"],
      ["demo.hourly", "ok"],
    ] as const) {
      vi.advanceTimersByTime(1_000);
      await w.run(name, async () => {
        if (outcome === "fail") throw new Error("disk full");
        return 1;
      });
    }
    const latest = (await w.latest()).filter((r) => r.name.startsWith("demo."));
    expect(latest.map((r) => [r.name, r.status])).toEqual([
      ["demo.daily", "failed"],
      ["demo.hourly", "succeeded"],
    ]);
    expect(latest[1]!.started_at).toBe(Date.now());
  });

  it("OPS-2: a job's lease is taken by one process per period, and by another once it has run out", async () => {
    const a = node(true, t.db.global);
    const b = node(true, t.db.global);
    const job = async () => 1;
    expect((await a.runLeased("lease.demo", "lease.demo", 10_000, job)).ran?.status).toBe("succeeded");
    const refused = await b.runLeased("lease.demo", "lease.demo", 10_000, job);
    expect(refused).toEqual({ until: Date.now() + 10_000 });
    expect((await a.runLeased("lease.demo", "lease.demo", 10_000, job)).ran).toBeUndefined();
    vi.advanceTimersByTime(9_999);
    expect((await b.runLeased("lease.demo", "lease.demo", 10_000, job)).ran).toBeUndefined();
    vi.advanceTimersByTime(1);
    expect((await b.runLeased("lease.demo", "lease.demo", 10_000, job)).ran?.status).toBe("succeeded");
  });

  it("OPS-2, OBS-6: two workers run an hourly job once an hour between them, from its first run on; a process serving HTTP only never runs it", async () => {
    const ran: string[] = [];
    const job = (who: string) => async () => {
      ran.push(who);
      return 1;
    };
    const workers = [node(), node()];
    const httpOnly = node(false);
    // Due first: were it to run background work, it would take every period's lease before the workers.
    httpOnly.schedule("demo.purge", { everyMs: HOUR, firstMs: 30_000 }, job("http"));
    httpOnly.start();
    workers.forEach((w, i) => {
      w.schedule("demo.purge", { everyMs: HOUR, firstMs: 90_000 }, job(`worker${i}`));
    });
    for (const w of workers) w.start();
    const succeeded = (n: number) => async () =>
      expect(await runsOf(httpOnly, "demo.purge", "succeeded")).toHaveLength(n);
    await advance(90_000, succeeded(1));
    // Each hour after the first run (give or take the second of spread between the processes' tries).
    for (const n of [2, 3, 4]) await advance(HOUR + 1_000, succeeded(n));
    expect(ran).toHaveLength(4);
    expect(ran).not.toContain("http");
    await Promise.all([...workers, httpOnly].map((p) => p.stop()));
  });

  it("OPS-2: a run longer than its period keeps its lease, so no other process starts the job meanwhile; stop waits for it", async () => {
    let release = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const started: string[] = [];
    const [a, b] = [node(), node()];
    a.schedule("demo.long", { everyMs: 60_000, firstMs: 1_000 }, async () => {
      started.push("a");
      await gate;
      return 1;
    });
    b.schedule("demo.long", { everyMs: 60_000, firstMs: 2_000 }, async () => {
      started.push("b");
      return 1;
    });
    a.start();
    b.start();
    await advance(1_000, async () => expect(started).toEqual(["a"]));
    // Five periods later A is still at it; B asked every time its lease seemed to end, and was refused.
    await advance(300_000);
    expect(started).toEqual(["a"]);
    await b.stop();
    let stopped = false;
    const stopping = a.stop().then(() => {
      stopped = true;
    });
    await advance(1_000);
    expect(stopped).toBe(false);
    release();
    await stopping;
    const [run] = await runsOf(a, "demo.long");
    expect(run).toMatchObject({ status: "succeeded", rows: 1 });
    expect(run!.duration_ms).toBeGreaterThanOrEqual(300_000);
    expect(started).toEqual(["a"]);
  });

  it("OBS-6, OPS-2: a scheduled job that throws is recorded as failed, and tried again within five minutes, by another process if need be", async () => {
    const [a, b] = [node(), node()];
    let calls = 0;
    const flaky = async () => {
      calls += 1;
      if (calls === 1) throw new Error("storage unreachable");
      return 7;
    };
    a.schedule("demo.flaky", { everyMs: HOUR, firstMs: 1_000 }, flaky);
    a.start();
    const due = Date.now() + 1_000;
    await advance(1_000, async () =>
      expect(await runsOf(a, "demo.flaky")).toMatchObject([
        { status: "failed", error: "storage unreachable", duration_ms: 0 },
      ]),
    );
    // Due at its first run's time (give or take vi.waitFor's few ms of fake time while the database answers).
    const [failed] = await runsOf(a, "demo.flaky");
    expect(failed!.started_at - due).toBeGreaterThanOrEqual(0);
    expect(failed!.started_at - due).toBeLessThan(5_000);
    // A goes away; B, started meanwhile, takes the job over once the failed run's short lease ends.
    await a.stop();
    b.schedule("demo.flaky", { everyMs: HOUR, firstMs: 2_000 }, flaky);
    b.start();
    await advance(301_000, async () =>
      expect(await runsOf(b, "demo.flaky", "succeeded")).toMatchObject([{ rows: 7 }]),
    );
    await b.stop();
  });
});

describe("running as root, and the process roles' flags (OPS-2)", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const production = (env: Record<string, string> = {}) => {
    const dir = mkdtempSync(join(tmpdir(), "bulwark-root-"));
    dirs.push(dir);
    return loadConfig({ ...PRODUCTION_ENV, BULWARK_DATA_DIR: dir, PORT: "0", HOST: "127.0.0.1", ...env });
  };

  it("OPS-2: production refuses to start as root, before it opens anything; BULWARK_ALLOW_ROOT or another user starts", async () => {
    const config = production();
    const refused = start(config, { log: silentLog, uid: 0 });
    await expect(refused).rejects.toThrow(StartError);
    await expect(refused).rejects.toThrow(/refuses to run as root in production/);
    expect(readdirSync(config.dataDir)).toEqual([]);
    for (const [allowed, uid] of [
      [production({ BULWARK_ALLOW_ROOT: "true" }), 0],
      [production(), 1000],
    ] as const) {
      const running = await start(allowed, { log: silentLog, uid });
      expect(running.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      await running.close();
    }
    // Development runs as whoever starts it (a laptop, CI).
    const dev = await start(testConfig({ PORT: "0" }), { log: silentLog, uid: 0 });
    await dev.close();
  });

  it("OPS-2: in production the other commands that open the data refuse root too", async () => {
    const config = production();
    const env = { ...PRODUCTION_ENV, BULWARK_DATA_DIR: config.dataDir, LOG_LEVEL: "silent" };
    let err = "";
    const stderr = { write: (s: string) => (err += s) };
    for (const command of [["migrate"], ["backup"], ["keys", "rotate-data"]])
      expect(await runCli(command, { env, stderr, uid: 0 }), command.join(" ")).toBe(1);
    expect(err).toContain("refuses to run as root in production");
    expect(readdirSync(config.dataDir)).toEqual([]);
    expect(await runCli(["migrate"], { env, stderr, stdout: { write: () => true }, uid: 1000 })).toBe(0);
  });

  it("OPS-2: --no-worker is refused with any command but start", async () => {
    let err = "";
    const stderr = { write: (s: string) => (err += s) };
    for (const command of ["worker", "migrate"])
      expect(await runCli([command, "--no-worker"], { env: { NODE_ENV: "test" }, stderr })).toBe(2);
    expect(err).toContain("--no-worker goes with `bulwark start` only.");
  });
});
