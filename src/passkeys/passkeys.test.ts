import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createUser, ENGINE, login, type TestApp, testApp } from "../../test/harness.js";
import { SoftAuthenticator } from "../../test/soft-authenticator.js";
import type { Mail } from "../mail/mailer.js";

const PW = "passkey passphrase for tests";
const ORIGIN = "http://localhost:3000";

type H = Record<string, string>;
type Options = { challengeId: string; options: { challenge: string; user: { id: string } } };

/**
 * Passkeys (AUTH-13) through the API, with @simplewebauthn/server verifying what a software platform
 * authenticator sends (the browser test drives Chromium's virtual one): registration after a fresh
 * password proof, sign-in with the passkey alone, and every refusal a device or an attacker can cause.
 */
describe(`passkeys (${ENGINE})`, () => {
  let t: TestApp;
  let session: H;
  let device: SoftAuthenticator;
  const mails: Mail[] = [];
  let ip = 0;
  // Each request from its own address: the per-address limits have their own test below.
  const call = (method: string, url: string, headers: H = {}, payload?: object) =>
    t.app.inject({
      method: method as "GET",
      url,
      headers,
      remoteAddress: `10.5.${(++ip >> 8) & 255}.${ip & 255}`,
      ...(payload ? { payload } : {}),
    });
  const register = async (
    who: H,
    authenticator: SoftAuthenticator,
    o: { origin?: string; userVerified?: boolean } = {},
  ) => {
    const opts = (await call("POST", "/v1/me/passkeys/options", who, { password: PW })).json() as Options;
    return call("POST", "/v1/me/passkeys", who, {
      challengeId: opts.challengeId,
      name: "Laptop",
      credential: authenticator.create(opts.options, o),
    });
  };
  const signIn = async (
    authenticator: SoftAuthenticator,
    o: Parameters<SoftAuthenticator["get"]>[1] = {},
  ) => {
    const opts = (await call("POST", "/v1/auth/passkey/options", {}, {})).json() as Options;
    const credential = authenticator.get(opts.options, o);
    const res = await call("POST", "/v1/auth/passkey", {}, { challengeId: opts.challengeId, credential });
    return {
      res,
      replay: () => call("POST", "/v1/auth/passkey", {}, { challengeId: opts.challengeId, credential }),
    };
  };

  beforeAll(async () => {
    t = await testApp({}, undefined, { mailer: { send: async (m: Mail) => void mails.push(m) } });
    expect(t.config.publicUrl).toBe(ORIGIN);
    await createUser(t, "pk@example.org", PW);
    const s = await login(t, "pk@example.org", PW);
    session = { cookie: s.cookie, "x-csrf-token": s.csrf };
    device = new SoftAuthenticator("localhost", ORIGIN);
  });
  afterAll(() => t.close());
  afterEach(() => vi.useRealTimers());

  it("AUTH-13: a signed-in user adds a passkey; only its public key is stored", async () => {
    const res = await register(session, device);
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ name: "Laptop", deviceType: "singleDevice", backedUp: false });
    const list = (await call("GET", "/v1/me/passkeys", session)).json().passkeys;
    expect(list.map((p: { id: string }) => p.id)).toEqual([device.credentialId.toString("base64url")]);
    const row = await t.db.global.selectFrom("passkeys").selectAll().executeTakeFirstOrThrow();
    expect(row.public_key.length).toBeGreaterThan(80);
    expect(JSON.stringify(row)).not.toMatch(/"d"/);
    // Its owner is told by mail.
    await vi.waitFor(() =>
      expect(mails.some((m) => m.subject === "A passkey was added to your account")).toBe(true),
    );
  });

  it("AUTH-13: the passkey alone signs in, as a session like the password's; the answer works once", async () => {
    const { res, replay } = await signIn(device);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().user.email).toBe("pk@example.org");
    const cookie = String(res.headers["set-cookie"]).split(";")[0]!;
    expect((await call("GET", "/v1/me", { cookie })).json().user.email).toBe("pk@example.org");
    // A passkey proves no password: removing one from this session asks for it first.
    const fromPasskey = { cookie, "x-csrf-token": res.json().csrfToken };
    const id = device.credentialId.toString("base64url");
    const remove = await call("DELETE", `/v1/me/passkeys/${id}`, fromPasskey);
    expect(remove.json().error.code).toBe("REAUTH_REQUIRED");
    const again = await replay();
    expect(again.statusCode).toBe(401);
    expect(again.json().error.code).toBe("PASSKEY_REFUSED");
  });

  it("AUTH-13: refused: another origin, no user verification, a counter gone back, an unknown passkey", async () => {
    const cases: Array<
      [string, () => Promise<{ res: { statusCode: number; json(): { error: { code: string } } } }>]
    > = [
      ["origin", () => signIn(device, { origin: "https://evil.example" })],
      ["no user verification", () => signIn(device, { userVerified: false })],
      ["counter back", () => signIn(device, { counter: 1 })],
      ["unknown", () => signIn(new SoftAuthenticator("localhost", ORIGIN))],
    ];
    for (const [label, run] of cases) {
      const { res } = await run();
      expect(res.statusCode, label).toBe(401);
      expect(res.json().error.code, label).toBe("PASSKEY_REFUSED");
    }
    // Registration from another origin, or without user verification, is refused too.
    for (const o of [{ origin: "https://evil.example" }, { userVerified: false }]) {
      const res = await register(session, new SoftAuthenticator("localhost", ORIGIN), o);
      expect(res.statusCode, JSON.stringify(o)).toBe(401);
    }
    // The device still works afterwards (its counter is ahead of the stored one).
    device.counter = 100;
    expect((await signIn(device)).res.statusCode).toBe(200);
  });

  it("AUTH-13: a sign-in challenge lasts five minutes (frozen clock)", async () => {
    const start = Date.now();
    vi.useFakeTimers({ toFake: ["Date"], now: start });
    const opts = (await call("POST", "/v1/auth/passkey/options", {}, {})).json() as Options;
    vi.setSystemTime(start + 5 * 60_000 - 1_000);
    const fresh = await call(
      "POST",
      "/v1/auth/passkey",
      {},
      {
        challengeId: opts.challengeId,
        credential: device.get(opts.options),
      },
    );
    expect(fresh.statusCode, fresh.body).toBe(200);
    const late = (await call("POST", "/v1/auth/passkey/options", {}, {})).json() as Options;
    vi.setSystemTime(start + 10 * 60_000 + 1_000);
    const expired = await call(
      "POST",
      "/v1/auth/passkey",
      {},
      {
        challengeId: late.challengeId,
        credential: device.get(late.options),
      },
    );
    expect(expired.json().error.code).toBe("PASSKEY_REFUSED");
  });

  it("AUTH-13, AUTH-14: adding a passkey needs the password typed, even in a fresh session; removing needs a fresh proof; renaming does not", async () => {
    // A session alone (a stolen cookie, fresh from sign-in) cannot add a passkey: the password is typed.
    const bare = await call("POST", "/v1/me/passkeys/options", session, {});
    expect(bare.statusCode).toBe(400);
    expect(bare.json().error.code).toBe("VALIDATION_FAILED");
    const wrong = await call("POST", "/v1/me/passkeys/options", session, { password: "not the password" });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().error.details?.[0]?.field ?? wrong.json().error.code).toBeTruthy();
    expect(wrong.body).toMatch(/password/i);
    const start = Date.now();
    vi.useFakeTimers({ toFake: ["Date"], now: start + (t.config.auth.reauthMs + 60_000) });
    const id = device.credentialId.toString("base64url");
    expect((await call("DELETE", `/v1/me/passkeys/${id}`, session)).json().error.code).toBe(
      "REAUTH_REQUIRED",
    );
    expect((await call("PATCH", `/v1/me/passkeys/${id}`, session, { name: "Work laptop" })).statusCode).toBe(
      204,
    );
    expect((await call("POST", "/v1/auth/reauth", session, { password: PW })).statusCode).toBe(200);
    // Someone else's passkey is not found.
    await createUser(t, "other-pk@example.org", PW);
    const o = await login(t, "other-pk@example.org", PW);
    expect(
      (await call("DELETE", `/v1/me/passkeys/${id}`, { cookie: o.cookie, "x-csrf-token": o.csrf }))
        .statusCode,
    ).toBe(404);
    expect((await call("DELETE", `/v1/me/passkeys/${id}`, session)).statusCode).toBe(204);
    vi.useRealTimers();
    expect((await signIn(device)).res.json().error.code).toBe("PASSKEY_REFUSED");
  });

  it("AUTH-13: adding and removing are in the audit log", async () => {
    const audit = t.app.bulwark.service("audit");
    await audit.flush();
    const actions = (await audit.query({ log: "platform" }, 500)).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(["passkey.added", "passkey.removed"]));
  });

  it("AUTH-7, AUTH-13: refused passkeys count against the address's sign-in limit; starting ceremonies is bounded too", async () => {
    const stranger = new SoftAuthenticator("localhost", ORIGIN);
    const max = t.config.auth.login.maxAttempts;
    const codes: number[] = [];
    for (let n = 0; n < max + 1; n++) {
      const opts = (await call("POST", "/v1/auth/passkey/options", {}, {})).json() as Options;
      const res = await t.app.inject({
        method: "POST",
        url: "/v1/auth/passkey",
        payload: { challengeId: opts.challengeId, credential: stranger.get(opts.options) },
        remoteAddress: "10.6.0.1",
      });
      codes.push(res.statusCode);
    }
    expect(codes).toEqual([...Array(max).fill(401), 429]);
    const flood: number[] = [];
    for (let n = 0; n < max * 4 + 1; n++)
      flood.push(
        (
          await t.app.inject({
            method: "POST",
            url: "/v1/auth/passkey/options",
            payload: {},
            remoteAddress: "10.6.0.2",
          })
        ).statusCode,
      );
    expect(flood.at(-1)).toBe(429);
    expect(flood.slice(0, -1).every((c) => c === 200)).toBe(true);
    // Each refusal is a failed sign-in in the platform log.
    const audit = t.app.bulwark.service("audit");
    await audit.flush();
    const failed = (await audit.query({ log: "platform" }, 1000)).filter(
      (e) => e.action === "auth.login_failed" && JSON.parse(e.entry!).metadata?.reason === "passkey_refused",
    );
    expect(failed.length).toBeGreaterThanOrEqual(max);
  });
});
