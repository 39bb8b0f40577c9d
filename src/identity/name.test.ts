import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAdmin, signedIn } from "../../test/admins.js";
import { createUser, ENGINE, login, type TestApp, testApp } from "../../test/harness.js";

const PW = "display name passphrase";

/** The name a person goes by (the console's account screen): PATCH /v1/me. */
describe(`a user's display name (${ENGINE})`, () => {
  let t: TestApp;
  let userId = "";
  let headers: { cookie: string; "x-csrf-token": string };
  beforeAll(async () => {
    t = await testApp();
    userId = await createUser(t, "named@example.org", PW);
    const { cookie, csrf } = await login(t, "named@example.org", PW);
    headers = { cookie, "x-csrf-token": csrf };
  });
  afterAll(() => t.close());

  const patch = (payload: unknown, h: Record<string, string> = headers) =>
    t.app.inject({ method: "PATCH", url: "/v1/me", headers: h, payload: payload as object });
  const me = async () => (await t.app.inject({ url: "/v1/me", headers })).json().user;

  it("AUTH-5: a name is set, trimmed and shown at once by GET /v1/me (the cached session is refreshed); null clears it", async () => {
    expect((await me()).name).toBeNull();
    await me(); // cached now
    const res = await patch({ name: "  Ada\u202e Lovelace\u0007 " });
    expect(res.statusCode).toBe(200);
    expect(res.json().user).toEqual({
      id: userId,
      email: "named@example.org",
      name: "Ada Lovelace",
      emailVerified: true,
    });
    expect((await me()).name).toBe("Ada Lovelace");
    expect((await patch({ name: null })).json().user.name).toBeNull();
    expect((await me()).name).toBeNull();
  });

  it("INPUT-1: a blank, over-long or missing name is refused with the field named", async () => {
    for (const payload of [{ name: "" }, { name: "   " }, { name: "x".repeat(101) }, {}, { name: 5 }]) {
      const res = await patch(payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json().error.code).toBe("VALIDATION_FAILED");
    }
    expect((await patch({ name: "\u200b\u0007" })).json().error.details).toEqual([
      { in: "body", field: "name", message: "must not be blank" },
    ]);
  });

  it("AUTHZ-4: an impersonating admin cannot rename the user", async () => {
    const admin = await createAdmin(t, "renamer@platform.example", PW);
    const a = await signedIn(t, "/v1/admin/auth/login", {
      email: "renamer@platform.example",
      password: PW,
      code: admin.code(),
    });
    const start = await t.app.inject({
      method: "POST",
      url: "/v1/admin/impersonations",
      headers: a,
      payload: { userId, reason: "ticket 77: looking, not renaming" },
    });
    const h = {
      cookie: String(start.headers["set-cookie"]).split(";")[0]!,
      "x-csrf-token": start.json().csrfToken,
    };
    const res = await patch({ name: "Not Yours" }, h);
    expect(res.statusCode).toBe(403);
    expect(res.json().error.code).toBe("IMPERSONATION_FORBIDDEN");
    expect((await me()).name).toBeNull();
  });
});
