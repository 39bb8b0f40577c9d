import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createUser, ENGINE, login, type TestApp, testApp } from "../../test/harness.js";
import { startSmtpReceiver } from "../../test/smtp.js";
import { OrgStore } from "./store.js";

const PW = "invitation passphrase 1";

describe(`invitations (${ENGINE})`, () => {
  let t: TestApp;
  let smtp: Awaited<ReturnType<typeof startSmtpReceiver>>;
  let owner: { cookie: string; csrf: string };
  let orgId = "";
  beforeAll(async () => {
    smtp = await startSmtpReceiver();
    t = await testApp({ SMTP_URL: smtp.url, SIGNUP_MODE: "invite" });
    await createUser(t, "boss@example.org", PW);
    owner = await login(t, "boss@example.org", PW);
    orgId = (await call(owner, "POST", "/v1/orgs", { name: "Invite Org" })).json().org.id;
  });
  afterAll(async () => {
    await t.close();
    await smtp.close();
  });
  afterEach(() => vi.useRealTimers());

  function call(who: { cookie: string; csrf: string } | null, method: string, url: string, payload?: object) {
    return t.app.inject({
      method: method as "GET",
      url,
      ...(payload ? { payload } : {}),
      headers: who ? { cookie: who.cookie, "x-csrf-token": who.csrf } : {},
    });
  }
  async function invite(email: string, role = "MEMBER"): Promise<{ token: string; id: string }> {
    const res = await call(owner, "POST", `/v1/orgs/${orgId}/invitations`, { email, role });
    expect(res.statusCode).toBe(201);
    const mail = await smtp.waitFor(email, /invited to join an organisation/);
    expect(mail.subject).not.toContain("Invite Org");
    expect(mail.text).toContain("Invite Org");
    const token = /[?&]token=([A-Za-z0-9_-]+)/.exec(mail.text)?.[1] ?? "";
    smtp.mails.splice(smtp.mails.indexOf(mail), 1);
    // The link carries the accept body's own names (orgId, token).
    expect(mail.text).toContain(`accept-invitation?orgId=${orgId}&token=${token}`);
    return { token, id: res.json().invitation.id };
  }

  it("AUTHZ-5: an invitation is bound to its address and single-use", async () => {
    await createUser(t, "invitee@example.org", PW);
    await createUser(t, "intruder@example.org", PW);
    const { token } = await invite("invitee@example.org", "VIEWER");
    const intruder = await login(t, "intruder@example.org", PW);
    const wrong = await call(intruder, "POST", "/v1/invitations/accept", { orgId, token });
    expect(wrong.statusCode).toBe(403);
    expect(wrong.json().error.code).toBe("INVITATION_EMAIL_MISMATCH");
    const invitee = await login(t, "invitee@example.org", PW);
    const ok = await call(invitee, "POST", "/v1/invitations/accept", { orgId, token });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().org).toEqual({ id: orgId, role: "VIEWER" });
    expect((await call(invitee, "GET", `/v1/orgs/${orgId}`)).statusCode).toBe(200);
    const again = await call(invitee, "POST", "/v1/invitations/accept", { orgId, token });
    expect(again.json().error.code).toBe("TOKEN_INVALID");
  });

  it("AUTHZ-5: an invitation works until 7 days after it was sent: accepted 1 ms before, refused at 7 days", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const sent = Date.now();
    const tokens: string[] = [];
    for (const who of ["prompt", "late"]) {
      await createUser(t, `${who}@example.org`, PW);
      tokens.push((await invite(`${who}@example.org`)).token);
    }
    vi.setSystemTime(sent + 7 * 86_400_000 - 1);
    const prompt = await call(await login(t, "prompt@example.org", PW), "POST", "/v1/invitations/accept", {
      orgId,
      token: tokens[0],
    });
    expect(prompt.statusCode).toBe(200);
    expect(prompt.json().org).toEqual({ id: orgId, role: "MEMBER" });
    vi.setSystemTime(sent + 7 * 86_400_000);
    const late = await call(await login(t, "late@example.org", PW), "POST", "/v1/invitations/accept", {
      orgId,
      token: tokens[1],
    });
    expect(late.statusCode).toBe(400);
    expect(late.json().error.code).toBe("TOKEN_INVALID");
  });

  it("AUTH-12/AUTHZ-5: with invite-only sign-up, an invitation creates a verified account and signs it in", async () => {
    expect(
      (await call(null, "POST", "/v1/auth/signup", { email: "newbie@example.org", password: PW })).json()
        .error.code,
    ).toBe("SIGNUP_NOT_ALLOWED");
    const { token } = await invite("newbie@example.org");
    // Without a session or a password there is no account to add: sign in, or choose a password.
    const anonymous = await call(null, "POST", "/v1/invitations/accept", { orgId, token });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json().error.code).toBe("UNAUTHENTICATED");
    const res = await call(null, "POST", "/v1/invitations/accept", { orgId, token, password: PW });
    expect(res.statusCode).toBe(200);
    const cookie = String(res.headers["set-cookie"]).split(";")[0]!;
    const me = await t.app.inject({ url: "/v1/me", headers: { cookie } });
    expect(me.json().user).toMatchObject({ email: "newbie@example.org", emailVerified: true });
    expect((await t.app.inject({ url: `/v1/orgs/${orgId}`, headers: { cookie } })).statusCode).toBe(200);
  });

  it("AUTHZ-5: a revoked invitation cannot be accepted; only an owner invites an owner", async () => {
    await createUser(t, "revoked@example.org", PW);
    const { token, id } = await invite("revoked@example.org");
    expect((await call(owner, "DELETE", `/v1/orgs/${orgId}/invitations/${id}`)).statusCode).toBe(204);
    const r = await login(t, "revoked@example.org", PW);
    expect((await call(r, "POST", "/v1/invitations/accept", { orgId, token })).json().error.code).toBe(
      "TOKEN_INVALID",
    );
    // An ADMIN may invite, but not an OWNER.
    await new OrgStore(t.db.global, t.db.engine).addMember(
      orgId,
      await createUser(t, "deputy@example.org", PW),
      "ADMIN",
      Date.now(),
    );
    const deputy = await login(t, "deputy@example.org", PW);
    expect(
      (
        await call(deputy, "POST", `/v1/orgs/${orgId}/invitations`, {
          email: "x@example.org",
          role: "MEMBER",
        })
      ).statusCode,
    ).toBe(201);
    const ownerInvite = await call(deputy, "POST", `/v1/orgs/${orgId}/invitations`, {
      email: "y@example.org",
      role: "OWNER",
    });
    expect(ownerInvite.statusCode).toBe(403);
    expect(ownerInvite.json().error.code).toBe("OWNER_REQUIRED");
  });
});
