import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { randomBytes } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Database } from "../src/db/database.js";
import { createUser, login, PG_URL, type TestApp } from "./harness.js";
import { bulwarkProcess, countingReceiver, setUpApp } from "./process-world.js";
import { needs } from "./services.js";

/**
 * HOOK-6 with several workers (OPS-2): two `bulwark worker` processes share one PostgreSQL queue
 * (claims with FOR UPDATE SKIP LOCKED). 10,000 events: every one delivered, none twice (the receiver
 * never fails, so no attempt is retried), nothing left pending.
 */
const EVENTS = 10_000;
const SECRET = randomBytes(32).toString("base64url");
const SCHEMA = `bw_t_${randomBytes(6).toString("hex")}`;

describe.runIf(needs("postgres"))("two webhook workers on one PostgreSQL (HOOK-6)", () => {
  const env = {
    NODE_ENV: "development",
    BULWARK_SECRET: SECRET,
    DATABASE_URL: PG_URL ?? "",
    DATABASE_SCHEMA: SCHEMA,
    DATABASE_POOL_MAX: "6",
    BULWARK_WEBHOOK_ALLOWLIST: "127.0.0.1",
    CATALOG_EXAMPLE: "false",
    LOG_LEVEL: "warn",
  };
  let receiver: Awaited<ReturnType<typeof countingReceiver>>;
  let world: Awaited<ReturnType<typeof setUpApp>>;
  let url = "";
  let app: FastifyInstance;
  let db: Database;
  const workers: ChildProcessWithoutNullStreams[] = [];

  beforeAll(async () => {
    receiver = await countingReceiver();
    url = receiver.url;
    world = await setUpApp(env, SCHEMA);
    ({ app, db } = world);
  });
  afterAll(async () => {
    for (const w of workers) if (w.exitCode === null) w.kill("SIGKILL");
    await world?.close();
    await receiver?.close();
  });

  it("HOOK-6: 10,000 events through two workers: each delivered once, nothing left pending", async () => {
    const t = { app, config: app.bulwark.config, db } as unknown as TestApp;
    await createUser(t, "owner@example.org", "two workers passphrase");
    const o = await login(t, "owner@example.org", "two workers passphrase");
    const owner = { cookie: o.cookie, "x-csrf-token": o.csrf };
    const org = (
      await app.inject({ method: "POST", url: "/v1/orgs", headers: owner, payload: { name: "Two" } })
    ).json().org.id as string;
    const made = await app.inject({
      method: "POST",
      url: `/v1/orgs/${org}/webhook-endpoints`,
      headers: owner,
      payload: { url, eventTypes: ["load.made"] },
    });
    expect(made.statusCode, made.body).toBe(201);
    const hooks = app.bulwark.service("webhooks");
    for (let i = 0; i < EVENTS; i += 1000)
      await db.withOrg(org, (tx) =>
        hooks.enqueue(
          tx,
          org,
          Array.from({ length: 1000 }, (_, k) => ({ type: "load.made", data: { n: i + k } })),
        ),
      );

    for (const name of ["a", "b"])
      workers.push(
        bulwarkProcess(["worker", "--no-migrate"], {
          ...env,
          BULWARK_DATA_DIR: `/tmp/bulwark-worker-${SCHEMA}-${name}`,
        }),
      );
    await vi.waitFor(
      () => {
        for (const w of workers) expect(w.exitCode, "a worker exited").toBeNull();
        expect(receiver.seen.size).toBe(EVENTS);
      },
      { timeout: 240_000, interval: 200 },
    );
    const twice = [...receiver.seen.values()].filter((n) => n > 1).length;
    expect(twice, "deliveries made twice without a failed attempt").toBe(0);
    const rows = await db.global
      .selectFrom("webhook_deliveries")
      .select(["status", (eb) => eb.fn.countAll<number>().as("n")])
      .where("org_id", "=", org)
      .groupBy("status")
      .execute();
    await vi.waitFor(async () => {
      const left = await db.global
        .selectFrom("webhook_deliveries")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("status", "in", ["pending", "sending"])
        .executeTakeFirstOrThrow();
      expect(Number(left.n)).toBe(0);
    });
    expect(rows.length).toBeGreaterThan(0);
    const attempts = await db.withOrg(org, (tx) =>
      tx
        .selectFrom("webhook_attempts")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .executeTakeFirstOrThrow(),
    );
    expect(Number(attempts.n)).toBe(EVENTS);
  }, 300_000);
});
