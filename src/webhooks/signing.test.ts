import { readFileSync } from "node:fs";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { newWebhookSecret, secretKey, signedHeaders, signV1 } from "./signing.js";

const vectors = JSON.parse(
  readFileSync(new URL("../../test/vectors/standard-webhooks.json", import.meta.url), "utf8"),
) as { cases: { secret: string; id: string; timestamp: number; body: string; signature: string }[] };

describe("Standard Webhooks signing", () => {
  it.each(vectors.cases.map((c) => [c.id, c] as const))(
    "HOOK-1: test vector %s signs as the standardwebhooks library does",
    (_id, c) => {
      expect(signV1(c.secret, c.id, c.timestamp, c.body)).toBe(c.signature);
      // The reference library agrees with the published vector (so the vector is not ours alone).
      expect(new Webhook(c.secret).sign(c.id, new Date(c.timestamp * 1000), c.body)).toBe(c.signature);
    },
  );

  it("HOOK-1: fresh headers verify with the reference library, and a changed byte does not", () => {
    const secret = newWebhookSecret();
    expect(secretKey(secret)).toHaveLength(32);
    const body = JSON.stringify({ type: "member.role_changed", data: { role: "ADMIN" } });
    const ts = Math.floor(Date.now() / 1000);
    const headers = signedHeaders({ current: secret }, "msg_1", ts, body);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(secret).verify(body.replace("ADMIN", "OWNER"), headers)).toThrow();
  });

  it("HOOK-2: with a previous secret both sign, current first", () => {
    const [current, previous] = [newWebhookSecret(), newWebhookSecret()];
    const ts = Math.floor(Date.now() / 1000);
    const headers = signedHeaders({ current, previous }, "msg_2", ts, "{}");
    expect(headers["webhook-signature"]).toBe(
      `${signV1(current, "msg_2", ts, "{}")} ${signV1(previous, "msg_2", ts, "{}")}`,
    );
    for (const s of [current, previous]) expect(new Webhook(s).verify("{}", headers)).toEqual({});
  });

  it("HOOK-1: a secret that is not whsec_ base64 of 24 to 64 bytes never signs", () => {
    for (const bad of [
      "",
      "whsec_",
      "secret",
      `whsec_${Buffer.alloc(16).toString("base64")}`,
      `whsk_${Buffer.alloc(32).toString("base64")}`,
    ])
      expect(() => signV1(bad, "msg", 1, "{}")).toThrow(/webhook secret/);
  });
});
