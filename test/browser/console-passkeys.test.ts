import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser, type TestApp } from "../harness.js";
import { launchChromium, needs } from "../services.js";
import { checkPage, servedApp, type Watched, watchedContext } from "./console-kit.js";

const EMAIL = "passkey-person@example.org";
const PW = "correct horse battery staple";

/**
 * Passkeys (AUTH-13) through the console, in Debian's Chromium with its virtual platform authenticator
 * (user verification on): add one on the account page, sign out, sign in with it alone, remove it. The
 * app is served as http://localhost (an RP ID is a domain, never an IP address). Every state is checked
 * for CSP violations, console errors and serious axe findings, light and dark, desktop and phone.
 */
describe.runIf(needs("chromium"))("passkeys in the console", { timeout: 120_000 }, () => {
  let t: TestApp;
  let base = "";
  let browser: Browser;
  let page: Page;
  const contexts: Watched[] = [];

  beforeAll(async () => {
    ({ t, base } = await servedApp({}, {}, "localhost"));
    browser = await launchChromium();
    await createUser(t, EMAIL, PW);
  });
  afterAll(async () => {
    for (const c of contexts) expect(c.problems).toEqual([]);
    await browser?.close();
    await t?.close();
  });

  const heading = (name: string) => page.getByRole("heading", { level: 1, name });

  it("AUTH-13: a person adds a passkey on their account page, then signs in with it alone", async () => {
    const w = await watchedContext(browser, base);
    contexts.push(w);
    page = await w.context.newPage();
    const cdp = await w.context.newCDPSession(page);
    await cdp.send("WebAuthn.enable", { enableUI: false });
    const { authenticatorId } = (await cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: {
        protocol: "ctap2",
        ctap2Version: "ctap2_1",
        transport: "internal",
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    })) as { authenticatorId: string };

    await page.goto(`${base}/`);
    await page.getByRole("button", { name: "Use a passkey" }).waitFor();
    await page.getByLabel("Email").fill(EMAIL);
    await page.getByLabel("Password").fill(PW);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await heading("Organisations").waitFor();
    await page.goto(`${base}/app/account`);
    await heading("Account").waitFor();
    await page.getByText("No passkeys yet").waitFor();
    const add = page.getByRole("form", { name: "Add a passkey" });
    await add.getByLabel("Passkey name").fill("This laptop");
    await add.getByLabel("Your password").fill(PW);
    await add.getByRole("button", { name: "Add a passkey" }).click();
    // The account's first second factor: its backup codes, shown once.
    const codes = page.getByRole("list", { name: "Backup codes" }).locator("code");
    await codes.first().waitFor();
    expect(await codes.count()).toBe(10);
    await checkPage(page, "account-passkey-backup-codes");
    await page.getByRole("button", { name: "I have saved them" }).click();
    await page.getByText("This laptop was added").waitFor();
    const list = page.getByRole("list", { name: "Your passkeys" });
    await list.getByText("This laptop", { exact: true }).waitFor();
    const held = (await cdp.send("WebAuthn.getCredentials", { authenticatorId })) as {
      credentials: { isResidentCredential: boolean }[];
    };
    expect(held.credentials).toHaveLength(1);
    expect(held.credentials[0]!.isResidentCredential).toBe(true);
    await checkPage(page, "account-passkeys");

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("button", { name: "Use a passkey" }).waitFor();
    await checkPage(page, "sign-in-passkey");
    await page.getByRole("button", { name: "Use a passkey" }).click();
    await heading("Organisations").waitFor();
    await page.goto(`${base}/app/account`);
    await page.getByRole("list", { name: "Your passkeys" }).getByText("last used").waitFor();
  });

  it("AUTH-8, AUTH-13: with a passkey on the account, the password asks for it as the second factor", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Email").fill(EMAIL);
    await page.getByLabel("Password").fill(PW);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await heading("Two-factor authentication").waitFor();
    await page.getByText("Confirm it is you with your passkey, or enter one of your backup codes.").waitFor();
    await checkPage(page, "sign-in-second-factor-passkey");
    await page.getByRole("button", { name: "Use a passkey" }).click();
    await heading("Organisations").waitFor();
    // Back to a session from the passkey alone, which proved no password (the next step needs one).
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("button", { name: "Use a passkey" }).click();
    await heading("Organisations").waitFor();
    await page.goto(`${base}/app/account`);
    await page.getByRole("list", { name: "Your passkeys" }).getByText("last used").waitFor();
  });

  it("AUTH-13: the passkey is removed, and no longer signs in", async () => {
    const row = page.getByRole("list", { name: "Your passkeys" }).locator(":scope > li").first();
    // Signed in with the passkey, no password was proved: removing one asks for it first.
    await row.getByRole("button", { name: "Remove" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("button", { name: "Remove passkey" }).click();
    await dialog.getByRole("alert").waitFor();
    await dialog.getByRole("button", { name: "Cancel" }).click();
    const confirm = page.getByRole("form", { name: "Confirm your password" });
    await confirm.getByLabel("Your password").fill(PW);
    await confirm.getByRole("button", { name: "Confirm", exact: true }).click();
    await page.getByRole("button", { name: "Add a passkey" }).waitFor();
    await checkPage(page, "account-passkeys-confirmed");
    await row.getByRole("button", { name: "Remove" }).click();
    await dialog.getByRole("button", { name: "Remove passkey" }).click();
    await page.getByText("This laptop was removed.").waitFor();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("button", { name: "Use a passkey" }).click();
    await page.getByText("The passkey could not be verified").waitFor();
    expect(new URL(page.url()).pathname).toBe("/");
  });
});
