import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { catalog } from "../../examples/catalog/index.js";
import { createUser, login, type TestApp, testApp } from "../../test/harness.js";
import { tenant } from "../auth/requirements.js";
import { parseKey } from "./service.js";

type H = Record<string, string>;

/**
 * An app's route that waits, outside any transaction, until the test lets it answer (a first request
 * still in flight: calling a payment provider, say), and fails with a 500 when asked to.
 */
let gate: Promise<void> = Promise.resolve();
let calls = 0;
async function slowRoute(app: FastifyInstance): Promise<void> {
  app.post(
    "/v1/orgs/:orgId/slow-things",
    {
      schema: {
        summary: "Make a slow thing",
        description: "Answers when the test says so.",
        params: Type.Object({ orgId: Type.String() }),
        querystring: Type.Object({ for: Type.Optional(Type.String()) }),
        body: Type.Object({ n: Type.Integer(), fail: Type.Optional(Type.Boolean()) }),
      },
      config: { security: tenant("org:update"), idempotent: true },
    },
    async (req, reply) => {
      // Each request answers with its own number: which answer was stored shows in a replay.
      const mine = ++calls;
      await gate;
      const body = req.body as { n: number; fail?: boolean };
      if (body.fail) throw new Error("boom");
      return reply.code(201).send({ n: body.n, call: mine });
    },
  );
}

describe("idempotency keys (IDEM-1)", () => {
  let t: TestApp;
  let owner: H;
  let other: H;
  let org: string;
  let product: string;
  const post = (url: string, payload: object, key?: string, who: H = owner) =>
    t.app.inject({
      method: "POST",
      url,
      headers: { ...who, ...(key === undefined ? {} : { "idempotency-key": key }) },
      payload,
    });
  const order = (key?: string, quantity = 1, who: H = owner) =>
    post(`/v1/orgs/${org}/orders`, { lines: [{ productId: product, quantity }] }, key, who);
  const orders = async () =>
    (await t.app.inject({ url: `/v1/orgs/${org}/orders`, headers: owner })).json().orders.length as number;

  beforeAll(async () => {
    t = await testApp({}, slowRoute, { extensions: [catalog] });
    await createUser(t, "owner@example.org", "idempotency passphrase");
    await createUser(t, "admin@example.org", "idempotency passphrase");
    const o = await login(t, "owner@example.org", "idempotency passphrase");
    owner = { cookie: o.cookie, "x-csrf-token": o.csrf };
    org = (await post("/v1/orgs", { name: "Idem Inc" })).json().org.id;
    const { OrgStore } = await import("../orgs/store.js");
    const adminId = (
      await t.db.global
        .selectFrom("users")
        .select("id")
        .where("email", "=", "admin@example.org")
        .executeTakeFirstOrThrow()
    ).id;
    await new OrgStore(t.db.global, t.db.engine).addMember(org, adminId, "ADMIN", Date.now());
    const a = await login(t, "admin@example.org", "idempotency passphrase");
    other = { cookie: a.cookie, "x-csrf-token": a.csrf };
    product = (
      await post(`/v1/orgs/${org}/products`, { name: "Tea", sku: "TEA-1", priceCents: 100, stock: 1000 })
    ).json().product.id;
  });
  afterAll(() => t.close());
  afterEach(() => vi.useRealTimers());

  it("IDEM-1: a retry with the same key and body gets the first answer, marked replayed, and creates nothing", async () => {
    const before = await orders();
    const first = await order('"order-retry-1"');
    expect(first.statusCode).toBe(201);
    expect(first.headers["idempotent-replayed"]).toBeUndefined();
    const retry = await order('"order-retry-1"');
    expect(retry.statusCode).toBe(201);
    expect(retry.headers["idempotent-replayed"]).toBe("true");
    expect(retry.headers["content-type"]).toContain("application/json");
    expect(retry.body).toBe(first.body);
    expect(await orders()).toBe(before + 1);
    // Without a key, the same request is two orders.
    await order();
    await order();
    expect(await orders()).toBe(before + 3);
  });

  it("IDEM-1: the same key with another body is refused with 422", async () => {
    expect((await order('"order-422"', 1)).statusCode).toBe(201);
    const other = await order('"order-422"', 2);
    expect(other.statusCode).toBe(422);
    expect(other.json().error.code).toBe("UNPROCESSABLE");
  });

  it("IDEM-1: the same key and body on another query string is another request (422)", async () => {
    expect((await post(`/v1/orgs/${org}/slow-things?for=a`, { n: 9 }, '"query-key"')).statusCode).toBe(201);
    const other = await post(`/v1/orgs/${org}/slow-things?for=b`, { n: 9 }, '"query-key"');
    expect(other.statusCode).toBe(422);
  });

  it("IDEM-1: a retry while the first request is still running gets 409; afterwards, the first answer", async () => {
    let release!: () => void;
    gate = new Promise((r) => {
      release = r;
    });
    const before = calls;
    const first = post(`/v1/orgs/${org}/slow-things`, { n: 1 }, '"slow-1"');
    await vi.waitFor(() => expect(calls).toBeGreaterThan(before));
    const during = await post(`/v1/orgs/${org}/slow-things`, { n: 1 }, '"slow-1"');
    expect(during.statusCode).toBe(409);
    expect(during.json().error.code).toBe("CONFLICT");
    release();
    const answered = await first;
    expect(answered.statusCode).toBe(201);
    const after = await post(`/v1/orgs/${org}/slow-things`, { n: 1 }, '"slow-1"');
    expect(after.body).toBe(answered.body);
    expect(after.headers["idempotent-replayed"]).toBe("true");
  });

  it("IDEM-1: a key is the caller's own: another member's request with the same key runs", async () => {
    const before = await orders();
    await order('"shared-key"');
    const theirs = await order('"shared-key"', 1, other);
    expect(theirs.statusCode).toBe(201);
    expect(theirs.headers["idempotent-replayed"]).toBeUndefined();
    expect(await orders()).toBe(before + 2);
  });

  it("IDEM-1: a 5xx answer is not kept: the retry runs again", async () => {
    gate = Promise.resolve();
    const failed = await post(`/v1/orgs/${org}/slow-things`, { n: 5, fail: true }, '"fails-once"');
    expect(failed.statusCode).toBe(500);
    const n = calls;
    const retry = await post(`/v1/orgs/${org}/slow-things`, { n: 5, fail: true }, '"fails-once"');
    expect(retry.statusCode).toBe(500);
    expect(calls).toBe(n + 1);
  });

  it("IDEM-1: a key that is not a structured-field string is a 400, and the header is published with its expiry", async () => {
    for (const bad of ["no-quotes", '""', `"${"x".repeat(256)}"`, '"tab\there"', '"a" "b"'])
      expect((await order(bad)).statusCode, bad).toBe(400);
    expect(parseKey('"a\\"b"')).toBe('a"b');
    const doc = (await t.app.inject({ url: "/openapi.json" })).json();
    const op = doc.paths["/v1/orgs/{orgId}/orders"].post;
    const header = op.parameters.find((p: { name: string }) => p.name === "idempotency-key");
    expect(header.in).toBe("header");
    expect(header.description ?? header.schema.description).toContain("24 hours");
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(["409", "422"]));
  });
  it("IDEM-1: a claim still unanswered after 5 minutes (its node died) is taken over by the next retry, not before", async () => {
    let releaseFirst!: () => void;
    let releaseSecond!: () => void;
    const start = Date.now();
    vi.useFakeTimers({ toFake: ["Date"], now: start });
    const before = calls;
    gate = new Promise((r) => {
      releaseFirst = r;
    });
    const first = post(`/v1/orgs/${org}/slow-things`, { n: 7 }, '"abandoned-1"');
    await vi.waitFor(() => expect(calls).toBe(before + 1));
    vi.setSystemTime(start + 5 * 60_000 - 1);
    expect((await post(`/v1/orgs/${org}/slow-things`, { n: 7 }, '"abandoned-1"')).statusCode).toBe(409);
    vi.setSystemTime(start + 5 * 60_000);
    gate = new Promise((r) => {
      releaseSecond = r;
    });
    const taken = post(`/v1/orgs/${org}/slow-things`, { n: 7 }, '"abandoned-1"');
    await vi.waitFor(() => expect(calls).toBe(before + 2));
    // The first request, presumed dead, answers while the taker still runs: its answer must not take
    // the taker's claim; the taker's answer is the one kept.
    releaseFirst();
    const late = await first;
    releaseSecond();
    const second = await taken;
    expect(second.statusCode).toBe(201);
    expect(second.json().call).toBe(before + 2);
    expect(late.json().call).toBe(before + 1);
    const replay = await post(`/v1/orgs/${org}/slow-things`, { n: 7 }, '"abandoned-1"');
    expect(replay.headers["idempotent-replayed"]).toBe("true");
    expect(replay.json().call).toBe(before + 2);
  });

  it("IDEM-1: keys expire after 24 hours (frozen clock): a retry past then runs again", async () => {
    // An API key (sessions would expire idle over a day) and this test last (the clock moves on).
    const key = (
      await post(`/v1/orgs/${org}/api-keys`, { name: "idem", scopes: ["orders:write", "orders:read"] })
    ).json().key as string;
    const byKey = { "x-api-key": key };
    const count = async () =>
      (await t.app.inject({ url: `/v1/orgs/${org}/orders`, headers: byKey })).json().orders.length as number;
    const start = Date.now();
    vi.useFakeTimers({ toFake: ["Date"], now: start });
    const before = await count();
    expect((await order('"order-expiry"', 1, byKey)).statusCode).toBe(201);
    vi.setSystemTime(start + 24 * 3_600_000 - 1);
    expect((await order('"order-expiry"', 1, byKey)).headers["idempotent-replayed"]).toBe("true");
    expect(await count()).toBe(before + 1);
    vi.setSystemTime(start + 24 * 3_600_000);
    const again = await order('"order-expiry"', 1, byKey);
    expect(again.statusCode).toBe(201);
    expect(again.headers["idempotent-replayed"]).toBeUndefined();
    expect(await count()).toBe(before + 2);
  });
});
