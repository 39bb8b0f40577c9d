import { SignJWT } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { catalog } from "../../examples/catalog/index.js";
import { createUser, ENGINE, login, PRODUCTION_ENV, type TestApp, testApp } from "../../test/harness.js";

type H = Record<string, string>;
const PW = "token passphrase for tests";

/**
 * Access and refresh tokens through the API (AUTH-9): minted from a session, accepted by tenant routes
 * like a session but without CSRF, bounded by their scopes and by the user's role at each request;
 * refresh tokens rotate on every use, and a reused one revokes its family.
 */
describe(`access and refresh tokens (${ENGINE})`, () => {
  let t: TestApp;
  let owner: H;
  let member: H;
  let memberId: string;
  let org: string;
  const call = (method: string, url: string, headers: H, payload?: object) =>
    t.app.inject({ method: method as "GET", url, headers, ...(payload ? { payload } : {}) });
  const mint = async (who: H, body: object = {}) => {
    const res = await call("POST", "/v1/auth/token", who, { orgId: org, ...body });
    expect(res.statusCode, res.body).toBe(201);
    return res.json() as { accessToken: string; refreshToken: string; scopes: string[]; expiresIn: number };
  };
  const bearer = (token: string): H => ({ authorization: `Bearer ${token}` });
  const refresh = (refreshToken: string) => call("POST", "/v1/auth/token/refresh", {}, { refreshToken });
  const products = (token: string) => call("GET", `/v1/orgs/${org}/products`, bearer(token));
  /** A new MEMBER of the organisation, signed in: their id and session headers. */
  const newMember = async (email: string) => {
    const id = await createUser(t, email, PW);
    const { OrgStore } = await import("../orgs/store.js");
    await new OrgStore(t.db.global, t.db.engine).addMember(org, id, "MEMBER", Date.now());
    const s = await login(t, email, PW);
    return { id, session: { cookie: s.cookie, "x-csrf-token": s.csrf } as H };
  };

  beforeAll(async () => {
    t = await testApp({}, undefined, { extensions: [catalog] });
    await createUser(t, "owner@example.org", PW);
    memberId = await createUser(t, "member@example.org", PW);
    const o = await login(t, "owner@example.org", PW);
    owner = { cookie: o.cookie, "x-csrf-token": o.csrf };
    org = (await call("POST", "/v1/orgs", owner, { name: "Tokens Inc" })).json().org.id;
    const { OrgStore } = await import("../orgs/store.js");
    await new OrgStore(t.db.global, t.db.engine).addMember(org, memberId, "MEMBER", Date.now());
    const m = await login(t, "member@example.org", PW);
    member = { cookie: m.cookie, "x-csrf-token": m.csrf };
  });
  afterAll(() => t.close());
  afterEach(() => vi.useRealTimers());

  it("AUTH-9: a session mints a pair; the access token calls tenant routes without a cookie or CSRF token", async () => {
    const pair = await mint(owner);
    expect(pair.expiresIn).toBe(900);
    expect(pair.refreshToken).toMatch(/^brt_[A-Za-z0-9_-]{43}$/);
    expect(pair.scopes).toEqual(expect.arrayContaining(["products:read", "products:write"]));
    expect((await products(pair.accessToken)).statusCode).toBe(200);
    const made = await call("POST", `/v1/orgs/${org}/products`, bearer(pair.accessToken), {
      name: "Tea",
      sku: "TEA-TOKEN",
      priceCents: 100,
      stock: 5,
    });
    expect(made.statusCode, made.body).toBe(201);
    // Another organisation's path: the same 404 as an unknown one.
    const other = (await call("POST", "/v1/orgs", owner, { name: "Other Inc" })).json().org.id;
    expect((await call("GET", `/v1/orgs/${other}/products`, bearer(pair.accessToken))).statusCode).toBe(404);
    // Stored: its SHA-256 only.
    const { createHash } = await import("node:crypto");
    const rows = await t.db.global.selectFrom("refresh_tokens").selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(pair.refreshToken.slice(4));
    expect(rows.map((r) => r.token_hash)).toContain(
      createHash("sha256").update(pair.refreshToken).digest("hex"),
    );
  });

  it("AUTH-9: a token acts only through its scopes, and only scopes the role holds can be asked for", async () => {
    const read = await mint(member, { scopes: ["products:read"] });
    expect(read.scopes).toEqual(["products:read"]);
    expect((await products(read.accessToken)).statusCode).toBe(200);
    const write = await call("POST", `/v1/orgs/${org}/products`, bearer(read.accessToken), {
      name: "Cake",
      sku: "CAKE-1",
      priceCents: 100,
      stock: 1,
    });
    expect(write.statusCode).toBe(403);
    expect(write.json().error.code).toBe("SCOPE_MISSING");
    const beyond = await call("POST", "/v1/auth/token", member, { orgId: org, scopes: ["audit:read"] });
    expect(beyond.statusCode).toBe(403);
    const unknown = await call("POST", "/v1/auth/token", member, { orgId: org, scopes: ["rockets:launch"] });
    expect(unknown.statusCode).toBe(400);
  });

  it("AUTH-9: a member removed from the organisation loses it at the next request, token or not", async () => {
    const { id: victimId, session } = await newMember("leaver@example.org");
    const pair = await mint(session);
    expect((await products(pair.accessToken)).statusCode).toBe(200);
    expect((await call("DELETE", `/v1/orgs/${org}/members/${victimId}`, owner)).statusCode).toBeLessThan(300);
    expect((await products(pair.accessToken)).statusCode).toBe(404);
    const again = await refresh(pair.refreshToken);
    expect(again.statusCode).toBe(401);
    expect(again.json().error.code).toBe("REFRESH_TOKEN_INVALID");
  });

  it("AUTH-9: a refresh token works once; presented again it revokes its whole family, and that is audited", async () => {
    const first = await mint(member);
    const second = await refresh(first.refreshToken);
    expect(second.statusCode, second.body).toBe(200);
    expect(second.headers["cache-control"]).toBe("no-store");
    const next = second.json() as { accessToken: string; refreshToken: string };
    expect(next.refreshToken).not.toBe(first.refreshToken);
    expect((await products(next.accessToken)).statusCode).toBe(200);
    const replay = await refresh(first.refreshToken);
    expect(replay.statusCode).toBe(401);
    expect(replay.json().error.code).toBe("REFRESH_TOKEN_INVALID");
    // The thief's replay ended the legitimate holder's family too.
    expect((await refresh(next.refreshToken)).statusCode).toBe(401);
    const audit = t.app.bulwark.service("audit");
    await audit.flush();
    const events = await t.db.withOrg(org, (tx) =>
      tx
        .selectFrom("audit_events")
        .select("action")
        .where("action", "=", "auth.token_reuse_detected")
        .execute(),
    );
    expect(events.length).toBeGreaterThan(0);
  });

  it("AUTH-9: two refreshes of one token at once: exactly one wins, and the family is then revoked", async () => {
    const pair = await mint(member);
    const answers = await Promise.all([refresh(pair.refreshToken), refresh(pair.refreshToken)]);
    const codes = answers.map((a) => a.statusCode).sort();
    expect(codes).toEqual([200, 401]);
    const winner = answers.find((a) => a.statusCode === 200)!.json();
    expect((await refresh(winner.refreshToken)).statusCode).toBe(401);
  });

  it("AUTH-9: a token signed by another key, for another audience, or not a JWT at all proves no one (401)", async () => {
    const { generateKeyPair } = await import("jose");
    const { privateKey } = await generateKeyPair("ES256");
    const jwks = (await call("GET", "/.well-known/jwks.json", {})).json().keys;
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: t.config.publicUrl, aud: `${t.config.publicUrl}/v1`, sub: memberId, org_id: org };
    const forged = await new SignJWT({ ...claims, scope: "products:read", iat: now, exp: now + 600 })
      .setProtectedHeader({ alg: "ES256", kid: jwks[0].kid, typ: "at+jwt" })
      .sign(privateKey);
    const signed = t.app.bulwark.service("signingKeys");
    const otherAudience = await signed.sign(
      { ...claims, aud: "https://elsewhere.example", scope: "products:read", iat: now, exp: now + 600 },
      "at+jwt",
    );
    const notAccess = await signed.sign(
      { ...claims, scope: "products:read", iat: now, exp: now + 600 },
      "JWT",
    );
    const good = await signed.sign({ ...claims, scope: "products:read", iat: now, exp: now + 600 }, "at+jwt");
    expect((await products(good)).statusCode).toBe(200);
    for (const token of [forged, otherAudience, notAccess, "eyJhbGciOiJub25lIn0.e30.", "eyJ.not.ajwt"]) {
      const res = await products(token);
      expect(res.statusCode, token.slice(0, 30)).toBe(401);
      // Never the cookie instead: a request that presents a token is the token's, whatever the case.
      const withCookie = await call("GET", `/v1/orgs/${org}/products`, { ...member, ...bearer(token) });
      expect(withCookie.statusCode).toBe(401);
      const lower = await call("GET", `/v1/orgs/${org}/products`, {
        ...member,
        authorization: `bearer ${token}`,
      });
      expect(lower.statusCode).toBe(401);
    }
  });

  it("AUTH-9: revoking a refresh token ends its family", async () => {
    const pair = await mint(member);
    expect(
      (await call("POST", "/v1/auth/token/revoke", {}, { refreshToken: pair.refreshToken })).statusCode,
    ).toBe(204);
    expect((await refresh(pair.refreshToken)).statusCode).toBe(401);
    // Unknown tokens are not an error (nothing is learnt from the answer).
    expect(
      (await call("POST", "/v1/auth/token/revoke", {}, { refreshToken: "brt_nothing" })).statusCode,
    ).toBe(204);
  });
  it("AUTH-9: a demoted member's token is bounded by the new role at once, and its refresh carries less", async () => {
    const { id, session } = await newMember("demoted@example.org");
    const pair = await mint(session);
    expect(pair.scopes).toContain("products:write");
    const demoted = await call("PATCH", `/v1/orgs/${org}/members/${id}`, owner, { role: "VIEWER" });
    expect(demoted.statusCode, demoted.body).toBe(200);
    const write = await call("POST", `/v1/orgs/${org}/products`, bearer(pair.accessToken), {
      name: "Scone",
      sku: "SCONE-1",
      priceCents: 100,
      stock: 1,
    });
    expect(write.statusCode).toBe(403);
    expect(write.json().error.code).toBe("FORBIDDEN");
    expect((await products(pair.accessToken)).statusCode).toBe(200);
    const next = await refresh(pair.refreshToken);
    expect(next.statusCode).toBe(200);
    expect(next.json().scopes).not.toContain("products:write");
    expect(next.json().scopes).toContain("products:read");
  });

  it("AUTH-9: changing the password ends every refresh-token family of the user", async () => {
    const { session } = await newMember("changer@example.org");
    const pair = await mint(session);
    const changed = await call("POST", "/v1/me/password", session, {
      currentPassword: PW,
      newPassword: "a brand new passphrase 2",
    });
    expect(changed.statusCode, changed.body).toBeLessThan(300);
    expect((await refresh(pair.refreshToken)).statusCode).toBe(401);
  });

  it("AUTH-9: ending every other session ends the user's refresh-token families too", async () => {
    const { session } = await newMember("ender@example.org");
    const pair = await mint(session);
    await login(t, "ender@example.org", PW);
    const ended = await call("DELETE", "/v1/me/sessions", session);
    expect(ended.statusCode, ended.body).toBeLessThan(300);
    expect((await refresh(pair.refreshToken)).statusCode).toBe(401);
    // The session that asked stays, and may mint a new family.
    expect((await call("POST", "/v1/auth/token", session, { orgId: org })).statusCode).toBe(201);
  });

  it("AUTH-9: a replay racing the family's own refresh still revokes the family, successor included", async () => {
    const first = await mint(member);
    const second = (await refresh(first.refreshToken)).json();
    // A refresh of the newest token holds its family while it writes the successor...
    const { RefreshTokenStore } = await import("./refresh-store.js");
    const { sha256 } = await import("../util/ids.js");
    const store = new RefreshTokenStore(t.db.engine);
    const held = await store.byHash(t.db.global, sha256(second.refreshToken));
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => {
      locked = r;
    });
    const successor = "brt_successorsuccessorsuccessorsuccessor12345";
    const inFlight = t.db.global.transaction().execute(async (tx) => {
      await store.lockFamily(tx, held!.family_id);
      await store.use(tx, held!.id, Date.now());
      await store.insert(tx, {
        id: `rtk_race${Date.now()}`,
        family_id: held!.family_id,
        token_hash: sha256(successor),
        created_at: Date.now(),
        used_at: null,
      });
      locked();
      await gate;
    });
    await isLocked;
    // ...while the thief replays the first, used token.
    const replay = refresh(first.refreshToken);
    await new Promise((r) => setTimeout(r, 50));
    release();
    await inFlight;
    expect((await replay).statusCode).toBe(401);
    expect((await refresh(successor)).statusCode).toBe(401);
  });

  it("AUTH-9: families ended a week ago are purged with their tokens; live ones stay (frozen clock)", async () => {
    const live = await mint(member);
    const ended = await mint(member);
    const start = Date.now();
    await call("POST", "/v1/auth/token/revoke", {}, { refreshToken: ended.refreshToken });
    const familyOf = async (token: string) => {
      const { sha256 } = await import("../util/ids.js");
      return t.db.global
        .selectFrom("refresh_tokens")
        .select("family_id")
        .where("token_hash", "=", sha256(token))
        .executeTakeFirst();
    };
    const tokens = t.app.bulwark.service("tokens");
    vi.useFakeTimers({ toFake: ["Date"], now: start + 7 * 86_400_000 - 1 });
    await tokens.purge();
    expect(await familyOf(ended.refreshToken)).toBeDefined();
    vi.setSystemTime(start + 7 * 86_400_000 + 1_000);
    expect(await tokens.purge()).toBeGreaterThanOrEqual(1);
    expect(await familyOf(ended.refreshToken)).toBeUndefined();
    expect(await familyOf(live.refreshToken)).toBeDefined();
    expect((await refresh(ended.refreshToken)).statusCode).toBe(401);
    expect((await refresh(live.refreshToken)).statusCode).toBe(200);
  });

  it("RATE-6, AUTH-9: token requests count against the organisation's monthly API quota, like API-key ones", async () => {
    const metered = (await call("POST", "/v1/orgs", owner, { name: "Metered Tokens" })).json().org.id;
    await t.app.bulwark.service("quotas").set(metered, "api_requests", { allowance: 2, mode: "refuse" });
    const minted = await call("POST", "/v1/auth/token", owner, { orgId: metered });
    expect(minted.statusCode, minted.body).toBe(201);
    const read = async () =>
      (await call("GET", `/v1/orgs/${metered}/products`, bearer(minted.json().accessToken))).statusCode;
    expect([await read(), await read(), await read()]).toEqual([200, 200, 429]);
  });

  // Last: the clock moves 30 days on, past every session of this file.
  it("AUTH-9: an access token works until the second it expires (frozen clock); a refresh token until its 30 days end", async () => {
    const start = Date.now();
    vi.useFakeTimers({ toFake: ["Date"], now: start });
    const pair = await mint(member);
    const late = await mint(member);
    const fresh = await mint(member);
    const exp = (Math.floor(start / 1000) + 900) * 1000;
    vi.setSystemTime(exp - 1);
    expect((await products(pair.accessToken)).statusCode).toBe(200);
    vi.setSystemTime(exp);
    const expired = await products(pair.accessToken);
    expect(expired.statusCode).toBe(401);
    expect(expired.json().error.code).toBe("UNAUTHENTICATED");
    // A family ends 30 days after its sign-in, however recently it was refreshed.
    vi.setSystemTime(start + 30 * 86_400_000 - 1);
    const last = await refresh(fresh.refreshToken);
    expect(last.statusCode).toBe(200);
    vi.setSystemTime(start + 30 * 86_400_000);
    expect((await refresh(late.refreshToken)).statusCode).toBe(401);
    expect((await refresh(last.json().refreshToken)).statusCode).toBe(401);
  });
});

describe(`tokens in production (${ENGINE})`, () => {
  it("AUTH-9: in production a token minted over HTTPS carries the public URL as issuer and works on tenant routes", async () => {
    const t = await testApp({ ...PRODUCTION_ENV, TRUSTED_PROXIES: "127.0.0.1" });
    try {
      const via = { "x-forwarded-proto": "https", "x-forwarded-for": "203.0.113.20" };
      await createUser(t, "prod-tokens@example.org", PW);
      const signed = await t.app.inject({
        method: "POST",
        url: "/v1/auth/login",
        headers: via,
        payload: { email: "prod-tokens@example.org", password: PW },
      });
      expect(signed.statusCode, signed.body).toBe(200);
      const session = {
        ...via,
        cookie: String(signed.headers["set-cookie"]).split(";")[0]!,
        "x-csrf-token": signed.json().csrfToken,
      };
      const org = (
        await t.app.inject({
          method: "POST",
          url: "/v1/orgs",
          headers: session,
          payload: { name: "Prod Tokens" },
        })
      ).json().org.id;
      const minted = await t.app.inject({
        method: "POST",
        url: "/v1/auth/token",
        headers: session,
        payload: { orgId: org },
      });
      expect(minted.statusCode, minted.body).toBe(201);
      const { accessToken } = minted.json();
      const payload = JSON.parse(Buffer.from(accessToken.split(".")[1], "base64url").toString());
      expect(payload).toMatchObject({
        iss: "https://app.example.org",
        aud: "https://app.example.org/v1",
        org_id: org,
      });
      const read = await t.app.inject({
        url: `/v1/orgs/${org}/audit-events`,
        headers: { ...via, authorization: `Bearer ${accessToken}` },
      });
      expect(read.statusCode, read.body).toBe(200);
    } finally {
      await t.close();
    }
  });
});
