import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import bcrypt from "bcryptjs";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createUser, ENGINE, login, type TestApp, testApp } from "../../test/harness.js";
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

  it("AUTH-4: an expired reset token fails", async () => {
    const userId = await createUser(t, "expired@example.org", PW);
    const { newSecret, sha256 } = await import("../util/ids.js");
    const token = newSecret("bwr");
    await new IdentityStore(t.db.global).insertToken({
      id: sha256(token),
      user_id: userId,
      purpose: "reset_password",
      expires_at: Date.now() - 1,
      consumed_at: null,
      created_at: Date.now() - 1_800_001,
    });
    const res = await post("/v1/auth/password/reset", { token, password: "a fine new passphrase" });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe("TOKEN_INVALID");
  });

  it("AUTH-7: the 6th sign-in attempt in 15 minutes gets 429, and the account still signs in from another address", async () => {
    await createUser(t, "victim@example.org", PW);
    for (let i = 0; i < 5; i++) {
      const res = await post(
        "/v1/auth/login",
        { email: "victim@example.org", password: `wrong guess ${i}` },
        { remoteAddress: "203.0.113.66" },
      );
      expect(res.statusCode).toBe(401);
    }
    const sixth = await post(
      "/v1/auth/login",
      { email: "victim@example.org", password: PW },
      { remoteAddress: "203.0.113.66" },
    );
    expect(sixth.statusCode).toBe(429);
    expect(sixth.json().error.code).toBe("RATE_LIMITED");
    expect(Number(sixth.headers["retry-after"])).toBeGreaterThan(0);
    expect(Number(sixth.headers["retry-after"])).toBeLessThanOrEqual(15 * 60 * 2);
    const owner = await post(
      "/v1/auth/login",
      { email: "victim@example.org", password: PW },
      { remoteAddress: "198.51.100.20" },
    );
    expect(owner.statusCode).toBe(200);
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

  it("AUTH-5: a session ends after the idle timeout and after the absolute lifetime", async () => {
    await createUser(t, "idle@example.org", PW);
    vi.useFakeTimers({ toFake: ["Date"] });
    const start = Date.now();
    const a = await login(t, "idle@example.org", PW);
    const me = (cookie: string) => t.app.inject({ url: "/v1/me", headers: { cookie } });
    vi.setSystemTime(start + 59 * 60_000);
    expect((await me(a.cookie)).statusCode).toBe(200);
    vi.setSystemTime(start + 59 * 60_000 + 61 * 60_000);
    expect((await me(a.cookie)).statusCode).toBe(401);
    // Absolute: used every 50 minutes, still gone after 24 hours.
    vi.setSystemTime(start);
    const b = await login(t, "idle@example.org", PW);
    for (let m = 50; m < 24 * 60; m += 50) {
      vi.setSystemTime(start + m * 60_000);
      expect((await me(b.cookie)).statusCode).toBe(200);
    }
    vi.setSystemTime(start + 24 * 3_600_000 + 1);
    expect((await me(b.cookie)).statusCode).toBe(401);
  });

  it("AUTH-14: a sensitive operation needs a recent password entry", async () => {
    await createUser(t, "reauth@example.org", PW);
    vi.useFakeTimers({ toFake: ["Date"] });
    const start = Date.now();
    const s = await login(t, "reauth@example.org", PW);
    const confirm = () =>
      post("/v1/me/mfa/totp/confirm", { code: "123456" }, { cookie: s.cookie, csrf: s.csrf });
    // Fresh from sign-in: past the guard (there is simply no pending enrolment).
    expect((await confirm()).json().error.code).toBe("MFA_ENROLMENT_NOT_STARTED");
    vi.setSystemTime(start + 11 * 60_000);
    const stale = await confirm();
    expect(stale.statusCode).toBe(403);
    expect(stale.json().error.code).toBe("REAUTH_REQUIRED");
    expect(
      (await post("/v1/auth/reauth", { password: "wrong password here" }, { cookie: s.cookie, csrf: s.csrf }))
        .statusCode,
    ).toBe(400);
    expect(
      (await post("/v1/auth/reauth", { password: PW }, { cookie: s.cookie, csrf: s.csrf })).statusCode,
    ).toBe(200);
    expect((await confirm()).json().error.code).toBe("MFA_ENROLMENT_NOT_STARTED");
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
    expect(unknown.statusCode).toBe(401);
    expect(JSON.parse(unknown.body).error.message).toBe(JSON.parse(wrong.body).error.message);
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
      expect(bad.json().error.details[0].message).toBe("has appeared in 3861493 data breaches");
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
