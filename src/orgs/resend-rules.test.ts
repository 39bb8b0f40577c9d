import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createUser, ENGINE, login, type TestApp, testApp } from "../../test/harness.js";
import { startSmtpReceiver } from "../../test/smtp.js";
import { newId, sha256 } from "../util/ids.js";
import { INVITATION_LIMITS } from "./invitation-service.js";
import { invitationsStore } from "./invitations-store.js";
import { OrgStore } from "./store.js";

const PW = "resend rules passphrase 1";
const DAY = 86_400_000;
type Session = { cookie: string; csrf: string };

describe(`a resend is an invitation mail: every rule of sending applies (${ENGINE})`, () => {
  let t: TestApp;
  let smtp: Awaited<ReturnType<typeof startSmtpReceiver>>;
  let n = 0;
  beforeAll(async () => {
    smtp = await startSmtpReceiver();
    t = await testApp({ SMTP_URL: smtp.url, SIGNUP_MODE: "domains", SIGNUP_ALLOWED_DOMAINS: "corp.test" });
  });
  afterAll(async () => {
    await t.close();
    await smtp.close();
  });
  afterEach(() => vi.useRealTimers());

  function call(who: Session | null, method: "GET" | "POST" | "DELETE", url: string, payload?: object) {
    return t.app.inject({
      method,
      url,
      ...(payload ? { payload } : {}),
      headers: who ? { cookie: who.cookie, "x-csrf-token": who.csrf } : {},
    });
  }
  /** A new account, signed in: every test has its own senders, so no limit is shared between tests. */
  async function person(): Promise<{ id: string; email: string; session: Session }> {
    const email = `p${++n}@corp.test`;
    const id = await createUser(t, email, PW);
    return { id, email, session: await login(t, email, PW) };
  }
  /** A new organisation of `owner`'s, with `admins` added as ADMIN. */
  async function org(owner: Session, admins: string[] = []): Promise<string> {
    const id = (await call(owner, "POST", "/v1/orgs", { name: `Org ${++n}` })).json().org.id as string;
    for (const a of admins)
      await new OrgStore(t.db.global, t.db.engine).addMember(id, a, "ADMIN", Date.now());
    return id;
  }
  const invite = (who: Session, orgId: string, email: string, role = "MEMBER") =>
    call(who, "POST", `/v1/orgs/${orgId}/invitations`, { email, role });
  const resend = (who: Session, orgId: string, id: string) =>
    call(who, "POST", `/v1/orgs/${orgId}/invitations/${id}/resend`, {});
  const refused = (res: { statusCode: number; json(): { error: { code: string } } }, status: number) => {
    expect(res.statusCode).toBe(status);
    return res.json().error.code;
  };

  // The recipient's limit: src/orgs/invitation-abuse.test.ts ("a resend is an invitation mail").

  it("AUTHZ-5: a resend counts against the sender's hourly limit", async () => {
    const owner = (await person()).session;
    const orgId = await org(owner);
    const ids: string[] = [];
    for (let i = 0; i < INVITATION_LIMITS.perSenderPerHour; i++) {
      const res = await invite(owner, orgId, `s${n}x${i}@corp.test`);
      expect(res.statusCode).toBe(201);
      ids.push(res.json().invitation.id);
    }
    expect(refused(await resend(owner, orgId, ids[0]!), 429)).toBe("RATE_LIMITED");
    // Another member of the organisation has sent nothing: the limit was the sender's.
    const deputy = await person();
    await new OrgStore(t.db.global, t.db.engine).addMember(orgId, deputy.id, "ADMIN", Date.now());
    expect((await resend(deputy.session, orgId, ids[0]!)).statusCode).toBe(202);
  });

  it("AUTHZ-5: a resend counts against the organisation's daily limit, whoever resends", async () => {
    const owner = await person();
    const admins = [];
    for (let i = 0; i < 5; i++) admins.push(await person());
    const orgId = await org(
      owner.session,
      admins.map((a) => a.id),
    );
    const perSender = INVITATION_LIMITS.perSenderPerHour;
    const senders = [owner, ...admins.slice(0, INVITATION_LIMITS.perOrgPerDay / perSender - 1)];
    let first = "";
    for (const [s, who] of senders.entries())
      for (let i = 0; i < perSender; i++) {
        const res = await invite(who.session, orgId, `o${n}s${s}x${i}@corp.test`, "VIEWER");
        expect(res.statusCode).toBe(201);
        first ||= res.json().invitation.id;
      }
    // A fresh sender, a recipient mailed once, an invitation never resent: only the organisation is full.
    expect(refused(await resend(admins[4]!.session, orgId, first), 429)).toBe("RATE_LIMITED");
  });

  it("AUTHZ-5: only an OWNER resends an invitation to become OWNER (OWNER_REQUIRED); an ADMIN resends others", async () => {
    const owner = await person();
    const deputy = await person();
    const orgId = await org(owner.session, [deputy.id]);
    const toOwner = (await invite(owner.session, orgId, "heir@corp.test", "OWNER")).json().invitation.id;
    const toMember = (await invite(owner.session, orgId, "crew@corp.test")).json().invitation.id;
    smtp.mails.length = 0;
    expect(refused(await resend(deputy.session, orgId, toOwner), 403)).toBe("OWNER_REQUIRED");
    expect(smtp.mails.filter((m) => m.to.includes("heir@corp.test"))).toHaveLength(0);
    expect((await resend(deputy.session, orgId, toMember)).statusCode).toBe(202);
    expect((await resend(owner.session, orgId, toOwner)).statusCode).toBe(202);
  });

  it("AUTH-12/AUTHZ-5: a resend applies the sign-up domain rule as it stands now (SIGNUP_NOT_ALLOWED)", async () => {
    const owner = await person();
    const orgId = await org(owner.session);
    // An invitation from before the rule admitted only corp.test (sent under the earlier configuration).
    const now = Date.now();
    const row = {
      id: sha256(`bwi_${now}_outsider`),
      public_id: newId("inv", now),
      org_id: orgId,
      email: "outsider@gmail.test",
      role: "MEMBER" as const,
      invited_by: owner.id,
      expires_at: now + 7 * DAY,
      accepted_at: null,
      revoked_at: null,
      created_at: now,
    };
    await t.db.withOrg(orgId, (tx) => invitationsStore.insert(tx, row));
    expect(refused(await resend(owner.session, orgId, row.public_id), 403)).toBe("SIGNUP_NOT_ALLOWED");
    await new Promise((r) => setTimeout(r, 200));
    expect(smtp.mails.filter((m) => m.to.includes("outsider@gmail.test"))).toHaveLength(0);
  });

  it("AUTHZ-5: a resend never revives an expired invitation: resent 1 ms before 7 days, NOT_FOUND at 7 days, its link still dead", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const t0 = Date.now();
    const owner = await person();
    const orgId = await org(owner.session);
    const sent: Record<string, { id: string; token: string }> = {};
    for (const who of ["prompt", "late"]) {
      const email = `${who}${n}@corp.test`;
      const id = (await invite(owner.session, orgId, email)).json().invitation.id;
      const mail = await smtp.waitFor(email, /invited/);
      sent[who] = { id, token: /[?&]token=([A-Za-z0-9_-]+)/.exec(mail.text)![1]! };
    }
    // A session lasts a day at most: the owner signs in again a week later.
    vi.setSystemTime(t0 + 7 * DAY - 1);
    const later = await login(t, owner.email, PW);
    const prompt = await resend(later, orgId, sent.prompt!.id);
    expect(prompt.statusCode).toBe(202);
    expect(Date.parse(prompt.json().invitation.expiresAt)).toBe(t0 + 14 * DAY - 1);
    vi.setSystemTime(t0 + 7 * DAY);
    expect(refused(await resend(later, orgId, sent.late!.id), 404)).toBe("NOT_FOUND");
    const pending = (await call(later, "GET", `/v1/orgs/${orgId}/invitations`)).json().invitations;
    expect(pending.map((i: { id: string }) => i.id)).toEqual([sent.prompt!.id]);
    const accept = await call(null, "POST", "/v1/invitations/accept", {
      orgId,
      token: sent.late!.token,
      password: PW,
    });
    expect(refused(accept, 400)).toBe("TOKEN_INVALID");
  });
});
