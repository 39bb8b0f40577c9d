import type { Browser, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser, type TestApp } from "../harness.js";
import { launchChromium, needs } from "../services.js";
import { servedApp } from "./console-kit.js";

/**
 * The API reference can be used: in /docs, "Try it out" signs in with the document's own example
 * body, the CSRF token from its answer goes into Authorize → csrfToken, and an authenticated write made
 * from the page then succeeds, all under the docs' CSP.
 */
describe.runIf(needs("chromium"))("/docs in a real browser", () => {
  let t: TestApp;
  let browser: Browser;
  let base = "";
  const violations: string[] = [];

  beforeAll(async () => {
    ({ t, base } = await servedApp());
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  /** The operation's block in Swagger UI, expanded, in "Try it out" mode. */
  async function tryOut(page: Page, method: string, path: string): Promise<Locator> {
    const block = page
      .locator(`.opblock-${method}`)
      .filter({ has: page.locator(`.opblock-summary-path[data-path="${path}"]`) });
    await block.locator(".opblock-summary").first().click();
    await block.locator("button.try-out__btn").click();
    return block;
  }
  /**
   * Clicks Execute and returns the answer, once the page shows it: the previous answer of the same
   * operation stays on screen until the new one arrives, so the status shown is awaited to be this one's.
   */
  async function execute(block: Locator): Promise<{ status: string; body: string }> {
    const answered = block
      .page()
      .waitForResponse((r) => r.url().includes("/v1/") && r.request().method() !== "OPTIONS");
    await block.locator("button.execute").click();
    const response = await answered;
    const status = String(response.status());
    const row = block.locator(".live-responses-table tbody tr.response").first();
    await expect
      .poll(async () => (await row.locator(".response-col_status").textContent())?.trim())
      .toBe(status);
    // The body shown is this answer's too (Swagger UI indents it).
    const body = await response.text();
    const shown = async () => {
      const text = (await row.locator(".response-col_description pre").first().textContent()) ?? "";
      try {
        return JSON.stringify(JSON.parse(text));
      } catch {
        return text;
      }
    };
    await expect.poll(shown).toBe(JSON.stringify(JSON.parse(body)));
    return { status, body };
  }

  it("sign in with the example body, authorize the CSRF token, and make an authenticated write", async () => {
    // The account the sign-in example names, with the example's password: the example works as is.
    await createUser(t, "ada@example.org", "violet-harbour-quarry-41");
    const page = await browser.newPage();
    page.on("console", (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
    });
    page.on("pageerror", (e) => violations.push(e.message));
    expect((await page.goto(`${base}/docs/`))?.status()).toBe(200);
    await page.locator(".opblock").first().waitFor();

    const login = await tryOut(page, "post", "/v1/auth/login");
    const signedIn = await execute(login);
    expect(signedIn.status, signedIn.body).toBe("200");
    const csrf = JSON.parse(signedIn.body).csrfToken as string;
    expect(csrf).toMatch(/^[A-Za-z0-9_-]{43}$/);

    // Without the token, a write is refused: the cookie alone is not enough.
    const create = await tryOut(page, "post", "/v1/orgs");
    const refused = await execute(create);
    expect(refused.status, refused.body).toBe("403");
    expect(refused.body).toContain("CSRF_FAILED");

    await page.locator("button.authorize").first().click();
    const scheme = page.locator(".auth-container").filter({ hasText: "csrfToken" });
    await scheme.locator("input").fill(csrf);
    await scheme.locator("button.authorize").click();
    await page.locator("button.btn-done, .close-modal").first().click();

    const created = await execute(create);
    expect(created.status, created.body).toBe("201");
    expect(JSON.parse(created.body).org.name).toBe("Northwind Traders");
    await page.close();
    expect(violations).toEqual([]);
  });
});
