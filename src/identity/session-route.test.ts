import * as OTPAuth from "otpauth";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createAdmin, signedIn } from "../../test/admins.js";
import { createUser, ENGINE, login, type TestApp, testApp } from "../../test/harness.js";

const PW = "session route passphrase";
const SIGNED_OUT = { signedIn: false };

describe(`GET /v1/auth/session and GET /v1/me/mfa (${ENGINE})`, () => {
  let t: TestApp;
  let admin: { cookie: string; "x-csrf-token": string };
  let adminId = "";
  beforeAll(async () => {
    t = await testApp();
    const created = await createAdmin(t, "desk@example.org", PW);
    adminId = created.id;
    admin = await signedIn(t, "/v1/admin/auth/login", {
      email: "desk@example.org",
      password: PW,
      code: created.code(),
    });
  });
  afterAll(() => t.close());
  afterEach(() => vi.useRealTimers());

  const session = (cookie?: string) =>
    t.app.inject({ url: "/v1/auth/session", ...(cookie ? { headers: { cookie } } : {}) });
  const get = (url: string, cookie: string) => t.app.inject({ url, headers: { cookie } });
  const post = (url: string, payload: object, headers: Record<string, string> = {}, remoteAddress?: string) =>
    t.app.inject({ method: "POST", url, payload, headers, ...(remoteAddress ? { remoteAddress } : {}) });

  it("AUTH-5: with no cookie the answer is 200 signedIn:false, not a 401", async () => {
    const res = await session();
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(SIGNED_OUT);
  });

  it("AUTH-6: an admin session is not a portal session: with only the admin cookie the answer is signedIn:false", async () => {
    const res = await session(admin.cookie);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(SIGNED_OUT);
  });

  it("AUTH-5: a malformed cookie value is no credential: 200 signedIn:false", async () => {
    const res = await session(`bulwark_session=<script>"x"</script>`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(SIGNED_OUT);
  });

  /** Well-formed portal cookies that name no live session: signed out, made up, an admin token renamed. */
  const dead: string[] = [];
  it("AUTH-5: after sign-out the old cookie no longer opens /v1/me", async () => {
    await createUser(t, "revoked@example.org", PW);
    const s = await login(t, "revoked@example.org", PW);
    const out = await post("/v1/auth/logout", {}, { cookie: s.cookie, "x-csrf-token": s.csrf });
    expect(out.statusCode).toBe(204);
    const me = await get("/v1/me", s.cookie);
    expect(me.statusCode).toBe(401);
    expect(me.json().error.code).toBe("UNAUTHENTICATED");
    dead.push(
      s.cookie,
      `bulwark_session=bws_${"A".repeat(43)}`,
      admin.cookie.replace("bulwark_admin=", "bulwark_session="),
    );
  });

  // A browser still holding a dead cookie (signed out elsewhere, idle, expired, revoked) is simply signed
  // out: the console asks this route first and understands only `signedIn` (web/src/session.ts).
  it("AUTH-5: a stale or unknown session cookie answers 200 signedIn:false", async () => {
    expect(dead).toHaveLength(3);
    for (const cookie of dead) {
      const res = await session(cookie);
      expect(res.json(), cookie).toEqual(SIGNED_OUT);
      expect(res.statusCode).toBe(200);
    }
  });

  it("AUTH-5: a portal session answers signedIn:true with the user, the session, no impersonation and a working CSRF token; /v1/me says the same", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const t0 = Date.UTC(2030, 0, 2, 3, 4, 5, 6);
    vi.setSystemTime(t0);
    const userId = await createUser(t, "portal@example.org", PW);
    const s = await login(t, "portal@example.org", PW);
    const listed = (await get("/v1/me/sessions", s.cookie)).json().sessions;
    expect(listed).toHaveLength(1);
    const expected = {
      signedIn: true,
      user: { id: userId, email: "portal@example.org", name: null, emailVerified: true },
      session: { id: listed[0].id, expiresAt: new Date(t0 + t.config.auth.sessionAbsoluteMs).toISOString() },
      impersonation: null,
      csrfToken: s.csrf,
    };
    const res = await session(s.cookie);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(expected);
    expect(res.headers["x-bulwark-impersonation"]).toBeUndefined();
    expect((await get("/v1/me", s.cookie)).json()).toEqual(expected);
    // The token it hands out is the session's CSRF token: a write with it passes the guard.
    const write = await post(
      "/v1/auth/reauth",
      { password: PW },
      { cookie: s.cookie, "x-csrf-token": res.json().csrfToken },
    );
    expect(write.statusCode).toBe(200);
    expect(write.json()).toEqual({ status: "reauthenticated" });
  });

  it("AUTHZ-4: while an admin impersonates the user, the session says so: impersonation {adminId, expiresAt}", async () => {
    const userId = await createUser(t, "impersonated@example.org", PW);
    const started = await post(
      "/v1/admin/impersonations",
      { userId, reason: "Ticket 77: session banner", minutes: 15 },
      admin,
    );
    expect(started.statusCode).toBe(201);
    const cookie = String(started.headers["set-cookie"]).split(";")[0]!;
    const { expiresAt } = started.json();
    for (const url of ["/v1/auth/session", "/v1/me"]) {
      const res = await get(url, cookie);
      expect(res.statusCode, url).toBe(200);
      expect(res.headers["x-bulwark-impersonation"]).toBe(adminId);
      expect(res.json()).toEqual({
        signedIn: true,
        user: { id: userId, email: "impersonated@example.org", name: null, emailVerified: true },
        session: { id: expect.stringMatching(/^ses_[0-9A-Z]{26}$/), expiresAt },
        impersonation: { adminId, expiresAt },
        csrfToken: started.json().csrfToken,
      });
    }
    expect(
      (await t.app.inject({ method: "DELETE", url: "/v1/admin/impersonations/current", headers: admin }))
        .statusCode,
    ).toBe(204);
  });

  it("AUTH-8: /v1/me/mfa is {totp:false, backupCodesLeft:0} before enrolment, and still while enrolment is pending", async () => {
    await createUser(t, "plain@example.org", PW);
    const s = await login(t, "plain@example.org", PW);
    const before = await get("/v1/me/mfa", s.cookie);
    expect(before.statusCode).toBe(200);
    expect(before.json()).toEqual({ totp: false, methods: [], backupCodesLeft: 0 });
    const h = { cookie: s.cookie, "x-csrf-token": s.csrf };
    expect((await post("/v1/me/mfa/totp", { password: PW }, h)).statusCode).toBe(200);
    expect((await get("/v1/me/mfa", s.cookie)).json()).toEqual({
      totp: false,
      methods: [],
      backupCodesLeft: 0,
    });
  });

  it("AUTH-8: after enrolment /v1/me/mfa is {totp:true, backupCodesLeft:10}, and one less after a backup code signs in", async () => {
    await createUser(t, "enrolled@example.org", PW);
    const s = await login(t, "enrolled@example.org", PW);
    const h = { cookie: s.cookie, "x-csrf-token": s.csrf };
    const enrol = await post("/v1/me/mfa/totp", { password: PW }, h);
    expect(enrol.statusCode).toBe(200);
    const totp = new OTPAuth.TOTP({
      secret: OTPAuth.Secret.fromBase32(enrol.json().secret),
      digits: 6,
      period: 30,
    });
    const confirm = await post("/v1/me/mfa/totp/confirm", { code: totp.generate() }, h);
    expect(confirm.statusCode).toBe(200);
    const backupCodes: string[] = confirm.json().backupCodes;
    expect(backupCodes).toHaveLength(10);
    expect((await get("/v1/me/mfa", s.cookie)).json()).toEqual({
      totp: true,
      methods: ["totp", "backup_code"],
      backupCodesLeft: 10,
    });

    const signInWith = async (code: string) => {
      const step1 = await post(
        "/v1/auth/login",
        { email: "enrolled@example.org", password: PW },
        {},
        "10.9.0.1",
      );
      expect(step1.json()).toMatchObject({ mfaRequired: true });
      return post(
        "/v1/auth/mfa/verify",
        { challengeToken: step1.json().challengeToken, code },
        {},
        "10.9.0.1",
      );
    };
    expect((await signInWith(backupCodes[0]!)).statusCode).toBe(200);
    expect((await get("/v1/me/mfa", s.cookie)).json()).toEqual({
      totp: true,
      methods: ["totp", "backup_code"],
      backupCodesLeft: 9,
    });
    // A used code is spent: refused, and the count does not move.
    const again = await signInWith(backupCodes[0]!);
    expect(again.statusCode).toBe(401);
    expect(again.json().error.code).toBe("MFA_CODE_INVALID");
    expect((await get("/v1/me/mfa", s.cookie)).json()).toEqual({
      totp: true,
      methods: ["totp", "backup_code"],
      backupCodesLeft: 9,
    });
  });

  it("AUTH-6: /v1/me/mfa answers 401 to no session and to an admin session", async () => {
    for (const headers of [{}, { cookie: admin.cookie }]) {
      const res = await t.app.inject({ url: "/v1/me/mfa", headers });
      expect(res.statusCode).toBe(401);
      expect(res.json().error.code).toBe("UNAUTHENTICATED");
    }
  });
});
