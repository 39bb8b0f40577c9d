import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createUser, ENGINE, login, type TestApp, testApp } from "../../test/harness.js";
import { SoftAuthenticator } from "../../test/soft-authenticator.js";
import type { Mail } from "../mail/mailer.js";

const PW = "second factor passphrase";
const ORIGIN = "http://localhost:3000";

type H = Record<string, string>;
type Options = {
  challengeId: string;
  options: { challenge: string; user: { id: string }; allowCredentials?: Array<{ id: string }> };
};

/**
 * A passkey as the second factor (AUTH-8, AUTH-13): once an account has one, its password alone earns
 * only the sign-in step, which one of that account's passkeys (or its TOTP) completes; and an
 * organisation that requires MFA accepts a member whose second factor is a passkey.
 */
describe(`passkey as the second factor (${ENGINE})`, () => {
  let t: TestApp;
  let ip = 0;
  const call = (method: string, url: string, headers: H = {}, payload?: object) =>
    t.app.inject({
      method: method as "GET",
      url,
      headers,
      remoteAddress: `10.7.${(++ip >> 8) & 255}.${ip & 255}`,
      ...(payload ? { payload } : {}),
    });
  const headersOf = (res: { headers: Record<string, unknown>; json(): { csrfToken: string } }): H => ({
    cookie: String(res.headers["set-cookie"]).split(";")[0]!,
    "x-csrf-token": res.json().csrfToken,
  });
  /** A verified user, signed in by password, with one passkey on `device`. */
  const withPasskey = async (email: string, device: SoftAuthenticator) => {
    const id = await createUser(t, email, PW);
    const s = await login(t, email, PW);
    const session = { cookie: s.cookie, "x-csrf-token": s.csrf };
    const opts = (await call("POST", "/v1/me/passkeys/options", session, { password: PW })).json() as Options;
    const added = await call("POST", "/v1/me/passkeys", session, {
      challengeId: opts.challengeId,
      name: "Laptop",
      credential: device.create(opts.options),
    });
    expect(added.statusCode, added.body).toBe(201);
    return { id, session, codes: added.json().backupCodes as string[] | undefined };
  };
  const passwordStep = async (email: string) => {
    const res = await call("POST", "/v1/auth/login", {}, { email, password: PW });
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as { mfaRequired?: true; challengeToken: string; methods: string[] };
  };
  const stepOptions = async (challengeToken: string) => {
    const res = await call("POST", "/v1/auth/mfa/passkey/options", {}, { challengeToken });
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as Options;
  };
  const answer = (challengeToken: string, opts: Options, device: SoftAuthenticator) =>
    call(
      "POST",
      "/v1/auth/mfa/passkey",
      {},
      { challengeToken, challengeId: opts.challengeId, credential: device.get(opts.options) },
    );

  const ana = new SoftAuthenticator("localhost", ORIGIN);
  const ben = new SoftAuthenticator("localhost", ORIGIN);
  let anaId = "";
  let anaCodes: string[] = [];
  let benCodes: string[] = [];
  const mails: Mail[] = [];

  beforeAll(async () => {
    t = await testApp({}, undefined, { mailer: { send: async (m: Mail) => void mails.push(m) } });
    const made = await withPasskey("ana@example.org", ana);
    anaId = made.id;
    anaCodes = made.codes ?? [];
    benCodes = (await withPasskey("ben@example.org", ben)).codes ?? [];
  });
  afterAll(() => t.close());

  it("AUTH-8, AUTH-13: with a passkey on the account, the password alone opens no session; the passkey completes the step", async () => {
    const step = await passwordStep("ana@example.org");
    expect(step).toMatchObject({ mfaRequired: true, methods: ["passkey", "backup_code"] });
    expect(step).not.toHaveProperty("csrfToken");
    const opts = await stepOptions(step.challengeToken);
    // The options name this account's passkeys only.
    expect(opts.options.allowCredentials?.map((c) => c.id)).toEqual([ana.credentialId.toString("base64url")]);
    const res = await answer(step.challengeToken, opts, ana);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().user.email).toBe("ana@example.org");
    const me = await call("GET", "/v1/me", headersOf(res));
    expect(me.json().user.email).toBe("ana@example.org");
    // The step works once.
    const again = await answer(step.challengeToken, opts, ana);
    expect(again.json().error.code).toBe("TOKEN_INVALID");
    const spent = await call(
      "POST",
      "/v1/auth/mfa/passkey/options",
      {},
      { challengeToken: step.challengeToken },
    );
    expect(spent.json().error.code).toBe("TOKEN_INVALID");
    // Recorded as a password sign-in completed by a passkey.
    const audit = t.app.bulwark.service("audit");
    await audit.flush();
    const ok = (await audit.query({ log: "platform" }, 500)).filter(
      (e) => e.action === "auth.login_succeeded" && e.entity_id === anaId,
    );
    // Newest first: this sign-in, then the password sign-in that added the passkey.
    expect(ok).toHaveLength(2);
    expect(JSON.parse(ok[0]!.entry!).metadata).toMatchObject({
      method: "password",
      secondFactor: true,
      factor: "passkey",
    });
  });

  it("AUTH-8, AUTH-13: the account's first passkey comes with 10 backup codes; one completes the step without the device, once", async () => {
    expect(anaCodes).toHaveLength(10);
    const step = await passwordStep("ana@example.org");
    const code = anaCodes[0]!;
    const res = await call("POST", "/v1/auth/mfa/verify", {}, { challengeToken: step.challengeToken, code });
    expect(res.statusCode, res.body).toBe(200);
    const again = await passwordStep("ana@example.org");
    const reused = await call(
      "POST",
      "/v1/auth/mfa/verify",
      {},
      { challengeToken: again.challengeToken, code },
    );
    expect(reused.json().error.code).toBe("MFA_CODE_INVALID");
    // A second passkey issues no new codes: the account already has them.
    const session = headersOf(res);
    const opts = (await call("POST", "/v1/me/passkeys/options", session, { password: PW })).json() as Options;
    const second = await call("POST", "/v1/me/passkeys", session, {
      challengeId: opts.challengeId,
      name: "Phone",
      credential: new SoftAuthenticator("localhost", ORIGIN).create(opts.options),
    });
    expect(second.statusCode, second.body).toBe(201);
    expect(second.json()).not.toHaveProperty("backupCodes");
  });

  it("AUTH-8, AUTH-13: removing the last passkey is mailed and recorded as MFA off; its backup codes stop working and the password alone signs in", async () => {
    const dora = new SoftAuthenticator("localhost", ORIGIN);
    const made = await withPasskey("dora@example.org", dora);
    const step = await passwordStep("dora@example.org");
    const session = headersOf(
      await answer(step.challengeToken, await stepOptions(step.challengeToken), dora),
    );
    expect((await call("POST", "/v1/auth/reauth", session, { password: PW })).statusCode).toBe(200);
    const id = dora.credentialId.toString("base64url");
    expect((await call("DELETE", `/v1/me/passkeys/${id}`, session)).statusCode).toBe(204);
    await vi.waitFor(() =>
      expect(
        mails.some(
          (m) =>
            m.to === "dora@example.org" &&
            m.subject === "A passkey was removed from your account" &&
            m.text.includes("last second factor"),
        ),
      ).toBe(true),
    );
    const audit = t.app.bulwark.service("audit");
    await audit.flush();
    const off = (await audit.query({ log: "platform" }, 500)).find(
      (e) => e.action === "mfa.disabled" && e.entity_id === made.id,
    );
    expect(JSON.parse(off!.entry!).metadata).toMatchObject({ method: "passkey", secondFactorLeft: false });
    const signIn = await call("POST", "/v1/auth/login", {}, { email: "dora@example.org", password: PW });
    expect(signIn.json()).toHaveProperty("csrfToken");
    const status = await call("GET", "/v1/me/mfa", headersOf(signIn));
    expect(status.json()).toEqual({ totp: false, methods: [], backupCodesLeft: 0 });
    expect(
      await t.db.global
        .selectFrom("mfa_backup_codes")
        .selectAll()
        .where("principal_id", "=", made.id)
        .execute(),
    ).toEqual([]);
  });

  it("AUTH-8, AUTH-13: another account's passkey cannot complete the step, whichever challenge it answers", async () => {
    const step = await passwordStep("ana@example.org");
    // Ben's passkey answering Ana's step.
    const bound = await stepOptions(step.challengeToken);
    const foreign = await answer(step.challengeToken, bound, ben);
    expect(foreign.statusCode).toBe(401);
    expect(foreign.json().error.code).toBe("PASSKEY_REFUSED");
    // Ben's passkey answering a passwordless challenge, presented at Ana's step.
    const open = (await call("POST", "/v1/auth/passkey/options", {}, {})).json() as Options;
    const swapped = await answer(step.challengeToken, open, ben);
    expect(swapped.json().error.code).toBe("PASSKEY_REFUSED");
    // No step, no ceremony.
    const none = await call(
      "POST",
      "/v1/auth/mfa/passkey/options",
      {},
      { challengeToken: `bwm_${"A".repeat(43)}` },
    );
    expect(none.statusCode).toBe(400);
    expect(none.json().error.code).toBe("TOKEN_INVALID");
    // Ana's own passkey still completes the same step afterwards.
    const res = await answer(step.challengeToken, await stepOptions(step.challengeToken), ana);
    expect(res.statusCode, res.body).toBe(200);
    // The refusals are failed sign-ins of Ana's account in the platform log.
    const audit = t.app.bulwark.service("audit");
    await audit.flush();
    const failed = (await audit.query({ log: "platform" }, 500)).filter(
      (e) =>
        e.action === "auth.login_failed" &&
        e.entity_id === anaId &&
        JSON.parse(e.entry!).metadata?.reason === "passkey_refused",
    );
    expect(failed).toHaveLength(2);
  });

  it("AUTH-8, AUTH-13: with TOTP as well, the step offers both; TOTP can be turned on beside a passkey", async () => {
    const step = await passwordStep("ana@example.org");
    const s = await answer(step.challengeToken, await stepOptions(step.challengeToken), ana);
    expect(s.statusCode, s.body).toBe(200);
    const session = headersOf(s);
    expect((await call("POST", "/v1/auth/reauth", session, { password: PW })).statusCode).toBe(200);
    const started = await call("POST", "/v1/me/mfa/totp", session, { password: PW });
    expect(started.statusCode, started.body).toBe(200);
    const mfa = t.app.bulwark.service("mfa");
    await mfa.enrolConfirmed(anaId);
    expect((await passwordStep("ana@example.org")).methods).toEqual(["totp", "passkey", "backup_code"]);
  });

  it("AUTH-8, AUTH-13: an organisation that requires MFA admits a member whose second factor is a passkey, and refuses them once it is gone", async () => {
    // Carla has no second factor yet; Ben (passkey only) owns the organisation and can require MFA.
    const benStep = await passwordStep("ben@example.org");
    const owner = headersOf(
      await answer(benStep.challengeToken, await stepOptions(benStep.challengeToken), ben),
    );
    const org = (await call("POST", "/v1/orgs", owner, { name: "Passkey Co" })).json().org.id as string;
    const required = await call("PATCH", `/v1/orgs/${org}`, owner, { requireMfa: true });
    expect(required.json().org?.requireMfa, required.body).toBe(true);

    const carla = new SoftAuthenticator("localhost", ORIGIN);
    const carlaId = await createUser(t, "carla@example.org", PW);
    const { OrgStore } = await import("../orgs/store.js");
    await new OrgStore(t.db.global, t.db.engine).addMember(org, carlaId, "MEMBER", Date.now());
    const s = await login(t, "carla@example.org", PW);
    const member = { cookie: s.cookie, "x-csrf-token": s.csrf };
    const before = await call("GET", `/v1/orgs/${org}`, member);
    expect(before.statusCode).toBe(403);
    expect(before.json().error.code).toBe("MFA_ENROLMENT_REQUIRED");

    const opts = (await call("POST", "/v1/me/passkeys/options", member, { password: PW })).json() as Options;
    const added = await call("POST", "/v1/me/passkeys", member, {
      challengeId: opts.challengeId,
      name: "Phone",
      credential: carla.create(opts.options),
    });
    expect(added.statusCode, added.body).toBe(201);
    // Admitted at once: adding the passkey dropped the cached "no second factor".
    expect((await call("GET", `/v1/orgs/${org}`, member)).statusCode).toBe(200);

    const id = carla.credentialId.toString("base64url");
    expect((await call("DELETE", `/v1/me/passkeys/${id}`, member)).statusCode).toBe(204);
    expect((await call("GET", `/v1/orgs/${org}`, member)).json().error.code).toBe("MFA_ENROLMENT_REQUIRED");
  });

  it("AUTH-9, AUTH-13: tokens from credentials, for an account whose second factor is a passkey, need one of its backup codes", async () => {
    const body = { email: "ben@example.org", password: PW, orgId: "org_01JD8X5K2M3N4P5Q6R7S8T9V0W" };
    const bare = await call("POST", "/v1/auth/token/credentials", {}, body);
    expect(bare.statusCode).toBe(401);
    expect(bare.json().error.code).toBe("MFA_CODE_REQUIRED");
    const guessed = await call("POST", "/v1/auth/token/credentials", {}, { ...body, code: "123456" });
    expect(guessed.json().error.code).toBe("MFA_CODE_INVALID");
    // With a backup code the second factor holds; Ben is no member of that organisation.
    const coded = await call("POST", "/v1/auth/token/credentials", {}, { ...body, code: benCodes[0]! });
    expect(coded.json().error.code).not.toMatch(/^MFA_/);
  });
});
