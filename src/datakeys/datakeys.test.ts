import { createCipheriv, hkdfSync, randomBytes } from "node:crypto";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import * as OTPAuth from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createUser,
  ENGINE,
  login,
  PRODUCTION_ENV,
  type TestApp,
  type TestDb,
  testConfig,
  testDb,
} from "../../test/harness.js";
import { buildApp, bulwarkMigrations } from "../app.js";
import { ConfigError, loadConfig } from "../config/load.js";
import { type SealedField, Sealer } from "../crypto/seal.js";
import { enableTenantRls, grantApp } from "../db/migrations.js";
import { TOTP_SEED } from "../mfa/tables.js";
import type { Extension } from "../orgs/extension.js";
import { connectRedis } from "../state/redis.js";
import { newId } from "../util/ids.js";
import { PREVIOUS_SECRET, SECRET } from "../webhooks/tables.js";
import { rotateData } from "./cli.js";

declare module "bulwark" {
  interface Actions {
    "vault:write": true;
  }
}

const key = (id: string) => `${id}:${randomBytes(32).toString("base64")}`;
const K1 = key("k1");
const K2 = key("k2");
const PW = "correct horse battery staple";
/** One root secret for every configuration here: the key it derives (v1) must stay the same. */
/** An app's own sealed column, through the extension API (`TenantContext.seal` / `open`). */
const VAULT: SealedField = { table: "vault_items", column: "token_sealed", rowKey: "id", tenant: true };
const vault: Extension = {
  name: "vault",
  actions: { "vault:write": ["ADMIN", "MEMBER"] },
  sealedFields: [VAULT],
  migrations: (ctx) => ({
    vault_0001_items: {
      async up(db) {
        await db.schema
          .createTable("vault_items")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("org_id", "text", (c) => c.notNull())
          .addColumn("token_sealed", "text", (c) => c.notNull())
          .execute();
        await enableTenantRls(db, ctx, "vault_items");
        await grantApp(db, ctx, "vault_items", ["SELECT", "INSERT", "UPDATE"]);
      },
    },
  }),
  routes: (tenant) => {
    tenant.route({
      method: "POST",
      url: "/vault",
      action: "vault:write",
      status: 201,
      schema: {
        summary: "Keep a third party's token",
        body: Type.Object({ token: Type.String({ maxLength: 200 }) }),
        response: { 201: Type.Object({ id: Type.String() }) },
      },
      async handler({ tx, body, orgId, now, seal }) {
        const id = newId("vlt", now);
        await tx
          .insertInto("vault_items" as never)
          .values({ id, org_id: orgId, token_sealed: seal(body.token, VAULT, id) } as never)
          .execute();
        return { id };
      },
    });
    tenant.route({
      method: "GET",
      url: "/vault/:id",
      action: "vault:write",
      schema: {
        summary: "Read a token back",
        params: Type.Object({ id: Type.String({ maxLength: 40 }) }),
        response: { 200: Type.Object({ token: Type.String() }) },
      },
      async handler({ tx, params, open }) {
        const row = (await tx
          .selectFrom("vault_items" as never)
          .select(["token_sealed"] as never)
          .where("id" as never, "=", params.id as never)
          .executeTakeFirstOrThrow()) as { token_sealed: string };
        return { token: open(row.token_sealed, VAULT, params.id) };
      },
    });
  },
};
const BASE = { BULWARK_SECRET: PRODUCTION_ENV.BULWARK_SECRET!, BULWARK_WEBHOOK_ALLOWLIST: "127.0.0.1" };

/**
 * Field encryption over stored data (DATA-1), through the server's start-up, its services and
 * `bulwark keys rotate-data`, on one database that several configurations open in turn.
 */
describe(`DATA-1 field encryption (${ENGINE})`, { timeout: 60_000 }, () => {
  let d: TestDb;
  const seeds = new Map<string, string>();
  let endpoint = { orgId: "", id: "", secret: "" };
  let item = { id: "", token: "third-party-token-0123456789" };
  let headersOf: (t: TestApp) => Promise<Record<string, string>>;

  beforeAll(async () => {
    d = await testDb(bulwarkMigrations([vault]));
  });
  afterAll(async () => {
    await d?.cleanup();
  });

  /** The server on the shared database with `env`; `fn` runs against it, then it closes. */
  async function served<T>(env: Record<string, string>, fn: (t: TestApp) => Promise<T>): Promise<T> {
    const config = testConfig({ ...BASE, ...env });
    const redis = config.redisUrl ? connectRedis(config.redisUrl, undefined as never) : undefined;
    let app: FastifyInstance | undefined;
    try {
      app = await buildApp(config, { db: d.db, extensions: [vault], ...(redis ? { redis } : {}) });
      await app.ready();
      return await fn({ app, config, db: d.db, logs: [], rawLogs: [], close: async () => {} });
    } finally {
      await app?.close();
      redis?.disconnect();
    }
  }

  /** A user who started TOTP enrolment (the seed is stored sealed); its seed kept to check it later. */
  async function enrolled(t: TestApp, email: string): Promise<string> {
    const id = await createUser(t, email, PW);
    const { secret } = await t.app.bulwark.service("mfa").startEnrolment(id, email);
    seeds.set(id, secret);
    return id;
  }

  /** Every sealed value of the database, by `table.column/row`. */
  async function sealedValues(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const r of await d.db.global
      .selectFrom("mfa_totp")
      .select(["principal_id", "secret_sealed"])
      .execute())
      out.set(`mfa_totp/${r.principal_id}`, r.secret_sealed);
    for (const r of await d.db.global.selectFrom("signing_keys").select(["kid", "private_jwk"]).execute())
      out.set(`signing_keys/${r.kid}`, r.private_jwk);
    await d.db.withOrg(endpoint.orgId, async (tx) => {
      for (const r of await tx
        .selectFrom("webhook_endpoints")
        .select(["id", "secret", "previous_secret"])
        .execute()) {
        out.set(`webhook_endpoints.secret/${r.id}`, r.secret);
        if (r.previous_secret) out.set(`webhook_endpoints.previous_secret/${r.id}`, r.previous_secret);
      }
      const items = (await tx
        .selectFrom("vault_items" as never)
        .select(["id", "token_sealed"] as never)
        .execute()) as { id: string; token_sealed: string }[];
      for (const r of items) out.set(`vault_items/${r.id}`, r.token_sealed);
    });
    return out;
  }

  it("DATA-1: values sealed under the key BULWARK_SECRET derives, then under DATA_KEYS, carry their key's id", async () => {
    // Before DATA_KEYS: the derived key v1. One seed as this release seals it, one as the previous one
    // did (bound to the owner's id alone; its format reproduced here, as stored by that release).
    await served({}, async (t) => {
      await enrolled(t, "legacy@example.org");
      const id = await createUser(t, "older@example.org", PW);
      const seed = new OTPAuth.Secret({ size: 20 }).base32;
      const key = Buffer.from(hkdfSync("sha256", BASE.BULWARK_SECRET, "bulwark", "field-encryption/v1", 32));
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", key, iv);
      cipher.setAAD(Buffer.from(id));
      const ct = Buffer.concat([cipher.update(seed, "utf8"), cipher.final()]);
      const sealed = ["v1", iv, ct, cipher.getAuthTag()].map((p) =>
        typeof p === "string" ? p : p.toString("base64url"),
      );
      await d.db.global
        .insertInto("mfa_totp")
        .values({
          principal_id: id,
          secret_sealed: sealed.join("."),
          confirmed_at: null,
          last_step: 0,
          created_at: Date.now(),
        })
        .execute();
      seeds.set(id, seed);
    });
    // The derived key alone is no longer enough once DATA_KEYS is set: it must be listed to open v1.
    await expect(served({ DATA_KEYS: K1 }, async () => {})).rejects.toThrow(
      /sealed under key "v1", which DATA_KEYS does not hold/,
    );
    await served({ DATA_KEYS: `${K1},v1` }, async (t) => {
      await enrolled(t, "one@example.org");
      await enrolled(t, "two@example.org");
      const owner = await createUser(t, "owner@example.org", PW);
      const s = await login(t, "owner@example.org", PW);
      const headers = { cookie: s.cookie, "x-csrf-token": s.csrf };
      const org = await t.app.inject({
        method: "POST",
        url: "/v1/orgs",
        headers,
        payload: { name: "Sealed Co" },
      });
      expect(org.statusCode, org.body).toBe(201);
      const orgId = org.json().org.id as string;
      const created = await t.app.inject({
        method: "POST",
        url: `/v1/orgs/${orgId}/webhook-endpoints`,
        headers,
        payload: { url: "http://127.0.0.1:9/hook" },
      });
      expect(created.statusCode, created.body).toBe(201);
      const id = created.json().endpoint.id as string;
      // A rotation leaves the previous secret sealed beside the new one.
      const rotated = await t.app.inject({
        method: "POST",
        url: `/v1/orgs/${orgId}/webhook-endpoints/${id}/rotate-secret`,
        headers,
      });
      expect(rotated.statusCode, rotated.body).toBe(201);
      endpoint = { orgId, id, secret: rotated.json().secret };
      // The app keeps a third party's token through the extension API: stored sealed, read back whole.
      const kept = await t.app.inject({
        method: "POST",
        url: `/v1/orgs/${orgId}/vault`,
        headers,
        payload: { token: item.token },
      });
      expect(kept.statusCode, kept.body).toBe(201);
      item = { ...item, id: kept.json().id };
      headersOf = async (other) => {
        const again = await login(other, "owner@example.org", PW);
        return { cookie: again.cookie, "x-csrf-token": again.csrf };
      };
      expect(owner).toBeTruthy();
    });
    // The first start's signing keys and seed under v1; the rest (two seeds, two webhook secrets) under k1.
    const sealed = await sealedValues();
    const legacy = [...seeds.keys()][0]!;
    expect(sealed.get(`mfa_totp/${legacy}`)).toMatch(/^v1\./);
    const ids = [...sealed.values()].map((v) => v.split(".")[0]);
    expect(ids.filter((id) => id === "v1")).toHaveLength(4);
    expect(ids.filter((id) => id === "k1")).toHaveLength(5);
    expect(sealed.get(`vault_items/${item.id}`)).not.toContain(item.token);
  });

  it("DATA-1: a sealed value copied to another row or column does not open", async () => {
    const sealer = new Sealer(testConfig({ ...BASE, DATA_KEYS: K1 }).dataKeys);
    const [a, b] = [...seeds.keys()].slice(2);
    const row = await d.db.global
      .selectFrom("mfa_totp")
      .select("secret_sealed")
      .where("principal_id", "=", a!)
      .executeTakeFirstOrThrow();
    expect(sealer.open(row.secret_sealed, TOTP_SEED, a!)).toBe(seeds.get(a!));
    expect(() => sealer.open(row.secret_sealed, TOTP_SEED, b!)).toThrow();
    const hook = await d.db.withOrg(endpoint.orgId, (tx) =>
      tx
        .selectFrom("webhook_endpoints")
        .select(["secret"])
        .where("id", "=", endpoint.id)
        .executeTakeFirstOrThrow(),
    );
    expect(sealer.open(hook.secret, SECRET, endpoint.id)).toBe(endpoint.secret);
    expect(() => sealer.open(hook.secret, PREVIOUS_SECRET, endpoint.id)).toThrow();
    expect(() => sealer.open(hook.secret, SECRET, `${endpoint.id}x`)).toThrow();
  });

  it("DATA-1: rotation re-seals every value under the new key, and an interrupted rotation resumes where it stopped", async () => {
    const before = await sealedValues();
    const config = testConfig({ ...BASE, DATA_KEYS: `${K2},${K1},v1` });
    let out = "";
    const sink = {
      write: (s: string) => {
        out += s;
      },
    };
    // Stopped after two values (as a crash would stop it): those two are done, the rest untouched.
    expect(await rotateData(d.db, config, [vault], 2, { stdout: sink, stderr: sink }), out).toBe(0);
    expect(out).toMatch(/^2 values re-sealed under key k2 .*stopped at --limit 2/m);
    const midway = [...(await sealedValues()).values()];
    expect(midway.filter((v) => v.startsWith("k2.")).length).toBe(2);
    out = "";
    expect(await rotateData(d.db, config, [vault], undefined, { stdout: sink, stderr: sink }), out).toBe(0);
    expect(out).toContain(`${before.size - 2} values re-sealed under key k2`);
    const after = await sealedValues();
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [where, v] of after) expect(v.startsWith("k2."), where).toBe(true);
    out = "";
    expect(await rotateData(d.db, config, [vault], undefined, { stdout: sink, stderr: sink }), out).toBe(0);
    expect(out).toContain("0 values re-sealed");
    expect(out).toContain("0 values remain under older keys");

    // With the old keys gone, the server starts and every secret still works: each seed confirms its
    // enrolment with a code from the original seed, the webhook signs with the secret shown at creation.
    await served({ DATA_KEYS: K2 }, async (t) => {
      const mfa = t.app.bulwark.service("mfa");
      for (const [id, seed] of seeds) {
        const code = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(seed) }).generate();
        expect(await mfa.confirmEnrolment(id, code, { ip: "127.0.0.1", headers: {} } as never)).toHaveLength(
          10,
        );
      }
      const read = await t.app.inject({
        method: "GET",
        url: `/v1/orgs/${endpoint.orgId}/vault/${item.id}`,
        headers: await headersOf(t),
      });
      expect(read.json()).toEqual({ token: item.token });
      // A column the app did not declare would never rotate: ctx.seal refuses it.
      const keys = t.app.bulwark.service("dataKeys");
      expect(keys.declares(VAULT)).toBe(true);
      expect(keys.declares({ ...VAULT, column: "other_sealed" })).toBe(false);
      const hooks = t.app.bulwark.service("webhooks");
      const row = await hooks.get(endpoint.orgId, endpoint.id);
      expect(hooks.secrets(row, Date.now()).current).toBe(endpoint.secret);
      const jwks = await t.app.inject({ method: "GET", url: "/.well-known/jwks.json" });
      expect(jwks.json().keys.length).toBeGreaterThan(0);
    });
  });

  it("DATA-1: a value no key opens is named by rotation and left as it is", async () => {
    const [a, b] = [...seeds.keys()].slice(2);
    const moved = await d.db.global
      .selectFrom("mfa_totp")
      .select("secret_sealed")
      .where("principal_id", "=", a!)
      .executeTakeFirstOrThrow();
    const kept = await d.db.global
      .selectFrom("mfa_totp")
      .select("secret_sealed")
      .where("principal_id", "=", b!)
      .executeTakeFirstOrThrow();
    await d.db.global
      .updateTable("mfa_totp")
      .set({ secret_sealed: moved.secret_sealed.replace(/^k2\./, "k1.") })
      .where("principal_id", "=", b!)
      .execute();
    let out = "";
    const sink = {
      write: (s: string) => {
        out += s;
      },
    };
    const config = testConfig({ ...BASE, DATA_KEYS: `${K2},${K1},v1` });
    expect(await rotateData(d.db, config, [vault], undefined, { stdout: sink, stderr: sink })).toBe(1);
    expect(out).toContain(`mfa_totp.secret_sealed (row ${b}):`);
    const row = await d.db.global
      .selectFrom("mfa_totp")
      .select("secret_sealed")
      .where("principal_id", "=", b!)
      .executeTakeFirstOrThrow();
    expect(row.secret_sealed.startsWith("k1.")).toBe(true);
    await d.db.global
      .updateTable("mfa_totp")
      .set({ secret_sealed: kept.secret_sealed })
      .where("principal_id", "=", b!)
      .execute();
  });

  it("DATA-1: production refuses to start with no key, with a key missing, or with a wrong key under the right id", async () => {
    const prod: Record<string, string> = {
      ...PRODUCTION_ENV,
      LOG_LEVEL: "silent",
      TRUSTED_PROXIES: "127.0.0.1",
    };
    const { DATA_KEYS: _, ...withoutKeys } = prod;
    expect(() => loadConfig(withoutKeys)).toThrow(ConfigError);
    try {
      loadConfig(withoutKeys);
    } catch (err) {
      expect(String((err as ConfigError).message)).toContain("DATA_KEYS: required in production");
    }
    // A key given without its id (or with = for :) is refused without being echoed into a log.
    for (const typo of [K1.slice(3), K1.replace(":", "="), `${K2},${K1.slice(3)}`]) {
      let message = "";
      try {
        loadConfig({ ...prod, DATA_KEYS: typo });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/DATA_KEYS: entry \d is not id:key/);
      expect(message).not.toContain(K1.slice(3, 20));
    }
    // Everything is sealed under k2 now: a list without k2, or another key named k2, is refused.
    await expect(served({ ...prod, DATA_KEYS: K1 }, async () => {})).rejects.toThrow(
      /sealed under key "k2", which DATA_KEYS does not hold/,
    );
    await expect(served({ ...prod, DATA_KEYS: key("k2") }, async () => {})).rejects.toThrow(
      /key "k2" does not open .* it is not the key that sealed it/,
    );
    await served({ ...prod, DATA_KEYS: K2 }, async (t) => {
      const page = await t.app.inject({
        method: "GET",
        url: "/security.json",
        headers: { "x-forwarded-proto": "https" },
      });
      const control = page.json().controls.find((c: { id: string }) => c.id === "DATA-1");
      expect(control.settings).toEqual({ algorithm: "AES-256-GCM", currentKey: "k2", keys: ["k2"] });
    });
  });
});
