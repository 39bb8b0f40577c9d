import { createHash, createPublicKey, verify } from "node:crypto";
import { compactVerify, importJWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  PRODUCTION_ENV,
  type TestApp,
  type TestDb,
  testApp,
  testConfig,
  testDb,
} from "../../test/harness.js";
import { buildApp } from "../app.js";
import { SELF_CHECK_ADDRESS, SELF_CHECK_HEADER, SELF_CHECK_TOKEN } from "../http/self-check.js";

/** RFC 8785 for the values a posture holds (strings, integers, booleans, arrays, objects): written here,
 * independently of the server's own canonicaliser, as a customer's verifier would. */
function jcs(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(jcs).join(",")}]`;
  if (v !== null && typeof v === "object")
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${jcs((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(v);
}

interface SecurityJson {
  product: string;
  profile: string;
  controls: { id: string; title: string; claim: string; settings: Record<string, unknown> }[];
  signature: { hash: string; jws: string; keyId: string; jwk: Record<string, string> };
  history: { at: string; hash: string; previous: string | null; changed: string[] }[];
}

const signedBytes = (doc: SecurityJson): string =>
  jcs({
    product: doc.product,
    profile: doc.profile,
    controls: doc.controls.map(({ id, title, claim, settings }) => ({ id, title, claim, settings })),
  });

/** The published key, from /.well-known/audit-keys.json's C2SP verifier key: name+id+base64(0x01 ‖ key). */
async function publishedKey(t: TestApp): Promise<{ keyId: string; raw: Buffer }> {
  const { keys } = (await t.app.inject({ url: "/.well-known/audit-keys.json", ...HTTPS })).json() as {
    keys: { keyId: string; vkey: string; current: boolean }[];
  };
  const current = keys.find((k) => k.current)!;
  const raw = Buffer.from(current.vkey.split("+").slice(2).join("+"), "base64");
  expect(raw[0]).toBe(0x01);
  return { keyId: current.keyId, raw: raw.subarray(1) };
}

/** As a client over HTTPS would ask (production refuses plain HTTP): the self-checks' in-process marker. */
const HTTPS = { remoteAddress: SELF_CHECK_ADDRESS, headers: { [SELF_CHECK_HEADER]: SELF_CHECK_TOKEN } };

describe.each([
  ["test profile", {}],
  ["production", PRODUCTION_ENV],
])("signed posture (%s)", (_name, env) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp(env);
    await t.app.bulwark.posture.settled();
  });
  afterAll(async () => t.close());

  it("POST-4: the signature on /security.json verifies with jose and node:crypto from the published key, and fails after a one-byte change", async () => {
    const doc = (await t.app.inject({ url: "/security.json", ...HTTPS })).json() as SecurityJson;
    const { keyId, raw } = await publishedKey(t);
    expect(doc.signature.keyId).toBe(keyId);
    const key = await importJWK({ kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") }, "EdDSA");
    const [protectedHeader, empty, signature] = doc.signature.jws.split(".");
    expect(empty).toBe("");
    // As the README says: the payload's base64url between the two dots, then compactVerify.
    const check = (payload: string) =>
      compactVerify(`${protectedHeader}.${Buffer.from(payload).toString("base64url")}.${signature}`, key);

    const bytes = signedBytes(doc);
    const { protectedHeader: header } = await check(bytes);
    expect(header).toEqual({ alg: "EdDSA", kid: keyId, typ: "bulwark-posture+jws" });
    expect(doc.signature.hash).toBe(createHash("sha256").update(bytes).digest("hex"));
    expect(doc.signature.jwk).toEqual({
      kty: "OKP",
      crv: "Ed25519",
      x: raw.toString("base64url"),
      kid: keyId,
    });
    const spki = createPublicKey({
      key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") },
      format: "jwk",
    });
    const input = Buffer.from(`${protectedHeader}.${Buffer.from(bytes).toString("base64url")}`);
    expect(verify(null, input, spki, Buffer.from(signature!, "base64url"))).toBe(true);

    // One byte changed in one claim, or in one setting: the signature no longer verifies.
    const claim = doc.controls[0]!.claim;
    const altered = {
      ...doc,
      controls: [{ ...doc.controls[0]!, claim: `${claim.slice(0, -1)}!` }, ...doc.controls.slice(1)],
    };
    await expect(check(signedBytes(altered))).rejects.toThrow(/signature verification failed/);
    const profiled = { ...doc, profile: doc.profile === "development" ? "developmenT" : "productioN" };
    await expect(check(signedBytes(profiled))).rejects.toThrow(/signature verification failed/);
    const withSetting = doc.controls.findIndex((c) => typeof c.settings.perIpPerMinute === "number");
    const resettled = {
      ...doc,
      controls: doc.controls.map((c, i) =>
        i === withSetting
          ? { ...c, settings: { ...c.settings, perIpPerMinute: Number(c.settings.perIpPerMinute) + 1 } }
          : c,
      ),
    };
    await expect(check(signedBytes(resettled))).rejects.toThrow(/signature verification failed/);
    expect(
      verify(
        null,
        Buffer.from(`${protectedHeader}.${Buffer.from(signedBytes(altered)).toString("base64url")}`),
        spki,
        Buffer.from(signature!, "base64url"),
      ),
    ).toBe(false);
  });

  it("POST-4: the page states the posture's hash and the key it is signed with", async () => {
    const doc = (await t.app.inject({ url: "/security.json", ...HTTPS })).json() as SecurityJson;
    const page = (await t.app.inject({ url: "/security", ...HTTPS })).body;
    expect(page).toContain(`<code>${doc.signature.hash}</code>`);
    expect(page).toContain(`Ed25519 key ${doc.signature.keyId}`);
  });
});

describe("posture history", () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await testDb();
  });
  afterAll(async () => t.cleanup());

  /** Starts the server on the same database with `env`, waits for its posture to be recorded, stops it. */
  const start = async (env: Record<string, string>) => {
    const app = await buildApp(
      testConfig({ BULWARK_SECRET: "posture-history-secret-0123456789abcdef", ...env }),
      {
        db: t.db,
        logStream: { write: (s: string) => void (s.includes("posture") && console.log(s)) },
      },
    );
    await app.ready();
    await app.bulwark.posture.settled();
    const doc = (await app.inject({ url: "/security.json" })).json() as SecurityJson;
    const page = (await app.inject({ url: "/security" })).body;
    const events = await app.bulwark
      .service("audit")
      .query({ log: "platform", action: "posture.changed" }, 10);
    await app.close();
    return { doc, page, events: events.map((e) => JSON.parse(e.entry!)) };
  };

  it("POST-4: changing a setting between two starts records one audit event with the before and after", async () => {
    const first = await start({ RATE_LIMIT_IP_PER_MINUTE: "300" });
    expect(first.events).toHaveLength(1);
    expect(first.events[0]).toMatchObject({
      action: "posture.changed",
      actor: { type: "SYSTEM" },
      before: null,
    });

    const same = await start({ RATE_LIMIT_IP_PER_MINUTE: "300" });
    expect(same.events).toHaveLength(1);

    const changed = await start({ RATE_LIMIT_IP_PER_MINUTE: "120" });
    expect(changed.events).toHaveLength(2);
    const [event] = changed.events;
    const key = "RATE-2 Per key, per address, per user and per organisation";
    expect(Object.keys(event.before.claims)).toEqual([key]);
    expect(Object.keys(event.after.claims)).toEqual([key]);
    // Each changed claim as its canonical JSON, so no setting name is mistaken for a secret and redacted.
    expect(JSON.parse(event.before.claims[key]).settings.perIpPerMinute).toBe(300);
    expect(JSON.parse(event.after.claims[key]).settings.perIpPerMinute).toBe(120);
    expect(event.before.hash).toBe(first.doc.signature.hash);
    expect(event.after.hash).toBe(changed.doc.signature.hash);
    expect(changed.doc.history[0]).toMatchObject({
      hash: changed.doc.signature.hash,
      previous: first.doc.signature.hash,
      changed: [key],
    });
    expect(changed.page).toContain(`<td>${key}</td>`);
  });
});
