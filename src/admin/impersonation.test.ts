import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createAdmin, signedIn } from "../../test/admins.js";
import { createUser, ENGINE, type TestApp, testApp } from "../../test/harness.js";

const PW = "impersonation passphrase";

describe(`impersonation (${ENGINE})`, () => {
  let t: TestApp;
  let adminCookie = "";
  let adminCsrf = "";
  let adminId = "";
  let userId = "";
  beforeAll(async () => {
    t = await testApp();
    const admin = await createAdmin(t, "support@example.org", PW);
    adminId = admin.id;
    const headers = await signedIn(t, "/v1/admin/auth/login", {
      email: "support@example.org",
      password: PW,
      code: admin.code(),
    });
    adminCookie = headers.cookie;
    adminCsrf = headers["x-csrf-token"];
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
  async function start(minutes?: number): Promise<{ cookie: string; csrf: string }> {
    const res = await asAdmin("POST", "/v1/admin/impersonations", {
      userId,
      reason: "Ticket 4711: checkout fails",
      ...(minutes ? { minutes } : {}),
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

  const me = (cookie: string) => t.app.inject({ url: "/v1/me", headers: { cookie } });
  const ended = (res: { statusCode: number; json(): { error: { code: string } } }) => {
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe("UNAUTHENTICATED");
  };

  it("AUTHZ-4: an impersonation ends 30 minutes after it started by default: alive 1 ms before, refused at 30 minutes", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const t0 = Date.now();
    const a = await start();
    const b = await start();
    vi.setSystemTime(t0 + 30 * 60_000 - 1);
    expect((await me(a.cookie)).statusCode).toBe(200);
    vi.setSystemTime(t0 + 30 * 60_000);
    ended(await me(b.cookie));
    ended(await me(a.cookie));
  });

  it("AUTHZ-4: an impersonation lasts at most 60 minutes: 61 is refused; asked for 60, alive 1 ms before, refused at 60 minutes", async () => {
    const longer = await asAdmin("POST", "/v1/admin/impersonations", {
      userId,
      reason: "Ticket 4711: checkout fails",
      minutes: 61,
    });
    expect(longer.statusCode).toBe(400);
    expect(longer.json().error).toMatchObject({
      code: "VALIDATION_FAILED",
      details: [{ in: "body", field: "minutes" }],
    });
    vi.useFakeTimers({ toFake: ["Date"] });
    const t0 = Date.now();
    const s = await start(60);
    // Both sessions are used every 20 minutes, so no idle timeout is what ends the impersonation.
    for (const m of [20, 40]) {
      vi.setSystemTime(t0 + m * 60_000);
      expect((await me(s.cookie)).statusCode).toBe(200);
      expect(
        (await t.app.inject({ url: "/v1/admin/users", headers: { cookie: adminCookie } })).statusCode,
      ).toBe(200);
    }
    vi.setSystemTime(t0 + 60 * 60_000 - 1);
    expect((await me(s.cookie)).statusCode).toBe(200);
    vi.setSystemTime(t0 + 60 * 60_000);
    ended(await me(s.cookie));
  });

  it("AUTHZ-4: stopping ends the impersonation at once, and is recorded", async () => {
    const s = await start();
    expect((await me(s.cookie)).statusCode).toBe(200);
    expect((await asAdmin("DELETE", "/v1/admin/impersonations/current")).statusCode).toBe(204);
    ended(await me(s.cookie));
    expect(t.logs.some((l) => l.event === "impersonation.stop" && l.adminId === adminId)).toBe(true);
  });

  it("AUTHZ-4: admins cannot be impersonated, and a tenant session cannot start an impersonation", async () => {
    // An admin's id is not an account id: refused by the body's schema, on that field.
    const admin = await asAdmin("POST", "/v1/admin/impersonations", {
      userId: adminId,
      reason: "trying to become another admin",
    });
    expect(admin.statusCode).toBe(400);
    expect(admin.json().error).toMatchObject({
      code: "VALIDATION_FAILED",
      details: [{ in: "body", field: "userId" }],
    });
    // Spelled as an account id, it names no account: targets are looked up among accounts only.
    const disguised = await asAdmin("POST", "/v1/admin/impersonations", {
      userId: adminId.replace(/^adm_/, "usr_"),
      reason: "trying to become another admin",
    });
    expect(disguised.statusCode).toBe(404);
    expect(disguised.json().error.code).toBe("NOT_FOUND");
    const s = await start();
    const fromPortal = await t.app.inject({
      method: "POST",
      url: "/v1/admin/impersonations",
      payload: { userId, reason: "escalation attempt here" },
      headers: { cookie: s.cookie, "x-csrf-token": s.csrf },
    });
    ended(fromPortal);
  });
});
