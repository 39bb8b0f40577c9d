import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAdmin, signedIn } from "../../test/admins.js";
import { createUser, ENGINE, login, type TestApp, testApp } from "../../test/harness.js";

const PW = "admin console passphrase";
const SIGNED_OUT = { signedIn: false };

// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON bodies.
type Json = any;

describe(`the admin console's API: session and search (${ENGINE})`, () => {
  let t: TestApp;
  let admin: { cookie: string; "x-csrf-token": string };
  let adminId = "";
  let nextCode: () => string;
  let portal: { cookie: string; csrf: string };
  const users: Record<string, string> = {};
  const orgs: Record<string, string> = {};
  beforeAll(async () => {
    t = await testApp();
    const created = await createAdmin(t, "operator@example.org", PW);
    adminId = created.id;
    nextCode = () => created.code(30_000);
    admin = await signedIn(t, "/v1/admin/auth/login", {
      email: "operator@example.org",
      password: PW,
      code: created.code(),
    });
    // Addresses as sign-up stores them (lower case); two hold LIKE's wildcards literally.
    for (const email of [
      "alice@wonder.example",
      "alicia@other.example",
      "bob@wonder.example",
      "fifty%off@shop.example",
      "under_score@shop.example",
      "underxscore@shop.example",
    ])
      users[email] = await createUser(t, email, PW);
    portal = await login(t, "bob@wonder.example", PW);
    for (const [name, slug] of [
      ["Wonder Works", "wonder-works"],
      ["Other Place", "acme-wonder"],
      ["Plain Ltd", "plain"],
      ["50% Off Coupons", "fifty-off"],
      ["Snake_Case Co", "snake-case"],
      ["Snakexcase Co", "snakexcase"],
      ["Ärztekammer Nord", "aerzte-nord"],
    ]) {
      const res = await t.app.inject({
        method: "POST",
        url: "/v1/orgs",
        payload: { name, slug },
        headers: { cookie: portal.cookie, "x-csrf-token": portal.csrf },
      });
      expect(res.statusCode).toBe(201);
      orgs[name!] = res.json().org.id;
    }
  });
  afterAll(() => t.close());

  const adminSession = (cookie?: string) =>
    t.app.inject({ url: "/v1/admin/auth/session", ...(cookie ? { headers: { cookie } } : {}) });
  const asAdmin = (url: string) => t.app.inject({ url, headers: { cookie: admin.cookie } });
  const emails = (body: Json): string[] => body.users.map((u: { email: string }) => u.email).sort();
  const names = (body: Json): string[] => body.orgs.map((o: { name: string }) => o.name).sort();

  it("AUTH-6: with no cookie, or only a portal cookie, the admin session answers 200 signedIn:false", async () => {
    for (const cookie of [undefined, portal.cookie]) {
      const res = await adminSession(cookie);
      expect(res.statusCode, String(cookie)).toBe(200);
      expect(res.json()).toEqual(SIGNED_OUT);
    }
  });

  /** The cookie of a second admin session, signed out. */
  let stale = "";
  it("AUTH-6: after the admin signs out, that cookie no longer opens the admin lists", async () => {
    const other = await signedIn(t, "/v1/admin/auth/login", {
      email: "operator@example.org",
      password: PW,
      code: nextCode(),
    });
    const out = await t.app.inject({
      method: "POST",
      url: "/v1/admin/auth/logout",
      payload: {},
      headers: other,
    });
    expect(out.statusCode).toBe(204);
    const users = await t.app.inject({ url: "/v1/admin/users", headers: { cookie: other.cookie } });
    expect(users.statusCode).toBe(401);
    expect(users.json().error.code).toBe("UNAUTHENTICATED");
    stale = other.cookie;
  });

  // A browser still holding a dead admin cookie is signed out, not in error: the console asks this route
  // first and understands only `signedIn` (web/src/session.ts).
  it("AUTH-6: a signed-out admin cookie answers 200 signedIn:false", async () => {
    expect(stale).toMatch(/^bulwark_admin=bwa_/);
    const res = await adminSession(stale);
    expect(res.json()).toEqual(SIGNED_OUT);
    expect(res.statusCode).toBe(200);
  });

  it("AUTHZ-4: the admin session names the admin, then the running impersonation, then none once it is stopped with the session's CSRF token", async () => {
    const before = await adminSession(admin.cookie);
    expect(before.statusCode).toBe(200);
    expect(before.json()).toEqual({
      signedIn: true,
      admin: { id: adminId, email: "operator@example.org" },
      impersonation: null,
      csrfToken: admin["x-csrf-token"],
    });
    const userId = users["alice@wonder.example"]!;
    const started = await t.app.inject({
      method: "POST",
      url: "/v1/admin/impersonations",
      payload: { userId, reason: "Ticket 12: console banner", minutes: 20 },
      headers: admin,
    });
    expect(started.statusCode).toBe(201);
    const during = await adminSession(admin.cookie);
    expect(during.json()).toEqual({
      signedIn: true,
      admin: { id: adminId, email: "operator@example.org" },
      impersonation: { userId, userEmail: "alice@wonder.example", expiresAt: started.json().expiresAt },
      csrfToken: admin["x-csrf-token"],
    });
    const stop = (token: string) =>
      t.app.inject({
        method: "DELETE",
        url: "/v1/admin/impersonations/current",
        headers: { cookie: admin.cookie, "x-csrf-token": token },
      });
    // The write needs the token: a wrong one is refused, the one the session route gave works.
    const forged = await stop(`${during.json().csrfToken}x`);
    expect(forged.statusCode).toBe(403);
    expect(forged.json().error.code).toBe("CSRF_FAILED");
    expect((await stop(during.json().csrfToken)).statusCode).toBe(204);
    expect((await adminSession(admin.cookie)).json()).toEqual(before.json());
  });

  it("AUTHZ-3: users search: part of the address, any case; no match is an empty page", async () => {
    const res = await asAdmin("/v1/admin/users?q=ALIC");
    expect(res.statusCode).toBe(200);
    expect(emails(res.json())).toEqual(["alice@wonder.example", "alicia@other.example"]);
    expect(res.json().nextCursor).toBeNull();
    expect(res.json().users.find((u: Json) => u.email === "alice@wonder.example")).toEqual({
      id: users["alice@wonder.example"],
      email: "alice@wonder.example",
      emailVerified: true,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(emails((await asAdmin("/v1/admin/users?q=wonder.ex")).json())).toEqual([
      "alice@wonder.example",
      "bob@wonder.example",
    ]);
    expect((await asAdmin("/v1/admin/users?q=nobody-here")).json()).toEqual({ users: [], nextCursor: null });
  });

  it("INPUT-2: users search: % and _ in q are literal characters, not wildcards", async () => {
    expect(emails((await asAdmin("/v1/admin/users?q=%25")).json())).toEqual(["fifty%off@shop.example"]);
    expect(emails((await asAdmin("/v1/admin/users?q=_")).json())).toEqual(["under_score@shop.example"]);
    expect(emails((await asAdmin("/v1/admin/users?q=r_s")).json())).toEqual(["under_score@shop.example"]);
    expect((await asAdmin("/v1/admin/users?q=%5C")).json()).toEqual({ users: [], nextCursor: null });
  });

  it("AUTHZ-3: orgs search: part of the name (any case) or of the slug; no match is an empty page", async () => {
    const res = await asAdmin("/v1/admin/orgs?q=WONDER");
    expect(res.statusCode).toBe(200);
    // "Other Place" matches by its slug, acme-wonder, only.
    expect(names(res.json())).toEqual(["Other Place", "Wonder Works"]);
    expect(res.json().orgs.find((o: Json) => o.name === "Wonder Works")).toEqual({
      id: orgs["Wonder Works"],
      name: "Wonder Works",
      slug: "wonder-works",
      members: 1,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(names((await asAdmin("/v1/admin/orgs?q=plain")).json())).toEqual(["Plain Ltd"]);
    expect((await asAdmin("/v1/admin/orgs?q=zzz")).json()).toEqual({ orgs: [], nextCursor: null });
  });

  it("INPUT-2: orgs search: % and _ in q are literal characters, not wildcards", async () => {
    expect(names((await asAdmin("/v1/admin/orgs?q=%25")).json())).toEqual(["50% Off Coupons"]);
    expect(names((await asAdmin("/v1/admin/orgs?q=e_c")).json())).toEqual(["Snake_Case Co"]);
    expect(names((await asAdmin("/v1/admin/orgs?q=_")).json())).toEqual(["Snake_Case Co"]);
  });

  // BUG (SQLite only): the pattern is lower-cased with full Unicode (src/db/search.ts) but SQLite's lower()
  // and LIKE fold ASCII only (src/orgs/store.ts, `lower(organizations.name) like`), so an organisation with a
  // non-ASCII capital is not found even by its exact name there; PostgreSQL finds it.
  it("AUTHZ-3: orgs search folds case beyond ASCII: Ärztekammer is found as typed, and as ärzte", async () => {
    for (const q of ["Ärztekammer", "ärzte", "ÄRZTE"]) {
      const res = await asAdmin(`/v1/admin/orgs?q=${encodeURIComponent(q)}`);
      expect(res.statusCode).toBe(200);
      expect(names(res.json()), q).toEqual(["Ärztekammer Nord"]);
    }
  });

  it("AUTHZ-3: search pages by cursor: limit + after walk every match once, the last page's nextCursor is null", async () => {
    const seen: string[] = [];
    let after: string | null = null;
    const cursors: Array<string | null> = [];
    do {
      const res: Json = await asAdmin(`/v1/admin/users?q=example&limit=4${after ? `&after=${after}` : ""}`);
      expect(res.statusCode).toBe(200);
      const page = res.json();
      seen.push(...page.users.map((u: Json) => u.email));
      after = page.nextCursor;
      cursors.push(after);
      if (after) expect(after).toBe(page.users.at(-1).id);
    } while (after);
    expect(seen.sort()).toEqual(Object.keys(users).sort());
    expect(cursors).toHaveLength(2);
    expect(cursors[1]).toBeNull();
    // The same over orgs, with q narrowing each page: "co" is in three names or slugs.
    const first = (await asAdmin("/v1/admin/orgs?q=co&limit=2")).json();
    expect(first.orgs).toHaveLength(2);
    expect(first.nextCursor).toBe(first.orgs[1].id);
    const second = (await asAdmin(`/v1/admin/orgs?q=co&limit=2&after=${first.nextCursor}`)).json();
    expect(second.nextCursor).toBeNull();
    expect(names({ orgs: [...first.orgs, ...second.orgs] })).toEqual([
      "50% Off Coupons",
      "Snake_Case Co",
      "Snakexcase Co",
    ]);
  });

  it("AUTHZ-3: a portal session gets 401 on the admin lists, with or without q", async () => {
    for (const url of ["/v1/admin/users?q=alice", "/v1/admin/orgs?q=wonder", "/v1/admin/users"]) {
      const res = await t.app.inject({ url, headers: { cookie: portal.cookie } });
      expect(res.statusCode, url).toBe(401);
      expect(res.json()).toEqual({
        error: {
          code: "UNAUTHENTICATED",
          message: "Authentication is required.",
          requestId: res.headers["x-request-id"],
        },
      });
    }
  });

  it("INPUT-1: an empty or over-long q is a 400 naming the field", async () => {
    for (const url of ["/v1/admin/users?q=", `/v1/admin/orgs?q=${"a".repeat(101)}`]) {
      const res = await asAdmin(url);
      expect(res.statusCode, url).toBe(400);
      expect(res.json().error).toMatchObject({
        code: "VALIDATION_FAILED",
        details: [{ in: "querystring", field: "q" }],
      });
    }
  });
});
