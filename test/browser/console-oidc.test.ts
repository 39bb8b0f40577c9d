import { createServer, type Server } from "node:http";
import { createRemoteJWKSet, jwtVerify } from "jose";
import * as client from "openid-client";
import * as OTPAuth from "otpauth";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser, login, type TestApp } from "../harness.js";
import { launchChromium, needs } from "../services.js";
import { checkPage, servedApp, type Watched, watchedContext } from "./console-kit.js";

const OWNER = "oidc-owner@example.org";
const OUTSIDER = "oidc-outsider@example.org";
const MEMBER = "oidc-member@example.org";
const SECOND = "oidc-second-factor@example.org";
const PW = "correct horse battery staple";
const ORG = "Federated Co";
const APP = "Billing portal";

/** The relying party's callback: records each address the browser lands on, answers a plain page. */
async function callbackServer(): Promise<{ url: string; got: URL[]; server: Server }> {
  const got: URL[] = [];
  const server = createServer((req, res) => {
    got.push(new URL(req.url ?? "/", "http://127.0.0.1"));
    res.writeHead(200, { "content-type": "text/plain" }).end("signed in");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, got, server };
}

/**
 * An organisation's sign-in app (AUTH-10) through the console, in Debian's Chromium, with openid-client as
 * the app: an owner registers the app and takes its secret from the box that shows it once; a person
 * following the app's sign-in link is sent to Bulwark's sign-in page, then to the hosted page that names
 * the app, its organisation and what it asks for, allows it, and lands on the app's callback with a code
 * the app redeems for an ID token that verifies against the JWKS. An outsider is told why they cannot
 * continue, and the app receives access_denied. Every state is checked for CSP violations, console
 * errors and serious axe findings, light and dark, desktop and phone.
 */
describe.runIf(needs("chromium"))(
  "sign-in apps (OpenID Connect) in the console",
  { timeout: 180_000 },
  () => {
    let t: TestApp;
    let base = "";
    let browser: Browser;
    let page: Page;
    let rp: Awaited<ReturnType<typeof callbackServer>>;
    let clientId = "";
    let orgId = "";
    let memberId = "";
    /** The browser the owner allowed the app in (test 2), kept for the account switch. */
    let appBrowser: Page;
    let secret = "";
    const contexts: Watched[] = [];

    beforeAll(async () => {
      rp = await callbackServer();
      ({ t, base } = await servedApp());
      browser = await launchChromium();
      await createUser(t, OWNER, PW);
      await createUser(t, OUTSIDER, PW);
      memberId = await createUser(t, MEMBER, PW);
    });
    afterAll(async () => {
      for (const c of contexts) expect(c.problems).toEqual([]);
      await browser?.close();
      await t?.close();
      rp?.server.close();
    });

    const heading = (p: Page, name: string) => p.getByRole("heading", { level: 1, name });
    const signIn = async (p: Page, email: string) => {
      await p.getByLabel("Email").fill(email);
      await p.getByLabel("Password").fill(PW);
      await p.getByRole("button", { name: "Sign in" }).click();
    };
    /** A browser (a fresh, signed-out one by default) following the app's sign-in link; the app's checks. */
    const follow = async (given?: Page, extra: Record<string, string> = {}) => {
      let p = given;
      if (!p) {
        const w = await watchedContext(browser, base);
        contexts.push(w);
        p = await w.context.newPage();
      }
      const config = await client.discovery(new URL(base), clientId, secret, undefined, {
        execute: [client.allowInsecureRequests],
      });
      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: `${rp.url}/callback`,
        scope: "openid email organization",
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: "S256",
        state,
        nonce,
        ...extra,
      });
      await p.goto(url.href);
      return { p, config, verifier, state, nonce, url };
    };

    it("AUTH-10: an owner registers a sign-in app; its secret is shown once", async () => {
      const w = await watchedContext(browser, base);
      contexts.push(w);
      page = await w.context.newPage();
      await page.goto(`${base}/`);
      await signIn(page, OWNER);
      await heading(page, "Organisations").waitFor();
      await page.getByLabel("Name", { exact: true }).fill(ORG);
      await page.getByRole("button", { name: "Create organisation" }).click();
      await heading(page, ORG).waitFor();
      orgId = /\/app\/orgs\/(org_[0-9A-Z]{26})/.exec(page.url())![1]!;
      await page
        .getByRole("navigation", { name: `${ORG} sections` })
        .getByRole("link", { name: "Sign-in apps" })
        .click();
      await heading(page, `${ORG}: sign-in apps`).waitFor();
      await page.getByText("No apps yet").waitFor();
      await checkPage(page, "org-oidc-empty");

      // An address that is neither https nor this machine is refused next to its field.
      await page.getByLabel("Name").fill(APP);
      await page.getByLabel("Redirect URIs").fill("http://app.example.org/callback");
      await page.getByRole("button", { name: "Register app" }).click();
      await page.getByText("must use https").waitFor();
      await page.getByLabel("Redirect URIs").fill(`${rp.url}/callback`);
      await page.getByRole("button", { name: "Register app" }).click();
      await page.getByRole("heading", { name: `Client secret of ${APP}` }).waitFor();
      secret = ((await page.getByTestId("client-secret").textContent()) ?? "").trim();
      expect(secret).toMatch(/^ocs_[A-Za-z0-9_-]{43}$/);
      clientId = /oc_[0-9A-Z]{26}/.exec((await page.locator(".reveal").textContent()) ?? "")![0];
      await checkPage(page, "org-oidc-secret");
      await page.getByRole("button", { name: "I have stored it" }).click();
      await page.getByTestId("client-secret").waitFor({ state: "detached" });
      expect(await page.content()).not.toContain(secret);
      const row = page.getByRole("list", { name: "Sign-in apps" }).locator(":scope > li").first();
      await row.getByText(clientId).waitFor();
      await row.getByText(`${rp.url}/callback`).waitFor();
      await checkPage(page, "org-oidc-list");
    });

    it("AUTH-10: a member follows the app's link, signs in, allows it, and the app gets a verified ID token", async () => {
      const flow = await follow();
      const p = flow.p;
      // Signed out: Bulwark's sign-in page first, then back to the request.
      await heading(p, "Sign in").waitFor();
      await signIn(p, OWNER);
      await heading(p, `Sign in to ${APP}`).waitFor();
      expect(new URL(p.url()).pathname).toBe("/authorize");
      await p.getByText(`${APP} is an app of ${ORG}`).waitFor();
      await p.getByText("See your email address").waitFor();
      await p.getByText(`See that you are a member of ${ORG}, and your role there`).waitFor();
      await p.getByText(OWNER).waitFor();
      await checkPage(p, "authorize");
      await p.getByRole("button", { name: "Allow" }).click();
      await p.waitForURL((u) => u.href.startsWith(`${rp.url}/callback`));
      const callback = new URL(p.url());
      expect(callback.searchParams.get("code")).toBeTruthy();
      const tokens = await client.authorizationCodeGrant(flow.config, callback, {
        pkceCodeVerifier: flow.verifier,
        expectedState: flow.state,
        expectedNonce: flow.nonce,
        idTokenExpected: true,
      });
      const { payload } = await jwtVerify(
        tokens.id_token!,
        createRemoteJWKSet(new URL(`${base}/.well-known/jwks.json`)),
        {
          issuer: base,
          audience: clientId,
          algorithms: ["ES256"],
        },
      );
      const info = await client.fetchUserInfo(flow.config, tokens.access_token, payload.sub!);
      expect(info).toMatchObject({ email: OWNER, org_role: "OWNER" });
      appBrowser = p;
    });

    it("AUTH-10: after signing out of Bulwark, the next person on that browser goes through the page and signs in as themselves", async () => {
      const { OrgStore } = await import("../../src/orgs/store.js");
      await new OrgStore(t.db.global, t.db.engine).addMember(orgId, memberId, "MEMBER", Date.now());
      const p = appBrowser;
      await p.goto(`${base}/app`);
      await p.getByRole("button", { name: "Sign out" }).click();
      await heading(p, "Sign in").waitFor();
      // The provider still holds the owner's sign-in; Bulwark's session is gone, so the app's link goes
      // through sign-in and the page again, and the provider switches accounts (its own form, run under
      // the page's CSP with the script's hash).
      const flow = await follow(p);
      await heading(p, "Sign in").waitFor();
      await signIn(p, MEMBER);
      await heading(p, `Sign in to ${APP}`).waitFor();
      await p.getByText(MEMBER).waitFor();
      await p.getByRole("button", { name: "Allow" }).click();
      await p.waitForURL((u) => u.href.startsWith(`${rp.url}/callback`));
      const tokens = await client.authorizationCodeGrant(flow.config, new URL(p.url()), {
        pkceCodeVerifier: flow.verifier,
        expectedState: flow.state,
        expectedNonce: flow.nonce,
        idTokenExpected: true,
      });
      expect(tokens.claims()!.sub).toBe(memberId);
    });

    it("AUTH-10, AUTH-8: a member with a second factor passes it before consent; the app refreshes, introspects and revokes", async () => {
      // A member who turned on TOTP (through the API: the console's enrolment has its own journey test).
      const userId = await createUser(t, SECOND, PW);
      const { OrgStore } = await import("../../src/orgs/store.js");
      await new OrgStore(t.db.global, t.db.engine).addMember(orgId, userId, "MEMBER", Date.now());
      const s = await login(t, SECOND, PW);
      const headers = { cookie: s.cookie, "x-csrf-token": s.csrf };
      const started = await t.app.inject({
        method: "POST",
        url: "/v1/me/mfa/totp",
        headers,
        payload: { password: PW },
      });
      expect(started.statusCode).toBe(200);
      const totp = new OTPAuth.TOTP({
        secret: OTPAuth.Secret.fromBase32(started.json().secret),
        digits: 6,
        period: 30,
      });
      const confirmed = await t.app.inject({
        method: "POST",
        url: "/v1/me/mfa/totp/confirm",
        headers,
        payload: { code: totp.generate() },
      });
      expect(confirmed.statusCode).toBe(200);

      // Asking for a refresh token too, so the app refreshes, introspects and revokes below.
      const flow = await follow(undefined, {
        scope: "openid email organization offline_access",
        prompt: "consent",
      });
      const p = flow.p;
      await heading(p, "Sign in").waitFor();
      await signIn(p, SECOND);
      // The password alone does not reach the app's page: the second factor is asked first.
      await heading(p, "Two-factor authentication").waitFor();
      await checkPage(p, "authorize-second-factor");
      // Following the app's link again at this point goes back to sign-in, not to the consent page.
      await p.goto(flow.url.href);
      await heading(p, "Sign in").waitFor();
      expect(await p.getByRole("button", { name: "Allow" }).count()).toBe(0);
      await signIn(p, SECOND);
      await heading(p, "Two-factor authentication").waitFor();
      // A wrong code keeps the step; the right one (the next time step: enrolment used this one) passes.
      await p.getByLabel("Code").fill(totp.generate({ timestamp: Date.now() - 120_000 }));
      await p.getByRole("button", { name: "Verify" }).click();
      await p.getByRole("alert").waitFor();
      await heading(p, "Two-factor authentication").waitFor();
      await p.getByLabel("Code").fill(totp.generate({ timestamp: Date.now() + 30_000 }));
      await p.getByRole("button", { name: "Verify" }).click();
      await heading(p, `Sign in to ${APP}`).waitFor();
      await p.getByText(SECOND).waitFor();
      await p.getByText("Stay signed in when you are not using it").waitFor();
      await p.getByRole("button", { name: "Allow" }).click();
      await p.waitForURL((u) => u.href.startsWith(`${rp.url}/callback`));
      const tokens = await client.authorizationCodeGrant(flow.config, new URL(p.url()), {
        pkceCodeVerifier: flow.verifier,
        expectedState: flow.state,
        expectedNonce: flow.nonce,
        idTokenExpected: true,
      });
      const { payload } = await jwtVerify(
        tokens.id_token!,
        createRemoteJWKSet(new URL(`${base}/.well-known/jwks.json`)),
        { issuer: base, audience: clientId, algorithms: ["ES256"] },
      );
      expect(payload.sub).toBe(userId);
      // The app keeps the session going, asks whether the token is live, and ends it.
      const refreshed = await client.refreshTokenGrant(flow.config, tokens.refresh_token!);
      expect(refreshed.claims()?.sub).toBe(userId);
      expect(await client.tokenIntrospection(flow.config, refreshed.access_token)).toMatchObject({
        active: true,
        sub: userId,
      });
      await client.tokenRevocation(flow.config, refreshed.refresh_token!);
      expect((await client.tokenIntrospection(flow.config, refreshed.refresh_token!)).active).toBe(false);
      await expect(client.refreshTokenGrant(flow.config, refreshed.refresh_token!)).rejects.toMatchObject({
        error: "invalid_grant",
      });
    });

    it("AUTH-10: someone outside the organisation is told why, and the app receives access_denied", async () => {
      const flow = await follow();
      const p = flow.p;
      await heading(p, "Sign in").waitFor();
      await signIn(p, OUTSIDER);
      await heading(p, `Sign in to ${APP}`).waitFor();
      await p.getByText("your account is not a member of it").waitFor();
      expect(await p.getByRole("button", { name: "Allow" }).count()).toBe(0);
      await checkPage(p, "authorize-refused");
      await p.getByRole("button", { name: "Cancel" }).click();
      await p.waitForURL((u) => u.href.startsWith(`${rp.url}/callback`));
      const callback = new URL(p.url());
      expect(callback.searchParams.get("error")).toBe("access_denied");
      expect(callback.searchParams.get("code")).toBeNull();
    });

    it("AUTH-10: the owner rotates the app's secret and deletes the app", async () => {
      const row = page.getByRole("list", { name: "Sign-in apps" }).locator(":scope > li").first();
      await row.getByRole("button", { name: "Rotate secret" }).click();
      await page.getByRole("dialog").getByRole("button", { name: "Rotate secret" }).click();
      await page.getByRole("heading", { name: `Client secret of ${APP}` }).waitFor();
      const rotated = ((await page.getByTestId("client-secret").textContent()) ?? "").trim();
      expect(rotated).toMatch(/^ocs_/);
      expect(rotated).not.toBe(secret);
      await page.getByRole("button", { name: "I have stored it" }).click();
      await row.getByRole("button", { name: "Delete" }).click();
      await page.getByRole("dialog").getByRole("button", { name: "Delete app" }).click();
      await page.getByText(`${APP} was deleted.`).waitFor();
      await page.getByText("No apps yet").waitFor();
    });
  },
);
