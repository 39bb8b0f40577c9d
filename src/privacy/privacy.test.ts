import * as OTPAuth from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog } from "../../examples/catalog/index.js";
import { createAdmin, signedIn } from "../../test/admins.js";
import { everyRow as scanTables } from "../../test/every-row.js";
import { createUser, ENGINE, login, type TestApp, testApp } from "../../test/harness.js";

type H = Record<string, string>;
const PW = "privacy passphrase 42";
const ADMIN_IP = "192.0.2.77";
const ADMIN_AGENT = "AdminBrowser/9";
const ALICE = { email: "alice@example.org", ip: "10.0.0.1" };
const BOB = { email: "bob@example.org", ip: "10.0.0.2" };
const CAROL = "carol@example.org";
/** An address that contains Alice's: a substring match would take Mallory's activity for hers. */
const MALLORY = { email: "m.alice@example.org", ip: "10.0.0.3" };

/**
 * GDPR-1: a user's export holds every row of every table that names them, and nothing of anyone else.
 * Two people share the platform (and one invites the other), then every column of every table is
 * scanned for the first one's id and address: each table found must be in the export.
 */
describe(`export of personal data (GDPR-1, ${ENGINE})`, () => {
  let t: TestApp;
  let alice: H;
  let aliceId: string;
  let bobId: string;
  let malloryId: string;
  const call = (method: string, url: string, headers: H, payload?: object, remoteAddress?: string) =>
    t.app.inject({
      method: method as "GET",
      url,
      headers,
      ...(payload ? { payload } : {}),
      ...(remoteAddress ? { remoteAddress } : {}),
    });
  const ok = async (res: Promise<{ statusCode: number; body: string; json(): unknown }>) => {
    const r = await res;
    expect(r.statusCode, r.body).toBeLessThan(300);
    // biome-ignore lint/suspicious/noExplicitAny: answers of many routes, read field by field.
    return r.json() as Record<string, any>;
  };
  /** A signed-in person's headers, their session made from `ip`. */
  const session = async (email: string, ip: string): Promise<H> => {
    const s = await login(t, email, PW, ip);
    return { cookie: s.cookie, "x-csrf-token": s.csrf };
  };
  /** What a person does in the product: an organisation, an invitation, a key, tokens, an order. */
  const busy = async (who: H, ip: string, name: string, invite: string) => {
    const org = (await ok(call("POST", "/v1/orgs", who, { name }, ip))).org.id;
    await ok(call("POST", `/v1/orgs/${org}/invitations`, who, { email: invite, role: "MEMBER" }, ip));
    await ok(call("POST", `/v1/orgs/${org}/api-keys`, who, { name: "ci", scopes: ["products:read"] }, ip));
    const pair = await ok(call("POST", "/v1/auth/token", who, { orgId: org }, ip));
    await ok(call("POST", "/v1/auth/token/refresh", {}, { refreshToken: pair.refreshToken }, ip));
    const product = (
      await ok(
        call("POST", `/v1/orgs/${org}/products`, who, {
          name: "Teapot",
          sku: `TEA-${name}`,
          priceCents: 2500,
          stock: 10,
          descriptionHtml: "<p>Porcelain</p>",
        }),
      )
    ).product.id;
    await ok(
      call("POST", `/v1/orgs/${org}/orders`, who, { lines: [{ productId: product, quantity: 1 }] }, ip),
    );
    return org;
  };

  beforeAll(async () => {
    t = await testApp({}, undefined, { extensions: [catalog] });
    aliceId = await createUser(t, ALICE.email, PW);
    bobId = await createUser(t, BOB.email, PW);
    alice = await session(ALICE.email, ALICE.ip);
    const bob = await session(BOB.email, BOB.ip);
    await ok(call("PATCH", "/v1/me", alice, { name: "Alice Liddell" }, ALICE.ip));
    await busy(alice, ALICE.ip, "Wonderland", CAROL);
    // Bob invites Alice: a row of Bob's organisation names her, and Bob's audit entry about it.
    await busy(bob, BOB.ip, "Builders", ALICE.email);
    // Mallory works elsewhere, under an address that contains Alice's.
    malloryId = await createUser(t, MALLORY.email, PW);
    const mallory = await session(MALLORY.email, MALLORY.ip);
    const secret = (await ok(call("POST", "/v1/orgs", mallory, { name: "Secret Corp" }, MALLORY.ip))).org.id;
    await ok(
      call(
        "POST",
        `/v1/orgs/${secret}/api-keys`,
        mallory,
        { name: "prod-deploy-key", scopes: ["audit:read"] },
        MALLORY.ip,
      ),
    );
    // A second factor last (sign-in needs it from then on).
    const enrol = await ok(call("POST", "/v1/me/mfa/totp", alice, { password: PW }, ALICE.ip));
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(enrol.secret as string) });
    await ok(call("POST", "/v1/me/mfa/totp/confirm", alice, { code: totp.generate() }, ALICE.ip));
  });
  afterAll(() => t?.close());

  const everyRow = () => scanTables(t);

  it("GDPR-1: the export has every table's rows that name the user, with secrets withheld, and none of another person's", async () => {
    // The scan first (the export's own record comes after it), the audit log's buffer written first.
    await t.app.bulwark.service("audit").flush();
    const rows = await everyRow();
    const res = await call("POST", "/v1/me/export", alice, undefined, ALICE.ip);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers["content-disposition"]).toMatch(
      /^attachment; filename="bulwark-personal-data-\d{4}-\d\d-\d\d\.json"$/,
    );
    expect(res.headers["cache-control"]).toBe("no-store");
    const data = res.json() as {
      user: { id: string; email: string };
      tables: Record<string, Array<Record<string, unknown>>>;
      withheld: Record<string, string[]>;
    };
    expect(data.user).toEqual({ id: aliceId, email: ALICE.email });
    const exported = (table: string) =>
      Object.entries(data.tables)
        .filter(([section]) => section === table || section.startsWith(`${table}.`))
        .flatMap(([, rows]) => rows);

    // Every table holding a row that names Alice is in the export, with at least as many rows.
    const naming = [...rows].flatMap(([table, list]) => {
      // Whole words only (an address or id is one), so m.alice@ is not alice@.
      const n = list.filter((r) => {
        const words = r.split(/[^a-z0-9_.@+'-]+/);
        return words.includes(aliceId.toLowerCase()) || words.includes(ALICE.email);
      }).length;
      return n ? [[table, n] as const] : [];
    });
    expect(naming.map(([table]) => table)).toEqual(
      expect.arrayContaining(["users", "sessions", "memberships", "invitations", "api_keys", "orders"]),
    );
    for (const [table, n] of naming)
      expect(exported(table).length, `${table}: ${n} rows name the user`).toBeGreaterThanOrEqual(n);
    // And what names her only through another row: her refresh tokens, through their family.
    expect(exported("refresh_tokens").length).toBeGreaterThanOrEqual(2);

    // Her own facts are there: her name, her address's invitation from Bob, her sessions' address.
    const text = JSON.stringify(data);
    expect(text).toContain("Alice Liddell");
    expect(exported("invitations").map((r) => r.email)).toContain(ALICE.email);
    expect(exported("sessions").map((r) => r.ip)).toContain(ALICE.ip);
    expect(exported("mfa_totp")).toHaveLength(1);
    expect(exported("mfa_backup_codes")).toHaveLength(10);

    // Secrets are withheld, and said to be.
    expect(data.withheld.users).toEqual(["password_hash"]);
    expect(data.withheld.mfa_totp).toContain("secret_sealed");
    for (const row of exported("users")) expect(row).not.toHaveProperty("password_hash");
    for (const row of exported("mfa_backup_codes")) expect(row).not.toHaveProperty("code_hash");
    for (const row of exported("sessions")) expect(row).not.toHaveProperty("id");
    expect(text).not.toMatch(/\$argon2id\$/);

    // Nobody else: not Bob (who invited her), his address or his network address, not Carol.
    expect(text).not.toContain(bobId);
    expect(text.toLowerCase()).not.toContain(BOB.email);
    expect(text).not.toContain(BOB.ip);
    expect(text.toLowerCase()).not.toContain(CAROL);
    expect(text).toContain("[another person]");
    // Nor Mallory, whose address contains Alice's: nothing of hers, her organisation or her key.
    expect(text).not.toContain(malloryId);
    expect(text.toLowerCase()).not.toContain(MALLORY.email);
    expect(text).not.toContain(MALLORY.ip);
    expect(text).not.toContain("Secret Corp");
    expect(text).not.toContain("prod-deploy-key");
    // Every audit entry exported names Alice herself: as its actor, or by her id or address.
    const entries = exported("audit_events").map((r) => JSON.stringify(r.entry));
    expect(entries.length).toBeGreaterThan(0);
    for (const e of entries)
      expect(e.includes(`"${aliceId}"`) || e.includes(`"${ALICE.email}"`), e).toBe(true);
  });

  it("GDPR-1: the export is recorded in the audit log, limited like exports, and refused to an impersonating admin", async () => {
    await ok(call("POST", "/v1/me/export", alice, undefined, ALICE.ip));
    const audit = t.app.bulwark.service("audit");
    await audit.flush();
    const recorded = await t.db.global
      .selectFrom("audit_events")
      .select(["actor_id", "entity_id"])
      .where("action", "=", "user.data_exported")
      .execute();
    expect(recorded.length).toBeGreaterThanOrEqual(1);
    expect(recorded[0]).toEqual({ actor_id: aliceId, entity_id: aliceId });
    const row = t.app.bulwark.routes.find((r) => r.method === "POST" && r.url === "/v1/me/export");
    expect(row?.security).toMatchObject({ rate: "export", impersonation: "refuse" });

    const admin = await createAdmin(t, "root@example.org", PW);
    const staff = await signedIn(t, "/v1/admin/auth/login", {
      email: "root@example.org",
      password: PW,
      code: admin.code(),
    });
    const started = await t.app.inject({
      method: "POST",
      url: "/v1/admin/impersonations",
      headers: { ...staff, "user-agent": ADMIN_AGENT },
      payload: { userId: aliceId, reason: "Ticket 7: export question" },
      remoteAddress: ADMIN_IP,
    });
    expect(started.statusCode, started.body).toBe(201);
    const refused = await t.app.inject({
      method: "POST",
      url: "/v1/me/export",
      headers: {
        cookie: String(started.headers["set-cookie"]).split(";")[0]!,
        "x-csrf-token": started.json().csrfToken as string,
        "user-agent": ADMIN_AGENT,
      },
      remoteAddress: ADMIN_IP,
    });
    expect(refused.statusCode, refused.body).toBe(403);
    expect(refused.json().error.code).toBe("IMPERSONATION_FORBIDDEN");

    // What the admin did as Alice is in her export, but not the admin's address, browser or id.
    const own = await call("POST", "/v1/me/export", alice, undefined, ALICE.ip);
    const text = own.body;
    expect(text).toContain("user.data_exported");
    expect(text).not.toContain(ADMIN_IP);
    expect(text).not.toContain(ADMIN_AGENT);
    expect(text).not.toContain(admin.id);
    expect(text).toContain("[a platform admin]");
  });
});

describe("the export's rate limit (GDPR-1)", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp({ RATE_LIMIT_TIERS: "general=1000/1m,sensitive=1000/1m,admin=1000/1m,export=2/1h" });
    await createUser(t, ALICE.email, PW);
  });
  afterAll(() => t?.close());

  it("GDPR-1: exports are limited by the export tier: the third within the hour is refused", async () => {
    const s = await login(t, ALICE.email, PW);
    const headers = { cookie: s.cookie, "x-csrf-token": s.csrf };
    for (let i = 0; i < 2; i++)
      expect((await t.app.inject({ method: "POST", url: "/v1/me/export", headers })).statusCode).toBe(200);
    const refused = await t.app.inject({ method: "POST", url: "/v1/me/export", headers });
    expect(refused.statusCode).toBe(429);
    expect(refused.json().error.code).toBe("RATE_LIMITED");
    expect(Number(refused.headers["retry-after"])).toBeGreaterThan(0);
  });
});
