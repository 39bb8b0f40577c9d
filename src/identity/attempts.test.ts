import type { InjectOptions } from "fastify";
import * as OTPAuth from "otpauth";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createAdmin } from "../../test/admins.js";
import { createUser, ENGINE, login, PRODUCTION_ENV, type TestApp, testApp } from "../../test/harness.js";
import { startSmtpReceiver, tokenFrom } from "../../test/smtp.js";
import { PasswordHasher } from "./password.js";

const PW = "a long enough passphrase 1";
const ADMIN_PW = "staff passphrase for tests";
/** Production behind a trusted proxy on loopback: the client address comes from X-Forwarded-For. */
const PROD = { ...PRODUCTION_ENV, TRUSTED_PROXIES: "127.0.0.1", LOGIN_MAX_ATTEMPTS: "5" };
const via = (ip: string) => ({ "x-forwarded-proto": "https", "x-forwarded-for": ip });

/** Signs in through the trusted proxy; returns the cookie header and CSRF token. */
async function signIn(t: TestApp, email: string, ip: string): Promise<{ cookie: string; csrf: string }> {
  const res = await t.app.inject({
    method: "POST",
    url: "/v1/auth/login",
    headers: via(ip),
    payload: { email, password: PW },
  });
  if (res.statusCode !== 200) throw new Error(`sign-in failed: ${res.body}`);
  return { cookie: String(res.headers["set-cookie"]).split(";")[0]!, csrf: res.json().csrfToken };
}

/**
 * Attempts are reserved before they are evaluated (AUTH-7): a burst sent at once cannot all pass a check
 * made before any of them finished. Evaluations are counted on Bulwark's own hasher (a spy that only
 * counts; the real argon2 verification runs).
 */
describe(`limited attempts under concurrency, production profile (${ENGINE})`, () => {
  let t: TestApp;
  let smtp: Awaited<ReturnType<typeof startSmtpReceiver>>;
  let adminCode: () => string;
  beforeAll(async () => {
    smtp = await startSmtpReceiver();
    t = await testApp({ ...PROD, SMTP_URL: smtp.url });
    await createUser(t, "victim@example.org", PW);
    adminCode = (await createAdmin(t, "operator@example.org", ADMIN_PW)).code;
  });
  afterAll(async () => {
    await t.close();
    await smtp.close();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const countVerifications = () => {
    const verify = vi.spyOn(PasswordHasher.prototype, "verify");
    const dummy = vi.spyOn(PasswordHasher.prototype, "verifyDummy");
    return () => verify.mock.calls.length + dummy.mock.calls.length;
  };
  const burst = (n: number, make: (i: number) => InjectOptions) =>
    Promise.all(Array.from({ length: n }, (_, i) => t.app.inject(make(i))));

  it("AUTH-7: 100 wrong sign-in guesses sent at once evaluate at most 5 passwords; the right one is then refused", async () => {
    const evaluated = countVerifications();
    const replies = await burst(100, (i) => ({
      method: "POST",
      url: "/v1/auth/login",
      headers: via("203.0.113.10"),
      payload: { email: "victim@example.org", password: `wrong guess number ${i}` },
    }));
    expect(evaluated()).toBeLessThanOrEqual(5);
    const codes = replies.map((r) => r.json().error.code);
    expect(codes.filter((c) => c === "INVALID_CREDENTIALS").length).toBe(evaluated());
    expect(codes.filter((c) => c === "RATE_LIMITED").length).toBe(100 - evaluated());
    const right = await t.app.inject({
      method: "POST",
      url: "/v1/auth/login",
      headers: via("203.0.113.10"),
      payload: { email: "victim@example.org", password: PW },
    });
    expect(right.json().error.code).toBe("RATE_LIMITED");
    expect(Number(right.headers["retry-after"])).toBeGreaterThan(0);
  });

  it("AUTH-7: 100 wrong admin sign-in guesses sent at once evaluate at most 5 passwords", async () => {
    const evaluated = countVerifications();
    const replies = await burst(100, (i) => ({
      method: "POST",
      url: "/v1/admin/auth/login",
      headers: via("203.0.113.11"),
      payload: { email: "operator@example.org", password: `wrong guess number ${i}`, code: "000000" },
    }));
    expect(evaluated()).toBeLessThanOrEqual(5);
    expect(replies.filter((r) => r.json().error.code === "RATE_LIMITED").length).toBe(100 - evaluated());
  });

  it("AUTH-6: admin sign-in answers a right password without a code, or with a wrong code, exactly like a wrong password", async () => {
    const ask = async (body: object, ip: string) => {
      const r = await t.app.inject({
        method: "POST",
        url: "/v1/admin/auth/login",
        headers: via(ip),
        payload: body,
      });
      return { status: r.statusCode, body: { ...r.json().error, requestId: undefined } };
    };
    const wrong = await ask(
      { email: "operator@example.org", password: "not the password at all" },
      "203.0.113.20",
    );
    const noCode = await ask({ email: "operator@example.org", password: ADMIN_PW }, "203.0.113.21");
    const badCode = await ask(
      {
        email: "operator@example.org",
        password: ADMIN_PW,
        code: String((Number(adminCode()) + 1) % 1e6).padStart(6, "0"),
      },
      "203.0.113.22",
    );
    expect(wrong.body.code).toBe("INVALID_CREDENTIALS");
    expect(noCode).toEqual(wrong);
    expect(badCode).toEqual(wrong);
  });

  it("AUTH-7/AUTH-14: a signed-in session cannot guess the password at full speed (re-authentication)", async () => {
    await createUser(t, "reauth@example.org", PW);
    const s = await signIn(t, "reauth@example.org", "203.0.113.30");
    const evaluated = countVerifications();
    const replies = await burst(50, (i) => ({
      method: "POST",
      url: "/v1/auth/reauth",
      headers: { ...via("203.0.113.30"), cookie: s.cookie, "x-csrf-token": s.csrf },
      payload: { password: `wrong guess number ${i}` },
    }));
    expect(evaluated()).toBeLessThanOrEqual(5);
    const codes = replies.map((r) => r.json().error.code);
    expect(codes.filter((c) => c === "VALIDATION_FAILED").length).toBe(evaluated());
    expect(codes.filter((c) => c === "RATE_LIMITED").length).toBe(50 - evaluated());
    // Also from another address, and on the other password gates: the limit is the account's.
    for (const [url, payload] of [
      ["/v1/auth/reauth", { password: PW }],
      ["/v1/me/password", { currentPassword: PW, newPassword: "another long passphrase 77" }],
      ["/v1/me/mfa/totp", { password: PW }],
    ] as const) {
      const r = await t.app.inject({
        method: "POST",
        url,
        headers: { ...via("198.51.100.99"), cookie: s.cookie, "x-csrf-token": s.csrf },
        payload,
      });
      expect(r.json().error.code, url).toBe("RATE_LIMITED");
    }
  });

  it("AUTH-4: a password change voids every reset link issued before it", async () => {
    await createUser(t, "changer@example.org", PW);
    await t.app.inject({
      method: "POST",
      url: "/v1/auth/password/forgot",
      headers: via("203.0.113.40"),
      payload: { email: "changer@example.org" },
    });
    const token = tokenFrom(await smtp.waitFor("changer@example.org", /reset/i));
    const s = await signIn(t, "changer@example.org", "203.0.113.40");
    const changed = await t.app.inject({
      method: "POST",
      url: "/v1/me/password",
      headers: { ...via("203.0.113.40"), cookie: s.cookie, "x-csrf-token": s.csrf },
      payload: { currentPassword: PW, newPassword: "a brand new passphrase 42" },
    });
    expect(changed.statusCode).toBe(200);
    const reset = await t.app.inject({
      method: "POST",
      url: "/v1/auth/password/reset",
      headers: via("203.0.113.40"),
      payload: { token, password: "the attacker's passphrase 9" },
    });
    expect(reset.json().error.code).toBe("TOKEN_INVALID");
  });
});

describe(`the second factor cannot be replaced with the password alone (${ENGINE})`, () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp();
  });
  afterAll(() => t.close());

  it("AUTH-8: regenerating backup codes needs a current second factor, not only the password", async () => {
    await createUser(t, "owner@example.org", PW);
    const s = await login(t, "owner@example.org", PW);
    const post = (url: string, payload: object) =>
      t.app.inject({ method: "POST", url, payload, headers: { cookie: s.cookie, "x-csrf-token": s.csrf } });
    const { secret } = (await post("/v1/me/mfa/totp", { password: PW })).json();
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30 });
    expect((await post("/v1/me/mfa/totp/confirm", { code: totp.generate() })).statusCode).toBe(200);

    const passwordOnly = await post("/v1/me/mfa/backup-codes", { password: PW });
    expect(passwordOnly.json().error.code).toBe("VALIDATION_FAILED");
    expect(passwordOnly.json().error.details).toEqual([expect.objectContaining({ field: "code" })]);
    const wrongCode = await post("/v1/me/mfa/backup-codes", { password: PW, code: "zzzzz-zzzzz" });
    expect(wrongCode.json().error.code).toBe("MFA_CODE_INVALID");
    // A code of the time step after the one used to confirm: accepted once.
    const next = totp.generate({ timestamp: Date.now() + 30_000 });
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 30_000 });
    try {
      const ok = await post("/v1/me/mfa/backup-codes", { password: PW, code: next });
      expect(ok.statusCode).toBe(200);
      expect(ok.json().backupCodes).toHaveLength(10);
    } finally {
      vi.useRealTimers();
    }
  });

  it("AUTH-7: second-factor codes are limited per account: fresh challenges from many addresses buy no fresh guesses", async () => {
    const email = "second-factor@example.org";
    await createUser(t, email, PW);
    const s = await signIn(t, email, "198.51.100.200");
    const post = (url: string, payload: object) =>
      t.app.inject({
        method: "POST",
        url,
        payload,
        headers: { ...via("198.51.100.200"), cookie: s.cookie, "x-csrf-token": s.csrf },
      });
    const { secret } = (await post("/v1/me/mfa/totp", { password: PW })).json();
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30 });
    expect((await post("/v1/me/mfa/totp/confirm", { code: totp.generate() })).statusCode).toBe(200);
    // The attacker knows the password: every sign-in succeeds and opens a challenge of 5 tries.
    const challenge = async (ip: string) =>
      (
        await t.app.inject({
          method: "POST",
          url: "/v1/auth/login",
          remoteAddress: ip,
          headers: via(ip),
          payload: { email, password: PW },
        })
      ).json().challengeToken as string;
    const verify = (ip: string, challengeToken: string, code: string) =>
      t.app.inject({
        method: "POST",
        url: "/v1/auth/mfa/verify",
        remoteAddress: ip,
        headers: via(ip),
        payload: { challengeToken, code },
      });
    const wrong = totp.generate({ timestamp: Date.now() + 10 * 60_000 });
    const codes: string[] = [];
    for (let i = 0; i < 5; i++) {
      const ip = `203.0.113.${10 + i}`;
      const c = await challenge(ip);
      for (let j = 0; j < 2; j++) codes.push((await verify(ip, c, wrong)).json().error.code);
    }
    // 2 per address, never the address limit (10): the account's 10 are spent.
    expect(codes).toEqual(Array(10).fill("MFA_CODE_INVALID"));
    const last = await challenge("203.0.113.99");
    const right = await verify("203.0.113.99", last, totp.generate({ timestamp: Date.now() + 30_000 }));
    expect(right.json().error.code).toBe("RATE_LIMITED");
  });

  it("AUTH-8: turning TOTP off needs the right password and a current code", async () => {
    await createUser(t, "switch@example.org", PW);
    const s = await login(t, "switch@example.org", PW);
    const call = (method: "POST" | "DELETE", url: string, payload: object) =>
      t.app.inject({ method, url, payload, headers: { cookie: s.cookie, "x-csrf-token": s.csrf } });
    const { secret } = (await call("POST", "/v1/me/mfa/totp", { password: PW })).json();
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30 });
    const base = Date.now();
    vi.useFakeTimers({ toFake: ["Date"], now: base });
    try {
      expect(
        (await call("POST", "/v1/me/mfa/totp/confirm", { code: totp.generate({ timestamp: base }) }))
          .statusCode,
      ).toBe(200);
      vi.setSystemTime(base + 30_000);
      const next = totp.generate({ timestamp: base + 30_000 });
      const noCode = await call("DELETE", "/v1/me/mfa/totp", { password: PW });
      expect(noCode.json().error.details).toEqual([expect.objectContaining({ field: "code" })]);
      const wrongPassword = await call("DELETE", "/v1/me/mfa/totp", {
        password: "not my passphrase 1",
        code: next,
      });
      expect(wrongPassword.json().error.details).toEqual([
        expect.objectContaining({ field: "password", message: "is incorrect" }),
      ]);
      const wrongCode = await call("DELETE", "/v1/me/mfa/totp", { password: PW, code: "zzzzz-zzzzz" });
      expect(wrongCode.json().error.code).toBe("MFA_CODE_INVALID");
      expect((await call("DELETE", "/v1/me/mfa/totp", { password: PW, code: next })).statusCode).toBe(204);
    } finally {
      vi.useRealTimers();
    }
  });

  it("AUTH-14: starting enrolment, turning TOTP off and renewing backup codes each refuse a request without the password", async () => {
    await createUser(t, "gate@example.org", PW);
    const s = await login(t, "gate@example.org", PW);
    for (const [method, url, payload] of [
      ["POST", "/v1/me/mfa/totp", {}],
      ["DELETE", "/v1/me/mfa/totp", { code: "123456" }],
      ["POST", "/v1/me/mfa/backup-codes", { code: "123456" }],
    ] as const) {
      const res = await t.app.inject({
        method,
        url,
        payload,
        headers: { cookie: s.cookie, "x-csrf-token": s.csrf },
      });
      expect(res.json().error.details, url).toEqual([expect.objectContaining({ field: "password" })]);
    }
  });
});

describe(`reset and verification mails under their limits (${ENGINE})`, () => {
  let t: TestApp;
  let smtp: Awaited<ReturnType<typeof startSmtpReceiver>>;
  beforeAll(async () => {
    smtp = await startSmtpReceiver();
    t = await testApp({ SMTP_URL: smtp.url, EMAIL_MAX_PER_HOUR: "2" });
    for (const n of [1, 2, 3]) await createUser(t, `mail${n}@example.org`, PW, { verified: n !== 3 });
  });
  afterAll(async () => {
    await t.close();
    await smtp.close();
  });
  const ask = (url: string, email: string, ip: string) =>
    t.app.inject({ method: "POST", url, remoteAddress: ip, payload: { email } });

  for (const [url, subject] of [
    ["/v1/auth/password/forgot", /reset/i],
    ["/v1/auth/verify-email/resend", /confirm/i],
  ] as const) {
    it(`AUTH-7: ${url}: at most EMAIL_MAX_PER_HOUR requests per IP, and mails per address whatever the IP`, async () => {
      const ip = url.includes("forgot") ? "198.51.100.1" : "198.51.100.2";
      const codes = [];
      for (const n of [1, 2, 1]) codes.push((await ask(url, `mail${n}@example.org`, ip)).statusCode);
      expect(codes).toEqual([202, 202, 429]);
      // Per address: three requests from three fresh addresses, the same answer each time, two mails.
      smtp.mails.length = 0;
      const target = url.includes("forgot") ? "mail2@example.org" : "mail3@example.org";
      for (const n of [11, 12, 13])
        expect((await ask(url, target, `203.0.113.${n}${ip.slice(-1)}`)).statusCode).toBe(202);
      await new Promise((r) => setTimeout(r, 300));
      const sent = smtp.mails.filter((m) => m.to.includes(target) && subject.test(m.subject)).length;
      expect(sent).toBeLessThanOrEqual(2);
      expect(sent).toBeGreaterThanOrEqual(1);
    });
  }
});

describe(`two nodes on one database (${ENGINE})`, () => {
  it("AUTH-7: without Redis, counters are kept in each server process: failures on one node do not count on another", async () => {
    const { buildApp } = await import("../app.js");
    const { testConfig, testDb } = await import("../../test/harness.js");
    const d = await testDb();
    const config = testConfig({ LOGIN_MAX_ATTEMPTS: "2" });
    const sink = { write: () => {} };
    const [a, b] = [
      await buildApp(config, { db: d.db, logStream: sink }),
      await buildApp(config, { db: d.db, logStream: sink }),
    ];
    try {
      await Promise.all([a.ready(), b.ready()]);
      const guess = (app: typeof a, i: number) =>
        app.inject({
          method: "POST",
          url: "/v1/auth/login",
          remoteAddress: "192.0.2.99",
          payload: { email: "x@example.org", password: `wrong guess number ${i}` },
        });
      const onA = [];
      for (let i = 0; i < 3; i++) onA.push((await guess(a, i)).json().error.code);
      expect(onA).toEqual(["INVALID_CREDENTIALS", "INVALID_CREDENTIALS", "RATE_LIMITED"]);
      expect((await guess(b, 9)).json().error.code).toBe("INVALID_CREDENTIALS");
    } finally {
      await a.close();
      await b.close();
      await d.cleanup();
    }
  });
});
