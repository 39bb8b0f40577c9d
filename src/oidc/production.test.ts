import { createLocalJWKSet, jwtVerify } from "jose";
import * as client from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser, ENGINE, PRODUCTION_ENV, type TestApp, testApp } from "../../test/harness.js";
import { FlowBrowser, injectFetch } from "../../test/oidc-browser.js";

const PW = "production openid passphrase";
const BASE = "https://app.example.org";
const CALLBACK = "https://billing.example.org/callback";

/**
 * The OpenID provider in production (AUTH-10), behind a TLS-terminating proxy on 127.0.0.1: the
 * issuer and every endpoint are the HTTPS public URL, every cookie of the flow is Secure, and the code
 * flow with PKCE ends in an ID token that verifies against the published keys.
 */
describe(`OpenID Connect provider in production (${ENGINE})`, () => {
  let t: TestApp;
  let send: typeof fetch;

  beforeAll(async () => {
    t = await testApp({ ...PRODUCTION_ENV, TRUSTED_PROXIES: "127.0.0.1" });
    send = injectFetch(t.app);
    await createUser(t, "prod-oidc@example.org", PW);
  });
  afterAll(() => t.close());

  it("AUTH-10: in production the code flow runs over HTTPS with Secure cookies and verifiable ES256 ID tokens", async () => {
    const browser = new FlowBrowser(BASE, send);
    await browser.signIn("prod-oidc@example.org", PW);
    const org = (
      (await (await browser.api("POST", "/v1/orgs", { name: "Prod OIDC" })).json()) as { org: { id: string } }
    ).org.id;
    const made = await browser.api("POST", `/v1/orgs/${org}/oidc-clients`, {
      name: "Billing",
      type: "confidential",
      redirectUris: [CALLBACK],
    });
    expect(made.status, await made.clone().text()).toBe(201);
    const { client: c, clientSecret } = (await made.json()) as {
      client: { id: string };
      clientSecret: string;
    };
    const config = await client.discovery(new URL(BASE), c.id, clientSecret, undefined, {
      [client.customFetch]: send,
    });
    const meta = config.serverMetadata();
    expect(meta.issuer).toBe(BASE);
    for (const e of [meta.authorization_endpoint, meta.token_endpoint, meta.jwks_uri, meta.userinfo_endpoint])
      expect(e).toMatch(/^https:\/\/app\.example\.org\/oidc\//);

    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: CALLBACK,
      scope: "openid email",
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state,
      nonce,
    });
    // Every cookie the provider sets on the way is Secure (and HttpOnly).
    const first = await browser.fetch(url);
    expect(first.status).toBe(303);
    const cookies = first.headers.getSetCookie();
    expect(cookies.length).toBeGreaterThan(0);
    for (const line of cookies) expect(line).toMatch(/;\s*secure/i);
    for (const line of cookies) expect(line).toMatch(/;\s*httponly/i);
    const page = new URL(first.headers.get("location")!, BASE);
    expect(page.origin + page.pathname).toBe(`${BASE}/authorize`);

    const allowed = await browser.api("POST", `/authorize/${page.searchParams.get("uid")}/allow`);
    expect(allowed.status, await allowed.clone().text()).toBe(200);
    const callback = await browser.go(((await allowed.json()) as { location: string }).location);
    expect(callback.origin + callback.pathname).toBe(CALLBACK);
    // Every cookie of the whole flow (the provider's session cookie is set on the way back) is Secure.
    const flowCookies = browser.setCookies.filter((l) => l.startsWith("bulwark_oidc"));
    expect(flowCookies.some((l) => l.startsWith("bulwark_oidc="))).toBe(true);
    for (const line of flowCookies) expect(line).toMatch(/;\s*secure/i);
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    const jwks = (await (await send(`${BASE}/.well-known/jwks.json`)).json()) as Parameters<
      typeof createLocalJWKSet
    >[0];
    const { payload, protectedHeader } = await jwtVerify(tokens.id_token!, createLocalJWKSet(jwks), {
      issuer: BASE,
      audience: c.id,
      algorithms: ["ES256"],
    });
    expect(protectedHeader.alg).toBe("ES256");
    expect(payload.sub).toMatch(/^usr_/);
  });

  it("AUTH-10: in production plain HTTP to the provider is refused before the provider sees it", async () => {
    const plain = await t.app.inject({
      url: "/.well-known/openid-configuration",
      headers: { host: "app.example.org" },
    });
    // Production's HTTPS policy (HTTPS_POLICY=reject by default) answers Bulwark's own error.
    expect(plain.statusCode).toBe(400);
    expect(plain.json().error.code).toBe("HTTPS_REQUIRED");
    expect(plain.body).not.toContain("authorization_endpoint");
    const token = await t.app.inject({
      method: "POST",
      url: "/oidc/token",
      headers: { host: "app.example.org", "content-type": "application/x-www-form-urlencoded" },
      payload: "grant_type=authorization_code&code=x",
    });
    expect(token.statusCode).toBe(400);
    expect(token.json().error.code).toBe("HTTPS_REQUIRED");
  });
});
