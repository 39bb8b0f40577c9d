import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrgStore } from "../../src/orgs/store.js";
import { createUser, type TestApp, testApp } from "../harness.js";
import { FlowBrowser } from "../oidc-browser.js";
import { launchChromium, needs } from "../services.js";
import { checkPage, freePort, servedApp, type Watched, watchedContext } from "./console-kit.js";

const PW = "correct horse battery staple";
const PROVIDER = "Acme ID";
const APP = "Bulwark relying party";

/**
 * External sign-in (AUTH-11) through the console, in Debian's Chromium: a second Bulwark is the
 * OpenID provider. A person clicks "Continue with Acme ID", signs in and allows on the provider's
 * pages, and lands signed in; the account page lists the linked sign-in. A person whose address
 * already has an account is sent to confirm the link after signing in with their password. Every
 * state is checked for CSP violations, console errors and serious axe findings, light and dark,
 * desktop and phone.
 */
describe.runIf(needs("chromium"))("external sign-in in the console", { timeout: 180_000 }, () => {
  let idp: TestApp;
  let idpBase = "";
  let rp: TestApp;
  let rpBase = "";
  let browser: Browser;
  const contexts: Watched[] = [];

  beforeAll(async () => {
    ({ t: idp, base: idpBase } = await servedApp());
    await createUser(idp, "owner@idp.example", PW);
    const owner = new FlowBrowser(idpBase);
    await owner.signIn("owner@idp.example", PW);
    const org = (
      (await (await owner.api("POST", "/v1/orgs", { name: PROVIDER })).json()) as { org: { id: string } }
    ).org.id;
    const port = await freePort();
    rpBase = `http://127.0.0.1:${port}`;
    const made = await owner.api("POST", `/v1/orgs/${org}/oidc-clients`, {
      name: APP,
      type: "confidential",
      redirectUris: [`${rpBase}/v1/auth/external/acme/callback`],
    });
    const { client, clientSecret } = (await made.json()) as { client: { id: string }; clientSecret: string };
    const members = new OrgStore(idp.db.global, idp.db.engine);
    for (const email of ["lee@idp.example", "kim@idp.example"])
      await members.addMember(org, await createUser(idp, email, PW), "MEMBER", Date.now());
    rp = await testApp({
      PORT: String(port),
      PUBLIC_URL: rpBase,
      LOG_LEVEL: "silent",
      SIGNIN_PROVIDERS: JSON.stringify([
        { id: "acme", name: PROVIDER, issuer: idpBase, clientId: client.id, clientSecret },
      ]),
    });
    await rp.app.listen({ port, host: "127.0.0.1" });
    browser = await launchChromium();
  });
  afterAll(async () => {
    for (const c of contexts) expect(c.problems).toEqual([]);
    await browser?.close();
    await rp?.close();
    await idp?.close();
  });

  const heading = (p: Page, name: string) => p.getByRole("heading", { level: 1, name });
  const fresh = async () => {
    const w = await watchedContext(browser, rpBase);
    contexts.push(w);
    return w.context.newPage();
  };
  /** From the relying party's sign-in page through the provider's sign-in and consent pages. */
  const throughProvider = async (p: Page, email: string) => {
    await p.goto(`${rpBase}/`);
    await p.getByRole("link", { name: `Continue with ${PROVIDER}` }).click();
    await heading(p, "Sign in").waitFor();
    expect(new URL(p.url()).origin).toBe(idpBase);
    await p.getByLabel("Email").fill(email);
    await p.getByLabel("Password").fill(PW);
    await p.getByRole("button", { name: "Sign in", exact: true }).click();
    await heading(p, `Sign in to ${APP}`).waitFor();
    await p.getByRole("button", { name: "Allow" }).click();
  };

  it("AUTH-11: a person signs in with the provider from the sign-in page; the account page lists it", async () => {
    const p = await fresh();
    await p.goto(`${rpBase}/`);
    await p.getByRole("link", { name: `Continue with ${PROVIDER}` }).waitFor();
    await checkPage(p, "sign-in-external");
    await throughProvider(p, "lee@idp.example");
    await heading(p, "Organisations").waitFor();
    expect(new URL(p.url()).origin).toBe(rpBase);
    await p.goto(`${rpBase}/app/account`);
    const linked = p.getByRole("list", { name: "Linked sign-ins" });
    await linked.getByText(PROVIDER, { exact: true }).waitFor();
    await linked.getByText(/lee@idp\.example/).waitFor();
    await checkPage(p, "account-sign-in-methods");
  });

  it("AUTH-11: a refusal comes back to the sign-in page in words; a crafted code shows no words of its own", async () => {
    const p = await fresh();
    await p.goto(`${rpBase}/?error=EXTERNAL_IDENTITY_TAKEN`);
    await p.getByRole("alert").getByText("That sign-in is already linked to another account.").waitFor();
    await checkPage(p, "sign-in-external-error");
    await p.goto(`${rpBase}/?error=${encodeURIComponent("<b>Call 555</b>")}`);
    await p
      .getByRole("alert")
      .getByText("The sign-in with that provider did not complete or expired.")
      .waitFor();
    expect(await p.getByText("Call 555").count()).toBe(0);
  });

  it("AUTH-11: an address that already has an account is linked after its owner signs in and confirms with the password", async () => {
    await createUser(rp, "kim@idp.example", PW);
    const p = await fresh();
    await throughProvider(p, "kim@idp.example");
    await heading(p, "Link your sign-in").waitFor();
    await checkPage(p, "link-account-signed-out");
    await p.getByRole("link", { name: "Sign in to link it" }).click();
    await heading(p, "Sign in").waitFor();
    await p.getByLabel("Email").fill("kim@idp.example");
    await p.getByLabel("Password").fill(PW);
    await p.getByRole("button", { name: "Sign in", exact: true }).click();
    const form = p.getByRole("form", { name: "Confirm your password" });
    await form.waitFor();
    await p.getByText(/as kim@idp\.example will open your account/).waitFor();
    await checkPage(p, "link-account");
    await form.getByLabel("Your password").fill(PW);
    await form.getByRole("button", { name: `Link ${PROVIDER}` }).click();
    await p.getByText(`Signing in with ${PROVIDER} now opens your account kim@idp.example.`).waitFor();
    const rows = await rp.db.global.selectFrom("external_identities").select("email").execute();
    expect(rows.map((r) => r.email)).toContain("kim@idp.example");
  });
});
