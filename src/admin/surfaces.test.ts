import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAdmin, signedIn } from "../../test/admins.js";
import { createUser, PRODUCTION_ENV, type TestApp, testApp } from "../../test/harness.js";
import { throughProxy } from "../../test/profiles.js";
import { Sealer } from "../crypto/seal.js";
import { PasswordHasher } from "../identity/password.js";
import { MfaService } from "../mfa/service.js";
import { MfaStore } from "../mfa/store.js";
import { AdminService } from "./service.js";
import { AdminStore } from "./store.js";

const PW = "surfaces passphrase for tests";

/** The two doors (AUTH-6, AUTHZ-3), checked on every route of each surface, in production. */
describe("platform staff and tenants never share a door (production)", () => {
  let t: TestApp;
  let portal: Record<string, string>;
  let admin: Record<string, string>;
  beforeAll(async () => {
    t = throughProxy(await testApp({ ...PRODUCTION_ENV, TRUSTED_PROXIES: "127.0.0.1" }), "production");
    await createUser(t, "tenant@example.org", PW);
    portal = await signedIn(t, "/v1/auth/login", { email: "tenant@example.org", password: PW });
    const a = await createAdmin(t, "staff.member@example.org", PW);
    admin = await signedIn(t, "/v1/admin/auth/login", {
      email: "staff.member@example.org",
      password: PW,
      code: a.code(),
    });
  });
  afterAll(() => t.close());

  it("AUTH-6: a portal session is refused on every admin route, and an admin session on every portal route", async () => {
    const wrong: string[] = [];
    for (const r of t.app.bulwark.routes) {
      if (["HEAD", "OPTIONS"].includes(r.method) || r.security.optional) continue;
      const accepts = r.security.accepts;
      const other = accepts.includes("admin") ? portal : accepts.includes("user") ? admin : undefined;
      if (!other) continue;
      const url = r.url.replace(/:(\w+)/g, (_, p: string) =>
        p === "orgId" ? "org_01ZZZZZZZZZZZZZZZZZZZZZZZZ" : "x",
      );
      const res = await t.app.inject({ method: r.method as "GET", url, headers: other });
      if (res.statusCode !== 401 || res.json().error.code !== "UNAUTHENTICATED")
        wrong.push(`${r.method} ${r.url}: ${res.statusCode}`);
    }
    expect(wrong).toEqual([]);
  });

  it("AUTHZ-3: no HTTP route creates an admin: the only admin writes are sign-in, sign-out, impersonation and an organisation's quota", () => {
    const writes = t.app.bulwark.routes
      .filter((r) => r.url.startsWith("/v1/admin") && !["GET", "HEAD", "OPTIONS"].includes(r.method))
      .map((r) => `${r.method} ${r.url}`)
      .sort();
    expect(writes).toEqual([
      "DELETE /v1/admin/impersonations/current",
      "POST /v1/admin/auth/login",
      "POST /v1/admin/auth/logout",
      "POST /v1/admin/impersonations",
      "PUT /v1/admin/orgs/:orgId/quotas/:unit",
    ]);
  });

  it("AUTHZ-3: production refuses to create an admin without TOTP, and an admin without TOTP cannot sign in", async () => {
    const hasher = new PasswordHasher(t.config.auth.argon2);
    const mfa = new MfaService(new MfaStore(t.db.global), new Sealer(t.config.dataKeys), "localhost");
    const production = new AdminService(new AdminStore(t.db.global), hasher, mfa, t.config);
    await expect(production.create("no.totp@example.org", PW, false)).rejects.toMatchObject({
      code: "ADMIN_TOTP_REQUIRED",
    });
    // One created outside production (as `--no-totp` allows there) on the same database.
    const { loadConfig } = await import("../config/load.js");
    const dev = loadConfig({ NODE_ENV: "test", LOG_LEVEL: "silent" });
    await new AdminService(new AdminStore(t.db.global), hasher, mfa, dev).create(
      "local.only@example.org",
      PW,
      false,
    );
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/admin/auth/login",
      payload: { email: "local.only@example.org", password: PW },
    });
    expect(res.json().error.code).toBe("INVALID_CREDENTIALS");
  });
});
