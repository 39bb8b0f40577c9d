import { randomBytes } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createUser, login, REDIS_URL, type TestApp, testApp } from "../../test/harness.js";
import type { Mail } from "../mail/mailer.js";

const PW = "quota passphrase 42";
/** Mid-December 2026, UTC: the month ends in 16 days. */
const DEC_15 = Date.UTC(2026, 11, 15, 12);
const JAN_1 = Date.UTC(2027, 0, 1);

/**
 * Two nodes: two apps on one database and, with TEST_REDIS_URL, one Redis (the same key prefix). Without
 * Redis each node counts on its own, so the cross-node steps use one node there.
 */
describe("monthly usage quotas", () => {
  const mails: Mail[] = [];
  const mailer = { send: async (m: Mail) => void mails.push(m) };
  const env = {
    QUOTAS: "api_requests=1000000,tokens=100",
    REDIS_PREFIX: `bw_t_${randomBytes(6).toString("hex")}:`,
  };
  let a: TestApp;
  let b: FastifyInstance;
  let key: string;
  let org: string;

  beforeAll(async () => {
    a = await testApp(env, undefined, { mailer });
    const { buildApp } = await import("../app.js");
    const { connectRedis } = await import("../state/redis.js");
    const { silentLog } = await import("../../test/harness.js");
    const redis = REDIS_URL ? connectRedis(REDIS_URL, silentLog) : undefined;
    b = await buildApp(a.config, {
      db: a.db,
      mailer,
      ...(redis ? { redis } : {}),
      logStream: { write: () => {} },
    });
    b.addHook("onClose", async () => redis?.disconnect());
    await b.ready();
    await createUser(a, "owner@example.org", PW);
    const adminId = await createUser(a, "admin@example.org", PW);
    const s = await login(a, "owner@example.org", PW);
    const owner = { cookie: s.cookie, "x-csrf-token": s.csrf };
    org = (
      await a.app.inject({ method: "POST", url: "/v1/orgs", headers: owner, payload: { name: "Metered" } })
    ).json().org.id;
    const { OrgStore } = await import("../orgs/store.js");
    await new OrgStore(a.db.global, a.db.engine).addMember(org, adminId, "ADMIN", Date.now());
    key = (
      await a.app.inject({
        method: "POST",
        url: `/v1/orgs/${org}/api-keys`,
        headers: owner,
        payload: { name: "meter", scopes: ["usage:record", "org:read"] },
      })
    ).json().key;
  });
  afterAll(async () => {
    vi.useRealTimers();
    await b.close();
    await a.close();
  });

  const record = (node: FastifyInstance, quantity: number) =>
    node.inject({
      method: "POST",
      url: `/v1/orgs/${org}/usage`,
      headers: { "x-api-key": key },
      payload: { unit: "tokens", quantity },
    });
  const notices = (pct: string) =>
    mails.filter((m) => m.subject.includes(pct) || (pct === "100" && m.subject.includes("used up")));

  it("RATE-6: the 80 % and 100 % mails go out exactly once each per month across two nodes; past 100 % is refused; the count resets on the 1st", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: DEC_15 });
    const other = REDIS_URL ? b : a.app;
    expect((await record(a.app, 40)).json()).toMatchObject({ used: 40, allowance: 100 });
    // Concurrent units from both nodes cross 80 %: one crossing, one notice (per recipient).
    const burst = await Promise.all(Array.from({ length: 8 }, (_, i) => record(i % 2 ? other : a.app, 5)));
    expect(burst.every((r) => r.statusCode === 200)).toBe(true);
    await a.app.bulwark.service("quotas").settled();
    await b.bulwark.service("quotas").settled();
    expect(
      notices("80 %")
        .map((m) => m.to)
        .sort(),
    ).toEqual(["admin@example.org", "owner@example.org"]);
    expect((await record(other, 20)).json().used).toBe(100);
    await a.app.bulwark.service("quotas").settled();
    await b.bulwark.service("quotas").settled();
    expect(
      notices("100")
        .map((m) => m.to)
        .sort(),
    ).toEqual(["admin@example.org", "owner@example.org"]);
    const refused = await record(a.app, 1);
    expect(refused.statusCode).toBe(429);
    expect(refused.json().error.code).toBe("QUOTA_EXCEEDED");
    expect(Number(refused.headers["retry-after"])).toBe((JAN_1 - DEC_15) / 1000);
    expect((await record(other, 1)).statusCode).toBe(429);
    // The refusals gave their units back: still exactly the allowance, and no third mail.
    const usage = await a.app.inject({ url: `/v1/orgs/${org}/usage`, headers: { "x-api-key": key } });
    expect(usage.json().units.find((u: { unit: string }) => u.unit === "tokens").used).toBe(100);
    expect(mails.filter((m) => m.subject.includes("quota"))).toHaveLength(4);

    vi.setSystemTime(JAN_1 - 1);
    expect((await record(a.app, 1)).statusCode).toBe(429);
    vi.setSystemTime(JAN_1);
    const fresh = await record(other, 80);
    expect(fresh.json()).toMatchObject({ used: 80 });
    await a.app.bulwark.service("quotas").settled();
    await b.bulwark.service("quotas").settled();
    // A new month: its own 80 % notice, once.
    expect(notices("80 %")).toHaveLength(4);
  });

  it("RATE-6: usage refused short of 100 % (metered in chunks) still tells the owners, once; a quantity must be a whole number", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: Date.UTC(2027, 2, 10) });
    const before = mails.filter((m) => m.subject.includes("used up")).length;
    // One oversized request on a fresh month is refused, and tells nobody it is used up.
    expect((await record(a.app, 1000)).statusCode).toBe(429);
    await a.app.bulwark.service("quotas").settled();
    expect(mails.filter((m) => m.subject.includes("used up")).length).toBe(before);
    const sizes: number[] = [];
    for (let i = 0; i < 5; i++) sizes.push((await record(a.app, 30)).statusCode);
    expect(sizes).toEqual([200, 200, 200, 429, 429]);
    await a.app.bulwark.service("quotas").settled();
    expect(mails.filter((m) => m.subject.includes("used up")).length - before).toBe(2);
    const quotas = a.app.bulwark.service("quotas");
    await expect(quotas.meter(org, "tokens", Number.NaN)).rejects.toThrow(RangeError);
    await expect(quotas.meter(org, "tokens", -5)).rejects.toThrow(RangeError);
  });

  it("RATE-6: API requests are metered per organisation; a platform admin's allowance replaces the configured one", async () => {
    // February: a month of its own (December's and January's requests counted in theirs).
    vi.useFakeTimers({ toFake: ["Date"], now: Date.UTC(2027, 1, 10) });
    await a.app.bulwark.service("quotas").set(org, "api_requests", { allowance: 3, mode: "refuse" });
    const read = () =>
      a.app.inject({ url: `/v1/orgs/${org}`, headers: { "x-api-key": key } }).then((r) => r.statusCode);
    expect([await read(), await read(), await read(), await read()]).toEqual([200, 200, 200, 429]);
    expect(
      (await a.app.inject({ url: "/security.json" }))
        .json()
        .controls.find((c: { id: string }) => c.id === "RATE-6"),
    ).toBeDefined();
  });
});
