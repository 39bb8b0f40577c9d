import * as OTPAuth from "otpauth";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createUser, ENGINE, type TestApp, testApp } from "../../test/harness.js";
import { Sealer } from "../crypto/seal.js";
import { PasswordHasher } from "../identity/password.js";
import { MfaService } from "../mfa/service.js";
import { MfaStore } from "../mfa/store.js";
import { AdminService } from "./service.js";
import { AdminStore } from "./store.js";

const PW = "impersonation passphrase";

describe(`impersonation (${ENGINE})`, () => {
  let t: TestApp;
  let adminCookie = "";
  let adminCsrf = "";
  let adminId = "";
  let userId = "";
  beforeAll(async () => {
    t = await testApp();
    const mfa = new MfaService(new MfaStore(t.db.global), new Sealer(t.config.secret), "localhost");
    const created = await new AdminService(
      new AdminStore(t.db.global),
      new PasswordHasher(t.config.auth.argon2),
      mfa,
      t.config,
    ).create("support@example.org", PW, true);
    adminId = created.admin.id;
    const code = new OTPAuth.TOTP({
      secret: OTPAuth.Secret.fromBase32(created.secret!),
      digits: 6,
      period: 30,
    }).generate();
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/admin/auth/login",
      payload: { email: "support@example.org", password: PW, code },
    });
    adminCookie = String(res.headers["set-cookie"]).split(";")[0]!;
    adminCsrf = res.json().csrfToken;
    userId = await createUser(t, "customer@example.org", PW);
  });
  afterAll(() => t.close());
  afterEach(() => vi.useRealTimers());

  const asAdmin = (method: "POST" | "DELETE", url: string, payload?: object) =>
    t.app.inject({
      method,
      url,
      ...(payload ? { payload } : {}),
      headers: { cookie: adminCookie, "x-csrf-token": adminCsrf },
    });
  async function start(): Promise<{ cookie: string; csrf: string }> {
    const res = await asAdmin("POST", "/v1/admin/impersonations", {
      userId,
      reason: "Ticket 4711: checkout fails",
    });
    expect(res.statusCode).toBe(201);
    return { cookie: String(res.headers["set-cookie"]).split(";")[0]!, csrf: res.json().csrfToken };
  }

  it("AUTHZ-4: every response while impersonating carries the admin's id; start is recorded with both identities", async () => {
    const s = await start();
    const me = await t.app.inject({ url: "/v1/me", headers: { cookie: s.cookie } });
    expect(me.statusCode).toBe(200);
    expect(me.json().user.email).toBe("customer@example.org");
    expect(me.headers["x-bulwark-impersonation"]).toBe(adminId);
    const line = t.logs.find((l) => l.event === "impersonation.start");
    expect(line).toMatchObject({
      adminId,
      adminEmail: "support@example.org",
      userId,
      userEmail: "customer@example.org",
      reason: "Ticket 4711: checkout fails",
    });
  });

  it("AUTHZ-4: the impersonated session cannot touch credentials or second factors", async () => {
    const s = await start();
    const h = { cookie: s.cookie, "x-csrf-token": s.csrf };
    for (const [url, payload] of [
      ["/v1/me/password", { currentPassword: PW, newPassword: "hijacked passphrase 1" }],
      ["/v1/me/mfa/totp", { password: PW }],
      ["/v1/auth/reauth", { password: PW }],
    ] as const) {
      const res = await t.app.inject({ method: "POST", url, payload, headers: h });
      expect(res.statusCode, url).toBe(403);
      expect(res.json().error.code).toBe("IMPERSONATION_FORBIDDEN");
    }
  });

  it("AUTHZ-4: impersonation expires after its time limit, and stopping ends it at once", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const t0 = Date.now();
    const s = await start();
    vi.setSystemTime(t0 + 29 * 60_000);
    expect((await t.app.inject({ url: "/v1/me", headers: { cookie: s.cookie } })).statusCode).toBe(200);
    vi.setSystemTime(t0 + 31 * 60_000);
    expect((await t.app.inject({ url: "/v1/me", headers: { cookie: s.cookie } })).statusCode).toBe(401);
    vi.useRealTimers();
    const s2 = await start();
    expect((await asAdmin("DELETE", "/v1/admin/impersonations/current")).statusCode).toBe(204);
    expect((await t.app.inject({ url: "/v1/me", headers: { cookie: s2.cookie } })).statusCode).toBe(401);
    expect(t.logs.some((l) => l.event === "impersonation.stop" && l.adminId === adminId)).toBe(true);
  });

  it("AUTHZ-4: admins cannot be impersonated, and a tenant session cannot start an impersonation", async () => {
    const res = await asAdmin("POST", "/v1/admin/impersonations", {
      userId: adminId,
      reason: "trying to become another admin",
    });
    expect(res.statusCode).toBe(400);
    const s = await start();
    const fromPortal = await t.app.inject({
      method: "POST",
      url: "/v1/admin/impersonations",
      payload: { userId, reason: "escalation attempt here" },
      headers: { cookie: s.cookie, "x-csrf-token": s.csrf },
    });
    expect(fromPortal.statusCode).toBe(401);
  });
});
