import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REDIS_URL, silentLog, type TestDb, testConfig, testDb } from "../../test/harness.js";
import { needs } from "../../test/services.js";
import { buildApp } from "../app.js";
import { PasswordHasher } from "../identity/password.js";
import { IdentityStore } from "../identity/store.js";
import { connectRedis } from "../state/redis.js";

const PW = "two nodes passphrase 1";

describe.runIf(needs("redis"))("session revocation across nodes (Redis)", () => {
  let t: TestDb;
  const nodes: FastifyInstance[] = [];
  const clients: ReturnType<typeof connectRedis>[] = [];
  beforeAll(async () => {
    t = await testDb();
    const config = testConfig({ REDIS_URL: REDIS_URL ?? "" });
    for (let i = 0; i < 2; i++) {
      const redis = connectRedis(config.redisUrl!, silentLog);
      clients.push(redis);
      const app = await buildApp(config, { db: t.db, redis, logStream: { write: () => {} } });
      await app.ready();
      nodes.push(app);
    }
    const now = Date.now();
    await new IdentityStore(t.db.global).createUser({
      id: "usr_01TWONODES0000000000000000",
      email: "nodes@example.org",
      email_verified_at: now,
      password_hash: await new PasswordHasher(config.auth.argon2).hash(PW),
      created_at: now,
      updated_at: now,
    });
  });
  afterAll(async () => {
    for (const n of nodes) await n.close();
    for (const c of clients) c.disconnect();
    await t.cleanup();
  });

  it("OPS-4/AUTH-5: a session revoked on one node is refused by another that had it cached", async () => {
    const [a, b] = nodes as [FastifyInstance, FastifyInstance];
    const res = await a.inject({
      method: "POST",
      url: "/v1/auth/login",
      payload: { email: "nodes@example.org", password: PW },
    });
    const cookie = String(res.headers["set-cookie"]).split(";")[0]!;
    const csrf = res.json().csrfToken as string;
    // Node B serves the session, and now holds it in its cache.
    expect((await b.inject({ url: "/v1/me", headers: { cookie } })).statusCode).toBe(200);
    expect((await b.inject({ url: "/v1/me", headers: { cookie } })).statusCode).toBe(200);
    expect(
      (
        await a.inject({
          method: "POST",
          url: "/v1/auth/logout",
          payload: {},
          headers: { cookie, "x-csrf-token": csrf },
        })
      ).statusCode,
    ).toBe(204);
    // The revocation reaches B over Redis pub/sub (sub-millisecond on loopback; allow up to 500 ms).
    let status = 200;
    for (let i = 0; i < 50 && status === 200; i++) {
      status = (await b.inject({ url: "/v1/me", headers: { cookie } })).statusCode;
      if (status === 200) await new Promise((r) => setTimeout(r, 10));
    }
    expect(status).toBe(401);
  });
});
