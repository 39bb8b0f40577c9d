import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser, login, type TestApp, testApp } from "../../test/harness.js";
import { PROFILES, throughProxy } from "../../test/profiles.js";

const PW = "a long enough passphrase 1";

/** Findings of a hostile tester against the account routes, each reproduced before its fix. */
describe.each(PROFILES)("account routes under hostile use (%s)", (profile, env) => {
  let t: TestApp;
  beforeAll(async () => {
    t = throughProxy(await testApp({ ...env, LOG_LEVEL: "info" }), profile);
  });
  afterAll(() => t.close());

  const signup = (email: string, password: string, ip = "192.0.2.1") =>
    t.app.inject({ method: "POST", url: "/v1/auth/signup", remoteAddress: ip, payload: { email, password } });

  it("AUTH-2: long but guessable passwords, and passwords containing the address, are refused", async () => {
    const cases: Array<[string, string, RegExp]> = [
      ["spaces@example.org", " ".repeat(12), /too easy to guess/],
      ["repeat@example.org", "aaaaaaaaaaaa", /too easy to guess \(repeated characters\)/],
      ["keyboard@example.org", "qwertyuiopas", /too easy to guess/],
      ["sequence@example.org", "abcdefghijkl", /too easy to guess/],
      ["ada.lovelace@example.org", "ada.lovelace@example.org", /must not contain your email address/],
      ["grace.hopper@example.org", "grace.hopper.2024!", /must not contain your email address/],
    ];
    for (const [i, [email, password, message]] of cases.entries()) {
      const res = await signup(email, password, `192.0.2.${10 + i}`);
      expect(res.json().error.code, password).toBe("VALIDATION_FAILED");
      expect(res.json().error.details, password).toEqual([
        { in: "body", field: "password", message: expect.stringMatching(message) },
      ]);
    }
    expect(
      (await signup("fine@example.org", "violet umbrella carries 42 stones", "192.0.2.30")).statusCode,
    ).toBe(202);
  });

  it("AUTH-3: composed and decomposed spellings of an address are one account", async () => {
    await signup("jos\u00e9@example.org", PW, "192.0.2.40");
    await signup("jose\u0301@example.org", "another long passphrase 77", "192.0.2.41");
    const { IdentityStore } = await import("./store.js");
    const rows = await new IdentityStore(t.db.global).listUsers(200, undefined);
    expect(rows.filter((u) => u.email.normalize("NFC") === "jos\u00e9@example.org")).toHaveLength(1);
    expect(rows.every((u) => u.email === u.email.normalize("NFC"))).toBe(true);
  });

  it("AUTH-5: sign-out without a body signs out", async () => {
    await createUser(t, "leaver@example.org", PW);
    const s = await login(t, "leaver@example.org", PW);
    const out = await t.app.inject({
      method: "POST",
      url: "/v1/auth/logout",
      headers: { cookie: s.cookie, "x-csrf-token": s.csrf },
    });
    expect(out.statusCode).toBe(204);
    expect((await t.app.inject({ url: "/v1/me", headers: { cookie: s.cookie } })).json().error.code).toBe(
      "UNAUTHENTICATED",
    );
  });

  it("INPUT-1: DELETE /v1/me/sessions with a body is refused, and ends nothing", async () => {
    await createUser(t, "deleter@example.org", PW);
    const s = await login(t, "deleter@example.org", PW);
    const other = await login(t, "deleter@example.org", PW);
    const res = await t.app.inject({
      method: "DELETE",
      url: "/v1/me/sessions",
      payload: { isAdmin: true },
      headers: { cookie: s.cookie, "x-csrf-token": s.csrf },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe("VALIDATION_FAILED");
    expect((await t.app.inject({ url: "/v1/me", headers: { cookie: other.cookie } })).statusCode).toBe(200);
  });

  it("AUTH-1: the same password gives two different argon2id hashes, with the configured parameters", async () => {
    const password = "the very same passphrase 77";
    await signup("twin-a@example.org", password, "192.0.2.60");
    await signup("twin-b@example.org", password, "192.0.2.61");
    const { IdentityStore } = await import("./store.js");
    const store = new IdentityStore(t.db.global);
    const a = (await store.findUserByEmail("twin-a@example.org"))?.password_hash ?? "";
    const b = (await store.findUserByEmail("twin-b@example.org"))?.password_hash ?? "";
    const { memoryKiB, iterations, parallelism } = t.config.auth.argon2;
    for (const h of [a, b])
      expect(h).toMatch(
        new RegExp(`^\\$argon2id\\$v=19\\$m=${memoryKiB},t=${iterations},p=${parallelism}\\$`),
      );
    expect(a).not.toBe(b);
    expect(a.split("$")[4]).not.toBe(b.split("$")[4]); // the salts
  });

  it("AUTH-5: the session cookie is HttpOnly and SameSite=Lax, and Secure with the __Host- prefix in production", async () => {
    await createUser(t, "cookie@example.org", PW);
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/auth/login",
      payload: { email: "cookie@example.org", password: PW },
    });
    const cookie = String(res.headers["set-cookie"]);
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Lax/);
    if (profile === "production") {
      expect(cookie).toMatch(/^__Host-bulwark_session=bws_[A-Za-z0-9_-]{43}; Path=\//);
      expect(cookie).toMatch(/; Secure/);
      expect(cookie).not.toMatch(/Domain=/i);
    } else expect(cookie).toMatch(/^bulwark_session=bws_/);
  });

  it("AUTH-5: the database keeps only the session token's hash, and a CSRF token works only with its own session", async () => {
    await createUser(t, "two.sessions@example.org", PW);
    const a = await login(t, "two.sessions@example.org", PW);
    const b = await login(t, "two.sessions@example.org", PW);
    const token = a.cookie.split("=")[1]!;
    const { createHash } = await import("node:crypto");
    const { sql } = await import("kysely");
    const rows = (await sql<{ id: string }>`select id from sessions`.execute(t.db.global)).rows.map(
      (r) => r.id,
    );
    expect(rows).toContain(createHash("sha256").update(token).digest("hex"));
    expect(rows.some((id) => id.includes(token))).toBe(false);
    const crossed = await t.app.inject({
      method: "POST",
      url: "/v1/orgs",
      payload: { name: "Crossed" },
      headers: { cookie: a.cookie, "x-csrf-token": b.csrf },
    });
    expect(crossed.json().error.code).toBe("CSRF_FAILED");
  });

  it("AUTH-2: the longest password allowed is accepted, one character more is refused", async () => {
    const { maxLength } = t.config.auth.password;
    const long = (n: number) => Array.from({ length: n }, (_, i) => "violet umbrella 42 "[i % 19]).join("");
    expect((await signup("longest@example.org", long(maxLength), "192.0.2.70")).statusCode).toBe(202);
    const over = await signup("too.long@example.org", long(maxLength + 1), "192.0.2.71");
    expect(over.json().error.details).toEqual([
      { in: "body", field: "password", message: `must be at most ${maxLength} characters` },
    ]);
  });

  it("AUTH-12: in the default open mode anyone may sign up, from any domain, and must verify first", async () => {
    expect(t.config.auth.signupMode).toBe("open");
    expect(
      (await signup("someone@any-domain.example", "violet umbrella carries 43 stones", "192.0.2.72"))
        .statusCode,
    ).toBe(202);
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/auth/login",
      remoteAddress: "192.0.2.72",
      payload: { email: "someone@any-domain.example", password: "violet umbrella carries 43 stones" },
    });
    expect(res.json().error.code).toBe("EMAIL_NOT_VERIFIED");
  });
});
