import { Type } from "@sinclair/typebox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAdmin, signedIn } from "../../test/admins.js";
import { createUser, ENGINE, type TestApp, testApp } from "../../test/harness.js";
import type { Extension } from "../orgs/extension.js";

const PW = "impersonation reauth passphrase";

/** An extension's sensitive tenant route: declared with `reauth`, and nothing said about impersonation. */
const vault: Extension = {
  name: "vault",
  routes(tenant) {
    tenant.route({
      method: "POST",
      url: "/vault/open",
      action: "org:read",
      security: { reauth: true },
      schema: {
        body: Type.Object({}),
        summary: "Open the vault",
        description: "A re-auth route of the test's extension.",
      },
      handler: async () => ({ opened: true }),
    });
  },
};
const VAULT = "/v1/orgs/:orgId/vault/open";

describe(`impersonation never passes for a recent re-authentication (${ENGINE})`, () => {
  let t: TestApp;
  let admin: { cookie: string; "x-csrf-token": string };
  let user: { cookie: string; "x-csrf-token": string };
  let userId = "";
  let orgId = "";
  beforeAll(async () => {
    t = await testApp({}, undefined, { extensions: [vault] });
    const a = await createAdmin(t, "support@example.org", PW);
    admin = await signedIn(t, "/v1/admin/auth/login", {
      email: "support@example.org",
      password: PW,
      code: a.code(),
    });
    userId = await createUser(t, "customer@example.org", PW);
    user = await signedIn(t, "/v1/auth/login", { email: "customer@example.org", password: PW });
    orgId = (await post("/v1/orgs", user, { name: "Vault Co" })).json().org.id;
  });
  afterAll(() => t.close());

  function post(url: string, headers: Record<string, string>, payload: object = {}) {
    return t.app.inject({ method: "POST", url, payload, headers });
  }
  /** Opens an impersonation of the user: its portal cookie token and the headers of a write. */
  async function impersonate(): Promise<{ token: string; headers: Record<string, string> }> {
    const res = await post("/v1/admin/impersonations", admin, { userId, reason: "Ticket 4712: vault fails" });
    expect(res.statusCode).toBe(201);
    const cookie = String(res.headers["set-cookie"]).split(";")[0]!;
    return {
      token: cookie.slice(cookie.indexOf("=") + 1),
      headers: { cookie, "x-csrf-token": res.json().csrfToken },
    };
  }

  it("AUTHZ-4: an impersonating admin is refused a re-auth route that the user, just signed in, may use", async () => {
    const url = VAULT.replace(":orgId", orgId);
    const own = await post(url, user);
    expect(own.statusCode).toBe(200);
    expect(own.json()).toEqual({ opened: true });
    const { headers } = await impersonate();
    // The impersonation session was created a moment ago: it must not count as a fresh password proof.
    const res = await post(url, headers);
    expect(res.statusCode).toBe(403);
    expect(res.json().error.code).toBe("IMPERSONATION_FORBIDDEN");
    expect(res.headers["x-bulwark-impersonation"]).toBeDefined();
  });

  it("AUTHZ-4: re-authenticating is refused while impersonating, and the re-auth route stays closed after it", async () => {
    const { headers } = await impersonate();
    const reauth = await post("/v1/auth/reauth", headers, { password: PW });
    expect(reauth.statusCode).toBe(403);
    expect(reauth.json().error.code).toBe("IMPERSONATION_FORBIDDEN");
    const res = await post(VAULT.replace(":orgId", orgId), headers);
    expect(res.statusCode).toBe(403);
    expect(res.json().error.code).toBe("IMPERSONATION_FORBIDDEN");
  });

  it("AUTHZ-4: an impersonation session is never recently re-authenticated, and a re-auth row says it refuses impersonation", async () => {
    const { token } = await impersonate();
    const sessions = t.app.bulwark.service("sessions");
    const row = await sessions.validate(token, "portal");
    expect(row?.impersonator_id).toBeTruthy();
    expect(row?.reauth_at).toBe(0);
    expect(sessions.isRecentlyAuthenticated(row!)).toBe(false);
    // The effective row (read by docs/routes.md and /openapi.json) states what the pipeline enforces.
    const route = t.app.bulwark.routes.find((r) => r.method === "POST" && r.url === VAULT);
    expect(route?.security).toMatchObject({ reauth: true, impersonation: "refuse" });
    const doc = (await t.app.inject({ url: "/openapi.json" })).json();
    expect(doc.paths["/v1/orgs/{orgId}/vault/open"].post["x-bulwark-security"]).toMatchObject({
      reauth: true,
      impersonation: "refuse",
    });
  });
});
