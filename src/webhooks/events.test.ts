import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createUser, login } from "../../test/harness.js";
import { startSmtpReceiver } from "../../test/smtp.js";
import { Receiver } from "../../test/webhook-receiver.js";
import { type WebhookWorld, webhookWorld } from "../../test/webhook-world.js";

type H = Record<string, string>;

/**
 * Which events reach an organisation's endpoints (HOOK-1): its data changing (the organisation, its
 * members, invitations and API keys) and the app's own, each verified with the reference library.
 */
describe("webhook events", () => {
  let w: WebhookWorld;
  let smtp: Awaited<ReturnType<typeof startSmtpReceiver>>;
  let org: string;
  let rx: Receiver;
  let call: WebhookWorld["call"];
  let endpoint: WebhookWorld["endpoint"];
  const dispatcher = () => w.dispatcher;

  beforeAll(async () => {
    smtp = await startSmtpReceiver();
    w = await webhookWorld("Events Inc", { SMTP_URL: smtp.url });
    ({ org, rx, call, endpoint } = w);
  });
  afterAll(async () => {
    await w.close();
    await smtp.close();
  });
  beforeEach(() => w.reset());

  it("HOOK-1: member, invitation and API key changes reach the endpoint signed, without the key's secret", async () => {
    const { secret } = await endpoint();
    const invited = await call("POST", `/v1/orgs/${org}/invitations`, {
      email: "joiner@example.org",
      role: "MEMBER",
    });
    expect(invited.statusCode, invited.body).toBe(201);
    const mail = await smtp.waitFor("joiner@example.org", /invited/);
    const token = /[?&]token=([A-Za-z0-9_-]+)/.exec(mail.text)![1]!;
    const joinerId = await createUser(w.t, "joiner@example.org", "joiner passphrase for events");
    const j = await login(w.t, "joiner@example.org", "joiner passphrase for events");
    const joiner: H = { cookie: j.cookie, "x-csrf-token": j.csrf };
    expect((await call("POST", "/v1/invitations/accept", { orgId: org, token }, joiner)).statusCode).toBe(
      200,
    );
    expect((await call("PATCH", `/v1/orgs/${org}/members/${joinerId}`, { role: "ADMIN" })).statusCode).toBe(
      200,
    );
    const made = await call("POST", `/v1/orgs/${org}/api-keys`, { name: "ci", scopes: ["audit:read"] });
    expect(made.statusCode, made.body).toBe(201);
    const apiKey = made.json().key as string;
    const keyId = made.json().apiKey.id as string;
    expect((await call("DELETE", `/v1/orgs/${org}/api-keys/${keyId}`)).statusCode).toBeLessThan(300);
    expect((await call("DELETE", `/v1/orgs/${org}/members/${joinerId}`)).statusCode).toBeLessThan(300);
    await dispatcher().drain();
    const types = rx.got.map((r) => {
      const body = new Webhook(secret).verify(r.body, Receiver.headers(r)) as { type: string };
      return body.type;
    });
    expect(types).toEqual(
      expect.arrayContaining([
        "invitation.created",
        "invitation.accepted",
        "member.role_changed",
        "apikey.created",
        "apikey.revoked",
        "member.removed",
      ]),
    );
    // Security events of people (sign-ins) stay in the audit log; the key's secret is in no body.
    expect(types.some((x) => x.startsWith("auth.") || x.startsWith("session."))).toBe(false);
    expect(rx.got.map((r) => r.body).join("\n")).not.toContain(apiKey.slice(-20));
  });

  it("HOOK-1: an app sends its own event with an API key holding webhooks:write, never one of Bulwark's types", async () => {
    const { secret } = await endpoint({ eventTypes: ["invoice.paid"] });
    const key = (
      await call("POST", `/v1/orgs/${org}/api-keys`, { name: "app", scopes: ["webhooks:write"] })
    ).json().key;
    const sent = await call(
      "POST",
      `/v1/orgs/${org}/webhook-messages`,
      { type: "invoice.paid", data: { invoice: "in_1" } },
      { "x-api-key": key },
    );
    expect(sent.statusCode, sent.body).toBe(202);
    const spoof = await call(
      "POST",
      `/v1/orgs/${org}/webhook-messages`,
      { type: "member.removed", data: {} },
      { "x-api-key": key },
    );
    expect(spoof.statusCode).toBe(422);
    await dispatcher().drain();
    expect(rx.got).toHaveLength(1);
    const body = new Webhook(secret).verify(rx.got[0]!.body, Receiver.headers(rx.got[0]!)) as {
      data: unknown;
    };
    expect(body.data).toEqual({ invoice: "in_1" });
    expect(rx.got[0]!.headers["webhook-id"]).toBe(sent.json().messageId);
  });

  it("HOOK-1: the legacy signature pair is sent when the endpoint asks for it, and a test event reaches one endpoint", async () => {
    const made = await endpoint({ legacySignature: true, eventTypes: ["nothing.matches"] });
    const test = await call("POST", `/v1/orgs/${org}/webhook-endpoints/${made.endpoint.id}/test`);
    expect(test.statusCode).toBe(202);
    await dispatcher().drain();
    const got = rx.got[0]!;
    expect(JSON.parse(got.body).type).toBe("webhook.test");
    const { createHmac } = await import("node:crypto");
    const ts = got.headers["x-webhook-timestamp"];
    const key = Buffer.from(made.secret.slice(6), "base64");
    expect(got.headers["x-webhook-signature"]).toBe(
      `sha256=${createHmac("sha256", key).update(`${ts}.${got.body}`).digest("hex")}`,
    );
  });
});
