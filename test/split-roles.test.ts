import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Database } from "../src/db/database.js";
import { createUser, login, PG_URL, type TestApp } from "./harness.js";
import { bulwarkProcess, countingReceiver, freePort, setUpApp } from "./process-world.js";
import { needs } from "./services.js";

/**
 * OPS-2: the API and the background work as separate processes on one PostgreSQL database. `bulwark
 * start --no-worker` serves HTTP and takes an app's webhook messages but delivers none and runs no
 * scheduled job, even with WEBHOOK_WORKER on; `bulwark worker` delivers every message once and runs the
 * scheduled jobs (here the re-sealing job, due five seconds after start when DATA_KEYS holds two keys).
 */
const MESSAGES = 300;
const SCHEMA = `bw_t_${randomBytes(6).toString("hex")}`;
const key = () => randomBytes(32).toString("base64");

describe.runIf(needs("postgres"))("the API and the worker as two processes (OPS-2)", () => {
  const env = {
    NODE_ENV: "development",
    BULWARK_SECRET: randomBytes(32).toString("base64url"),
    DATA_KEYS: `k2:${key()},k1:${key()}`,
    DATABASE_URL: PG_URL ?? "",
    DATABASE_SCHEMA: SCHEMA,
    DATABASE_POOL_MAX: "4",
    BULWARK_WEBHOOK_ALLOWLIST: "127.0.0.1",
    CATALOG_EXAMPLE: "false",
    LOG_LEVEL: "warn",
    RATE_LIMIT_KEY_PER_MINUTE: "100000",
    RATE_LIMIT_IP_PER_MINUTE: "100000",
    RATE_LIMIT_ORG_PER_MINUTE: "100000",
  };
  const children: ChildProcessWithoutNullStreams[] = [];
  let receiver: Awaited<ReturnType<typeof countingReceiver>>;
  let world: Awaited<ReturnType<typeof setUpApp>>;
  let app: FastifyInstance;
  let db: Database;
  const bulwark = (args: string[], more: Record<string, string> = {}) => {
    const child = bulwarkProcess(args, { ...env, ...more });
    children.push(child);
    return child;
  };
  const node = (child: ChildProcessWithoutNullStreams) => `${hostname()}:${child.pid}`;
  const jobRuns = () => db.global.selectFrom("job_runs").select(["name", "node", "status"]).execute();

  beforeAll(async () => {
    receiver = await countingReceiver();
    // Set-up (an owner, an organisation, an endpoint, an app's API key) through an app of this process
    // that delivers nothing either.
    world = await setUpApp(env, SCHEMA, { background: false });
    ({ app, db } = world);
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
    await world?.close();
    await receiver?.close();
  });

  it("OPS-2: `start --no-worker` takes the messages and delivers none; `worker` delivers each once and runs the jobs", async () => {
    const t = { app, config: app.bulwark.config, db } as unknown as TestApp;
    await createUser(t, "owner@example.org", "split roles passphrase");
    const o = await login(t, "owner@example.org", "split roles passphrase");
    const owner = { cookie: o.cookie, "x-csrf-token": o.csrf };
    const org = (
      await app.inject({ method: "POST", url: "/v1/orgs", headers: owner, payload: { name: "Split" } })
    ).json().org.id as string;
    const url = receiver.url;
    const made = await app.inject({
      method: "POST",
      url: `/v1/orgs/${org}/webhook-endpoints`,
      headers: owner,
      payload: { url, eventTypes: ["invoice.paid"] },
    });
    expect(made.statusCode, made.body).toBe(201);
    const apiKey = (
      await app.inject({
        method: "POST",
        url: `/v1/orgs/${org}/api-keys`,
        headers: owner,
        payload: { name: "billing", scopes: ["webhooks:write"] },
      })
    ).json().key as string;

    const port = await freePort();
    const api = bulwark(["start", "--no-worker", "--no-migrate"], {
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      WEBHOOK_WORKER: "on",
    });
    const base = `http://127.0.0.1:${port}`;
    await vi.waitFor(
      async () => {
        expect(api.exitCode, "the API process exited").toBeNull();
        expect((await fetch(`${base}/health/live`)).status).toBe(200);
      },
      { timeout: 60_000, interval: 200 },
    );
    const upAt = Date.now();
    const ids = new Set<string>();
    for (let i = 0; i < MESSAGES; i++) {
      const res = await fetch(`${base}/v1/orgs/${org}/webhook-messages`, {
        method: "POST",
        headers: { "x-api-key": apiKey, "content-type": "application/json" },
        body: JSON.stringify({ type: "invoice.paid", data: { n: i } }),
      });
      expect(res.status).toBe(202);
      ids.add(((await res.json()) as { messageId: string }).messageId);
    }
    expect(ids.size).toBe(MESSAGES);
    // Past the re-sealing job's first run (5 s) and ten of a dispatcher's polls (0.5 s): none happened.
    await new Promise((r) => setTimeout(r, Math.max(0, upAt + 7_000 - Date.now())));
    expect(receiver.seen.size, "the HTTP-only process delivered").toBe(0);
    const waiting = await db.global
      .selectFrom("webhook_messages")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("org_id", "=", org)
      .where("type", "=", "invoice.paid")
      .where("fanned_out", "=", 0)
      .executeTakeFirstOrThrow();
    expect(Number(waiting.n)).toBe(MESSAGES);
    expect((await jobRuns()).filter((r) => r.node === node(api))).toEqual([]);

    const worker = bulwark(["worker", "--no-migrate"]);
    await vi.waitFor(
      async () => {
        expect(worker.exitCode, "the worker exited").toBeNull();
        expect(receiver.seen.size).toBe(MESSAGES);
        expect(await jobRuns()).toContainEqual({
          name: "datakeys.reseal",
          node: node(worker),
          status: "succeeded",
        });
      },
      { timeout: 120_000, interval: 200 },
    );
    expect([...receiver.seen.keys()].sort()).toEqual([...ids].sort());
    expect(
      [...receiver.seen.values()].filter((n) => n > 1),
      "delivered twice",
    ).toEqual([]);
    const runs = await jobRuns();
    expect(runs.filter((r) => r.node === node(api))).toEqual([]);
    expect(runs.filter((r) => r.name === "datakeys.reseal")).toHaveLength(1);
    const left = await db.global
      .selectFrom("webhook_deliveries")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("status", "in", ["pending", "sending"])
      .executeTakeFirstOrThrow();
    expect(Number(left.n)).toBe(0);
  }, 240_000);
});
