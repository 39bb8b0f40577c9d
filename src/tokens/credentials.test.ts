import * as OTPAuth from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser, ENGINE, login, type TestApp, testApp } from "../../test/harness.js";

const PW = "credential passphrase for tests";

/**
 * Tokens from a password (AUTH-9, AUTH-8, AUTH-7): a caller without a session proves the password, and
 * the second factor when the account has one, in one request; the sign-in's limits apply.
 */
describe(`tokens from credentials (${ENGINE})`, () => {
  let t: TestApp;
  let org: string;
  let totp: OTPAuth.TOTP;
  let backupCodes: string[] = [];
  let ip = 0;
  const mint = (body: object) =>
    t.app.inject({
      method: "POST",
      url: "/v1/auth/token/credentials",
      payload: body,
      remoteAddress: `10.9.0.${++ip}`,
    });

  beforeAll(async () => {
    t = await testApp({ LOGIN_MAX_ATTEMPTS: "3" });
    await createUser(t, "plain@example.org", PW);
    await createUser(t, "guarded@example.org", PW);
    const plain = await login(t, "plain@example.org", PW);
    const h = { cookie: plain.cookie, "x-csrf-token": plain.csrf };
    org = (
      await t.app.inject({ method: "POST", url: "/v1/orgs", headers: h, payload: { name: "Cli Co" } })
    ).json().org.id;
    const g = await login(t, "guarded@example.org", PW);
    const gh = { cookie: g.cookie, "x-csrf-token": g.csrf };
    const { OrgStore } = await import("../orgs/store.js");
    const guardedId = (await t.app.inject({ url: "/v1/me", headers: gh })).json().user.id;
    await new OrgStore(t.db.global, t.db.engine).addMember(org, guardedId, "MEMBER", Date.now());
    const enrol = await t.app.inject({
      method: "POST",
      url: "/v1/me/mfa/totp",
      headers: gh,
      payload: { password: PW },
    });
    totp = new OTPAuth.TOTP({
      secret: OTPAuth.Secret.fromBase32(enrol.json().secret),
      digits: 6,
      period: 30,
    });
    const confirmed = await t.app.inject({
      method: "POST",
      url: "/v1/me/mfa/totp/confirm",
      headers: gh,
      payload: { code: totp.generate() },
    });
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    backupCodes = confirmed.json().backupCodes;
  });
  afterAll(() => t.close());

  it("AUTH-9: an email and password mint a pair for an organisation, audited as the user", async () => {
    const res = await mint({ email: "plain@example.org", password: PW, orgId: org, scopes: ["org:read"] });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.headers["cache-control"]).toBe("no-store");
    const pair = res.json() as { accessToken: string; scopes: string[] };
    expect(pair.scopes).toEqual(["org:read"]);
    const call = await t.app.inject({
      url: `/v1/orgs/${org}`,
      headers: { authorization: `Bearer ${pair.accessToken}` },
    });
    expect(call.statusCode).toBe(200);
    const wrong = await mint({ email: "plain@example.org", password: "not it at all", orgId: org });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().error.code).toBe("INVALID_CREDENTIALS");
    const audit = t.app.bulwark.service("audit");
    await audit.flush();
    const issued = (await audit.query({ log: org }, 50)).filter((e) => e.action === "auth.token_issued");
    expect(issued.length).toBeGreaterThan(0);
    expect(issued.map((e) => e.actor_type)).not.toContain("ANONYMOUS");
    expect(JSON.stringify(issued)).toContain("plain@example.org");
  });

  it("AUTH-8, AUTH-9: with two-factor authentication on, the code is required, checked and spent", async () => {
    const base = { email: "guarded@example.org", password: PW, orgId: org };
    const none = await mint(base);
    expect(none.statusCode).toBe(401);
    expect(none.json().error.code).toBe("MFA_CODE_REQUIRED");
    const bad = await mint({ ...base, code: "000000" === totp.generate() ? "111111" : "000000" });
    expect(bad.json().error.code).toBe("MFA_CODE_INVALID");
    // A wrong password with a code is the password's refusal: the code is never looked at.
    const wrongPw = await mint({ ...base, password: "not it at all", code: totp.generate() });
    expect(wrongPw.json().error.code).toBe("INVALID_CREDENTIALS");
    // The enrolment spent this 30-second step's code: the next step's is accepted (a window of one).
    const code = totp.generate({ timestamp: Date.now() + 30_000 });
    const ok = await mint({ ...base, code });
    expect(ok.statusCode, ok.body).toBe(201);
    const replay = await mint({ ...base, code });
    expect(replay.json().error.code).toBe("MFA_CODE_INVALID");
    // Each refusal of the second factor, and the success, are sign-in events of the platform log.
    const audit = t.app.bulwark.service("audit");
    await audit.flush();
    const events = await audit.query({ log: "platform" }, 200);
    const entries = events.map((e) => ({ action: e.action, ...JSON.parse(e.entry ?? "{}") }));
    const reasons = entries
      .filter((e) => e.action === "auth.login_failed" && JSON.stringify(e).includes("guarded@example.org"))
      .map((e) => e.metadata?.reason);
    expect(reasons).toEqual(
      expect.arrayContaining(["mfa_code_missing", "mfa_code_invalid", "wrong_password"]),
    );
    const ok2 = entries.filter(
      (e) => e.action === "auth.login_succeeded" && e.metadata?.method === "credentials",
    );
    expect(ok2.length).toBeGreaterThan(0);
  });

  it("AUTH-8, AUTH-9: with two-factor authentication on, the password alone reveals nothing of the organisation", async () => {
    const unknownOrg = "org_01JD8X5K2M3N4P5Q6R7S8T9V0W";
    const body = { email: "guarded@example.org", password: PW };
    // Member or not, any role: the same answer until the second factor is proved.
    for (const extra of [
      { orgId: unknownOrg },
      { orgId: org, scopes: ["webhooks:manage"] },
      { orgId: org },
    ]) {
      const none = await mint({ ...body, ...extra });
      expect(none.json().error.code).toBe("MFA_CODE_REQUIRED");
      const wrong = await mint({ ...body, ...extra, code: "00000000" });
      expect(wrong.json().error.code).toBe("MFA_CODE_INVALID");
    }
    // With the factor proved, the organisation's answer: not found, and the role's refusal.
    const unknown = await mint({ ...body, orgId: unknownOrg, code: backupCodes[0] });
    expect(unknown.statusCode).toBe(404);
    const scoped = await mint({ ...body, orgId: org, scopes: ["webhooks:manage"], code: backupCodes[1] });
    expect(scoped.statusCode, scoped.body).toBe(403);
  });

  it("AUTH-7: wrong passwords from one address are limited like sign-in's", async () => {
    const from = { method: "POST" as const, url: "/v1/auth/token/credentials", remoteAddress: "10.8.0.1" };
    const body = { email: "plain@example.org", password: "guess number one", orgId: org };
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) codes.push((await t.app.inject({ ...from, payload: body })).statusCode);
    expect(codes).toEqual([401, 401, 401, 429]);
    // The right password from that address waits too: the limit counts attempts, not failures alone.
    const right = await t.app.inject({ ...from, payload: { ...body, password: PW } });
    expect(right.statusCode).toBe(429);
  });
});
