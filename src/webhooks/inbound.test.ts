import { Webhook } from "standardwebhooks";
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TestDb, testDb } from "../../test/harness.js";
import { InboundSignatureError, receiveOnce, verifyStandardWebhook, verifyStripe } from "./inbound.js";
import { newWebhookSecret } from "./signing.js";

/** The providers' own libraries sign; Bulwark's helpers verify (HOOK-8). */
describe("inbound webhooks (HOOK-8)", () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await testDb();
  });
  afterAll(() => t.cleanup());

  it("HOOK-8: a Stripe-signed event verifies, and a changed byte, another secret or an old timestamp does not", () => {
    const stripe = new Stripe("sk_test_unused");
    const secret = "whsec_test_inbound_secret";
    const payload = JSON.stringify({ id: "evt_1", type: "invoice.paid", data: { object: { id: "in_1" } } });
    const header = stripe.webhooks.generateTestHeaderString({ payload, secret });
    expect(verifyStripe(secret, header, payload)).toMatchObject({ id: "evt_1", type: "invoice.paid" });
    expect(() => verifyStripe(secret, header, payload.replace("in_1", "in_2"))).toThrow(
      InboundSignatureError,
    );
    expect(() => verifyStripe("whsec_another_secret_entirely", header, payload)).toThrow(
      InboundSignatureError,
    );
    expect(() => verifyStripe(secret, header, payload, Date.now() + 301_000)).toThrow(/tolerance/);
    expect(() => verifyStripe(secret, undefined, payload)).toThrow(/missing/);
    // An empty secret would make an HMAC anyone can compute: refused, never "verified".
    const forged = stripe.webhooks.generateTestHeaderString({ payload, secret: "" });
    expect(() => verifyStripe("", forged, payload)).toThrow(/whsec_/);
  });

  it("HOOK-8: a Standard Webhooks request verifies; a tampered one does not", () => {
    const secret = newWebhookSecret();
    const body = JSON.stringify({ type: "thing.made" });
    const ts = new Date();
    const signature = new Webhook(secret).sign("msg_in_1", ts, body);
    const headers = {
      "webhook-id": "msg_in_1",
      "webhook-timestamp": String(Math.floor(ts.getTime() / 1000)),
      "webhook-signature": `v1,AAAA ${signature}`,
    };
    expect(verifyStandardWebhook(secret, headers, body)).toBe("msg_in_1");
    expect(() => verifyStandardWebhook(secret, { ...headers, "webhook-id": "msg_in_2" }, body)).toThrow(
      InboundSignatureError,
    );
    expect(() => verifyStandardWebhook(secret, headers, `${body} `)).toThrow(InboundSignatureError);
  });

  it("HOOK-8: ten concurrent deliveries of one event run its side effect once", async () => {
    let ran = 0;
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        receiveOnce(t.db, "stripe", "evt_concurrent", async () => {
          ran++;
          await new Promise((r) => setTimeout(r, 20));
          return "done";
        }),
      ),
    );
    expect(ran).toBe(1);
    expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
    expect((await receiveOnce(t.db, "stripe", "evt_concurrent", async () => ran++)).duplicate).toBe(true);
    expect(ran).toBe(1);
  });

  it("HOOK-8: with an organisation, the side effect runs in its scope and may change its tenant data", async () => {
    const orgId = "org_01JF3Q5ZX9R7V2K8H4M6W1B3IN";
    const read = (tx: import("../db/database.js").Db) =>
      tx.selectFrom("webhook_endpoints").select("id").where("org_id", "=", orgId).execute();
    await expect(receiveOnce(t.db, "stripe", "evt_unscoped", read)).rejects.toThrow();
    const scoped = await receiveOnce(t.db, "stripe", "evt_scoped", read, { orgId });
    expect(scoped).toEqual({ duplicate: false, result: [] });
  });

  it("HOOK-8: a side effect that fails records nothing, so the provider's retry runs it", async () => {
    await expect(
      receiveOnce(t.db, "stripe", "evt_fails", async () => {
        throw new Error("downstream down");
      }),
    ).rejects.toThrow("downstream down");
    const retry = await receiveOnce(t.db, "stripe", "evt_fails", async () => "ok");
    expect(retry).toEqual({ duplicate: false, result: "ok" });
  });
});
