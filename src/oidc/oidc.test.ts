import { createRemoteJWKSet, jwtVerify } from "jose";
import * as client from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { servedApp } from "../../test/browser/console-kit.js";
import { createUser, ENGINE, type TestApp } from "../../test/harness.js";
import { FlowBrowser } from "../../test/oidc-browser.js";

const PW = "openid passphrase for tests";
const CALLBACK = "http://127.0.0.1:9/callback";

type Made = { client: { id: string }; clientSecret: string | null };
/** The hosted page's API path for the sign-in request the provider sent the browser to. */
const req = (page: URL) => `/authorize/${page.searchParams.get("uid")}`;

/**
 * The OpenID Connect provider (AUTH-10) driven by openid-client, the certified relying-party library, as
 * an app would: discovery, the code flow with PKCE through Bulwark's hosted sign-in page, ID tokens
 * verified against the JWKS, refresh, introspection, revocation and end-session.
 */
describe(`OpenID Connect provider (${ENGINE})`, () => {
  let t: TestApp;
  let base: string;
  let owner: FlowBrowser;
  let org: string;
  let confidential: Made;
  let config: client.Configuration;

  const register = async (who: FlowBrowser, orgId: string, body: object) => {
    const res = await who.api("POST", `/v1/orgs/${orgId}/oidc-clients`, body);
    expect(res.status, await res.clone().text()).toBe(201);
    return (await res.json()) as Made;
  };
  const discover = (made: Made) =>
    client.discovery(
      new URL(base),
      made.client.id,
      made.clientSecret ?? undefined,
      made.clientSecret ? undefined : client.None(),
      { execute: [client.allowInsecureRequests] },
    );

  /** Starts a code flow for `cfg`, as the app's browser, up to the hosted page; returns its checks. */
  const start = async (who: FlowBrowser, cfg: client.Configuration, extra: Record<string, string> = {}) => {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(cfg, {
      redirect_uri: CALLBACK,
      scope: "openid email profile organization offline_access",
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state,
      nonce,
      prompt: "consent",
      ...extra,
    });
    const page = await who.go(url);
    return { page, verifier, state, nonce };
  };

  /** The whole sign-in: the hosted page, "allow", the code at the callback, and the tokens. */
  const signIn = async (who: FlowBrowser, cfg: client.Configuration) => {
    const flow = await start(who, cfg);
    expect(flow.page.pathname).toBe("/authorize");
    const allowed = await who.api("POST", `${req(flow.page)}/allow`);
    expect(allowed.status, await allowed.clone().text()).toBe(200);
    const callback = await who.go(((await allowed.json()) as { location: string }).location);
    expect(callback.origin + callback.pathname).toBe(CALLBACK);
    return client.authorizationCodeGrant(cfg, callback, {
      pkceCodeVerifier: flow.verifier,
      expectedState: flow.state,
      expectedNonce: flow.nonce,
      idTokenExpected: true,
    });
  };

  beforeAll(async () => {
    ({ t, base } = await servedApp());
    await createUser(t, "owner@example.org", PW);
    owner = new FlowBrowser(base);
    await owner.signIn("owner@example.org", PW);
    org = (
      (await (await owner.api("POST", "/v1/orgs", { name: "Relying Inc" })).json()) as { org: { id: string } }
    ).org.id;
    confidential = await register(owner, org, {
      name: "Billing portal",
      type: "confidential",
      redirectUris: [CALLBACK],
      postLogoutRedirectUris: ["http://127.0.0.1:9/bye"],
    });
    config = await discover(confidential);
  });
  afterAll(() => t.close());

  it("AUTH-10: discovery names the code flow, PKCE S256 and ES256 ID tokens under this issuer", async () => {
    const meta = config.serverMetadata();
    expect(meta.issuer).toBe(base);
    expect(meta.response_types_supported).toEqual(["code"]);
    expect(meta.code_challenge_methods_supported).toEqual(["S256"]);
    expect(meta.id_token_signing_alg_values_supported).toEqual(["ES256"]);
    expect(meta.token_endpoint).toBe(`${base}/oidc/token`);
  });

  it("AUTH-10: a member signs in through the hosted page; the ID token verifies against /.well-known/jwks.json for this client only", async () => {
    const tokens = await signIn(owner, config);
    const claims = tokens.claims()!;
    expect(claims.iss).toBe(base);
    expect(claims.aud).toBe(confidential.client.id);
    const jwks = createRemoteJWKSet(new URL(`${base}/.well-known/jwks.json`));
    const verified = await jwtVerify(tokens.id_token!, jwks, {
      issuer: base,
      audience: confidential.client.id,
      algorithms: ["ES256"],
    });
    expect(verified.protectedHeader.kid).toBeTruthy();
    // Audience-restricted: the same token is no ID token for any other client.
    await expect(
      jwtVerify(tokens.id_token!, jwks, { issuer: base, audience: "oc_01JD8X5K2M3N4P5Q6R7S8T9V0W" }),
    ).rejects.toThrow(/aud/);
    // The scopes' claims come from userinfo, with the access token (OpenID Connect Core 5.4).
    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    expect(info).toMatchObject({
      email: "owner@example.org",
      email_verified: true,
      org_id: org,
      org_role: "OWNER",
    });
  });

  it("AUTH-10: a request without PKCE, or with the plain method, is refused", async () => {
    const browser = new FlowBrowser(base);
    const plainUrl = client.buildAuthorizationUrl(config, {
      redirect_uri: CALLBACK,
      scope: "openid",
      code_challenge: "a".repeat(43),
      code_challenge_method: "plain",
    });
    const none = client.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: "openid" });
    for (const url of [none, plainUrl]) {
      const at = await browser.go(url);
      expect(at.origin + at.pathname).toBe(CALLBACK);
      expect(at.searchParams.get("error")).toBe("invalid_request");
      expect(at.searchParams.get("code")).toBeNull();
    }
  });
  it("AUTH-10: a refresh token works once; presented again, it revokes the grant and every token of it", async () => {
    const first = await signIn(owner, config);
    expect(first.refresh_token).toBeTruthy();
    const second = await client.refreshTokenGrant(config, first.refresh_token!);
    expect(second.refresh_token).not.toBe(first.refresh_token);
    await expect(client.refreshTokenGrant(config, first.refresh_token!)).rejects.toMatchObject({
      error: "invalid_grant",
    });
    // The reuse revoked the grant: the successor is dead too, and so is its access token.
    await expect(client.refreshTokenGrant(config, second.refresh_token!)).rejects.toMatchObject({
      error: "invalid_grant",
    });
    expect((await client.tokenIntrospection(config, second.access_token)).active).toBe(false);
    // The reuse is in the organisation's audit log.
    const audit = t.app.bulwark.service("audit");
    await audit.flush();
    const revoked = (await audit.query({ log: org }, 500)).filter((e) => e.action === "oidc.grant_revoked");
    const reused = revoked
      .map((e) => JSON.parse(e.entry!))
      .filter((e) => e.metadata.reason === "refresh_token_reused");
    expect(reused.length).toBeGreaterThan(0);
    expect(reused[0].entity).toEqual({ type: "oidc_client", id: confidential.client.id });
  });

  it("AUTH-10: introspection and revocation answer clients of the token's organisation only", async () => {
    const tokens = await signIn(owner, config);
    const sibling = await discover(
      await register(owner, org, { name: "Reports", type: "confidential", redirectUris: [CALLBACK] }),
    );
    const seen = await client.tokenIntrospection(sibling, tokens.access_token);
    expect(seen).toMatchObject({ active: true, client_id: confidential.client.id });
    // Another organisation's client learns nothing, and cannot revoke it.
    const other = (await (await owner.api("POST", "/v1/orgs", { name: "Elsewhere Ltd" })).json()) as {
      org: { id: string };
    };
    const stranger = await discover(
      await register(owner, other.org.id, { name: "Spy", type: "confidential", redirectUris: [CALLBACK] }),
    );
    expect((await client.tokenIntrospection(stranger, tokens.access_token)).active).toBe(false);
    expect((await client.tokenIntrospection(stranger, tokens.refresh_token!)).active).toBe(false);
    await client.tokenRevocation(stranger, tokens.refresh_token!);
    expect((await client.tokenIntrospection(config, tokens.refresh_token!)).active).toBe(true);
    // Its own client revokes it.
    await client.tokenRevocation(config, tokens.refresh_token!);
    expect((await client.tokenIntrospection(config, tokens.refresh_token!)).active).toBe(false);
  });

  it("AUTH-10: end-session signs out of the provider and returns to the registered address", async () => {
    const tokens = await signIn(owner, config);
    const url = client.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: "http://127.0.0.1:9/bye",
      state: "s1",
    });
    const confirm = await owner.fetch(url);
    expect(confirm.status).toBe(200);
    const html = await confirm.text();
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1];
    expect(xsrf).toBeTruthy();
    const done = await owner.fetch(`${base}/oidc/session/end/confirm`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ xsrf: xsrf!, logout: "yes" }).toString(),
    });
    expect(done.status).toBe(303);
    expect(done.headers.get("location")).toBe("http://127.0.0.1:9/bye?state=s1");
    // An address the client never registered is refused.
    const bad = await owner.fetch(
      client.buildEndSessionUrl(config, {
        id_token_hint: tokens.id_token!,
        post_logout_redirect_uri: "https://evil.example/",
      }),
    );
    expect(bad.status).toBe(400);
  });

  it("AUTH-10: only members of the client's organisation sign in; a removed member's refresh stops", async () => {
    const outsiderId = await createUser(t, "outsider@example.org", PW);
    const outsider = new FlowBrowser(base);
    await outsider.signIn("outsider@example.org", PW);
    const flow = await start(outsider, config);
    const view = (await (await outsider.api("GET", `${req(flow.page)}/details`)).json()) as {
      refusal: string | null;
      organization: { name: string };
    };
    expect(view.organization.name).toBe("Relying Inc");
    expect(view.refusal).toMatch(/not a member/);
    const refused = await outsider.api("POST", `${req(flow.page)}/allow`);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("FORBIDDEN");

    // A member signs in, is removed, and the app's next refresh fails.
    const { OrgStore } = await import("../orgs/store.js");
    await new OrgStore(t.db.global, t.db.engine).addMember(org, outsiderId, "MEMBER", Date.now());
    const tokens = await signIn(outsider, config);
    const removed = await owner.api("DELETE", `/v1/orgs/${org}/members/${outsiderId}`);
    expect(removed.status, await removed.clone().text()).toBe(204);
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({
      error: "invalid_grant",
    });
    expect((await client.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
  });

  it("AUTH-10: prompt=login needs the password proved again after the request started", async () => {
    const flow = await start(owner, config, { prompt: "login consent" });
    const details = (await (await owner.api("GET", `${req(flow.page)}/details`)).json()) as {
      reauth: boolean;
    };
    expect(details.reauth).toBe(true);
    const early = await owner.api("POST", `${req(flow.page)}/allow`);
    expect(((await early.json()) as { error: { code: string } }).error.code).toBe("REAUTH_REQUIRED");
    await new Promise((r) => setTimeout(r, 1100)); // The interaction's iat is in whole seconds.
    expect((await owner.api("POST", "/v1/auth/reauth", { password: PW })).status).toBe(200);
    const allowed = await owner.api("POST", `${req(flow.page)}/allow`);
    expect(allowed.status).toBe(200);
    const callback = await owner.go(((await allowed.json()) as { location: string }).location);
    expect(callback.searchParams.get("code")).toBeTruthy();
  });

  it("AUTH-10: a sign-in request is bound to the browser that started it", async () => {
    const flow = await start(owner, config);
    const thief = new FlowBrowser(base);
    await thief.signIn("owner@example.org", PW);
    const details = await thief.api("GET", `${req(flow.page)}/details`);
    expect(details.status).toBe(404);
    expect((await thief.api("POST", `${req(flow.page)}/allow`)).status).toBe(404);
    // The request's own browser, signed out, is asked to sign in (401), never shown the request.
    const signedOut = new FlowBrowser(base);
    const fresh = await start(signedOut, config);
    expect((await signedOut.api("GET", `${req(fresh.page)}/details`)).status).toBe(401);
  });

  it("AUTH-10: clients are registered per organisation; a secret is shown once, stored as its SHA-256, and rotates", async () => {
    const { createHash } = await import("node:crypto");
    const row = await t.db.global
      .selectFrom("oidc_clients")
      .selectAll()
      .where("id", "=", confidential.client.id)
      .executeTakeFirstOrThrow();
    expect(confidential.clientSecret).toMatch(/^ocs_[A-Za-z0-9_-]{43}$/);
    expect(row.secret_hash).toBe(createHash("sha256").update(confidential.clientSecret!).digest("hex"));
    const listed = await (await owner.api("GET", `/v1/orgs/${org}/oidc-clients`)).text();
    expect(listed).not.toContain(confidential.clientSecret!.slice(4));
    expect(listed).not.toContain(row.secret_hash);

    const made = await register(owner, org, {
      name: "Rotating",
      type: "confidential",
      redirectUris: [CALLBACK],
    });
    const before = await discover(made);
    const tokens = await signIn(owner, before);
    const rotated = await owner.api("POST", `/v1/orgs/${org}/oidc-clients/${made.client.id}/rotate-secret`);
    expect(rotated.status).toBe(201);
    const secret = ((await rotated.json()) as Made).clientSecret!;
    await expect(client.refreshTokenGrant(before, tokens.refresh_token!)).rejects.toMatchObject({
      error: "invalid_client",
    });
    const after = await discover({ ...made, clientSecret: secret });
    expect((await client.refreshTokenGrant(after, tokens.refresh_token!)).access_token).toBeTruthy();

    // Public clients have no secret; redirect URIs are exact HTTPS (or loopback HTTP) addresses.
    const pub = await register(owner, org, {
      name: "SPA",
      type: "public",
      redirectUris: ["https://spa.example/cb"],
    });
    expect(pub.clientSecret).toBeNull();
    for (const bad of [
      "http://spa.example/cb",
      "https://spa.example/cb#x",
      "https://u:p@spa.example/",
      "/cb",
    ]) {
      const res = await owner.api("POST", `/v1/orgs/${org}/oidc-clients`, {
        name: "Bad",
        type: "public",
        redirectUris: [bad],
      });
      expect(res.status, bad).toBe(422);
    }
    // Another organisation's client is not found, and a deleted one stops at once.
    const other = (await (await owner.api("POST", "/v1/orgs", { name: "Third Co" })).json()) as {
      org: { id: string };
    };
    expect((await owner.api("GET", `/v1/orgs/${other.org.id}/oidc-clients/${made.client.id}`)).status).toBe(
      404,
    );
    expect((await owner.api("DELETE", `/v1/orgs/${org}/oidc-clients/${made.client.id}`)).status).toBe(204);
    await expect(client.refreshTokenGrant(after, tokens.refresh_token!)).rejects.toMatchObject({
      error: "invalid_client",
    });
  });

  it("AUTH-10: client changes and consents are in the organisation's audit log", async () => {
    const res = await owner.api("GET", `/v1/orgs/${org}/audit-events?limit=200`);
    expect(res.status, await res.clone().text()).toBe(200);
    const actions = ((await res.json()) as { items: { action: string }[] }).items.map((e) => e.action);
    expect(actions).toEqual(
      expect.arrayContaining([
        "oidc_client.created",
        "oidc_client.secret_rotated",
        "oidc_client.deleted",
        "oidc.consent_granted",
      ]),
    );
    const raw = JSON.stringify(await t.db.global.selectFrom("audit_events").selectAll().execute());
    expect(raw).not.toContain(confidential.clientSecret!.slice(4));
  });
  it("AUTH-10: after a key rotation, ID tokens are signed by the new key and the old ones still verify", async () => {
    const before = await signIn(owner, config);
    const keys = t.app.bulwark.service("signingKeys");
    const rotated = await keys.rotate();
    expect(rotated).toBeDefined();
    const after = await signIn(owner, config);
    const kid = (token: string) =>
      (JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString()) as { kid: string }).kid;
    expect(kid(after.id_token!)).toBe(rotated!.kid);
    expect(kid(before.id_token!)).not.toBe(rotated!.kid);
    const jwks = createRemoteJWKSet(new URL(`${base}/.well-known/jwks.json`));
    for (const token of [before.id_token!, after.id_token!])
      await jwtVerify(token, jwks, { issuer: base, audience: confidential.client.id });
    // The provider's own JWKS is the same set.
    const published = (await (await fetch(`${base}/oidc/jwks`)).json()) as {
      keys: { kid: string; d?: string }[];
    };
    expect(published.keys.map((k) => k.kid).sort()).toEqual(
      keys
        .jwks()
        .keys.map((k) => k.kid!)
        .sort(),
    );
    expect(published.keys.some((k) => k.d !== undefined)).toBe(false);
  });
  it("AUTH-10: the provider's sign-in follows Bulwark's session: signed out, or someone else, means the hosted page again", async () => {
    const browser = new FlowBrowser(base);
    await browser.signIn("owner@example.org", PW);
    await signIn(browser, config);
    // Still signed in: the app's next request is answered at once, without the page.
    const again = await start(browser, config, { prompt: "" });
    expect(again.page.origin + again.page.pathname).toBe(CALLBACK);
    // Signed out of Bulwark: the page again (and its API asks for a sign-in), never a code.
    expect((await browser.api("POST", "/v1/auth/logout")).status).toBe(204);
    const out = await start(browser, config, { prompt: "" });
    expect(out.page.pathname).toBe("/authorize");
    expect((await browser.api("GET", `${req(out.page)}/details`)).status).toBe(401);
    // Someone else signs in on this browser: the page, for them; the first person's sign-in is not reused.
    await createUser(t, "second@example.org", PW);
    const { OrgStore } = await import("../orgs/store.js");
    const second = await t.app.bulwark
      .service("identity")
      .findUser(
        (
          await t.db.global
            .selectFrom("users")
            .select("id")
            .where("email", "=", "second@example.org")
            .executeTakeFirstOrThrow()
        ).id,
      );
    await new OrgStore(t.db.global, t.db.engine).addMember(org, second!.id, "MEMBER", Date.now());
    await browser.signIn("second@example.org", PW);
    const other = await start(browser, config, { prompt: "" });
    expect(other.page.pathname).toBe("/authorize");
    const allowed = await browser.api("POST", `${req(other.page)}/allow`);
    expect(allowed.status, await allowed.clone().text()).toBe(200);
    const callback = await browser.go(((await allowed.json()) as { location: string }).location);
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: other.verifier,
      expectedState: other.state,
      expectedNonce: other.nonce,
    });
    expect(tokens.claims()!.sub).toBe(second!.id);
  });

  it("AUTH-10: a public client introspects and revokes its own tokens only", async () => {
    const tokens = await signIn(owner, config);
    const spa = await discover(
      await register(owner, org, { name: "SPA", type: "public", redirectUris: ["http://localhost:5173/cb"] }),
    );
    expect((await client.tokenIntrospection(spa, tokens.access_token)).active).toBe(false);
    await client.tokenRevocation(spa, tokens.refresh_token!);
    expect((await client.tokenIntrospection(config, tokens.refresh_token!)).active).toBe(true);
  });

  it("AUTH-10: a browser app reaches the token endpoint from its own origin; CORS answers per client", async () => {
    const made = await register(owner, org, {
      name: "Web",
      type: "public",
      redirectUris: ["http://localhost:5173/cb"],
    });
    const pre = await fetch(`${base}/oidc/token`, {
      method: "OPTIONS",
      headers: { origin: "http://localhost:5173", "access-control-request-method": "POST" },
    });
    expect(pre.status).toBeLessThan(300);
    const post = (origin: string) =>
      fetch(`${base}/oidc/token`, {
        method: "POST",
        headers: { origin, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "refresh_token",
          refresh_token: "x",
          client_id: made.client.id,
        }),
      });
    const mine = await post("http://localhost:5173");
    expect(mine.status).toBe(400); // the provider's own answer (a bad refresh token), not Bulwark's CORS refusal
    expect(mine.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
    const foreign = await post("https://evil.example");
    expect(foreign.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("AUTH-10: the same refresh token presented twice at once: at most one succeeds, and the grant is revoked", async () => {
    for (let round = 0; round < 3; round++) {
      const tokens = await signIn(owner, config);
      const results = await Promise.allSettled([
        client.refreshTokenGrant(config, tokens.refresh_token!),
        client.refreshTokenGrant(config, tokens.refresh_token!),
      ]);
      const won = results.filter((r) => r.status === "fulfilled");
      expect(won.length).toBe(1);
      for (const w of won as PromiseFulfilledResult<client.TokenEndpointResponse>[])
        await expect(client.refreshTokenGrant(config, w.value.refresh_token!)).rejects.toMatchObject({
          error: "invalid_grant",
        });
    }
  });
  it("AUTH-10: signing out ends the app's grant, recorded in the client's own organisation and nowhere else", async () => {
    const audit = t.app.bulwark.service("audit");
    const grantEvents = async (log: string) => {
      await audit.flush();
      return (await audit.query({ log }, 1000)).filter((e) => e.action === "oidc.grant_revoked").length;
    };
    // A second organisation with its own client: a sign-out that names it must not write in its log.
    const other = (await (await owner.api("POST", "/v1/orgs", { name: "Bystander Ltd" })).json()) as {
      org: { id: string };
    };
    const bystander = await register(owner, other.org.id, {
      name: "Bystander",
      type: "confidential",
      redirectUris: [CALLBACK],
    });
    const before = { mine: await grantEvents(org), theirs: await grantEvents(other.org.id) };
    const browser = new FlowBrowser(base);
    await browser.signIn("owner@example.org", PW);
    const flow = await start(browser, config, { scope: "openid email", prompt: "consent" });
    const allowed = await browser.api("POST", `${req(flow.page)}/allow`);
    const callback = await browser.go(((await allowed.json()) as { location: string }).location);
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: flow.verifier,
      expectedState: flow.state,
      expectedNonce: flow.nonce,
    });
    expect((await client.tokenIntrospection(config, tokens.access_token)).active).toBe(true);
    const confirm = await browser.fetch(`${base}/oidc/session/end?client_id=${bystander.client.id}`);
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(await confirm.text())![1]!;
    const done = await browser.fetch(`${base}/oidc/session/end/confirm`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ xsrf, logout: "yes" }).toString(),
    });
    expect(done.status).toBeLessThan(400);
    // Without offline_access the grant ends with the provider session: its token is dead.
    expect((await client.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
    expect(await grantEvents(org)).toBeGreaterThan(before.mine);
    expect(await grantEvents(other.org.id)).toBe(before.theirs);
  });
  it("AUTH-10: a code works once; redeemed again it is refused and the tokens it gave are revoked", async () => {
    const flow = await start(owner, config);
    const allowed = await owner.api("POST", `${req(flow.page)}/allow`);
    const callback = await owner.go(((await allowed.json()) as { location: string }).location);
    const checks = { pkceCodeVerifier: flow.verifier, expectedState: flow.state, expectedNonce: flow.nonce };
    const first = await client.authorizationCodeGrant(config, callback, checks);
    await expect(client.authorizationCodeGrant(config, callback, checks)).rejects.toMatchObject({
      error: "invalid_grant",
    });
    expect((await client.tokenIntrospection(config, first.access_token)).active).toBe(false);
  });

  it("AUTH-10: an unregistered redirect URI is never redirected to; prompt=none without a session answers login_required", async () => {
    const browser = new FlowBrowser(base);
    const evil = client.buildAuthorizationUrl(config, {
      redirect_uri: "https://evil.example/callback",
      scope: "openid",
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: "S256",
    });
    const res = await browser.fetch(evil);
    expect(res.status).toBe(400);
    expect(res.headers.get("location")).toBeNull();
    expect(await res.text()).toContain("redirect_uri");
    const none = await start(browser, config, { prompt: "none" });
    expect(none.page.origin + none.page.pathname).toBe(CALLBACK);
    expect(none.page.searchParams.get("error")).toBe("login_required");
  });
});
