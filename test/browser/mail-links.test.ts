import { createServer } from "node:net";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser, login, type TestApp, testApp } from "../harness.js";
import { launchChromium, needs } from "../services.js";
import { startSmtpReceiver } from "../smtp.js";

/** Debian's Chromium (installed by .ci/run); the test is skipped where it is absent. */
const PW = "mail link passphrase";

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/**
 * Each link Bulwark mails, opened in a real browser: the page loads under its strict CSP (no violation),
 * completes the action through the public API, and the account shows it.
 */
describe.runIf(needs("chromium"))("mail links in a real browser", () => {
  let t: TestApp;
  let smtp: Awaited<ReturnType<typeof startSmtpReceiver>>;
  let browser: Browser;
  let base = "";
  const violations: string[] = [];

  beforeAll(async () => {
    smtp = await startSmtpReceiver();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    t = await testApp({ SMTP_URL: smtp.url, PORT: String(port), PUBLIC_URL: base, LOG_LEVEL: "silent" });
    await t.app.listen({ port, host: "127.0.0.1" });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await smtp?.close();
  });

  async function open(url: string): Promise<Page> {
    const page = await browser.newPage();
    page.on("console", (m) => {
      if (/Content Security Policy|Refused to|error/i.test(m.text())) violations.push(m.text());
    });
    page.on("pageerror", (e) => violations.push(e.message));
    const res = await page.goto(url);
    expect(res?.status()).toBe(200);
    expect(res?.headers()["content-security-policy"]).toContain("script-src 'self'");
    return page;
  }
  const link = (text: string, path: string) => {
    const m = new RegExp(`${base.replaceAll(".", "\\.")}${path}\\?[^\\s]+`).exec(text);
    if (!m) throw new Error(`no ${path} link in: ${text}`);
    return m[0];
  };

  it("AUTH-3: the verification link confirms the address in the browser", async () => {
    await t.app.inject({
      method: "POST",
      url: "/v1/auth/signup",
      payload: { email: "new@example.org", password: PW },
    });
    const mail = await smtp.waitFor("new@example.org", /Confirm your email/);
    const page = await open(link(mail.text, "/verify-email"));
    await page.getByRole("button", { name: "Confirm my address" }).click();
    await expect.poll(() => page.locator("#result").textContent()).toContain("is confirmed");
    await login(t, "new@example.org", PW);
    await page.close();
  });

  it("AUTH-4: the reset link sets a new password in the browser", async () => {
    await createUser(t, "reset@example.org", PW);
    await t.app.inject({
      method: "POST",
      url: "/v1/auth/password/forgot",
      payload: { email: "reset@example.org" },
    });
    const mail = await smtp.waitFor("reset@example.org", /Reset your password/);
    const page = await open(link(mail.text, "/reset-password"));
    await page.getByLabel("New password").fill("a brand new passphrase");
    await page.getByLabel("Repeat it").fill("a brand new passphrase");
    await page.getByRole("button", { name: "Set the new password" }).click();
    await expect.poll(() => page.locator("#result").textContent()).toContain("password is changed");
    await login(t, "reset@example.org", "a brand new passphrase");
    await page.close();
  });

  it("AUTHZ-5: the invitation link lets a newcomer choose a password and join", async () => {
    await createUser(t, "owner@example.org", PW);
    const s = await login(t, "owner@example.org", PW);
    const headers = { cookie: s.cookie, "x-csrf-token": s.csrf };
    const org = (
      await t.app.inject({ method: "POST", url: "/v1/orgs", headers, payload: { name: "Link Org" } })
    ).json().org;
    await t.app.inject({
      method: "POST",
      url: `/v1/orgs/${org.id}/invitations`,
      headers,
      payload: { email: "joiner@example.org", role: "MEMBER" },
    });
    const mail = await smtp.waitFor("joiner@example.org", /invited/);
    const url = link(mail.text, "/accept-invitation");
    expect(url).toContain(`orgId=${org.id}`);
    const page = await open(url);
    await page.getByLabel("Choose a password").fill("a newcomer's passphrase");
    await page.getByRole("button", { name: "Create my account and join" }).click();
    await expect
      .poll(() => page.locator("#result").textContent())
      .toContain("joined the organisation as MEMBER");
    const j = await login(t, "joiner@example.org", "a newcomer's passphrase");
    const orgs = await t.app.inject({ url: "/v1/orgs", headers: { cookie: j.cookie } });
    expect(orgs.json().orgs.map((o: { id: string }) => o.id)).toContain(org.id);
    await page.close();
  });

  it("HDR-3: an incomplete link says so, and no page broke its CSP", async () => {
    const page = await open(`${base}/verify-email`);
    await expect.poll(() => page.locator("#result").textContent()).toContain("incomplete");
    await page.close();
    expect(violations).toEqual([]);
  });
});
