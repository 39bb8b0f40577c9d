import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createUser, login, type TestApp, testApp } from "../../test/harness.js";
import type { Extension } from "../orgs/extension.js";
import { isWellFormedKey } from "./format.js";

const PW = "api keys passphrase";

declare module "bulwark" {
  interface Actions {
    "vault:open": true;
  }
}

/** An app's action only OWNERs hold, on a route that accepts keys. */
const vault: Extension = {
  name: "vault",
  actions: { "vault:open": [] },
  routes: (tenant) =>
    tenant.route({
      method: "GET",
      url: "/vault",
      action: "vault:open",
      schema: { summary: "Open the vault", description: "Owners only." },
      handler: async () => ({ open: true }),
    }),
};
type H = Record<string, string>;

describe("API keys", () => {
  let t: TestApp;
  let owner: H;
  let admin: H;
  let org: string;
  const call = (method: string, url: string, headers: H = {}, payload?: object, remoteAddress?: string) =>
    t.app.inject({
      method: method as "GET",
      url,
      headers,
      ...(payload ? { payload } : {}),
      ...(remoteAddress ? { remoteAddress } : {}),
    });
  const create = async (body: object, who: H = owner) => {
    const res = await call("POST", `/v1/orgs/${org}/api-keys`, who, { name: "ci", ...body });
    expect(res.statusCode, res.body).toBe(201);
    return res.json() as { key: string; apiKey: { id: string; prefix: string; status: string } };
  };

  beforeAll(async () => {
    t = await testApp({}, undefined, { extensions: [vault] });
    await createUser(t, "owner@example.org", PW);
    const adminId = await createUser(t, "admin@example.org", PW);
    const o = await login(t, "owner@example.org", PW);
    owner = { cookie: o.cookie, "x-csrf-token": o.csrf };
    org = (await call("POST", "/v1/orgs", owner, { name: "Keys Inc" })).json().org.id;
    await call("POST", `/v1/orgs/${org}/invitations`, owner, { email: "admin@example.org", role: "ADMIN" });
    const { OrgStore } = await import("../orgs/store.js");
    await new OrgStore(t.db.global, t.db.engine).addMember(org, adminId, "ADMIN", Date.now());
    const a = await login(t, "admin@example.org", PW);
    admin = { cookie: a.cookie, "x-csrf-token": a.csrf };
  });
  afterAll(() => t.close());
  afterEach(() => vi.useRealTimers());

  it("KEY-3, KEY-7: the key is shown once, stored only as SHA-256 and 8 characters, and never logged", async () => {
    const made = await create({ scopes: ["org:read"] });
    expect(made.key).toMatch(/^bwk_[0-9A-Za-z]{36}$/);
    expect(isWellFormedKey(made.key)).toBe(true);
    expect(made.apiKey.prefix).toBe(made.key.slice(0, 12));
    const row = await t.db.global
      .selectFrom("api_keys")
      .selectAll()
      .where("id", "=", made.apiKey.id)
      .executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(made.key.slice(4));
    expect(row.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(row.prefix).toBe(made.key.slice(4, 12));
    const used = await call("GET", `/v1/orgs/${org}`, { "x-api-key": made.key });
    expect(used.statusCode).toBe(200);
    const listed = await call("GET", `/v1/orgs/${org}/api-keys`, owner);
    expect(listed.body).not.toContain(made.key.slice(12));
    expect(t.rawLogs.join("\n")).not.toContain(made.key.slice(12));
    // AUDIT-2: the creation is an audit entry of the organisation, without the key.
    const [entry] = await t.app.bulwark
      .service("audit")
      .query({ log: org, action: "apikey.created", entityId: made.apiKey.id }, 10);
    expect(entry?.entry).toContain(made.apiKey.prefix);
    expect(entry?.entry).not.toContain(made.key.slice(12));
  });

  it("KEY-3: a key pasted into a URL is not written to the access log", async () => {
    const { key } = await create({ scopes: ["org:read"] });
    await call("GET", `/v1/orgs/${org}?apikey=${key}`, { "x-api-key": key });
    await call("GET", `/v1/orgs/${org}/${key}`, {});
    expect(t.rawLogs.join("\n")).not.toContain(key.slice(12));
  });

  it("KEY-6: an allowlist entry must be an address or a CIDR without host bits", async () => {
    for (const bad of [
      "10.0.0.1/0",
      "2001:db8::1/32",
      "fe80::1%eth0",
      "10.0.0.0/33",
      "::ffff:0.0.0.0/80",
      "::1:0.0.0.0/64",
    ]) {
      const res = await call("POST", `/v1/orgs/${org}/api-keys`, owner, {
        name: "x",
        scopes: ["org:read"],
        allowedIps: [bad],
      });
      expect(res.statusCode, bad).toBe(400);
    }
    await create({ scopes: ["org:read"], allowedIps: ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"] });
  });

  it("KEY-1, KEY-2: a key acts in its organisation only, with exactly its scopes; a missing scope is 403 naming it", async () => {
    const { key } = await create({ scopes: ["org:read"] });
    const other = (await call("POST", "/v1/orgs", owner, { name: "Other Inc" })).json().org.id;
    const foreign = await call("GET", `/v1/orgs/${other}`, { "x-api-key": key });
    expect(foreign.statusCode).toBe(404);
    expect(foreign.json().error.code).toBe("NOT_FOUND");
    // Key management is for members, never for a key, whatever its scopes.
    expect((await call("GET", `/v1/orgs/${org}/api-keys`, { "x-api-key": key })).statusCode).toBe(401);
    expect((await call("GET", `/v1/orgs/${org}`, { authorization: `Bearer ${key}` })).statusCode).toBe(200);
    const denied = await call("GET", `/v1/orgs/${org}/members`, { authorization: `Bearer ${key}` });
    expect(denied.statusCode).toBe(403);
    expect(denied.json().error).toMatchObject({ code: "SCOPE_MISSING" });
    expect(denied.json().error.message).toContain("members:read");
  });

  it("KEY-2: a creator grants only scopes their own role holds, and only scopes some route accepts a key for", async () => {
    const escalate = await call("POST", `/v1/orgs/${org}/api-keys`, admin, {
      name: "x",
      scopes: ["vault:open"],
    });
    expect(escalate.statusCode).toBe(403);
    expect(escalate.json().error.message).toContain("vault:open");
    // The owner may, and the key opens exactly that.
    const { key } = await create({ scopes: ["vault:open"] });
    expect((await call("GET", `/v1/orgs/${org}/vault`, { "x-api-key": key })).json()).toEqual({ open: true });
    // A scope no route accepts a key for is neither offered nor granted.
    const listed = (await call("GET", `/v1/orgs/${org}/api-keys`, owner)).json().scopes as string[];
    expect(listed).toContain("vault:open");
    expect(listed).not.toContain("org:delete");
    const useless = await call("POST", `/v1/orgs/${org}/api-keys`, owner, {
      name: "x",
      scopes: ["org:delete"],
    });
    expect(useless.statusCode).toBe(400);
    const unknown = await call("POST", `/v1/orgs/${org}/api-keys`, owner, {
      name: "x",
      scopes: ["nothing:here"],
      allowedIps: ["10.0.0.0/33"],
      allowedOrigins: ["https://a.example/path"],
      expiresAt: "2001-01-01T00:00:00Z",
    });
    expect(unknown.statusCode).toBe(400);
    expect(
      unknown
        .json()
        .error.details.map((d: { field: string }) => d.field)
        .sort(),
    ).toEqual(["allowedIps", "allowedOrigins", "expiresAt", "scopes"]);
  });

  it("KEY-5: the old key works through its grace period to the millisecond, and the new key at once", async () => {
    const start = Date.now();
    vi.useFakeTimers({ toFake: ["Date"], now: start });
    const old = await create({ scopes: ["org:read"] });
    const rotated = await call("POST", `/v1/orgs/${org}/api-keys/${old.apiKey.id}/rotate`, owner, {
      gracePeriodSeconds: 60,
    });
    expect(rotated.statusCode).toBe(201);
    const fresh = rotated.json().key as string;
    expect(rotated.json().previous.status).toBe("grace");
    const read = (key: string) =>
      call("GET", `/v1/orgs/${org}`, { "x-api-key": key }).then((r) => r.statusCode);
    expect(await read(fresh)).toBe(200);
    vi.setSystemTime(start + 60_000 - 1);
    expect(await read(old.key)).toBe(200);
    vi.setSystemTime(start + 60_000);
    expect(await read(old.key)).toBe(401);
    expect(await read(fresh)).toBe(200);
    // A key is rotated once: its successor is the one to rotate next.
    const again = await call("POST", `/v1/orgs/${org}/api-keys/${old.apiKey.id}/rotate`, owner, {
      gracePeriodSeconds: 0,
    });
    expect(again.statusCode).toBe(404);
  });

  it("KEY-5: a rotation's grace never outlives the old key's own expiry; grace 0 revokes at once", async () => {
    const start = Date.now();
    vi.useFakeTimers({ toFake: ["Date"], now: start });
    const old = await create({ scopes: ["org:read"], expiresAt: new Date(start + 10_000).toISOString() });
    const rotated = await call("POST", `/v1/orgs/${org}/api-keys/${old.apiKey.id}/rotate`, owner, {
      gracePeriodSeconds: 3600,
    });
    expect(rotated.json().previous.revokedAt).toBe(new Date(start + 10_000).toISOString());
    const read = (key: string) =>
      call("GET", `/v1/orgs/${org}`, { "x-api-key": key }).then((r) => r.statusCode);
    vi.setSystemTime(start + 9_999);
    expect(await read(old.key)).toBe(200);
    vi.setSystemTime(start + 10_000);
    expect(await read(old.key)).toBe(401);
    const now = await create({ scopes: ["org:read"] });
    await call("POST", `/v1/orgs/${org}/api-keys/${now.apiKey.id}/rotate`, owner, { gracePeriodSeconds: 0 });
    expect(await read(now.key)).toBe(401);
  });

  it("KEY-4: revocation is effective on the next request, after the key was cached", async () => {
    const made = await create({ scopes: ["org:read"] });
    expect((await call("GET", `/v1/orgs/${org}`, { "x-api-key": made.key })).statusCode).toBe(200);
    expect((await call("DELETE", `/v1/orgs/${org}/api-keys/${made.apiKey.id}`, owner)).statusCode).toBe(204);
    expect((await call("GET", `/v1/orgs/${org}`, { "x-api-key": made.key })).statusCode).toBe(401);
    expect(t.logs.some((l) => l.event === "apikey.denied" && l.reason === "revoked")).toBe(true);
  });

  it("KEY-4: last use is gathered in memory and written in one batch, not per request", async () => {
    const made = await create({ scopes: ["org:read"] });
    for (let i = 0; i < 5; i++) await call("GET", `/v1/orgs/${org}`, { "x-api-key": made.key });
    const stored = () =>
      t.db.global
        .selectFrom("api_keys")
        .select("last_used_at")
        .where("id", "=", made.apiKey.id)
        .executeTakeFirstOrThrow();
    expect((await stored()).last_used_at).toBeNull();
    const listed = (await call("GET", `/v1/orgs/${org}/api-keys`, owner)).json().apiKeys;
    expect(listed.find((k: { id: string }) => k.id === made.apiKey.id).lastUsedAt).not.toBeNull();
    await t.app.bulwark.service("apiKeys").flush();
    expect((await stored()).last_used_at).not.toBeNull();
  });

  it("KEY-6: IPv4 and IPv6 allowlists admit their ranges only", async () => {
    const { key } = await create({ scopes: ["org:read"], allowedIps: ["203.0.113.0/24", "2001:db8::/32"] });
    const from = (ip: string) => call("GET", `/v1/orgs/${org}`, { "x-api-key": key }, undefined, ip);
    expect((await from("203.0.113.9")).statusCode).toBe(200);
    expect((await from("::ffff:203.0.113.9")).statusCode).toBe(200);
    expect((await from("2001:db8:1::5")).statusCode).toBe(200);
    const out = await from("2001:db9::5");
    expect(out.statusCode).toBe(403);
    expect(out.json().error.code).toBe("API_KEY_IP_DENIED");
  });

  it("CORS-2, CORS-3: an API-key request is answered for any origin without credentials, unless the key is pinned", async () => {
    const { key } = await create({ scopes: ["org:read"] });
    const any = await call("GET", `/v1/orgs/${org}`, {
      "x-api-key": key,
      origin: "https://anywhere.example",
    });
    expect(any.statusCode).toBe(200);
    expect(any.headers["access-control-allow-origin"]).toBe("*");
    expect(any.headers["access-control-allow-credentials"]).toBeUndefined();
    const preflight = await call("OPTIONS", `/v1/orgs/${org}`, {
      origin: "https://anywhere.example",
      "access-control-request-method": "GET",
      "access-control-request-headers": "x-api-key",
    });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers["access-control-allow-origin"]).toBe("*");
    expect(preflight.headers["access-control-allow-credentials"]).toBeUndefined();
    // The same route with a session from that origin is still refused (CORS-1).
    const cookie = await call("GET", `/v1/orgs/${org}`, { ...owner, origin: "https://anywhere.example" });
    expect(cookie.statusCode).toBe(403);
    const pinned = await create({ scopes: ["org:read"], allowedOrigins: ["https://app.example.org"] });
    const home = await call("GET", `/v1/orgs/${org}`, {
      "x-api-key": pinned.key,
      origin: "https://app.example.org",
    });
    expect(home.statusCode).toBe(200);
    const away = await call("GET", `/v1/orgs/${org}`, {
      "x-api-key": pinned.key,
      origin: "https://evil.example",
    });
    expect(away.statusCode).toBe(403);
    expect(away.json().error.code).toBe("API_KEY_ORIGIN_DENIED");
  });

  it("CORS-1: a Bearer value that is not an API key never makes a cookie request public", async () => {
    const res = await call("GET", `/v1/orgs/${org}`, {
      ...owner,
      authorization: "Bearer not-a-key",
      origin: "https://evil.example",
    });
    expect(res.statusCode).toBe(403);
    expect(res.json().error.code).toBe("CORS_ORIGIN_DENIED");
    expect(res.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("CORS-2: a key and a session cookie together: the key acts, and no CSRF token is asked for", async () => {
    const { key } = await create({ scopes: ["org:read"] });
    const res = await call("GET", `/v1/orgs/${org}/members`, { cookie: owner.cookie!, "x-api-key": key });
    expect(res.statusCode).toBe(403);
    expect(res.json().error.code).toBe("SCOPE_MISSING");
  });
});
