import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import bcrypt from "bcryptjs";
import * as OTPAuth from "otpauth";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createUser, ENGINE, login, type TestApp, testApp } from "../../test/harness.js";
import { startSmtpReceiver, tokenFrom } from "../../test/smtp.js";
import { IdentityStore } from "./store.js";

const PW = "a long enough passphrase 1";

describe(`identity (${ENGINE})`, () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp({ LOGIN_MAX_ATTEMPTS: "5", LOGIN_WINDOW_MINUTES: "15", SIGNUP_MAX_PER_HOUR: "5" });
  });
  afterAll(() => t.close());
  afterEach(() => {
    vi.useRealTimers();
  });

  const me = (cookie: string) => t.app.inject({ url: "/v1/me", headers: { cookie } });
  const post = (
    url: string,
    payload: object,
    extra: { cookie?: string; csrf?: string; remoteAddress?: string; headers?: Record<string, string> } = {},
  ) =>
    t.app.inject({
      method: "POST",
      url,
      payload,
      remoteAddress: extra.remoteAddress ?? "127.0.0.1",
      headers: {
        ...(extra.cookie ? { cookie: extra.cookie } : {}),
        ...(extra.csrf ? { "x-csrf-token": extra.csrf } : {}),
        ...extra.headers,
      },
    });

  it("AUTH-2: an 11-character password is refused with a field error", async () => {
    const res = await post(
      "/v1/auth/signup",
      { email: "short@example.org", password: "abcdefghijk" },
      { remoteAddress: "10.0.0.1" },
    );
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe("VALIDATION_FAILED");
    expect(res.json().error.details).toEqual([
      { in: "body", field: "password", message: "must be at least 12 characters" },
    ]);
  });

  it("AUTH-2: a breached password is refused with a field error", async () => {
    const res = await post(
      "/v1/auth/signup",
      { email: "breach@example.org", password: "Qwerty123456" },
      { remoteAddress: "10.0.0.2" },
    );
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe("VALIDATION_FAILED");
    expect(res.json().error.details).toEqual([
      { in: "body", field: "password", message: "is a commonly used, breached password" },
    ]);
  });

  it("AUTH-1: a bcrypt-imported user signs in, and the stored hash becomes argon2id", async () => {
    const id = await createUser(t, "legacy@example.org", PW, { hash: bcrypt.hashSync(PW, 10) });
    const res = await post("/v1/auth/login", { email: "legacy@example.org", password: PW });
    expect(res.statusCode).toBe(200);
    const row = await new IdentityStore(t.db.global).findUserById(id);
    expect(row?.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    // And the new hash still verifies.
    expect((await post("/v1/auth/login", { email: "legacy@example.org", password: PW })).statusCode).toBe(
      200,
    );
  });

  it("AUTH-4: an unknown address and a known one get the same status and body on reset", async () => {
    await createUser(t, "known@example.org", PW);
    const known = await post(
      "/v1/auth/password/forgot",
      { email: "known@example.org" },
      { remoteAddress: "10.0.1.1" },
    );
    const unknown = await post(
      "/v1/auth/password/forgot",
      { email: "nobody@example.org" },
      { remoteAddress: "10.0.1.2" },
    );
    expect(known.statusCode).toBe(202);
    expect(unknown.statusCode).toBe(known.statusCode);
    expect(unknown.body).toBe(known.body);
  });

  it("AUTH-4: a reset token used twice concurrently works exactly once", async () => {
    const userId = await createUser(t, "race@example.org", PW);
    const { newSecret, sha256 } = await import("../util/ids.js");
    const token = newSecret("bwr");
    await new IdentityStore(t.db.global).insertToken({
      id: sha256(token),
      user_id: userId,
      purpose: "reset_password",
      expires_at: Date.now() + 60_000,
      consumed_at: null,
      created_at: Date.now(),
    });
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        post("/v1/auth/password/reset", { token, password: `fresh passphrase number ${i}` }),
      ),
    );
    expect(results.filter((r) => r.statusCode === 200)).toHaveLength(1);
    expect(
      results.filter((r) => r.statusCode === 400 && r.json().error.code === "TOKEN_INVALID"),
    ).toHaveLength(4);
  });

  it("AUTH-4: consumeOne under concurrency: exactly one caller receives the token's user", async () => {
    const store = new IdentityStore(t.db.global);
    const userId = await createUser(t, "consume@example.org", PW);
    await store.insertToken({
      id: "tok-race",
      user_id: userId,
      purpose: "verify_email",
      expires_at: Date.now() + 60_000,
      consumed_at: null,
      created_at: Date.now(),
    });
    const got = await Promise.all(
      Array.from({ length: 20 }, () => store.consumeToken("tok-race", "verify_email", Date.now())),
    );
    expect(got.filter((g) => g === userId)).toHaveLength(1);
    expect(got.filter((g) => g === null)).toHaveLength(19);
  });

  /** A sign-in from `ip`; its status and error code. */
  const signIn = async (email: string, password: string, ip: string) => {
    const res = await post("/v1/auth/login", { email, password }, { remoteAddress: ip });
    return { status: res.statusCode, code: res.statusCode === 200 ? "OK" : res.json().error.code, res };
  };

  it("AUTH-7: the 6th sign-in attempt from one address in 15 minutes gets 429, even with the right password, and the account still signs in from another address", async () => {
    await createUser(t, "victim@example.org", PW);
    for (let i = 0; i < 5; i++)
      expect(await signIn("victim@example.org", `wrong guess ${i}`, "203.0.113.66")).toMatchObject({
        status: 401,
        code: "INVALID_CREDENTIALS",
      });
    const sixth = await signIn("victim@example.org", PW, "203.0.113.66");
    expect(sixth).toMatchObject({ status: 429, code: "RATE_LIMITED" });
    expect(Number(sixth.res.headers["retry-after"])).toBeGreaterThan(0);
    expect(Number(sixth.res.headers["retry-after"])).toBeLessThanOrEqual(15 * 60 * 2);
    expect(await signIn("victim@example.org", PW, "198.51.100.20")).toMatchObject({ status: 200 });
  });

  it("AUTH-7: per IP address: five failures from one address on five different accounts close that address to every account", async () => {
    for (let i = 0; i < 6; i++) await createUser(t, `spray${i}@example.org`, PW);
    // One failure per account: a limit counted per account alone would never close.
    for (let i = 0; i < 5; i++)
      expect(await signIn(`spray${i}@example.org`, "a wrong password", "203.0.113.70")).toMatchObject({
        status: 401,
        code: "INVALID_CREDENTIALS",
      });
    expect(await signIn("spray5@example.org", PW, "203.0.113.70")).toMatchObject({
      status: 429,
      code: "RATE_LIMITED",
    });
    // The same account from another address is not affected.
    expect(await signIn("spray5@example.org", PW, "203.0.113.71")).toMatchObject({ status: 200 });
  });

  it("AUTH-7: no account-wide lockout: failures on one account from many addresses are each counted at their own address, so the owner is not locked out", async () => {
    await createUser(t, "sprayed@example.org", PW);
    // Ten failures on one account, two from each of five addresses: none is refused, and the account
    // signs in from a sixth address; a limit counted per account everywhere would have closed it.
    for (let i = 0; i < 10; i++)
      expect(
        await signIn("sprayed@example.org", "a wrong password", `203.0.113.${80 + (i % 5)}`),
      ).toMatchObject({
        status: 401,
        code: "INVALID_CREDENTIALS",
      });
    expect(await signIn("sprayed@example.org", PW, "203.0.113.90")).toMatchObject({ status: 200 });
  });

  it("AUTH-7: X-Forwarded-For does not give a caller a fresh address unless it comes from a trusted proxy", async () => {
    await createUser(t, "forwarded@example.org", PW);
    // No TRUSTED_PROXIES here: the header is ignored, every guess counts against the socket's address.
    for (let i = 0; i < 5; i++) {
      const res = await post(
        "/v1/auth/login",
        { email: "forwarded@example.org", password: "a wrong password" },
        { remoteAddress: "203.0.113.100", headers: { "x-forwarded-for": `198.18.0.${i}` } },
      );
      expect(res.json().error.code).toBe("INVALID_CREDENTIALS");
    }
    const sixth = await post(
      "/v1/auth/login",
      { email: "forwarded@example.org", password: PW },
      { remoteAddress: "203.0.113.100", headers: { "x-forwarded-for": "198.18.0.99" } },
    );
    expect(sixth.json().error.code).toBe("RATE_LIMITED");
    // Behind a trusted proxy, the client address is the header's: each client is counted on its own.
    const proxied = await testApp({ TRUSTED_PROXIES: "127.0.0.1", LOGIN_MAX_ATTEMPTS: "5" });
    try {
      await createUser(proxied, "forwarded@example.org", PW);
      const via = (client: string, password: string) =>
        proxied.app.inject({
          method: "POST",
          url: "/v1/auth/login",
          payload: { email: "forwarded@example.org", password },
          remoteAddress: "127.0.0.1",
          headers: { "x-forwarded-for": client },
        });
      for (let i = 0; i < 5; i++)
        expect((await via("198.18.1.1", "a wrong password")).json().error.code).toBe("INVALID_CREDENTIALS");
      expect((await via("198.18.1.1", PW)).json().error.code).toBe("RATE_LIMITED");
      expect((await via("198.18.1.2", PW)).statusCode).toBe(200);
    } finally {
      await proxied.close();
    }
  });

  it("AUTH-7: the 6th sign-up from one address in an hour gets 429", async () => {
    const codes: number[] = [];
    for (let i = 0; i < 6; i++)
      codes.push(
        (
          await post(
            "/v1/auth/signup",
            { email: `s${i}@example.org`, password: `signup passphrase ${i}x` },
            { remoteAddress: "192.0.2.50" },
          )
        ).statusCode,
      );
    expect(codes).toEqual([202, 202, 202, 202, 202, 429]);
  });

  it("AUTH-7: a refused sign-up does not extend its own Retry-After, and the door reopens when the window says", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const start = Date.now();
      const signup = (i: number) =>
        post(
          "/v1/auth/signup",
          { email: `r${i}@example.org`, password: `signup passphrase ${i}y` },
          { remoteAddress: "192.0.2.77" },
        );
      for (let i = 0; i < 5; i++) expect((await signup(i)).statusCode).toBe(202);
      const retry: number[] = [];
      for (let i = 0; i < 4; i++) {
        vi.setSystemTime(start + i * 60_000);
        const refused = await signup(10 + i);
        expect(refused.statusCode).toBe(429);
        retry.push(Number(refused.headers["retry-after"]));
      }
      // Each retry a minute later is told to wait a minute less, never more.
      for (let i = 1; i < retry.length; i++) expect(retry[i]).toBeLessThanOrEqual(retry[i - 1]! - 59);
      // At the time it named, it is let in.
      vi.setSystemTime(start + 3 * 60_000 + retry[3]! * 1000);
      expect((await signup(20)).statusCode).toBe(202);
    } finally {
      vi.useRealTimers();
    }
  });

  it("AUTH-5: a state-changing cookie request without the CSRF token, or sent cross-site, gets 403", async () => {
    await createUser(t, "csrf@example.org", PW);
    const s = await login(t, "csrf@example.org", PW);
    const body = { currentPassword: PW, newPassword: "another fine passphrase" };
    const none = await post("/v1/me/password", body, { cookie: s.cookie });
    expect(none.statusCode).toBe(403);
    expect(none.json().error.code).toBe("CSRF_FAILED");
    const forged = await post("/v1/me/password", body, { cookie: s.cookie, csrf: "x".repeat(43) });
    expect(forged.json().error.code).toBe("CSRF_FAILED");
    const crossSite = await post("/v1/me/password", body, {
      cookie: s.cookie,
      csrf: s.csrf,
      headers: { "sec-fetch-site": "cross-site" },
    });
    expect(crossSite.json().error.code).toBe("CSRF_FAILED");
    const foreign = await post("/v1/me/password", body, {
      cookie: s.cookie,
      csrf: s.csrf,
      headers: { origin: "https://evil.example" },
    });
    expect(foreign.statusCode).toBe(403);
    expect(foreign.json().error.code).toBe("CORS_ORIGIN_DENIED");
    // The same request with the token from the same site succeeds.
    expect(
      (
        await post("/v1/me/password", body, {
          cookie: s.cookie,
          csrf: s.csrf,
          headers: { "sec-fetch-site": "same-origin" },
        })
      ).statusCode,
    ).toBe(200);
  });

  it("AUTH-5: a session unused for 60 minutes ends: alive 1 ms before, refused at 60 minutes", async () => {
    expect(t.config.auth.sessionIdleMs).toBe(60 * 60_000);
    await createUser(t, "idle@example.org", PW);
    vi.useFakeTimers({ toFake: ["Date"] });
    const start = Date.now();
    const a = await login(t, "idle@example.org", PW);
    const b = await login(t, "idle@example.org", PW);
    vi.setSystemTime(start + 60 * 60_000 - 1);
    expect((await me(a.cookie)).statusCode).toBe(200);
    vi.setSystemTime(start + 60 * 60_000);
    const idle = await me(b.cookie);
    expect(idle.statusCode).toBe(401);
    expect(idle.json().error.code).toBe("UNAUTHENTICATED");
  });

  it("AUTH-5: a session in use ends 24 hours after sign-in: alive 1 ms before, refused at 24 hours", async () => {
    expect(t.config.auth.sessionAbsoluteMs).toBe(24 * 3_600_000);
    await createUser(t, "absolute@example.org", PW);
    vi.useFakeTimers({ toFake: ["Date"] });
    const start = Date.now();
    const s = await login(t, "absolute@example.org", PW);
    // Used every 50 minutes: never idle.
    for (let m = 50; m < 24 * 60; m += 50) {
      vi.setSystemTime(start + m * 60_000);
      expect((await me(s.cookie)).statusCode).toBe(200);
    }
    vi.setSystemTime(start + 24 * 3_600_000 - 1);
    expect((await me(s.cookie)).statusCode).toBe(200);
    vi.setSystemTime(start + 24 * 3_600_000);
    const ended = await me(s.cookie);
    expect(ended.statusCode).toBe(401);
    expect(ended.json().error.code).toBe("UNAUTHENTICATED");
  });

  it("AUTH-14: a sensitive operation needs a password entry less than 10 minutes old: passes 1 ms before, refused at 10 minutes", async () => {
    expect(t.config.auth.reauthMs).toBe(10 * 60_000);
    await createUser(t, "reauth@example.org", PW);
    vi.useFakeTimers({ toFake: ["Date"] });
    const start = Date.now();
    const s = await login(t, "reauth@example.org", PW);
    const confirm = () =>
      post("/v1/me/mfa/totp/confirm", { code: "123456" }, { cookie: s.cookie, csrf: s.csrf });
    // Past the guard, the operation itself answers (there is simply no pending enrolment).
    vi.setSystemTime(start + 10 * 60_000 - 1);
    expect((await confirm()).json().error.code).toBe("MFA_ENROLMENT_NOT_STARTED");
    vi.setSystemTime(start + 10 * 60_000);
    const stale = await confirm();
    expect(stale.statusCode).toBe(403);
    expect(stale.json().error.code).toBe("REAUTH_REQUIRED");
    // A wrong password does not reopen it: refused as incorrect, not as a malformed body.
    const wrong = await post(
      "/v1/auth/reauth",
      { password: "wrong password here" },
      { cookie: s.cookie, csrf: s.csrf },
    );
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().error).toMatchObject({
      code: "VALIDATION_FAILED",
      details: [{ in: "body", field: "password", message: "is incorrect" }],
    });
    expect((await confirm()).json().error.code).toBe("REAUTH_REQUIRED");
    expect(
      (await post("/v1/auth/reauth", { password: PW }, { cookie: s.cookie, csrf: s.csrf })).statusCode,
    ).toBe(200);
    expect((await confirm()).json().error.code).toBe("MFA_ENROLMENT_NOT_STARTED");
  });

  it("AUTH-8: the two-factor step after the password lasts 5 minutes: redeemed 1 ms before, refused at 5 minutes", async () => {
    const userId = await createUser(t, "challenge@example.org", PW);
    const mfa = t.app.bulwark.service("mfa");
    const { secret } = await mfa.startEnrolment(userId, "challenge@example.org");
    await mfa.enrolConfirmed(userId);
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30 });
    vi.useFakeTimers({ toFake: ["Date"] });
    const start = Date.now();
    const challenges: string[] = [];
    for (const ip of ["10.8.0.1", "10.8.0.2"]) {
      const step1 = await post(
        "/v1/auth/login",
        { email: "challenge@example.org", password: PW },
        { remoteAddress: ip },
      );
      expect(step1.json()).toMatchObject({ mfaRequired: true });
      challenges.push(step1.json().challengeToken);
    }
    vi.setSystemTime(start + 5 * 60_000 - 1);
    const inTime = await post("/v1/auth/mfa/verify", {
      challengeToken: challenges[0],
      code: totp.generate(),
    });
    expect(inTime.statusCode).toBe(200);
    vi.setSystemTime(start + 5 * 60_000);
    const late = await post("/v1/auth/mfa/verify", {
      challengeToken: challenges[1],
      code: totp.generate({ timestamp: Date.now() + 30_000 }),
    });
    expect(late.statusCode).toBe(400);
    expect(late.json().error.code).toBe("TOKEN_INVALID");
  });

  it("AUTH-3: an unverified account cannot sign in", async () => {
    await createUser(t, "unverified@example.org", PW, { verified: false });
    const res = await post("/v1/auth/login", { email: "unverified@example.org", password: PW });
    expect(res.statusCode).toBe(403);
    expect(res.json().error.code).toBe("EMAIL_NOT_VERIFIED");
  });

  it("AUTH-1: an unknown address and a wrong password are indistinguishable", async () => {
    await createUser(t, "exists@example.org", PW);
    const wrong = await post(
      "/v1/auth/login",
      { email: "exists@example.org", password: "definitely not it" },
      { remoteAddress: "10.9.9.1" },
    );
    const unknown = await post(
      "/v1/auth/login",
      { email: "ghost@example.org", password: "definitely not it" },
      { remoteAddress: "10.9.9.2" },
    );
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().error.code).toBe("INVALID_CREDENTIALS");
    expect(unknown.statusCode).toBe(401);
    expect(unknown.json().error.code).toBe("INVALID_CREDENTIALS");
    expect(JSON.parse(unknown.body).error.message).toBe(JSON.parse(wrong.body).error.message);
  });
});

/**
 * Mailed links on a frozen clock, across their configured lifetimes: the link is issued at a known
 * instant (the clock stands still while the mail goes out) and used 1 ms before and exactly at its end.
 */
describe(`mailed link lifetimes (${ENGINE})`, () => {
  let t: TestApp;
  let smtp: Awaited<ReturnType<typeof startSmtpReceiver>>;
  beforeAll(async () => {
    smtp = await startSmtpReceiver();
    t = await testApp({ SMTP_URL: smtp.url });
  });
  afterAll(async () => {
    await t.close();
    await smtp.close();
  });
  afterEach(() => vi.useRealTimers());

  const post = (url: string, payload: object, remoteAddress: string) =>
    t.app.inject({ method: "POST", url, payload, remoteAddress });

  it("AUTH-4: a reset link works until 30 minutes after it was issued: accepted 1 ms before, refused at 30 minutes", async () => {
    const ttl = t.config.auth.resetTtlMs;
    expect(ttl).toBe(30 * 60_000);
    vi.useFakeTimers({ toFake: ["Date"] });
    const issued = Date.now();
    const tokens: string[] = [];
    for (const who of ["early", "late"]) {
      await createUser(t, `${who}.reset@example.org`, PW);
      expect(
        (await post("/v1/auth/password/forgot", { email: `${who}.reset@example.org` }, "10.7.0.1"))
          .statusCode,
      ).toBe(202);
      tokens.push(tokenFrom(await smtp.waitFor(`${who}.reset@example.org`, /Reset your password/)));
    }
    vi.setSystemTime(issued + ttl - 1);
    const early = await post(
      "/v1/auth/password/reset",
      { token: tokens[0], password: "a fine new passphrase" },
      "10.7.0.2",
    );
    expect(early.statusCode).toBe(200);
    vi.setSystemTime(issued + ttl);
    const late = await post(
      "/v1/auth/password/reset",
      { token: tokens[1], password: "a fine new passphrase" },
      "10.7.0.2",
    );
    expect(late.statusCode).toBe(400);
    expect(late.json().error.code).toBe("TOKEN_INVALID");
  });

  it("AUTH-3: a verification link works until 24 hours after it was issued: accepted 1 ms before, refused at 24 hours", async () => {
    const ttl = t.config.auth.verifyTtlMs;
    expect(ttl).toBe(24 * 3_600_000);
    vi.useFakeTimers({ toFake: ["Date"] });
    const issued = Date.now();
    const tokens: string[] = [];
    for (const who of ["early", "late"]) {
      const email = `${who}.verify@example.org`;
      expect(
        (await post("/v1/auth/signup", { email, password: PW }, `10.7.1.${tokens.length}`)).statusCode,
      ).toBe(202);
      tokens.push(tokenFrom(await smtp.waitFor(email, /Confirm your email/)));
    }
    vi.setSystemTime(issued + ttl - 1);
    const early = await post("/v1/auth/verify-email", { token: tokens[0] }, "10.7.1.9");
    expect(early.statusCode).toBe(200);
    expect(early.json().user).toMatchObject({ email: "early.verify@example.org", emailVerified: true });
    vi.setSystemTime(issued + ttl);
    const late = await post("/v1/auth/verify-email", { token: tokens[1] }, "10.7.1.9");
    expect(late.statusCode).toBe(400);
    expect(late.json().error.code).toBe("TOKEN_INVALID");
    // Still unverified: it cannot sign in.
    expect(
      (await post("/v1/auth/login", { email: "late.verify@example.org", password: PW }, "10.7.1.9")).json()
        .error.code,
    ).toBe("EMAIL_NOT_VERIFIED");
  });
});

describe("sign-up modes", () => {
  it("AUTH-12: allowed domains admit only their addresses; invite-only admits none", async () => {
    const domains = await testApp({ SIGNUP_MODE: "domains", SIGNUP_ALLOWED_DOMAINS: "acme.test" });
    const invite = await testApp({ SIGNUP_MODE: "invite" });
    try {
      const ok = await domains.app.inject({
        method: "POST",
        url: "/v1/auth/signup",
        payload: { email: "x@ACME.test", password: PW },
      });
      expect(ok.statusCode).toBe(202);
      const no = await domains.app.inject({
        method: "POST",
        url: "/v1/auth/signup",
        payload: { email: "x@other.test", password: PW },
      });
      expect(no.json().error.code).toBe("SIGNUP_NOT_ALLOWED");
      const inv = await invite.app.inject({
        method: "POST",
        url: "/v1/auth/signup",
        payload: { email: "x@acme.test", password: PW },
      });
      expect(inv.json().error.code).toBe("SIGNUP_NOT_ALLOWED");
    } finally {
      await domains.close();
      await invite.close();
    }
  });
});

describe("breached-password range check", () => {
  let server: Server;
  let url = "";
  const pwned = "correct horse battery staple";
  beforeAll(async () => {
    const digest = createHash("sha1").update(pwned).digest("hex").toUpperCase();
    server = createServer((req, res) => {
      const prefix = req.url?.split("/").pop() ?? "";
      res.end(
        prefix === digest.slice(0, 5)
          ? `0000000000000000000000000000000000A:1\r\n${digest.slice(5)}:3861493\r\n`
          : "0000000000000000000000000000000000B:2\r\n",
      );
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/range`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("AUTH-2: a password the range service knows is refused; one it does not know is accepted", async () => {
    const t = await testApp({ PASSWORD_RANGE_URL: url });
    try {
      const bad = await t.app.inject({
        method: "POST",
        url: "/v1/auth/signup",
        payload: { email: "p@example.org", password: pwned },
      });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().error.code).toBe("VALIDATION_FAILED");
      expect(bad.json().error.details).toEqual([
        { in: "body", field: "password", message: "has appeared in 3861493 data breaches" },
      ]);
      const good = await t.app.inject({
        method: "POST",
        url: "/v1/auth/signup",
        payload: { email: "q@example.org", password: "an unknown passphrase 9" },
      });
      expect(good.statusCode).toBe(202);
    } finally {
      await t.close();
    }
  });

  it("AUTH-2: an unreachable range service fails open, with a warning log line", async () => {
    const t = await testApp({
      PASSWORD_RANGE_URL: "http://127.0.0.1:1/range",
      PASSWORD_RANGE_TIMEOUT_MS: "500",
    });
    try {
      const res = await t.app.inject({
        method: "POST",
        url: "/v1/auth/signup",
        payload: { email: "r@example.org", password: pwned },
      });
      expect(res.statusCode).toBe(202);
      expect(t.logs.some((l) => l.level === "warn" && String(l.msg).includes("fail open"))).toBe(true);
    } finally {
      await t.close();
    }
  });
});
