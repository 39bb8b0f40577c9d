import * as OTPAuth from "otpauth";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createAdmin, signedIn } from "../../test/admins.js";
import { createUser, ENGINE, login, type TestApp, testApp } from "../../test/harness.js";
import type { Mail } from "../mail/mailer.js";
import type { AuditEntry } from "./entry.js";

const PW = "audit trail passphrase 7";
const NEW_PW = "another audit passphrase 8";
const RESET_PW = "a third audit passphrase 9";
const IP = "203.0.113.7";

/**
 * AUDIT-2 for accounts, second factors, sessions and platform staff: each change is recorded in the
 * platform log with who did it, to what, from where, and never with the secret involved.
 */
describe(`audit events of identity, MFA, sessions and admins (${ENGINE})`, () => {
  let t: TestApp;
  const mails: Mail[] = [];
  /** Every secret a test handled: none may appear in any entry of any log. */
  const secrets = new Set<string>([PW, NEW_PW, RESET_PW]);

  beforeAll(async () => {
    t = await testApp({}, undefined, { mailer: { send: async (m: Mail) => void mails.push(m) } });
  });
  afterAll(() => t.close());
  afterEach(() => vi.restoreAllMocks());

  /** The platform log after a flush of the buffered records, oldest first. */
  async function platform(): Promise<{ entries: AuditEntry[]; text: string }> {
    const audit = t.app.bulwark.service("audit");
    await audit.flush();
    const rows = await audit.query({ log: "platform" }, 1000);
    // Entries are whole here: retention empties only those past AUDIT_RETENTION_DAYS.
    const texts = rows.map((r) => r.entry ?? "null").reverse();
    return { entries: texts.map((e) => JSON.parse(e) as AuditEntry), text: texts.join("\n") };
  }
  const find = (entries: AuditEntry[], action: string, entityId?: string) =>
    entries.filter((e) => e.action === action && (entityId === undefined || e.entity?.id === entityId));
  const post = (url: string, payload: object, headers: Record<string, string> = {}, remoteAddress = IP) =>
    t.app.inject({ method: "POST", url, payload, headers, remoteAddress });
  const del = (url: string, headers: Record<string, string>, payload?: object) =>
    t.app.inject({ method: "DELETE", url, headers, remoteAddress: IP, ...(payload ? { payload } : {}) });
  const writeHeaders = (s: { cookie: string; csrf: string }) => ({
    cookie: s.cookie,
    "x-csrf-token": s.csrf,
  });

  it("AUDIT-2: a successful and a failed sign-in are recorded in the platform log with the user and the address", async () => {
    const userId = await createUser(t, "signin@example.org", PW);
    expect(
      (await post("/v1/auth/login", { email: "signin@example.org", password: "not the passphrase" }))
        .statusCode,
    ).toBe(401);
    expect((await post("/v1/auth/login", { email: "nobody@example.org", password: PW })).statusCode).toBe(
      401,
    );
    const ok = await post("/v1/auth/login", { email: "signin@example.org", password: PW });
    expect(ok.statusCode).toBe(200);

    const { entries, text } = await platform();
    const [wrong] = find(entries, "auth.login_failed", userId);
    expect(wrong).toMatchObject({
      type: "event",
      log: "platform",
      org: null,
      actor: { type: "ANONYMOUS", id: null, email: null },
      entity: { type: "user", id: userId },
      metadata: { email: "signin@example.org", reason: "wrong_password", ip: IP },
    });
    const unknown = entries.find(
      (e) =>
        e.action === "auth.login_failed" && (e.metadata as { email: string }).email === "nobody@example.org",
    );
    expect(unknown).toMatchObject({ entity: null, metadata: { reason: "unknown_email", ip: IP } });
    const [success] = find(entries, "auth.login_succeeded", userId);
    expect(success).toMatchObject({
      actor: { type: "USER", id: userId, email: "signin@example.org" },
      impersonator: null,
      entity: { type: "user", id: userId },
      metadata: { email: "signin@example.org", secondFactor: false, ip: IP },
    });
    expect((success!.metadata as { sessionId: string }).sessionId).toMatch(/^ses_/);
    expect((success!.metadata as { requestId: string }).requestId).toEqual(expect.any(String));
    for (const s of secrets) expect(text).not.toContain(s);
  });

  it("AUTHZ-4, AUDIT-2: impersonation start and stop are recorded with both identities", async () => {
    const admin = await createAdmin(t, "support@example.org", PW);
    expect(
      (await post("/v1/admin/auth/login", { email: "support@example.org", password: PW, code: "000000" }))
        .statusCode,
    ).toBe(401);
    const headers = await signedIn(
      t,
      "/v1/admin/auth/login",
      { email: "support@example.org", password: PW, code: admin.code() },
      {},
    );
    const userId = await createUser(t, "customer@example.org", PW);
    const reason = "Ticket 4711: checkout fails";
    const start = async () => {
      const res = await t.app.inject({
        method: "POST",
        url: "/v1/admin/impersonations",
        headers,
        payload: { userId, reason, minutes: 20 },
      });
      expect(res.statusCode).toBe(201);
      return {
        cookie: String(res.headers["set-cookie"]).split(";")[0]!,
        csrf: res.json().csrfToken as string,
        expiresAt: res.json().expiresAt as string,
      };
    };
    const first = await start();
    const stop = await del("/v1/admin/impersonations/current", headers);
    expect(stop.statusCode).toBe(204);
    // An impersonation the admin signs out of, from inside the user's session, is a stop too.
    const second = await start();
    expect(
      (await t.app.inject({ method: "POST", url: "/v1/auth/logout", headers: writeHeaders(second) }))
        .statusCode,
    ).toBe(204);

    const { entries, text } = await platform();
    const adminActor = { type: "ADMIN", id: admin.id, email: "support@example.org" };
    expect(find(entries, "admin.login_failed", admin.id)[0]).toMatchObject({
      actor: { type: "ANONYMOUS" },
      metadata: { email: "support@example.org", reason: "mfa_code_invalid" },
    });
    expect(find(entries, "admin.login_succeeded", admin.id)[0]).toMatchObject({
      actor: adminActor,
      entity: { type: "admin", id: admin.id },
    });
    const started = find(entries, "impersonation.started", userId);
    expect(started).toHaveLength(2);
    expect(started[0]).toMatchObject({
      log: "platform",
      actor: adminActor,
      entity: { type: "user", id: userId },
      metadata: {
        reason,
        minutes: 20,
        expiresAt: first.expiresAt,
        userId,
        userEmail: "customer@example.org",
      },
    });
    const stopped = find(entries, "impersonation.stopped", userId);
    expect(stopped).toHaveLength(2);
    expect(stopped[0]).toMatchObject({
      actor: adminActor,
      entity: { type: "user", id: userId },
      metadata: { userId, userEmail: "customer@example.org", reason: "stopped" },
    });
    expect(stopped[1]).toMatchObject({
      actor: { type: "ADMIN", id: admin.id },
      impersonator: admin.id,
      entity: { type: "user", id: userId },
      metadata: { userId, userEmail: "customer@example.org", reason: "signed_out" },
    });
    expect(stopped[0]!.metadata).toMatchObject({
      sessionId: (started[0]!.metadata as { sessionId: string }).sessionId,
    });
    for (const s of [...secrets, first.cookie.split("=")[1]!, second.cookie.split("=")[1]!])
      expect(text).not.toContain(s);
  });

  it("AUDIT-2: MFA enrol, backup codes regenerated and disable are recorded", async () => {
    const userId = await createUser(t, "factor@example.org", PW);
    const s = await login(t, "factor@example.org", PW, IP);
    const h = writeHeaders(s);
    const enrol = await post("/v1/me/mfa/totp", { password: PW }, h);
    expect(enrol.statusCode).toBe(200);
    const secret = enrol.json().secret as string;
    secrets.add(secret);
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30 });
    const confirmed = await post("/v1/me/mfa/totp/confirm", { code: totp.generate() }, h);
    expect(confirmed.statusCode).toBe(200);
    const first = confirmed.json().backupCodes as string[];
    const regenerated = await post("/v1/me/mfa/backup-codes", { password: PW, code: first[0]! }, h);
    expect(regenerated.statusCode).toBe(200);
    const second = regenerated.json().backupCodes as string[];
    for (const c of [...first, ...second]) secrets.add(c);
    // A wrong code at the second step of a sign-in: recorded with the attempt it spent.
    const challenge = (await post("/v1/auth/login", { email: "factor@example.org", password: PW })).json()
      .challengeToken as string;
    secrets.add(challenge);
    expect(
      (await post("/v1/auth/mfa/verify", { challengeToken: challenge, code: "k7m2q-9xw4h" })).statusCode,
    ).toBe(401);
    const disabled = await del("/v1/me/mfa/totp", h, { password: PW, code: second[0]! });
    expect(disabled.statusCode).toBe(204);

    const { entries, text } = await platform();
    const actor = { type: "USER", id: userId, email: "factor@example.org" };
    const entity = { type: "user", id: userId };
    expect(find(entries, "mfa.enabled", userId)[0]).toMatchObject({
      actor,
      entity,
      before: { totp: false },
      after: { totp: true },
      metadata: { method: "totp", backupCodesIssued: 10, ip: IP },
    });
    expect(find(entries, "mfa.backup_codes_regenerated", userId)[0]).toMatchObject({
      actor,
      entity,
      metadata: { backupCodesIssued: 10 },
    });
    expect(find(entries, "auth.login_failed", userId)[0]).toMatchObject({
      actor: { type: "ANONYMOUS" },
      entity,
      metadata: { reason: "mfa_code_invalid", attempt: 1 },
    });
    expect(find(entries, "mfa.disabled", userId)[0]).toMatchObject({
      actor,
      entity,
      before: { totp: true },
      after: { totp: false },
    });
    for (const c of secrets) expect(text).not.toContain(c);
    expect(text.toLowerCase()).not.toContain(secret.toLowerCase());
  });

  it("AUDIT-2: password change and reset, sign-out and session revocation are recorded", async () => {
    const userId = await createUser(t, "rotate@example.org", PW);
    const main = await login(t, "rotate@example.org", PW, IP);
    await login(t, "rotate@example.org", PW, "198.51.100.9");
    const h = writeHeaders(main);
    const list = (await t.app.inject({ url: "/v1/me/sessions", headers: { cookie: main.cookie } })).json()
      .sessions as Array<{ id: string; current: boolean }>;
    const otherId = list.find((x) => !x.current)!.id;
    expect((await del(`/v1/me/sessions/${otherId}`, h)).statusCode).toBe(204);
    await login(t, "rotate@example.org", PW, "198.51.100.10");
    await login(t, "rotate@example.org", PW, "198.51.100.11");
    const all = await del("/v1/me/sessions", h);
    expect(all.json()).toEqual({ revoked: 2 });

    // A refused change records nothing; a done one records the change and the sessions it ended.
    expect(
      (await post("/v1/me/password", { currentPassword: "not the passphrase", newPassword: NEW_PW }, h))
        .statusCode,
    ).toBe(400);
    await login(t, "rotate@example.org", PW, "198.51.100.12");
    expect((await post("/v1/me/password", { currentPassword: PW, newPassword: NEW_PW }, h)).statusCode).toBe(
      200,
    );
    expect((await post("/v1/auth/logout", {}, h)).statusCode).toBe(204);

    await login(t, "rotate@example.org", NEW_PW, "198.51.100.13");
    expect((await post("/v1/auth/password/forgot", { email: "rotate@example.org" })).statusCode).toBe(202);
    await expect.poll(() => mails.find((m) => m.subject === "Reset your password")).toBeDefined();
    const token = /token=(bwr_[A-Za-z0-9_-]+)/.exec(
      mails.find((m) => m.subject === "Reset your password")!.text,
    )![1]!;
    secrets.add(token);
    expect((await post("/v1/auth/password/reset", { token, password: RESET_PW })).statusCode).toBe(200);

    const { entries, text } = await platform();
    const actor = { type: "USER", id: userId, email: "rotate@example.org" };
    expect(find(entries, "session.revoked", otherId)[0]).toMatchObject({
      actor,
      entity: { type: "session", id: otherId },
      before: { userId, kind: "portal", ip: "198.51.100.9" },
      metadata: { scope: "one", ip: IP },
    });
    const bulk = find(entries, "session.revoked", userId);
    expect(bulk.map((e) => e.metadata)).toMatchObject([
      { scope: "others", count: 2, reason: "by_user" },
      { scope: "others", count: 1, reason: "password_changed" },
      { scope: "all", count: 1, reason: "password_reset" },
    ]);
    expect(bulk[2]!.actor).toEqual(actor);
    const changed = find(entries, "user.password_changed", userId);
    expect(changed).toHaveLength(1);
    expect(changed[0]).toMatchObject({ actor, entity: { type: "user", id: userId }, metadata: { ip: IP } });
    expect(find(entries, "auth.logout", userId)[0]).toMatchObject({
      actor,
      entity: { type: "user", id: userId },
    });
    expect(find(entries, "user.password_reset", userId)[0]).toMatchObject({
      actor,
      entity: { type: "user", id: userId },
      metadata: { via: "reset_link", ip: IP },
    });
    for (const s of secrets) expect(text).not.toContain(s);
  });

  it("AUDIT-2: a change whose record cannot be written does not happen (sign-out, password change, impersonation)", async () => {
    await createUser(t, "atomic@example.org", PW);
    const s = await login(t, "atomic@example.org", PW, IP);
    const h = writeHeaders(s);
    const audit = t.app.bulwark.service("audit");
    const record = audit.record.bind(audit);
    // The log refuses the events of these actions only (buffered request records still go through).
    const refused = new Set(["auth.logout", "user.password_changed", "impersonation.started"]);
    vi.spyOn(audit, "record").mockImplementation(async (tx, events) => {
      const list = Array.isArray(events) ? events : [events];
      if (list.some((e) => refused.has(e.action))) throw new Error("the audit log refused the write");
      return record(tx, events);
    });

    expect((await post("/v1/auth/logout", {}, h)).statusCode).toBe(500);
    expect((await t.app.inject({ url: "/v1/me", headers: { cookie: s.cookie } })).statusCode).toBe(200);

    expect((await post("/v1/me/password", { currentPassword: PW, newPassword: NEW_PW }, h)).statusCode).toBe(
      500,
    );
    expect((await post("/v1/auth/login", { email: "atomic@example.org", password: NEW_PW })).statusCode).toBe(
      401,
    );
    await login(t, "atomic@example.org", PW, IP);

    const admin = await createAdmin(t, "desk@example.org", PW);
    const headers = await signedIn(t, "/v1/admin/auth/login", {
      email: "desk@example.org",
      password: PW,
      code: admin.code(),
    });
    const userId = (await t.app.inject({ url: "/v1/me", headers: { cookie: s.cookie } })).json().user.id;
    const start = await t.app.inject({
      method: "POST",
      url: "/v1/admin/impersonations",
      headers,
      payload: { userId, reason: "Ticket 4712: cannot pay" },
    });
    expect(start.statusCode).toBe(500);
    expect(await t.app.bulwark.service("sessions").currentImpersonation(admin.id)).toBeUndefined();

    vi.restoreAllMocks();
    const { entries } = await platform();
    expect(entries.filter((e) => refused.has(e.action) && e.entity?.id === userId)).toEqual([]);
  });
});
