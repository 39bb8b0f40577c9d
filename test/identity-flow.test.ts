import { sql } from "kysely";
import * as OTPAuth from "otpauth";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Client } from "./client.js";
import { ENGINE, type TestApp, testApp } from "./harness.js";
import { startSmtpReceiver, tokenFrom } from "./smtp.js";

const EMAIL = "ada@example.org";
const PASSWORD = "correct horse battery staple 42";
const NEW_PASSWORD = "a completely different passphrase 7";
const THIRD_PASSWORD = "yet another long passphrase 99";

describe(`identity end to end over HTTP with a real SMTP receiver (${ENGINE})`, () => {
  let t: TestApp;
  let smtp: Awaited<ReturnType<typeof startSmtpReceiver>>;
  let base: string;
  const secrets: string[] = [PASSWORD, NEW_PASSWORD, THIRD_PASSWORD];

  beforeAll(async () => {
    smtp = await startSmtpReceiver();
    t = await testApp({ SMTP_URL: smtp.url, PUBLIC_URL: "http://localhost:3000" });
    base = await t.app.listen({ port: 0, host: "127.0.0.1" });
  });
  afterAll(async () => {
    await t.close();
    await smtp.close();
  });

  it("AUTH-3/AUTH-4/AUTH-5/AUTH-8: signup → verify → login → TOTP → backup code → sessions → revoke → reset → change password", async () => {
    const browser = new Client(base);
    // Sign up: the answer does not say whether the address was new.
    const signup = await browser.post("/v1/auth/signup", { email: EMAIL, password: PASSWORD });
    expect(signup.status).toBe(202);
    // AUTH-3: no access before the email is confirmed.
    const early = await browser.post("/v1/auth/login", { email: EMAIL, password: PASSWORD });
    expect(early.status).toBe(403);
    expect(early.json.error.code).toBe("EMAIL_NOT_VERIFIED");

    const verifyMail = await smtp.waitFor(EMAIL, /Confirm your email/);
    const verifyToken = tokenFrom(verifyMail);
    secrets.push(verifyToken);
    expect(verifyMail.text).toContain(`http://localhost:3000/verify-email?token=${verifyToken}`);
    const verified = await browser.post("/v1/auth/verify-email", { token: verifyToken });
    expect(verified.status).toBe(200);
    expect(verified.json.user).toMatchObject({ email: EMAIL, emailVerified: true });
    // Single use.
    expect((await browser.post("/v1/auth/verify-email", { token: verifyToken })).json.error.code).toBe(
      "TOKEN_INVALID",
    );

    // Sign in: a cookie session, HttpOnly and SameSite=Lax.
    const login = await browser.post("/v1/auth/login", { email: EMAIL, password: PASSWORD });
    expect(login.status).toBe(200);
    const setCookie = login.headers.getSetCookie().join("\n");
    expect(setCookie).toMatch(
      /bulwark_session=bws_[A-Za-z0-9_-]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=86400/,
    );
    secrets.push(browser.cookie("bulwark_session")!);
    const me = await browser.get("/v1/me");
    expect(me.status).toBe(200);
    expect(me.json.user.email).toBe(EMAIL);

    // AUTH-8: enrol TOTP behind the password gate, confirm it with a first code.
    // A wrong password is refused as incorrect (a field error), not as a malformed body.
    const gate = await browser.post("/v1/me/mfa/totp", { password: "not the password" });
    expect(gate.status).toBe(400);
    expect(gate.json.error).toMatchObject({
      code: "VALIDATION_FAILED",
      details: [{ in: "body", field: "password", message: "is incorrect" }],
    });
    const enrol = await browser.post("/v1/me/mfa/totp", { password: PASSWORD });
    expect(enrol.status).toBe(200);
    expect(enrol.json.otpauthUri).toMatch(/^otpauth:\/\/totp\/.*secret=/);
    expect(enrol.json.qrCode).toMatch(/^data:image\/svg\+xml;base64,/);
    const totp = new OTPAuth.TOTP({
      secret: OTPAuth.Secret.fromBase32(enrol.json.secret),
      digits: 6,
      period: 30,
    });
    secrets.push(enrol.json.secret);
    const confirm = await browser.post("/v1/me/mfa/totp/confirm", { code: totp.generate() });
    expect(confirm.status).toBe(200);
    const backupCodes: string[] = confirm.json.backupCodes;
    expect(backupCodes).toHaveLength(10);
    secrets.push(...backupCodes);
    await smtp.waitFor(EMAIL, /Two-factor authentication changed/);
    expect((await browser.post("/v1/auth/logout")).status).toBe(204);
    expect((await browser.get("/v1/me")).json.error.code).toBe("UNAUTHENTICATED");

    // Sign in with TOTP: the password alone earns a challenge, not a session.
    const step1 = await browser.post("/v1/auth/login", { email: EMAIL, password: PASSWORD });
    expect(step1.json).toMatchObject({ mfaRequired: true });
    expect(browser.cookie("bulwark_session")).toBeUndefined();
    // The confirmation code's time step is spent; the next step's code is accepted once.
    const nextCode = totp.generate({ timestamp: Date.now() + 30_000 });
    const viaTotp = await browser.post("/v1/auth/mfa/verify", {
      challengeToken: step1.json.challengeToken,
      code: nextCode,
    });
    expect(viaTotp.status).toBe(200);
    secrets.push(browser.cookie("bulwark_session")!);
    const replay = await new Client(base).post("/v1/auth/login", { email: EMAIL, password: PASSWORD });
    const replayed = await new Client(base).post("/v1/auth/mfa/verify", {
      challengeToken: replay.json.challengeToken,
      code: nextCode,
    });
    expect(replayed.status).toBe(401);
    expect(replayed.json.error.code).toBe("MFA_CODE_INVALID");

    // A second device signs in with a backup code, which then never works again.
    const phone = new Client(base, { "user-agent": "Phone/1.0" });
    const phoneStep = await phone.post("/v1/auth/login", { email: EMAIL, password: PASSWORD });
    expect(
      (
        await phone.post("/v1/auth/mfa/verify", {
          challengeToken: phoneStep.json.challengeToken,
          code: backupCodes[0],
        })
      ).status,
    ).toBe(200);
    secrets.push(phone.cookie("bulwark_session")!);
    const again = await new Client(base).post("/v1/auth/login", { email: EMAIL, password: PASSWORD });
    expect(
      (
        await new Client(base).post("/v1/auth/mfa/verify", {
          challengeToken: again.json.challengeToken,
          code: backupCodes[0],
        })
      ).json.error.code,
    ).toBe("MFA_CODE_INVALID");

    // A sign-in from a new device is announced to the owner.
    const notice = await smtp.waitFor(EMAIL, /New sign-in/, "Phone/1.0");
    expect(notice.to).toEqual([EMAIL]);

    // The first device lists its sessions and revokes the phone's.
    const list = await browser.get("/v1/me/sessions");
    expect(list.json.sessions).toHaveLength(2);
    const other = list.json.sessions.find((s: { current: boolean }) => !s.current);
    expect(other.userAgent).toBe("Phone/1.0");
    expect((await browser.delete(`/v1/me/sessions/${other.id}`)).status).toBe(204);
    // Revocation takes effect on the very next request.
    expect((await phone.get("/v1/me")).json.error.code).toBe("UNAUTHENTICATED");
    expect((await browser.get("/v1/me")).status).toBe(200);

    // Password reset: the mail carries a single-use link; a reset signs out every session.
    expect((await new Client(base).post("/v1/auth/password/forgot", { email: EMAIL })).status).toBe(202);
    const resetMail = await smtp.waitFor(EMAIL, /Reset your password/);
    const resetToken = tokenFrom(resetMail);
    secrets.push(resetToken);
    const reset = await new Client(base).post("/v1/auth/password/reset", {
      token: resetToken,
      password: NEW_PASSWORD,
    });
    expect(reset.status).toBe(200);
    expect((await browser.get("/v1/me")).json.error.code).toBe("UNAUTHENTICATED");
    expect(
      (
        await new Client(base).post("/v1/auth/password/reset", {
          token: resetToken,
          password: THIRD_PASSWORD,
        })
      ).json.error.code,
    ).toBe("TOKEN_INVALID");
    expect((await browser.post("/v1/auth/login", { email: EMAIL, password: PASSWORD })).json.error.code).toBe(
      "INVALID_CREDENTIALS",
    );

    // Change password: needs the current one and the CSRF token; keeps this session, ends the others.
    const back = await browser.post("/v1/auth/login", { email: EMAIL, password: NEW_PASSWORD });
    expect(
      (
        await browser.post("/v1/auth/mfa/verify", {
          challengeToken: back.json.challengeToken,
          code: backupCodes[1],
        })
      ).status,
    ).toBe(200);
    secrets.push(browser.cookie("bulwark_session")!);
    const wrong = await browser.post("/v1/me/password", {
      currentPassword: "not my password at all",
      newPassword: THIRD_PASSWORD,
    });
    expect(wrong.status).toBe(400);
    expect(wrong.json.error).toMatchObject({
      code: "VALIDATION_FAILED",
      details: [{ in: "body", field: "currentPassword", message: "is incorrect" }],
    });
    const changed = await browser.post("/v1/me/password", {
      currentPassword: NEW_PASSWORD,
      newPassword: THIRD_PASSWORD,
    });
    expect(changed.status).toBe(200);
    expect((await browser.get("/v1/me")).status).toBe(200);
    // A second notice: one for the reset, one for this change.
    await vi.waitFor(() =>
      expect(smtp.mails.filter((m) => /password was changed/.test(m.subject))).toHaveLength(2),
    );
    expect(
      (await new Client(base).post("/v1/auth/login", { email: EMAIL, password: THIRD_PASSWORD })).status,
    ).toBe(200);
  });

  it("OBS-4: /health reports the SMTP server, with its latency", async () => {
    const res = await new Client(base).get("/health");
    expect(res.status).toBe(200);
    expect(res.json.checks.smtp).toMatchObject({ status: "up", required: false });
    expect(typeof res.json.checks.smtp.latencyMs).toBe("number");
  });

  it("AUTH-1/AUTH-4/AUTH-5/AUTH-8/OBS-2: no plaintext password, mailed token, session token, TOTP secret or backup code is in the database or any log line", async () => {
    const tables = ["users", "email_tokens", "sessions", "mfa_totp", "mfa_backup_codes", "mfa_challenges"];
    let dump = "";
    for (const table of tables) {
      const rows = await sql`SELECT * FROM ${sql.table(table)}`.execute(t.db.global);
      dump += JSON.stringify(rows.rows);
    }
    expect(dump).toContain(EMAIL);
    expect(dump).toContain("$argon2id$");
    const logs = t.rawLogs.join("");
    expect(logs).toContain("request completed");
    for (const s of secrets) {
      expect(dump, "database").not.toContain(s);
      expect(logs, "logs").not.toContain(s);
    }
  });
});
