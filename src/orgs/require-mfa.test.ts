import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createAdmin, signedIn } from "../../test/admins.js";
import { createUser, ENGINE, type TestApp, testApp } from "../../test/harness.js";
import { OrgStore } from "./store.js";

const PW = "require mfa passphrase 1";
type Headers = Record<string, string>;

describe(`turning an organisation's MFA requirement off (${ENGINE})`, () => {
  let t: TestApp;
  let owner: Headers;
  let deputy: Headers;
  let platformAdmin: Headers;
  const ids: Record<string, string> = {};
  let orgId = "";
  beforeAll(async () => {
    t = await testApp();
    const a = await createAdmin(t, "support@example.org", PW);
    platformAdmin = await signedIn(t, "/v1/admin/auth/login", {
      email: "support@example.org",
      password: PW,
      code: a.code(),
    });
    // Both sign in first: with a second factor on, the password alone earns only a challenge.
    for (const name of ["owner", "deputy"]) {
      ids[name] = await createUser(t, `${name}@example.org`, PW);
      const headers = await signedIn(t, "/v1/auth/login", { email: `${name}@example.org`, password: PW });
      if (name === "owner") owner = headers;
      else deputy = headers;
      const mfa = t.app.bulwark.service("mfa");
      await mfa.startEnrolment(ids[name]!, `${name}@example.org`);
      await mfa.enrolConfirmed(ids[name]!);
    }
    orgId = await strictOrg("Strict Co");
  });
  afterAll(() => t.close());
  afterEach(() => vi.useRealTimers());

  function call(method: "POST" | "PATCH" | "GET", url: string, headers: Headers, payload?: object) {
    return t.app.inject({ method, url, headers, ...(payload ? { payload } : {}) });
  }
  const patch = (org: string, headers: Headers, payload: object) =>
    call("PATCH", `/v1/orgs/${org}`, headers, payload);
  const requiresMfa = async (org: string): Promise<boolean> =>
    (await call("GET", `/v1/orgs/${org}`, owner)).json().org.requireMfa;
  /** An organisation of the owner's with the deputy as ADMIN, requiring MFA (unless `on` is false). */
  async function strictOrg(name: string, on = true): Promise<string> {
    const id = (await call("POST", "/v1/orgs", owner, { name })).json().org.id as string;
    await new OrgStore(t.db.global, t.db.engine).addMember(id, ids.deputy!, "ADMIN", Date.now());
    if (on) expect((await patch(id, owner, { requireMfa: true })).json().org.requireMfa).toBe(true);
    return id;
  }

  it("AUTHZ-4/AUTH-8: an impersonating admin cannot turn the requirement off (IMPERSONATION_FORBIDDEN), though renaming works", async () => {
    const res = await call("POST", "/v1/admin/impersonations", platformAdmin, {
      userId: ids.owner,
      reason: "Ticket 4713: members locked out",
    });
    expect(res.statusCode).toBe(201);
    const asOwner = {
      cookie: String(res.headers["set-cookie"]).split(";")[0]!,
      "x-csrf-token": res.json().csrfToken,
    };
    const off = await patch(orgId, asOwner, { requireMfa: false });
    expect(off.statusCode).toBe(403);
    expect(off.json().error.code).toBe("IMPERSONATION_FORBIDDEN");
    expect(await requiresMfa(orgId)).toBe(true);
    const renamed = await patch(orgId, asOwner, { name: "Strict Co (support)" });
    expect(renamed.statusCode).toBe(200);
    expect(renamed.json().org).toMatchObject({ name: "Strict Co (support)", requireMfa: true });
  });

  it("AUTH-8: only an OWNER turns the requirement off (OWNER_REQUIRED); an ADMIN with org:update may turn it on", async () => {
    const org = await strictOrg("Deputy Co", false);
    // Off already: saying so weakens nothing, and is not refused.
    const noop = await patch(org, deputy, { requireMfa: false });
    expect(noop.statusCode).toBe(200);
    expect(noop.json().org.requireMfa).toBe(false);
    const on = await patch(org, deputy, { requireMfa: true });
    expect(on.statusCode).toBe(200);
    expect(on.json().org.requireMfa).toBe(true);
    // The deputy signed in moments ago and is not impersonated: only the role is missing.
    const off = await patch(org, deputy, { requireMfa: false });
    expect(off.statusCode).toBe(403);
    expect(off.json().error.code).toBe("OWNER_REQUIRED");
    expect(await requiresMfa(org)).toBe(true);
  });

  it("AUTH-8/AUTH-14: turning it off needs the password within REAUTH_MINUTES: allowed 1 ms before, refused at the window's end, allowed after re-authenticating", async () => {
    const windowMs = t.config.auth.reauthMs;
    vi.useFakeTimers({ toFake: ["Date"] });
    const t0 = Date.now();
    expect((await call("POST", "/v1/auth/reauth", owner, { password: PW })).statusCode).toBe(200);
    vi.setSystemTime(t0 + windowMs - 1);
    const early = await patch(orgId, owner, { requireMfa: false });
    expect(early.statusCode).toBe(200);
    expect(early.json().org.requireMfa).toBe(false);
    // Turning it on again needs no recent password: it only strengthens the organisation.
    expect((await patch(orgId, owner, { requireMfa: true })).json().org.requireMfa).toBe(true);
    vi.setSystemTime(t0 + windowMs);
    const late = await patch(orgId, owner, { requireMfa: false });
    expect(late.statusCode).toBe(403);
    expect(late.json().error.code).toBe("REAUTH_REQUIRED");
    expect(await requiresMfa(orgId)).toBe(true);
    expect((await call("POST", "/v1/auth/reauth", owner, { password: PW })).statusCode).toBe(200);
    const again = await patch(orgId, owner, { requireMfa: false });
    expect(again.statusCode).toBe(200);
    expect(again.json().org.requireMfa).toBe(false);
  });
});
