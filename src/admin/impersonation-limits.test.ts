import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAdmin, signedIn } from "../../test/admins.js";
import { createUser, login, type TestApp, testApp } from "../../test/harness.js";
import { PROFILES, throughProxy } from "../../test/profiles.js";

const PW = "impersonation limits passphrase";

/**
 * AUTHZ-4: an impersonation ends; nothing done during it may outlive it or lock the user out. A hostile
 * tester invited an address they controlled as OWNER "from" the user, accepted it, and ended the user's
 * own sessions.
 */
describe.each(PROFILES)("what an impersonating admin cannot do (%s)", (profile, env) => {
  let t: TestApp;
  let as: { cookie: string; csrf: string };
  let adminId = "";
  let userId = "";
  let orgId = "";
  let memberId = "";
  beforeAll(async () => {
    t = throughProxy(await testApp({ ...env, LOG_LEVEL: "info" }), profile);
    const admin = await createAdmin(t, "helpdesk@example.org", PW);
    adminId = admin.id;
    const adminHeaders = await signedIn(t, "/v1/admin/auth/login", {
      email: "helpdesk@example.org",
      password: PW,
      code: admin.code(),
    });
    userId = await createUser(t, "founder@example.org", PW);
    memberId = await createUser(t, "colleague@example.org", PW);
    const founder = await login(t, "founder@example.org", PW);
    const org = await t.app.inject({
      method: "POST",
      url: "/v1/orgs",
      payload: { name: "Founders" },
      headers: { cookie: founder.cookie, "x-csrf-token": founder.csrf },
    });
    orgId = org.json().org.id;
    const inv = await t.app.inject({
      method: "POST",
      url: `/v1/orgs/${orgId}/invitations`,
      payload: { email: "colleague@example.org", role: "MEMBER" },
      headers: { cookie: founder.cookie, "x-csrf-token": founder.csrf },
    });
    expect(inv.statusCode).toBe(201);
    const { OrgStore } = await import("../orgs/store.js");
    await new OrgStore(t.db.global, t.db.engine).addMember(orgId, memberId, "MEMBER", Date.now());
    const started = await t.app.inject({
      method: "POST",
      url: "/v1/admin/impersonations",
      payload: { userId, reason: "Ticket 99: members page" },
      headers: adminHeaders,
    });
    expect(started.statusCode).toBe(201);
    as = { cookie: String(started.headers["set-cookie"]).split(";")[0]!, csrf: started.json().csrfToken };
  });
  afterAll(() => t.close());

  const write = (method: "POST" | "PATCH" | "DELETE", url: string, payload?: object) =>
    t.app.inject({
      method,
      url,
      ...(payload ? { payload } : {}),
      headers: { cookie: as.cookie, "x-csrf-token": as.csrf },
    });

  it("AUTHZ-4: invitations, role and membership changes, accepting and session revocation are refused", async () => {
    const sessions = (await t.app.inject({ url: "/v1/me/sessions", headers: { cookie: as.cookie } })).json()
      .sessions;
    const attempts = [
      write("POST", `/v1/orgs/${orgId}/invitations`, { email: "attacker@example.org", role: "OWNER" }),
      write("PATCH", `/v1/orgs/${orgId}/members/${memberId}`, { role: "ADMIN" }),
      write("DELETE", `/v1/orgs/${orgId}/members/${memberId}`),
      write("POST", "/v1/invitations/accept", { orgId, token: `bwi_${"x".repeat(43)}` }),
      write("DELETE", "/v1/me/sessions"),
      write("DELETE", `/v1/me/sessions/${sessions[0].id}`),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.statusCode, res.body).toBe(403);
      expect(res.json().error.code).toBe("IMPERSONATION_FORBIDDEN");
    }
    const refused = t.logs.filter((l) => l.msg === "write refused while impersonating");
    expect(refused).toHaveLength(6);
    for (const line of refused) expect(line).toMatchObject({ impersonator: adminId, userId, status: 403 });
  });

  it("AUTHZ-4: an allowed write is recorded with both identities", async () => {
    const res = await write("PATCH", `/v1/orgs/${orgId}`, { name: "Founders Ltd" });
    expect(res.statusCode).toBe(200);
    expect(t.logs.find((l) => l.msg === "write while impersonating")).toMatchObject({
      impersonator: adminId,
      userId,
      method: "PATCH",
      route: "/v1/orgs/:orgId",
      status: 200,
    });
  });

  it("AUTHZ-4: the impersonation session is marked in the user's own session list", async () => {
    const founder = await login(t, "founder@example.org", PW);
    const list = (await t.app.inject({ url: "/v1/me/sessions", headers: { cookie: founder.cookie } })).json()
      .sessions;
    expect(list.filter((s: { impersonatedBy: string | null }) => s.impersonatedBy === adminId)).toHaveLength(
      1,
    );
    expect(
      list.filter((s: { impersonatedBy: string | null }) => s.impersonatedBy === null).length,
    ).toBeGreaterThan(0);
  });
});
