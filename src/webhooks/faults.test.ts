import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { TestApp } from "../../test/harness.js";
import type { Receiver } from "../../test/webhook-receiver.js";
import { until, type WebhookWorld, webhookWorld } from "../../test/webhook-world.js";
import type { WebhookDispatcher } from "./dispatcher.js";

/** What a receiver, the database or an operator can do to deliveries, and how Bulwark stays whole. */
describe("webhook faults", () => {
  let w: WebhookWorld;
  let t: TestApp;
  let org: string;
  let rx: Receiver;
  let dispatcher: WebhookDispatcher;
  let call: WebhookWorld["call"];
  let deliveries: WebhookWorld["deliveries"];
  const endpoint = async (body: object = {}) => (await w.endpoint(body)).endpoint.id;

  beforeAll(async () => {
    w = await webhookWorld("Faults Inc", {
      WEBHOOK_CONCURRENCY: "3",
      WEBHOOK_ENDPOINT_CONCURRENCY: "2",
      WEBHOOK_TIMEOUT_SECONDS: "5",
    });
    ({ t, org, rx, dispatcher, call, deliveries } = w);
  });
  afterAll(() => w.close());
  beforeEach(() => w.reset());

  it("HOOK-6: 500 messages to 8 endpoints fan out in one round (no statement outgrows the database's limits)", async () => {
    for (let i = 0; i < 8; i++) await endpoint({ eventTypes: ["bulk.made"] });
    const hooks = t.app.bulwark.service("webhooks");
    await t.db.withOrg(org, (tx) =>
      hooks.enqueue(
        tx,
        org,
        Array.from({ length: 500 }, (_, n) => ({ type: "bulk.made", data: { n } })),
      ),
    );
    await dispatcher.fanOut();
    const count = await t.db.global
      .selectFrom("webhook_deliveries")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("org_id", "=", org)
      .where("status", "=", "pending")
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(4000);
  });

  /** A claim of up to 10 deliveries, 2 per endpoint, by a worker already sending what `busy` says. */
  async function claimWith(busy: Map<string, number>) {
    await dispatcher.fanOut();
    const { WebhookStore } = await import("./store.js");
    const now = Date.now();
    return new WebhookStore(t.db.engine).claim(t.db.global, now, now + 60_000, "probe:1", 10, 2, busy);
  }

  it("HOOK-4: a claim with an endpoint partly busy takes only the rest of its share, on either engine", async () => {
    const id = await endpoint();
    for (let i = 0; i < 4; i++) await call("PATCH", `/v1/orgs/${org}`, { name: `Share ${i}` });
    expect(await claimWith(new Map([[id, 1]]))).toHaveLength(1);
  });

  it("HOOK-4: a claim skips an endpoint at its share and takes the others', on either engine", async () => {
    const full = await endpoint();
    const other = await endpoint();
    for (let i = 0; i < 3; i++) await call("PATCH", `/v1/orgs/${org}`, { name: `Full ${i}` });
    const claimed = await claimWith(
      new Map([
        [full, 2],
        [other, 1],
      ]),
    );
    expect(claimed.map((d) => d.endpoint_id)).toEqual([other]);
  });

  it("HOOK-4: one endpoint never gets more deliveries at once than its share, whatever is due", async () => {
    let release!: () => void;
    const held = new Promise<{ status: number }>((r) => {
      release = () => r({ status: 200 });
    });
    rx.answer = () => held;
    await endpoint();
    for (let i = 0; i < 6; i++) await call("PATCH", `/v1/orgs/${org}`, { name: `Faults ${i}` });
    await dispatcher.tick();
    await until(() => rx.got.length === 2);
    await dispatcher.tick();
    await new Promise((r) => setTimeout(r, 100));
    expect(rx.got).toHaveLength(2);
    expect(await deliveries("status=sending")).toHaveLength(2);
    release();
    await dispatcher.drain();
    expect(rx.got).toHaveLength(6);
  });

  it("HOOK-4: a process never sends more deliveries at once than its overall cap, across endpoints", async () => {
    let release!: () => void;
    const held = new Promise<{ status: number }>((r) => {
      release = () => r({ status: 200 });
    });
    rx.answer = () => held;
    for (let i = 0; i < 3; i++) await endpoint();
    for (let i = 0; i < 3; i++) await call("PATCH", `/v1/orgs/${org}`, { name: `Cap ${i}` });
    // Nine deliveries are due, three endpoints could each take two: the process cap (3) holds.
    await dispatcher.tick();
    await until(() => rx.got.length === 3);
    await dispatcher.tick();
    await new Promise((r) => setTimeout(r, 100));
    expect(rx.got).toHaveLength(3);
    expect(await deliveries("status=sending")).toHaveLength(3);
    release();
    await dispatcher.drain();
    expect(rx.got).toHaveLength(9);
  });

  it("HOOK-3: attempts that end together each settle by their own answer: delivered, retried, final", async () => {
    const answers: Record<string, number> = { "/ok": 200, "/busy": 503, "/refused": 400 };
    let release!: () => void;
    const together = new Promise<void>((r) => {
      release = r;
    });
    rx.answer = async (r) => {
      if (rx.got.length === 3) release();
      await together;
      return { status: answers[r.path]! };
    };
    const ids: Record<string, string> = {};
    for (const path of Object.keys(answers)) ids[path] = await endpoint({ url: `${rx.url}${path}` });
    await call("PATCH", `/v1/orgs/${org}`, { name: "Faults Together" });
    await dispatcher.tick();
    await until(async () => (await deliveries("status=sending")).length === 0 && rx.got.length === 3);
    const byEndpoint = async (id: string) => (await deliveries(`endpointId=${id}`))[0]!;
    expect(await byEndpoint(ids["/ok"]!)).toMatchObject({
      status: "succeeded",
      attempts: 1,
      lastError: null,
    });
    expect(await byEndpoint(ids["/busy"]!)).toMatchObject({
      status: "pending",
      attempts: 1,
      lastError: "HTTP 503",
    });
    expect(await byEndpoint(ids["/refused"]!)).toMatchObject({
      status: "dead",
      attempts: 1,
      lastError: "HTTP 400",
    });
    const failures = Object.fromEntries(
      (await call("GET", `/v1/orgs/${org}/webhook-endpoints`))
        .json()
        .endpoints.map((e: { url: string; breaker: { consecutiveFailures: number } }) => [
          new URL(e.url).pathname,
          e.breaker.consecutiveFailures,
        ]),
    );
    expect(failures).toEqual({ "/ok": 0, "/busy": 1, "/refused": 1 });
  });

  it("HOOK-3: a receiver's NUL byte in its answer is recorded, not a delivery stuck for ever", async () => {
    rx.answer = () => ({ status: 200, body: "ok\u0000done" });
    await endpoint();
    await call("PATCH", `/v1/orgs/${org}`, { name: "Faults NUL" });
    await dispatcher.drain();
    const [d] = await deliveries();
    expect(d).toMatchObject({ status: "succeeded", attempts: 1 });
    const { attempts } = (await call("GET", `/v1/orgs/${org}/webhook-deliveries/${d!.id}`)).json();
    expect(attempts[0].response).toBe("ok\uFFFDdone");
  });

  it("HOOK-2: a secret that no longer opens leaves the delivery retried, not claimed for ever; rotating recovers", async () => {
    const id = await endpoint();
    // As if BULWARK_SECRET had changed: the sealed secret is someone else's.
    await t.db.withOrg(org, (tx) =>
      tx
        .updateTable("webhook_endpoints")
        .set({ secret: "v1.AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA" })
        .where("id", "=", id)
        .execute(),
    );
    await call("PATCH", `/v1/orgs/${org}`, { name: "Faults Sealed" });
    await dispatcher.tick();
    await until(async () => (await deliveries())[0]?.status === "pending");
    const [d] = await deliveries();
    expect(d!.attempts).toBe(1);
    expect(d!.lastError).toMatch(/^not sent: /);
    expect(rx.got).toHaveLength(0);
    const rotated = await call("POST", `/v1/orgs/${org}/webhook-endpoints/${id}/rotate-secret`);
    expect(rotated.statusCode).toBe(201);
    expect(rotated.json().endpoint.previousSecretValidUntil).toBeNull();
  });

  it("HOOK-5: a test event or a replay for a disabled endpoint is refused, not accepted and dropped", async () => {
    const id = await endpoint();
    await call("POST", `/v1/orgs/${org}/webhook-endpoints/${id}/test`);
    await dispatcher.drain();
    const [d] = await deliveries();
    await call("PATCH", `/v1/orgs/${org}/webhook-endpoints/${id}`, { enabled: false });
    const test = await call("POST", `/v1/orgs/${org}/webhook-endpoints/${id}/test`);
    expect(test.statusCode).toBe(409);
    const replay = await call("POST", `/v1/orgs/${org}/webhook-deliveries/${d!.id}/replay`);
    expect(replay.statusCode).toBe(409);
    expect(replay.json().error.message).toContain("disabled");
  });
});
