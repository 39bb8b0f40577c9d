import * as OTPAuth from "otpauth";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createUser, ENGINE, login, PRODUCTION_ENV, type TestApp, testApp } from "../../test/harness.js";
import { Receiver } from "../../test/webhook-receiver.js";

const DAY = 86_400_000;
const MINUTE = 60_000;
const PW = "retention passphrase 8";
type H = Record<string, string>;

/**
 * GDPR-3: each kind of personal data is deleted by its job once its configured time has passed, and not
 * a minute before. The clock is frozen and moved across each boundary; the jobs' bodies run as the
 * scheduler runs them.
 */
describe(`retention per data type (GDPR-3, ${ENGINE})`, () => {
  let t: TestApp;
  let rx: Receiver;
  beforeAll(async () => {
    rx = await new Receiver().start();
    t = await testApp({
      RETENTION_SESSIONS_DAYS: "45",
      RETENTION_DELIVERIES_DAYS: "20",
      BULWARK_WEBHOOK_ALLOWLIST: "127.0.0.1",
      WEBHOOK_WORKER: "off",
    });
  });
  afterAll(async () => {
    await t?.close();
    await rx?.close();
  });
  afterEach(() => vi.useRealTimers());
  const call = (method: string, url: string, headers: H, payload?: object) =>
    t.app.inject({ method: method as "GET", url, headers, ...(payload ? { payload } : {}) });
  const count = async (
    table: "sessions" | "email_tokens" | "mfa_challenges",
    column: string,
    value: string,
  ) =>
    Number(
      (
        await t.db.global
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .where(column as never, "=", value as never)
          .executeTakeFirstOrThrow()
      ).n,
    );

  it("GDPR-3: the jobs are scheduled daily (sessions, delivery logs) and hourly (links, second-factor steps)", () => {
    expect(t.app.bulwark.service("jobs").schedules()).toMatchObject({
      "sessions.retention": DAY,
      "webhooks.retention": DAY,
      "identity.purge": 3_600_000,
      "mfa.purge": 3_600_000,
    });
  });

  it("GDPR-3: a session used until its absolute end goes RETENTION_SESSIONS_DAYS after that end, not before", async () => {
    const id = await createUser(t, "ended@example.org", PW);
    const s = await login(t, "ended@example.org", PW);
    const [row] = await t.db.global
      .selectFrom("sessions")
      .select("expires_at")
      .where("user_id", "=", id)
      .execute();
    const ended = Number(row!.expires_at);
    // Used every 50 minutes (within the idle limit) until its absolute end.
    vi.useFakeTimers({ toFake: ["Date"] });
    for (let at = Date.now() + 50 * MINUTE; at < ended; at += 50 * MINUTE) {
      vi.setSystemTime(at);
      expect((await call("GET", "/v1/me", { cookie: s.cookie })).statusCode).toBe(200);
    }
    const sessions = t.app.bulwark.service("sessions");
    vi.setSystemTime(ended + 45 * DAY - MINUTE);
    await sessions.purgeEnded();
    expect(await count("sessions", "user_id", id)).toBe(1);
    vi.setSystemTime(ended + 45 * DAY + MINUTE);
    expect(await sessions.purgeEnded()).toBeGreaterThanOrEqual(1);
    expect(await count("sessions", "user_id", id)).toBe(0);
  });

  it("GDPR-3: a verification link and a second-factor step go within an hour of expiring, not before", async () => {
    const signup = await call("POST", "/v1/auth/signup", {}, { email: "new@example.org", password: PW });
    expect(signup.statusCode, signup.body).toBe(202);
    const user = await t.db.global
      .selectFrom("users")
      .select("id")
      .where("email", "=", "new@example.org")
      .executeTakeFirstOrThrow();
    // The link is made after the answer (sign-up answers alike for known and unknown addresses).
    const link = await vi.waitFor(() =>
      t.db.global
        .selectFrom("email_tokens")
        .select("expires_at")
        .where("user_id", "=", user.id)
        .executeTakeFirstOrThrow(),
    );

    const enrolled = await createUser(t, "twofactor@example.org", PW);
    const s = await login(t, "twofactor@example.org", PW);
    const h = { cookie: s.cookie, "x-csrf-token": s.csrf };
    const enrol = await call("POST", "/v1/me/mfa/totp", h, { password: PW });
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(enrol.json().secret) });
    expect((await call("POST", "/v1/me/mfa/totp/confirm", h, { code: totp.generate() })).statusCode).toBe(
      200,
    );
    const step = await call("POST", "/v1/auth/login", {}, { email: "twofactor@example.org", password: PW });
    expect(step.json().mfaRequired, step.body).toBe(true);
    const challenge = await t.db.global
      .selectFrom("mfa_challenges")
      .select("expires_at")
      .where("principal_id", "=", enrolled)
      .executeTakeFirstOrThrow();

    const identity = t.app.bulwark.service("identity");
    const mfa = t.app.bulwark.service("mfa");
    vi.useFakeTimers({ toFake: ["Date"] });
    for (const [expires, purge, table, column, id] of [
      [Number(link.expires_at), () => identity.purgeExpiredLinks(), "email_tokens", "user_id", user.id],
      [Number(challenge.expires_at), () => mfa.purgeChallenges(), "mfa_challenges", "principal_id", enrolled],
    ] as const) {
      vi.setSystemTime(expires - MINUTE);
      await purge();
      expect(await count(table, column, id), table).toBe(1);
      vi.setSystemTime(expires + MINUTE);
      await purge();
      expect(await count(table, column, id), table).toBe(0);
    }
  });

  it("GDPR-3: delivery logs go RETENTION_DELIVERIES_DAYS after they were written; work still due stays, attempts included", async () => {
    await createUser(t, "hooks@example.org", PW);
    const s = await login(t, "hooks@example.org", PW);
    const h = { cookie: s.cookie, "x-csrf-token": s.csrf };
    const org = (await call("POST", "/v1/orgs", h, { name: "Hooks" })).json().org.id as string;
    const made = await call("POST", `/v1/orgs/${org}/webhook-endpoints`, h, {
      url: `${rx.url}/in`,
      eventTypes: ["apikey.created"],
    });
    expect(made.statusCode, made.body).toBe(201);
    const written = Date.now();
    vi.useFakeTimers({ toFake: ["Date"], now: written });
    const key = async (name: string) =>
      expect(
        (await call("POST", `/v1/orgs/${org}/api-keys`, h, { name, scopes: ["audit:read"] })).statusCode,
      ).toBe(201);
    await key("sent");
    await key("replayed");
    await t.app.bulwark.service("webhookDispatcher").drain();
    expect(rx.got).toHaveLength(2);
    // One delivery replayed (due again, not yet sent), and an event not yet dispatched (no worker here).
    const [again, sent] = await t.db.global
      .selectFrom("webhook_deliveries")
      .select(["id", "message_id"])
      .where("org_id", "=", org)
      .execute();
    expect((await call("POST", `/v1/orgs/${org}/webhook-deliveries/${again!.id}/replay`, h)).statusCode).toBe(
      202,
    );
    await key("waiting");
    const rows = async () => ({
      messages: (
        await t.db.global
          .selectFrom("webhook_messages")
          .select("id")
          .where("org_id", "=", org)
          .where("type", "=", "apikey.created")
          .orderBy("id")
          .execute()
      ).map((m) => m.id),
      deliveries: await t.db.global
        .selectFrom("webhook_deliveries")
        .select(["id", "status"])
        .where("org_id", "=", org)
        .execute(),
      attempts: (
        await t.db.withOrg(org, (tx) => tx.selectFrom("webhook_attempts").select("delivery_id").execute())
      ).map((a) => a.delivery_id),
    });
    const before = await rows();
    expect(before.messages).toHaveLength(3);
    expect(before.deliveries).toHaveLength(2);
    expect(before.attempts).toHaveLength(2);

    const jobs = new (await import("../webhooks/retention.js")).DeliveryLogRetention(t.db, 20);
    vi.setSystemTime(written + 20 * DAY - MINUTE);
    expect(await jobs.purge()).toBe(0);
    expect(await rows()).toEqual(before);
    vi.setSystemTime(written + 20 * DAY + MINUTE);
    expect(await jobs.purge()).toBeGreaterThanOrEqual(3);
    const after = await rows();
    // The sent delivery, its attempt and its message went; the replayed one stays whole, and so does
    // the message not yet dispatched.
    expect(after.deliveries).toEqual([{ id: again!.id, status: "pending" }]);
    expect(after.attempts).toEqual([again!.id]);
    expect(after.messages).toEqual(before.messages.filter((m) => m !== sent!.message_id));
    expect(after.messages).toContain(again!.message_id);
  });

  it("GDPR-3: a session that ended by idling goes RETENTION_SESSIONS_DAYS after its idle end, not after its absolute one", async () => {
    const id = await createUser(t, "idle@example.org", PW);
    await login(t, "idle@example.org", PW);
    const row = await t.db.global
      .selectFrom("sessions")
      .select(["last_seen_at", "expires_at"])
      .where("user_id", "=", id)
      .executeTakeFirstOrThrow();
    const idleEnd = Number(row.last_seen_at) + t.config.auth.sessionIdleMs;
    expect(idleEnd).toBeLessThan(Number(row.expires_at));
    const sessions = t.app.bulwark.service("sessions");
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(idleEnd + 45 * DAY - MINUTE);
    await sessions.purgeEnded();
    expect(await count("sessions", "user_id", id)).toBe(1);
    vi.setSystemTime(idleEnd + 45 * DAY + MINUTE);
    await sessions.purgeEnded();
    expect(await count("sessions", "user_id", id)).toBe(0);
  });

  it("GDPR-3: the security page states each retention from the configuration (production)", async () => {
    const prod = await testApp({
      ...PRODUCTION_ENV,
      TRUSTED_PROXIES: "127.0.0.1",
      RETENTION_SESSIONS_DAYS: "45",
      RETENTION_DELIVERIES_DAYS: "20",
      AUDIT_RETENTION_DAYS: "400",
    });
    try {
      const res = await prod.app.inject({ url: "/security.json", headers: { "x-forwarded-proto": "https" } });
      const control = (res.json().controls as Array<{ id: string; claim: string; settings: object }>).find(
        (c) => c.id === "GDPR-3",
      );
      expect(control?.settings).toEqual({ auditDays: 400, sessionsDays: 45, deliveriesDays: 20 });
      expect(control?.claim).toContain(
        "sessions (with their IP address and user agent): 45 days after they end",
      );
      expect(control?.claim).toContain(
        "webhook delivery logs (attempts, receivers' answers, sent messages): 20 days",
      );
      expect(control?.claim).toContain("audit entries: their content 400 days");
      expect(control?.claim).not.toContain("backups");
      expect(control?.claim).toContain("expired invitations are not among them yet.");
    } finally {
      await prod.close();
    }
  });
});
