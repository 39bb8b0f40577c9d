import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAdmin, signedIn } from "../../test/admins.js";
import { createUser, ENGINE, type TestApp, testApp } from "../../test/harness.js";

const PW = "admin sign-out passphrase";

/** Findings of the console's review, on the API it uses: each failed before its fix. */
describe(`admin sign-out, search input and caching (${ENGINE})`, () => {
  let t: TestApp;
  let userId = "";
  let admin: Awaited<ReturnType<typeof createAdmin>>;
  let headers: { cookie: string; "x-csrf-token": string };
  beforeAll(async () => {
    t = await testApp();
    admin = await createAdmin(t, "signout@platform.example", PW);
    userId = await createUser(t, "acted-as@example.org", PW);
  });
  afterAll(() => t.close());

  const signIn = (offsetMs = 0) =>
    signedIn(t, "/v1/admin/auth/login", {
      email: "signout@platform.example",
      password: PW,
      code: admin.code(offsetMs),
    });

  it("AUTHZ-4: signing out of the admin console ends the impersonations that admin started", async () => {
    const headers = await signIn();
    const start = await t.app.inject({
      method: "POST",
      url: "/v1/admin/impersonations",
      headers,
      payload: { userId, reason: "ticket 12: sign-out must end this", minutes: 30 },
    });
    expect(start.statusCode).toBe(201);
    const portal = { cookie: String(start.headers["set-cookie"]).split(";")[0]! };
    expect(
      (await t.app.inject({ url: "/v1/auth/session", headers: portal })).json().impersonation,
    ).not.toBeNull();

    const out = await t.app.inject({ method: "POST", url: "/v1/admin/auth/logout", headers });
    expect(out.statusCode).toBe(204);
    expect((await t.app.inject({ url: "/v1/auth/session", headers: portal })).json()).toEqual({
      signedIn: false,
    });
    expect((await t.app.inject({ url: "/v1/me", headers: portal })).statusCode).toBe(401);
  });

  it("INPUT-1: a NUL in an admin search is refused with the field named, on both lists", async () => {
    headers = await signIn(30_000);
    for (const url of ["/v1/admin/users?q=%00", "/v1/admin/orgs?q=a%00b"]) {
      const res = await t.app.inject({ url, headers });
      expect(res.statusCode, url).toBe(400);
      expect(res.json().error.details).toEqual([expect.objectContaining({ in: "querystring", field: "q" })]);
    }
  });

  it("AUTH-5: answers that carry a session's CSRF token, or anything a credential opened, are never cached", async () => {
    // The session of the test above (each TOTP step's code signs in once).
    for (const url of ["/v1/admin/auth/session", "/v1/admin/users", "/v1/auth/session"]) {
      const res = await t.app.inject({ url, headers });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers["cache-control"], url).toBe("no-store");
    }
    const login = await t.app.inject({
      method: "POST",
      url: "/v1/auth/login",
      payload: { email: "acted-as@example.org", password: PW },
    });
    expect(login.json().csrfToken).toEqual(expect.any(String));
    expect(login.headers["cache-control"]).toBe("no-store");
  });
});
