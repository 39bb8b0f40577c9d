import { Type } from "@sinclair/typebox";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { TestApp } from "../../test/harness.js";
import { Receiver } from "../../test/webhook-receiver.js";
import { until, verifyNow, type WebhookWorld, webhookWorld } from "../../test/webhook-world.js";
import { AppError } from "../http/errors.js";
import type { Extension } from "../orgs/extension.js";
import type { WebhookDispatcher } from "./dispatcher.js";

/** A catalog-like route that records a data event and then fails: its transaction rolls back. */
const failing: Extension = {
  name: "failing",
  routes: (tenant) =>
    tenant.route({
      method: "POST",
      url: "/things",
      action: "org:update",
      schema: {
        summary: "Make a thing",
        description: "Records thing.made, then fails when asked to.",
        body: Type.Object({ fail: Type.Boolean() }),
      },
      handler: async (ctx) => {
        await ctx.audit({ action: "thing.made", entity: { type: "thing", id: "t1" }, after: { n: 1 } });
        if (ctx.body.fail) throw new AppError("CONFLICT", "no");
        return { ok: true };
      },
    }),
};

describe("webhooks", () => {
  let w: WebhookWorld;
  let t: TestApp;
  let org: string;
  let rx: Receiver;
  let dispatcher: WebhookDispatcher;
  let call: WebhookWorld["call"];
  let endpoint: WebhookWorld["endpoint"];
  let now = Date.now();
  const rename = (name: string) => call("PATCH", `/v1/orgs/${org}`, { name });
  const deliveries = (endpointId: string) => w.deliveries(`endpointId=${endpointId}`);
  const detail = async (id: string) => (await call("GET", `/v1/orgs/${org}/webhook-deliveries/${id}`)).json();

  beforeAll(async () => {
    w = await webhookWorld(
      "Hooks Inc",
      {
        WEBHOOK_RETRY_SCHEDULE: "5s,5m,30m",
        WEBHOOK_BREAKER_FAILURES: "3",
        WEBHOOK_BREAKER_COOLDOWN_SECONDS: "60",
        WEBHOOK_TIMEOUT_SECONDS: "2",
      },
      { extensions: [failing], webhooks: { clock: () => now, random: () => 0.5 } },
    );
    ({ t, org, rx, dispatcher, call, endpoint } = w);
  });
  afterAll(() => w.close());
  beforeEach(() => w.reset());

  it("HOOK-1, HOOK-6: a committed change is delivered signed, and the standardwebhooks library verifies it", async () => {
    const { secret } = await endpoint();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect((await rename("Hooks Renamed")).statusCode).toBe(200);
    await dispatcher.drain();
    expect(rx.got).toHaveLength(1);
    const got = rx.got[0]!;
    const body = new Webhook(secret).verify(got.body, Receiver.headers(got)) as {
      type: string;
      data: { before: { name: string }; after: { name: string }; actor: { type: string } };
    };
    expect(body.type).toBe("org.updated");
    expect(body.data.before.name).toBe("Hooks Inc");
    expect(body.data.after.name).toBe("Hooks Renamed");
    expect(body.data.actor.type).toBe("USER");
    expect(got.headers["webhook-id"]).toMatch(/^msg_[0-9A-Z]{26}$/);
    // Another secret does not verify it.
    expect(() =>
      new Webhook(`whsec_${Buffer.alloc(32, 1).toString("base64")}`).verify(got.body, Receiver.headers(got)),
    ).toThrow();
  });

  it("HOOK-1: the secret is sealed in the database and never appears in a log line", async () => {
    const { secret, endpoint: e } = await endpoint();
    const row = await t.db.withOrg(org, (tx) =>
      tx.selectFrom("webhook_endpoints").selectAll().where("id", "=", e.id).executeTakeFirstOrThrow(),
    );
    const key = secret.slice("whsec_".length);
    expect(JSON.stringify(row)).not.toContain(key);
    expect(row.secret).toMatch(/^v1\./);
    expect(t.rawLogs.join("\n")).not.toContain(key);
    const listed = await call("GET", `/v1/orgs/${org}/webhook-endpoints`);
    expect(listed.body).not.toContain(key);
  });

  it("HOOK-6: a change that rolls back sends nothing; the same change committed is delivered", async () => {
    await endpoint({ eventTypes: ["thing.made"] });
    const failed = await call("POST", `/v1/orgs/${org}/things`, { fail: true });
    expect(failed.statusCode).toBe(409);
    await dispatcher.drain();
    expect(rx.got).toHaveLength(0);
    const messages = await t.db.global
      .selectFrom("webhook_messages")
      .select("id")
      .where("org_id", "=", org)
      .where("type", "=", "thing.made")
      .execute();
    expect(messages).toHaveLength(0);
    expect((await call("POST", `/v1/orgs/${org}/things`, { fail: false })).statusCode).toBe(200);
    await dispatcher.drain();
    expect(rx.got.map((r) => JSON.parse(r.body).type)).toEqual(["thing.made"]);
  });

  it("HOOK-6: a delivery claimed by a worker that died is sent again after its lease, with the same webhook-id", async () => {
    const { secret } = await endpoint();
    rx.answer = () => ({ status: 200 });
    await rename("Hooks Lease");
    // Another worker fans out and claims the delivery, then dies before sending it.
    await dispatcher.fanOut();
    const { WebhookStore } = await import("./store.js");
    const store = new WebhookStore(t.db.engine);
    const claimed = await store.claim(t.db.global, now, now + 32_000, "dead-worker:1", 10, 4);
    expect(claimed).toHaveLength(1);
    await dispatcher.tick();
    expect(rx.got).toHaveLength(0);
    now += 32_000;
    await dispatcher.drain();
    expect(rx.got).toHaveLength(1);
    expect(rx.got[0]!.headers["webhook-id"]).toBe(claimed[0]!.message_id);
    verifyNow(secret, rx.got[0]!);
  });

  it("HOOK-2: after a rotation both the new and the previous secret verify, until the grace period ends", async () => {
    const made = await endpoint();
    const rotated = await call("POST", `/v1/orgs/${org}/webhook-endpoints/${made.endpoint.id}/rotate-secret`);
    expect(rotated.statusCode).toBe(201);
    const { secret: next, endpoint: after } = rotated.json();
    expect(next).not.toBe(made.secret);
    expect(Date.parse(after.previousSecretValidUntil) - now).toBe(7 * 86_400_000);
    await rename("Hooks Rotated");
    await dispatcher.drain();
    const got = rx.got[0]!;
    expect(String(got.headers["webhook-signature"]).split(" ")).toHaveLength(2);
    new Webhook(next).verify(got.body, Receiver.headers(got));
    new Webhook(made.secret).verify(got.body, Receiver.headers(got));
    // Past the grace period the previous secret no longer signs.
    now += 7 * 86_400_000;
    await rename("Hooks Later");
    await dispatcher.drain();
    const later = rx.got[1]!;
    expect(String(later.headers["webhook-signature"]).split(" ")).toHaveLength(1);
    expect(() => new Webhook(made.secret).verify(later.body, Receiver.headers(later))).toThrow();
    expect(() => verifyNow(next, later)).not.toThrow();
  });

  it("HOOK-3: retries follow the schedule with a frozen clock, every attempt is recorded, then the delivery is dead-lettered and replayable", async () => {
    const made = await endpoint();
    rx.answer = () => ({ status: 503, body: "busy".repeat(2000) });
    await rename("Hooks Retry");
    await dispatcher.tick();
    await settle();
    const [d] = await deliveries(made.endpoint.id);
    expect(d!.attempts).toBe(1);
    // Waits of 5 s, 5 min and 30 min, at the midpoint of the jitter.
    for (const wait of [5_000, 300_000, 1_800_000]) {
      const due = Date.parse((await deliveries(made.endpoint.id))[0]!.nextAttemptAt!);
      expect(due - now).toBe(wait);
      now = due - 1;
      await dispatcher.tick();
      await settle();
      const before = rx.got.length;
      now = due;
      await dispatcher.tick();
      await settle();
      expect(rx.got.length).toBe(before + 1);
    }
    const [dead] = await deliveries(made.endpoint.id);
    expect(dead!.status).toBe("dead");
    expect(dead!.attempts).toBe(4);
    const { attempts } = await detail(dead!.id);
    expect(attempts).toHaveLength(4);
    expect(attempts[0].status).toBe(503);
    expect(attempts[0].response).toHaveLength(4096);
    expect(
      (await call("GET", `/v1/orgs/${org}/webhook-deliveries?status=dead`))
        .json()
        .deliveries.map((x: { id: string }) => x.id),
    ).toContain(dead!.id);
    // Four failures opened the endpoint's breaker (threshold 3): the replay goes out as its probe, once
    // the cooldown is over, with the same webhook-id.
    now += 60_000;
    rx.answer = () => ({ status: 200 });
    const replayed = await call("POST", `/v1/orgs/${org}/webhook-deliveries/${dead!.id}/replay`);
    expect(replayed.statusCode).toBe(202);
    await dispatcher.drain();
    expect(rx.got.at(-1)!.headers["webhook-id"]).toBe(dead!.messageId);
    expect((await deliveries(made.endpoint.id))[0]!.status).toBe("succeeded");
    // A delivery on its way cannot be replayed.
    const again = await call("POST", `/v1/orgs/${org}/webhook-deliveries/${dead!.id}/replay`);
    expect(again.statusCode).toBe(202);
    const twice = await call("POST", `/v1/orgs/${org}/webhook-deliveries/${dead!.id}/replay`);
    expect(twice.statusCode).toBe(409);
    expect(twice.json().error.code).toBe("CONFLICT");
    await dispatcher.drain();
  });

  it("HOOK-3: a 4xx other than 429 is final; a 429's Retry-After is honoured over a shorter wait", async () => {
    const made = await endpoint();
    rx.answer = () => ({ status: 400 });
    await rename("Hooks 400");
    await dispatcher.drain();
    expect((await deliveries(made.endpoint.id))[0]).toMatchObject({ status: "dead", attempts: 1 });
    now += 1_000; // deliveries list newest first: this one must be newer
    rx.answer = () => ({ status: 429, headers: { "retry-after": "120" } });
    await rename("Hooks 429");
    await dispatcher.tick();
    await settle();
    const [limited] = await deliveries(made.endpoint.id);
    expect(limited!.status).toBe("pending");
    expect(Date.parse(limited!.nextAttemptAt!) - now).toBe(120_000);
    rx.answer = () => ({ status: 200 });
    now += 120_000;
    await dispatcher.drain();
  });

  it("HOOK-5: a 410 Gone disables the endpoint until it is enabled by hand", async () => {
    const made = await endpoint();
    rx.answer = () => ({ status: 410 });
    await rename("Hooks Gone");
    await dispatcher.drain();
    const [e] = (await call("GET", `/v1/orgs/${org}/webhook-endpoints`)).json().endpoints;
    expect(e).toMatchObject({ enabled: false, disabledReason: "gone" });
    await rename("Hooks Gone Again");
    await dispatcher.drain();
    expect(rx.got).toHaveLength(1);
    const enabled = await call("PATCH", `/v1/orgs/${org}/webhook-endpoints/${made.endpoint.id}`, {
      enabled: true,
    });
    expect(enabled.json()).toMatchObject({ enabled: true, disabledReason: null });
  });

  it("HOOK-5: the breaker opens after consecutive failures, waits its cooldown, probes once, and closes on success", async () => {
    const made = await endpoint();
    rx.answer = () => ({ status: 500 });
    for (const n of [1, 2, 3]) {
      await rename(`Hooks Breaker ${n}`);
      await dispatcher.tick();
      await settle();
    }
    const state = async () =>
      (await call("GET", `/v1/orgs/${org}/webhook-endpoints`)).json().endpoints[0].breaker;
    const open = await state();
    expect(open).toMatchObject({ state: "open", consecutiveFailures: 3 });
    expect(Date.parse(open.until) - now).toBe(60_000);
    // Retries due within the cooldown do not reach the receiver.
    const sent = rx.got.length;
    now += 5_000;
    await dispatcher.tick();
    await settle();
    expect(rx.got.length).toBe(sent);
    // After the cooldown one probe goes out; it succeeds and the breaker closes.
    rx.answer = () => ({ status: 200 });
    now += 55_000;
    await dispatcher.tick();
    await settle();
    expect(rx.got.length).toBe(sent + 1);
    expect(await state()).toMatchObject({ state: "closed", consecutiveFailures: 0 });
    // The deliveries that waited for the probe go out at their next turn.
    now += 600_000;
    await dispatcher.drain();
    expect((await deliveries(made.endpoint.id)).every((d) => d.status === "succeeded")).toBe(true);
  });

  it("HOOK-4: a receiver that hangs holds its own slot until the timeout while another endpoint is served", async () => {
    const slow = new Receiver();
    await slow.start();
    let release!: () => void;
    const hung = new Promise<{ status: number }>((resolve) => {
      release = () => resolve({ status: 200 });
    });
    slow.answer = () => hung;
    try {
      await call("POST", `/v1/orgs/${org}/webhook-endpoints`, { url: `${slow.url}/slow` });
      await endpoint();
      await rename("Hooks Slow");
      await dispatcher.tick();
      // The fast endpoint is answered while the slow one still has no answer.
      await until(() => rx.got.length === 1 && slow.got.length === 1);
      await until(
        async () =>
          (await call("GET", `/v1/orgs/${org}/webhook-deliveries?status=succeeded`)).json().deliveries
            .length > 0,
      );
      const pending = (await call("GET", `/v1/orgs/${org}/webhook-deliveries?status=sending`)).json()
        .deliveries;
      expect(pending).toHaveLength(1);
      // The slow attempt ends at the timeout (2 s here) with an error, not an answer.
      await until(
        async () =>
          (await call("GET", `/v1/orgs/${org}/webhook-deliveries?status=sending`)).json().deliveries
            .length === 0,
        5_000,
      );
      const [timedOut] = (await call("GET", `/v1/orgs/${org}/webhook-deliveries?status=pending`)).json()
        .deliveries;
      expect(timedOut.lastError).toBe("no answer within 2 s");
    } finally {
      release();
      await slow.close();
    }
  });

  /** Lets deliveries started by a tick finish. */
  async function settle() {
    await until(
      async () =>
        (await call("GET", `/v1/orgs/${org}/webhook-deliveries?status=sending`)).json().deliveries.length ===
        0,
    );
  }
});
