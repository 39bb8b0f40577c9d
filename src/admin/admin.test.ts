import * as OTPAuth from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser, ENGINE, login, type TestApp, testApp } from "../../test/harness.js";
import { Sealer } from "../crypto/seal.js";
import { PasswordHasher } from "../identity/password.js";
import { MfaService } from "../mfa/service.js";
import { MfaStore } from "../mfa/store.js";
import { AdminService } from "./service.js";
import { AdminStore } from "./store.js";

const ADMIN = "operator@example.org";
const ADMIN_PW = "staff passphrase for tests";
const USER_PW = "tenant user passphrase 1";

describe(`platform admins (${ENGINE})`, () => {
  let t: TestApp;
  let totp: OTPAuth.TOTP;
  let admins: AdminService;
  let vanilla: TestApp;
  beforeAll(async () => {
    vanilla = await testApp();
    t = await testApp();
    const mfa = new MfaService(new MfaStore(t.db.global), new Sealer(t.config.dataKeys), "localhost");
    admins = new AdminService(
      new AdminStore(t.db.global),
      new PasswordHasher(t.config.auth.argon2),
      mfa,
      t.config,
    );
    const created = await admins.create(ADMIN, ADMIN_PW, true);
    totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(created.secret!), digits: 6, period: 30 });
    // A tenant user with the same address as the admin: a different identity entirely.
    await createUser(t, ADMIN, USER_PW);
  });
  afterAll(async () => {
    await t.close();
    await vanilla.close();
  });

  const adminLogin = (body: object, remoteAddress = "127.0.0.1") =>
    t.app.inject({ method: "POST", url: "/v1/admin/auth/login", payload: body, remoteAddress });

  it("AUTHZ-3: an admin signs in with password and TOTP, and reaches admin routes (users, orgs)", async () => {
    const res = await adminLogin({ email: ADMIN, password: ADMIN_PW, code: totp.generate() });
    expect(res.statusCode).toBe(200);
    const cookie = String(res.headers["set-cookie"]);
    expect(cookie).toMatch(/^bulwark_admin=bwa_/);
    const users = await t.app.inject({ url: "/v1/admin/users", headers: { cookie: cookie.split(";")[0]! } });
    expect(users.statusCode).toBe(200);
    expect(users.json().users.map((u: { email: string }) => u.email)).toContain(ADMIN);
    const portal = await login(t, ADMIN, USER_PW);
    await t.app.inject({
      method: "POST",
      url: "/v1/orgs",
      payload: { name: "Seen By Staff" },
      headers: { cookie: portal.cookie, "x-csrf-token": portal.csrf },
    });
    const orgs = await t.app.inject({ url: "/v1/admin/orgs", headers: { cookie: cookie.split(";")[0]! } });
    expect(orgs.json().orgs).toEqual([expect.objectContaining({ name: "Seen By Staff", members: 1 })]);
  });

  it("AUTHZ-3: without the TOTP code, or with a wrong one, the admin door stays shut", async () => {
    expect((await adminLogin({ email: ADMIN, password: ADMIN_PW }, "10.2.0.1")).json().error.code).toBe(
      "INVALID_CREDENTIALS",
    );
    expect(
      (await adminLogin({ email: ADMIN, password: ADMIN_PW, code: "000000" }, "10.2.0.2")).json().error.code,
    ).toBe("INVALID_CREDENTIALS");
  });

  it("AUTHZ-3: a tenant user's password never opens the admin door, even for the same email", async () => {
    const res = await adminLogin(
      { email: ADMIN, password: USER_PW, code: totp.generate({ timestamp: Date.now() + 30_000 }) },
      "10.2.0.3",
    );
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe("INVALID_CREDENTIALS");
  });

  it("AUTH-6: a portal session cookie on an admin route gets 401, and an admin cookie on a portal route gets 401", async () => {
    const portal = await login(t, ADMIN, USER_PW);
    const refused = (res: { statusCode: number; json(): { error: { code: string } } }) => {
      expect(res.statusCode).toBe(401);
      expect(res.json().error.code).toBe("UNAUTHENTICATED");
    };
    refused(await t.app.inject({ url: "/v1/admin/users", headers: { cookie: portal.cookie } }));
    // Even renamed to the admin cookie's name, a portal session is not an admin session.
    refused(
      await t.app.inject({
        url: "/v1/admin/users",
        headers: { cookie: portal.cookie.replace("bulwark_session", "bulwark_admin") },
      }),
    );

    const res = await adminLogin(
      { email: ADMIN, password: ADMIN_PW, code: totp.generate({ timestamp: Date.now() + 30_000 }) },
      "10.2.0.4",
    );
    expect(res.statusCode).toBe(200);
    const adminCookie = String(res.headers["set-cookie"]).split(";")[0]!;
    refused(await t.app.inject({ url: "/v1/me", headers: { cookie: adminCookie } }));
    refused(
      await t.app.inject({
        url: "/v1/me",
        headers: { cookie: adminCookie.replace("bulwark_admin", "bulwark_session") },
      }),
    );
  });

  it("AUTHZ-3: an admin cannot be created twice, nor with a weak password", async () => {
    await expect(admins.create(ADMIN, ADMIN_PW, true)).rejects.toMatchObject({ code: "ADMIN_EXISTS" });
    await expect(admins.create("weak@example.org", "short", true)).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
      details: [{ in: "body", field: "password", message: "must be at least 12 characters" }],
    });
  });

  it("AUTHZ-3: the first start without an admin says how to create one", () => {
    expect(
      vanilla.logs.some((l) => l.level === "warn" && String(l.msg).includes("bulwark admin create --email")),
    ).toBe(true);
  });
});
