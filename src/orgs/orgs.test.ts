import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser, ENGINE, login, type TestApp, testApp } from "../../test/harness.js";
import { USER } from "../auth/requirements.js";
import { CORE_ACTIONS, PermissionTable, ROLES, type Role } from "./permissions.js";
import { OrgStore } from "./store.js";

const PW = "organisation passphrase 1";

const table = new PermissionTable();

/** The expected core table, written out independently of the code it checks. */
const EXPECTED: Record<Role, string[]> = {
  OWNER: [...CORE_ACTIONS],
  ADMIN: [
    "org:read",
    "org:update",
    "members:read",
    "members:invite",
    "members:update",
    "members:remove",
    "apikeys:manage",
    "audit:read",
    "audit:write",
    "webhooks:manage",
    "webhooks:write",
    "oidc:manage",
    "usage:record",
    "uploads:write",
  ],
  MEMBER: ["org:read", "members:read", "uploads:write"],
  VIEWER: ["org:read", "members:read"],
};

describe("permission table", () => {
  for (const role of ROLES) {
    it(`AUTHZ-1: ${role} may do exactly its actions`, () => {
      expect(table.actions.filter((a) => table.can(role, a))).toEqual(EXPECTED[role]);
    });
  }
  it("AUTHZ-1: docs/permissions.md shows the table in code", () => {
    expect(readFileSync(new URL("../../docs/permissions.md", import.meta.url), "utf8")).toContain(
      table.markdown(),
    );
  });
});

describe(`organisations (${ENGINE})`, () => {
  let t: TestApp;
  let orgId = "";
  const ids: Record<string, string> = {};
  const cookies: Record<string, { cookie: string; csrf: string }> = {};
  beforeAll(async () => {
    t = await testApp();
    for (const name of ["owner", "admin", "member", "viewer", "outsider"]) {
      ids[name] = await createUser(t, `${name}@example.org`, PW);
      cookies[name] = await login(t, `${name}@example.org`, PW);
    }
    const res = await as("owner", "POST", "/v1/orgs", { name: "Acme Wholesale" });
    expect(res.statusCode).toBe(201);
    orgId = res.json().org.id;
    expect(res.json().org).toMatchObject({ slug: "acme-wholesale", role: "OWNER" });
    const store = new OrgStore(t.db.global, t.db.engine);
    for (const [name, role] of [
      ["admin", "ADMIN"],
      ["member", "MEMBER"],
      ["viewer", "VIEWER"],
    ] as const)
      await store.addMember(orgId, ids[name]!, role, Date.now());
  });
  afterAll(() => t.close());

  function as(who: string, method: "GET" | "POST" | "PATCH" | "DELETE", url: string, payload?: object) {
    const c = cookies[who]!;
    return t.app.inject({
      method,
      url,
      ...(payload ? { payload } : {}),
      headers: { cookie: c.cookie, "x-csrf-token": c.csrf },
    });
  }

  it("AUTHZ-1: each role's allowed and denied actions hold over HTTP", async () => {
    const cases: Array<[string, "GET" | "PATCH", string, object | undefined, Role[]]> = [
      ["org:read", "GET", `/v1/orgs/${orgId}`, undefined, ["OWNER", "ADMIN", "MEMBER", "VIEWER"]],
      ["org:update", "PATCH", `/v1/orgs/${orgId}`, { name: "Acme Wholesale Ltd" }, ["OWNER", "ADMIN"]],
      ["members:read", "GET", `/v1/orgs/${orgId}/members`, undefined, ["OWNER", "ADMIN", "MEMBER", "VIEWER"]],
      [
        "members:update",
        "PATCH",
        `/v1/orgs/${orgId}/members/${ids.viewer}`,
        { role: "VIEWER" },
        ["OWNER", "ADMIN"],
      ],
    ];
    for (const [action, method, url, body, allowed] of cases) {
      for (const [who, role] of [
        ["owner", "OWNER"],
        ["admin", "ADMIN"],
        ["member", "MEMBER"],
        ["viewer", "VIEWER"],
      ] as const) {
        const res = await as(who, method, url, body);
        expect(res.statusCode, `${role} ${action}`).toBe(allowed.includes(role) ? 200 : 403);
        if (!allowed.includes(role)) expect(res.json().error.code).toBe("FORBIDDEN");
      }
    }
  });

  it("AUTHZ-2: an unknown organisation and a foreign one answer the same 404", async () => {
    const foreign = await as("outsider", "GET", `/v1/orgs/${orgId}`);
    const unknown = await as("outsider", "GET", "/v1/orgs/org_01ZZZZZZZZZZZZZZZZZZZZZZZZ");
    const malformed = await as("outsider", "GET", "/v1/orgs/not-an-org");
    for (const res of [foreign, unknown, malformed]) {
      expect(res.statusCode).toBe(404);
      expect(res.json().error.code).toBe("NOT_FOUND");
    }
    expect(foreign.json().error.message).toBe(unknown.json().error.message);
    // The outsider's own list does not show it either.
    expect((await as("outsider", "GET", "/v1/orgs")).json().orgs).toEqual([]);
  });

  it("AUTHZ-6: a refused action is recorded with actor, organisation, action and resource", async () => {
    await as("viewer", "PATCH", `/v1/orgs/${orgId}`, { name: "Hijacked" });
    const denial = t.logs.find(
      (l) => l.msg === "permission denied" && (l.denial as { actorId: string }).actorId === ids.viewer,
    );
    expect(denial?.denial).toMatchObject({
      orgId,
      action: "org:update",
      resource: "/v1/orgs/:orgId",
      reason: "role",
    });
  });

  it("AUTHZ-1: only an OWNER grants OWNER; the last OWNER can neither be demoted nor leave", async () => {
    const grant = await as("admin", "PATCH", `/v1/orgs/${orgId}/members/${ids.member}`, { role: "OWNER" });
    expect(grant.statusCode).toBe(403);
    expect(grant.json().error.code).toBe("OWNER_REQUIRED");
    const demote = await as("owner", "PATCH", `/v1/orgs/${orgId}/members/${ids.owner}`, { role: "ADMIN" });
    expect(demote.statusCode).toBe(409);
    expect(demote.json().error.code).toBe("LAST_OWNER");
    const leave = await as("owner", "DELETE", `/v1/orgs/${orgId}/members/${ids.owner}`);
    expect(leave.json().error.code).toBe("LAST_OWNER");
    // With a second owner, the first may step down.
    expect(
      (await as("owner", "PATCH", `/v1/orgs/${orgId}/members/${ids.admin}`, { role: "OWNER" })).statusCode,
    ).toBe(200);
    expect(
      (await as("owner", "PATCH", `/v1/orgs/${orgId}/members/${ids.owner}`, { role: "ADMIN" })).statusCode,
    ).toBe(200);
    expect(
      (await as("admin", "PATCH", `/v1/orgs/${orgId}/members/${ids.owner}`, { role: "OWNER" })).statusCode,
    ).toBe(200);
  });

  it("AUTHZ-1: two owners demoting each other at once cannot leave the organisation ownerless", async () => {
    const res = await as("owner", "POST", "/v1/orgs", { name: "Race Org" });
    const raceOrg = res.json().org.id as string;
    const store = new OrgStore(t.db.global, t.db.engine);
    await store.addMember(raceOrg, ids.admin!, "OWNER", Date.now());
    const [a, b] = await Promise.all([
      as("owner", "PATCH", `/v1/orgs/${raceOrg}/members/${ids.admin}`, { role: "MEMBER" }),
      as("admin", "PATCH", `/v1/orgs/${raceOrg}/members/${ids.owner}`, { role: "MEMBER" }),
    ]);
    // Exactly one wins. The loser is refused either as LAST_OWNER (409) or, if the winner's demotion landed
    // before its own request was checked, because it is no longer an owner (403).
    const [won, lost] = [a, b].sort((x, y) => x.statusCode - y.statusCode);
    expect(won!.statusCode).toBe(200);
    expect(["FORBIDDEN", "LAST_OWNER"]).toContain(lost!.json().error.code);
    const owners = (await store.listMembers(raceOrg, 100, undefined)).filter((m) => m.role === "OWNER");
    expect(owners).toHaveLength(1);
  });

  it("AUTH-8: an organisation requiring MFA refuses a member without it, with a clear error", async () => {
    const res = await as("owner", "POST", "/v1/orgs", { name: "Strict Org" });
    const strict = res.json().org.id as string;
    await new OrgStore(t.db.global, t.db.engine).addMember(strict, ids.member!, "MEMBER", Date.now());
    // The owner has no second factor yet: requiring one of everyone is refused, so nobody is locked out.
    const early = await as("owner", "PATCH", `/v1/orgs/${strict}`, { requireMfa: true });
    expect(early.statusCode).toBe(403);
    expect(early.json().error.code).toBe("MFA_ENROLMENT_REQUIRED");
    const mfa = t.app.bulwark.service("mfa");
    await mfa.startEnrolment(ids.owner!, "owner@example.org");
    await mfa.enrolConfirmed(ids.owner!);
    expect(
      (await as("owner", "PATCH", `/v1/orgs/${strict}`, { requireMfa: true })).json().org.requireMfa,
    ).toBe(true);
    // A member without a second factor is refused on every organisation route, told how to fix it.
    for (const url of [`/v1/orgs/${strict}`, `/v1/orgs/${strict}/members`]) {
      const denied = await as("member", "GET", url);
      expect(denied.statusCode).toBe(403);
      expect(denied.json().error.code).toBe("MFA_ENROLMENT_REQUIRED");
      expect(denied.json().error.message).toMatch(/POST \/v1\/me\/mfa\/totp/);
    }
    expect((await as("owner", "GET", `/v1/orgs/${strict}`)).statusCode).toBe(200);
  });

  it("AUTHZ-1: a route without a row in the route table, or a tenant route without an action, cannot be registered", async () => {
    const other = await testApp({}, (app) => {
      expect(() => app.get("/v1/orgs/:orgId/careless", async () => ({}))).toThrow(/not in the route table/);
      expect(() => app.get("/v1/elsewhere", async () => ({}))).toThrow(/not in the route table/);
      expect(() =>
        app.get("/v1/orgs/:orgId/careless", { config: { security: USER } }, async () => ({})),
      ).toThrow(/declares the action it needs/);
    });
    await other.close();
  });
});
