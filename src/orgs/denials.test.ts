import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser, login, type TestApp, testApp } from "../../test/harness.js";
import { PROFILES, throughProxy } from "../../test/profiles.js";
import { OrgStore } from "./store.js";

const PW = "denial records passphrase 3";

describe.each(PROFILES)("refusals are recorded with the request they belong to (%s)", (profile, env) => {
  let t: TestApp;
  let admin: { cookie: string; csrf: string };
  let orgId = "";
  let ownerId = "";
  beforeAll(async () => {
    t = throughProxy(await testApp({ ...env, LOG_LEVEL: "info" }), profile);
    ownerId = await createUser(t, "owner@example.org", PW);
    const adminId = await createUser(t, "second@example.org", PW);
    const owner = await login(t, "owner@example.org", PW);
    orgId = (
      await t.app.inject({
        method: "POST",
        url: "/v1/orgs",
        payload: { name: "Denials" },
        headers: { cookie: owner.cookie, "x-csrf-token": owner.csrf },
      })
    ).json().org.id;
    await new OrgStore(t.db.global, t.db.engine).addMember(orgId, adminId, "ADMIN", Date.now());
    admin = await login(t, "second@example.org", PW);
  });
  afterAll(() => t.close());

  const send = (method: "PATCH" | "DELETE" | "POST", url: string, payload?: object) =>
    t.app.inject({
      method,
      url,
      ...(payload ? { payload } : {}),
      headers: {
        cookie: admin.cookie,
        "x-csrf-token": admin.csrf,
        "x-request-id": `req-${method}-${url.length}`,
      },
    });

  it("AUTHZ-6: an owner-rule refusal is recorded as a denial, naming actor, organisation and rule", async () => {
    const res = await send("PATCH", `/v1/orgs/${orgId}/members/${ownerId}`, { role: "MEMBER" });
    expect(res.json().error.code).toBe("OWNER_REQUIRED");
    const line = t.logs.find(
      (l) => l.msg === "permission denied" && l.requestId === res.headers["x-request-id"],
    );
    expect(line?.denial).toMatchObject({
      orgId,
      reason: "OWNER_REQUIRED",
      resource: "/v1/orgs/:orgId/members/:userId",
    });
  });

  it("OBS-1: every line written while handling a refused request carries its request id", async () => {
    const res = await send("POST", `/v1/orgs/${orgId}/invitations`, {
      email: "x@example.org",
      role: "OWNER",
    });
    expect(res.json().error.code).toBe("OWNER_REQUIRED");
    const lines = t.logs.filter((l) => l.msg === "permission denied");
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const l of lines) expect(l.requestId).toMatch(/^req-/);
  });

  it("AUTHZ-2: names without Latin letters get unique slugs; creating one never reveals another tenant's slug", async () => {
    const slugs: string[] = [];
    for (const name of ["株式会社", "Ωμέγα", "株式会社"]) {
      const res = await t.app.inject({
        method: "POST",
        url: "/v1/orgs",
        payload: { name },
        headers: { cookie: admin.cookie, "x-csrf-token": admin.csrf },
      });
      expect(res.statusCode, name).toBe(201);
      slugs.push(res.json().org.slug);
    }
    expect(new Set(slugs).size).toBe(3);
    // A slug the caller chose is theirs to retry: that one is refused by name.
    const taken = await t.app.inject({
      method: "POST",
      url: "/v1/orgs",
      payload: { name: "Mine", slug: slugs[0] },
      headers: { cookie: admin.cookie, "x-csrf-token": admin.csrf },
    });
    expect(taken.json().error.code).toBe("SLUG_TAKEN");
  });
});
