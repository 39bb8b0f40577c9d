import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser, login, type TestApp, testApp } from "../../test/harness.js";
import { PROFILES, throughProxy } from "../../test/profiles.js";
import { startSmtpReceiver } from "../../test/smtp.js";

const PW = "invitation abuse passphrase 7";

describe.each(PROFILES)(
  "invitations cannot be turned against strangers or the sign-up rules (%s)",
  (profile, env) => {
    let t: TestApp;
    let smtp: Awaited<ReturnType<typeof startSmtpReceiver>>;
    let owner: { cookie: string; csrf: string };
    let orgId = "";
    beforeAll(async () => {
      smtp = await startSmtpReceiver();
      t = throughProxy(
        await testApp({
          ...env,
          LOG_LEVEL: "info",
          SMTP_URL: smtp.url,
          SIGNUP_MODE: "domains",
          SIGNUP_ALLOWED_DOMAINS: "corp.test",
        }),
        profile,
      );
      await createUser(t, "lead@corp.test", PW);
      owner = await login(t, "lead@corp.test", PW);
      const org = await post("/v1/orgs", { name: "Locked! visit evil.example" });
      orgId = org.json().org.id;
    });
    afterAll(async () => {
      await t.close();
      await smtp.close();
    });

    function post(url: string, payload: object, who = owner) {
      return t.app.inject({
        method: "POST",
        url,
        payload,
        headers: { cookie: who.cookie, "x-csrf-token": who.csrf },
      });
    }

    it("AUTH-12: in domains mode, an address outside the allowed domains cannot be invited", async () => {
      const res = await post(`/v1/orgs/${orgId}/invitations`, {
        email: "outsider@gmail.test",
        role: "MEMBER",
      });
      expect(res.statusCode).toBe(403);
      expect(res.json().error.code).toBe("SIGNUP_NOT_ALLOWED");
      expect(smtp.mails.filter((m) => m.to.includes("outsider@gmail.test"))).toHaveLength(0);
    });

    it("AUTHZ-5: a tenant's organisation name never reaches the subject of an invitation mail", async () => {
      expect(
        (await post(`/v1/orgs/${orgId}/invitations`, { email: "first@corp.test", role: "MEMBER" }))
          .statusCode,
      ).toBe(201);
      const mail = await smtp.waitFor("first@corp.test", /invited/);
      expect(mail.subject).toBe("You are invited to join an organisation");
      expect(mail.subject).not.toMatch(/evil|Locked/);
      expect(mail.text).toContain("Locked! visit evil.example");
    });

    it("AUTHZ-5: a resend is an invitation mail: with the first send, two resends use up the address's 3 a day", async () => {
      const sent = await post(`/v1/orgs/${orgId}/invitations`, { email: "again@corp.test", role: "MEMBER" });
      const id = sent.json().invitation.id;
      const codes: string[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await post(`/v1/orgs/${orgId}/invitations/${id}/resend`, {});
        codes.push(res.statusCode === 202 ? "sent" : res.json().error.code);
      }
      // Within the 3 resends an hour one invitation allows, the recipient's limit closes first.
      expect(codes).toEqual(["sent", "sent", "RATE_LIMITED", "RATE_LIMITED"]);
    });

    it("AUTHZ-5: one address receives at most 3 invitation mails a day, from any organisation", async () => {
      const codes: string[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await post(`/v1/orgs/${orgId}/invitations`, {
          email: "target@corp.test",
          role: "MEMBER",
        });
        codes.push(res.statusCode === 201 ? "sent" : res.json().error.code);
      }
      expect(codes).toEqual(["sent", "sent", "sent", "RATE_LIMITED", "RATE_LIMITED"]);
    });

    it("AUTHZ-5: one sender sends at most 20 invitations an hour", async () => {
      const codes: number[] = [];
      for (let i = 0; i < 22; i++)
        codes.push(
          (await post(`/v1/orgs/${orgId}/invitations`, { email: `n${i}@corp.test`, role: "VIEWER" }))
            .statusCode,
        );
      // Seven were sent above (first@, again@ and its two resends, three to target@): 13 more fit in the hour.
      expect(codes.filter((c) => c === 201)).toHaveLength(13);
      expect(codes.slice(13).every((c) => c === 429)).toBe(true);
    });

    it("AUTHZ-5: an organisation sends at most 100 invitations a day, whoever sends them", async () => {
      const { OrgStore } = await import("./store.js");
      const org = (await post("/v1/orgs", { name: "Busy" })).json().org.id;
      const senders = [];
      for (let n = 0; n < 6; n++) {
        const id = await createUser(t, `sender${n}@corp.test`, PW);
        await new OrgStore(t.db.global, t.db.engine).addMember(org, id, "ADMIN", Date.now());
        senders.push(await login(t, `sender${n}@corp.test`, PW));
      }
      let accepted = 0;
      let refused = "";
      for (const [n, who] of senders.entries())
        for (let i = 0; i < 20 && !refused; i++) {
          const res = await post(
            `/v1/orgs/${org}/invitations`,
            { email: `o${n}x${i}@corp.test`, role: "VIEWER" },
            who,
          );
          if (res.statusCode === 201) accepted++;
          else refused = res.json().error.code;
        }
      expect(accepted).toBe(100);
      expect(refused).toBe("RATE_LIMITED");
    });

    it("AUTH-3: an existing account's owner is told of a sign-up attempt at most twice a day", async () => {
      for (let i = 0; i < 5; i++)
        await t.app.inject({
          method: "POST",
          url: "/v1/auth/signup",
          remoteAddress: `198.51.100.${i + 1}`,
          payload: { email: "lead@corp.test", password: `someone else's passphrase ${i}x` },
        });
      await new Promise((r) => setTimeout(r, 300));
      expect(
        smtp.mails.filter((m) => m.to.includes("lead@corp.test") && /sign up/.test(m.subject)),
      ).toHaveLength(2);
    });
  },
);

describe.each(PROFILES)("accepting an invitation (%s)", (profile, env) => {
  let t: TestApp;
  let smtp: Awaited<ReturnType<typeof startSmtpReceiver>>;
  beforeAll(async () => {
    smtp = await startSmtpReceiver();
    t = throughProxy(await testApp({ ...env, LOG_LEVEL: "info", SMTP_URL: smtp.url }), profile);
  });
  afterAll(async () => {
    await t.close();
    await smtp.close();
  });

  it("AUTHZ-5: a member who accepts a higher-role invitation gets that role (and a lower one never demotes)", async () => {
    await createUser(t, "boss@example.org", PW);
    await createUser(t, "member@example.org", PW);
    const boss = await login(t, "boss@example.org", PW);
    const member = await login(t, "member@example.org", PW);
    const call = (who: typeof boss, method: "POST" | "GET", url: string, payload?: object) =>
      t.app.inject({
        method,
        url,
        ...(payload ? { payload } : {}),
        headers: { cookie: who.cookie, "x-csrf-token": who.csrf },
      });
    const orgId = (await call(boss, "POST", "/v1/orgs", { name: "Promotions" })).json().org.id;
    const invite = async (role: string) => {
      smtp.mails.length = 0;
      expect(
        (await call(boss, "POST", `/v1/orgs/${orgId}/invitations`, { email: "member@example.org", role }))
          .statusCode,
      ).toBe(201);
      const mail = await smtp.waitFor("member@example.org", /invited/);
      return /[?&]token=([A-Za-z0-9_-]+)/.exec(mail.text)![1]!;
    };
    const roleNow = async () =>
      (await call(boss, "GET", `/v1/orgs/${orgId}/members`))
        .json()
        .members.find((m: { email: string }) => m.email === "member@example.org")?.role;

    expect(
      (await call(member, "POST", "/v1/invitations/accept", { orgId, token: await invite("VIEWER") })).json()
        .org.role,
    ).toBe("VIEWER");
    const up = await call(member, "POST", "/v1/invitations/accept", { orgId, token: await invite("ADMIN") });
    expect(up.json().org.role).toBe("ADMIN");
    expect(await roleNow()).toBe("ADMIN");
    const down = await call(member, "POST", "/v1/invitations/accept", {
      orgId,
      token: await invite("VIEWER"),
    });
    expect(down.json().org.role).toBe("ADMIN");
    expect(await roleNow()).toBe("ADMIN");
  });
});
