import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { buildApp, bulwarkMigrations } from "../src/app.js";
import { loadConfig } from "../src/config/load.js";
import { Database } from "../src/db/database.js";
import { createUser, login, silentLog, type TestApp } from "./harness.js";
import { Receiver } from "./webhook-receiver.js";

/**
 * HOOK-6 with a real worker process: `bulwark worker` claims a delivery and is killed (SIGKILL) while
 * the request is on its way; the delivery is not lost: once the claim's lease has run out another
 * dispatcher (this process's, its clock past the lease) sends it again, with the same webhook-id.
 */
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SECRET = randomBytes(32).toString("base64url");

describe("a webhook worker killed mid-delivery (HOOK-6)", () => {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-worker-"));
  const env = {
    NODE_ENV: "development",
    BULWARK_DATA_DIR: dir,
    BULWARK_SECRET: SECRET,
    BULWARK_WEBHOOK_ALLOWLIST: "127.0.0.1",
    CATALOG_EXAMPLE: "false",
    LOG_LEVEL: "info",
  };
  let app: FastifyInstance;
  let db: Database;
  let rx: Receiver;
  let skew = 0;

  beforeAll(async () => {
    rx = await new Receiver().start();
    const config = loadConfig({ ...env, NODE_ENV: "test", LOG_LEVEL: "silent", WEBHOOK_WORKER: "off" });
    db = Database.open(config, silentLog);
    await db.migrate({ extra: bulwarkMigrations() });
    await db.refreshTenantTables();
    app = await buildApp(config, { db, logger: silentLog, webhooks: { clock: () => Date.now() + skew } });
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    await db.close();
    await rx.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("HOOK-6: a committed change is delivered even if the worker is SIGKILLed between claim and answer, with the same webhook-id", async () => {
    const t = { app, config: app.bulwark.config, db } as unknown as TestApp;
    await createUser(t, "owner@example.org", "worker test passphrase");
    const o = await login(t, "owner@example.org", "worker test passphrase");
    const owner = { cookie: o.cookie, "x-csrf-token": o.csrf };
    const call = (method: string, url: string, payload?: object) =>
      app.inject({ method: method as "GET", url, headers: owner, ...(payload ? { payload } : {}) });
    const org = (await call("POST", "/v1/orgs", { name: "Worker Inc" })).json().org.id;
    expect(
      (await call("POST", `/v1/orgs/${org}/webhook-endpoints`, { url: `${rx.url}/hook` })).statusCode,
    ).toBe(201);
    // The first request never gets an answer: the worker is killed while waiting for it.
    rx.answer = () => new Promise(() => {});
    expect((await call("PATCH", `/v1/orgs/${org}`, { name: "Worker Renamed" })).statusCode).toBe(200);

    const worker = spawn(process.execPath, ["--import", "./test/run-ts.mjs", "src/cli/index.ts", "worker"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    worker.stdout.on("data", (d: Buffer) => (output += d.toString()));
    worker.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const exited = new Promise((resolve) => worker.once("exit", resolve));
    try {
      await vi.waitFor(
        () => {
          if (worker.exitCode !== null) throw new Error(`worker exited:\n${output}`);
          expect(rx.got, output).toHaveLength(1);
        },
        { timeout: 60_000, interval: 50 },
      );
      expect(output).toContain("Bulwark worker running");
    } finally {
      worker.kill("SIGKILL");
      await exited;
    }
    const first = rx.got[0]!;
    const [claimed] = (await call("GET", `/v1/orgs/${org}/webhook-deliveries`)).json().deliveries;
    // The claim counted as an attempt: a delivery whose workers keep dying still runs out of retries.
    expect(claimed).toMatchObject({ status: "sending", attempts: 1 });

    // Nobody takes the claim over before its lease ends (attempt timeout 10 s + 30 s)…
    rx.answer = () => ({ status: 204 });
    const dispatcher = app.bulwark.service("webhookDispatcher");
    await dispatcher.tick();
    expect(rx.got).toHaveLength(1);
    // …then this process's dispatcher sends it again: same message, same webhook-id.
    skew = 41_000;
    await vi.waitFor(
      async () => {
        await dispatcher.tick();
        expect(rx.got).toHaveLength(2);
      },
      { timeout: 10_000, interval: 50 },
    );
    expect(rx.got[1]!.headers["webhook-id"]).toBe(first.headers["webhook-id"]);
    expect(rx.got[1]!.body).toBe(first.body);
    await vi.waitFor(async () => {
      const [d] = (await call("GET", `/v1/orgs/${org}/webhook-deliveries`)).json().deliveries;
      expect(d).toMatchObject({ status: "succeeded", attempts: 2 });
    });
  }, 120_000);
});
