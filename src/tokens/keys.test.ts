import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { calculateJwkThumbprint, createRemoteJWKSet, exportSPKI, importJWK, jwtVerify, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENGINE, type TestApp, testApp } from "../../test/harness.js";
import { runCli } from "../cli/main.js";
import { signingKeys } from "./cli.js";
import type { SigningKeys } from "./keys.js";
import { PRIVATE_JWK } from "./tables.js";

const ISSUER = "http://localhost:3000";
const AUDIENCE = "http://localhost:3000/v1";
const MINUTE = 60_000;

/** Claims of an access token as Bulwark will issue them, signed at `now` for 15 minutes. */
const claims = (now: number) => ({
  iss: ISSUER,
  aud: AUDIENCE,
  sub: "usr_test",
  iat: Math.floor(now / 1000),
  exp: Math.floor(now / 1000) + 15 * 60,
});

describe(`token signing keys (${ENGINE})`, () => {
  let t: TestApp;
  let now = Date.UTC(2026, 11, 6, 12, 0, 0);
  let keys: SigningKeys;
  const expect_ = { issuer: ISSUER, audience: AUDIENCE };
  const jwks = async () =>
    (await t.app.inject({ url: "/.well-known/jwks.json" })).json().keys as Record<string, string>[];

  beforeAll(async () => {
    t = await testApp();
    // A second node's view of the same keys, on a clock the tests move.
    keys = signingKeys(t.db, t.config, () => now);
    await keys.ensure();
  });
  afterAll(() => t.close());

  it("AUTH-9: the first start publishes a current and a next ES256 key: public parts only, each kid its RFC 7638 thumbprint, private keys sealed", async () => {
    const published = await jwks();
    expect(published).toHaveLength(2);
    for (const k of published) {
      expect(k).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
      expect(k).not.toHaveProperty("d");
      expect(k.kid).toBe(await calculateJwkThumbprint(k, "sha256"));
    }
    const rows = await t.db.global.selectFrom("signing_keys").selectAll().execute();
    expect(rows.map((r) => r.state).sort()).toEqual(["current", "next"]);
    for (const r of rows) {
      expect(r.private_jwk).toMatch(/^v1\./);
      expect(r.private_jwk).not.toContain('"d"');
    }
  });

  it("AUTH-9: a token the current key signs verifies with jose's createRemoteJWKSet against the served JWKS", async () => {
    await t.app.listen({ port: 0, host: "127.0.0.1" });
    const address = t.app.server.address() as { port: number };
    const token = await keys.sign(claims(Date.now()), "at+jwt");
    const remote = createRemoteJWKSet(new URL(`http://127.0.0.1:${address.port}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(token, remote, {
      ...expect_,
      algorithms: ["ES256"],
    });
    expect(payload.sub).toBe("usr_test");
    expect(protectedHeader).toMatchObject({ alg: "ES256", typ: "at+jwt" });
    const current = await t.db.global
      .selectFrom("signing_keys")
      .select("kid")
      .where("state", "=", "current")
      .executeTakeFirstOrThrow();
    expect(protectedHeader.kid).toBe(current.kid);
  });

  it("AUTH-9: alg none, HS256 keyed with the public key, an unknown kid, another issuer or audience are refused", async () => {
    const good = await keys.sign(claims(now), "at+jwt");
    await expect(keys.verify(good, expect_)).resolves.toMatchObject({ sub: "usr_test" });
    const [header, payload] = good.split(".") as [string, string];
    const kid = JSON.parse(Buffer.from(header, "base64url").toString()).kid as string;
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const none = `${b64({ alg: "none", kid, typ: "at+jwt" })}.${payload}.`;
    const publicJwk = (await jwks()).find((k) => k.kid === kid)!;
    const pem = await exportSPKI((await importJWK(publicJwk, "ES256", { extractable: true })) as never);
    const confused = await new SignJWT(claims(now))
      .setProtectedHeader({ alg: "HS256", kid, typ: "at+jwt" })
      .sign(new TextEncoder().encode(pem));
    const stranger = await new SignJWT(claims(now))
      .setProtectedHeader({ alg: "ES256", kid: "not-a-published-key", typ: "at+jwt" })
      .sign((await (await import("jose")).generateKeyPair("ES256")).privateKey);
    for (const forged of [none, confused, stranger])
      await expect(keys.verify(forged, expect_), forged.slice(0, 40)).rejects.toThrow();
    await expect(keys.verify(good, { ...expect_, issuer: "https://evil.example" })).rejects.toThrow(/iss/);
    await expect(keys.verify(good, { ...expect_, audience: "https://other.example" })).rejects.toThrow(/aud/);
  });

  it("AUTH-9: a token verifies until the second it expires, and not at that second (frozen clock)", async () => {
    const token = await keys.sign(claims(now), "at+jwt");
    const exp = (Math.floor(now / 1000) + 15 * 60) * 1000;
    const start = now;
    try {
      now = exp - 1;
      await expect(keys.verify(token, expect_)).resolves.toBeTruthy();
      now = exp;
      await expect(keys.verify(token, expect_)).rejects.toThrow(/exp/);
    } finally {
      now = start;
    }
  });

  it("AUTH-9: after a rotation the next key signs; the previous key's tokens verify through the overlap, not after it", async () => {
    const state = async (st: string) =>
      (
        await t.db.global
          .selectFrom("signing_keys")
          .select("kid")
          .where("state", "=", st)
          .executeTakeFirstOrThrow()
      ).kid;
    const oldCurrent = await state("current");
    const oldNext = await state("next");
    const rotated = await keys.rotate();
    expect(rotated?.kid).toBe(oldNext);
    const after = await keys.sign(claims(now), "at+jwt");
    expect(JSON.parse(Buffer.from(after.split(".")[0]!, "base64url").toString()).kid).toBe(oldNext);
    // Published: the retired key, the one signing, and a new next one.
    const published = keys.jwks().keys.map((k) => k.kid);
    expect(published).toHaveLength(3);
    expect(published).toEqual(expect.arrayContaining([oldCurrent, oldNext, await state("next")]));
    // The overlap is the 15-minute token lifetime plus a minute; a long-lived token shows its end.
    const long = { ...claims(now), exp: Math.floor(now / 1000) + 3600 };
    const stale = await signWithRetired(long);
    now += 16 * MINUTE - 1;
    await expect(keys.verify(stale, expect_)).resolves.toBeTruthy();
    now += 1;
    await expect(keys.verify(stale, expect_)).rejects.toThrow(/signing key/);
    expect(keys.jwks().keys.map((k) => k.kid)).not.toContain(oldCurrent);

    /** A token the retired key signed (as a node that has not seen the rotation yet would). */
    async function signWithRetired(c: object): Promise<string> {
      const row = await t.db.global
        .selectFrom("signing_keys")
        .selectAll()
        .where("kid", "=", oldCurrent!)
        .executeTakeFirstOrThrow();
      const { Sealer } = await import("../crypto/seal.js");
      const jwk = JSON.parse(new Sealer(t.config.dataKeys).open(row.private_jwk, PRIVATE_JWK, row.kid));
      return new SignJWT(c as never)
        .setProtectedHeader({ alg: "ES256", kid: row.kid, typ: "at+jwt" })
        .sign(await importJWK(jwk, "ES256"));
    }
  });

  it("AUTH-9: a key rotates on its own once it has signed for the rotation period (30 days), not before", async () => {
    await keys.load();
    const activated = await t.db.global
      .selectFrom("signing_keys")
      .select(["kid", "activated_at"])
      .where("state", "=", "current")
      .executeTakeFirstOrThrow();
    now = activated.activated_at! + 30 * 24 * 60 * MINUTE - 1;
    expect(await keys.rotateIfDue()).toBe(false);
    now += 1;
    expect(await keys.rotateIfDue()).toBe(true);
    const current = await t.db.global
      .selectFrom("signing_keys")
      .select("kid")
      .where("state", "=", "current")
      .executeTakeFirstOrThrow();
    expect(current.kid).not.toBe(activated.kid);
  });

  it("AUTH-9: nodes starting at once on an empty key table create one current and one next key between them", async () => {
    // As the owner: the server's own role may not delete keys.
    await t.db.asOwner((db) => db.deleteFrom("signing_keys").execute());
    const nodes = Array.from({ length: 4 }, () => signingKeys(t.db, t.config, () => now));
    await Promise.all(nodes.map((n) => n.ensure()));
    const rows = await t.db.global.selectFrom("signing_keys").select(["kid", "state"]).execute();
    expect(rows.map((r) => r.state).sort()).toEqual(["current", "next"]);
    const kids = await Promise.all(
      nodes.map(
        async (n) =>
          JSON.parse(
            Buffer.from((await n.sign(claims(now), "at+jwt")).split(".")[0]!, "base64url").toString(),
          ).kid,
      ),
    );
    expect(new Set(kids).size).toBe(1);
  });
});

// The command on its own SQLite data directory, whatever engine the rest of the run uses.
describe("bulwark keys rotate", () => {
  it("AUTH-9: the command lets the published next key sign and publishes a new next key", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bulwark-keys-"));
    try {
      const env = { NODE_ENV: "development", BULWARK_DATA_DIR: dir, LOG_LEVEL: "silent" };
      let out = "";
      const sink = {
        write: (s: string) => {
          out += s;
        },
      };
      expect(await runCli(["migrate"], { env, stdout: sink, stderr: sink })).toBe(0);
      expect(await runCli(["keys", "rotate"], { env, stdout: sink, stderr: sink }), out).toBe(0);
      const first = /Rotated: (\S+) signs access tokens now; (\S+) is published as the next key\./.exec(out);
      expect(first, out).not.toBeNull();
      out = "";
      expect(await runCli(["keys", "rotate"], { env, stdout: sink, stderr: sink }), out).toBe(0);
      const second = /Rotated: (\S+) signs/.exec(out);
      expect(second?.[1]).toBe(first![2]);
      expect(await runCli(["keys", "spin"], { env, stdout: sink, stderr: sink })).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
