import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrgStore } from "../../src/orgs/store.js";
import { createUser, type TestApp } from "../harness.js";
import { launchChromium, needs } from "../services.js";
import { checkPage, servedApp, type Watched, watchedContext } from "./console-kit.js";

const OWNER = "usage-owner@example.org";
const VIEWER = "usage-viewer@example.org";
const PW = "correct horse battery staple";
const ORG = "Metered Co";

/**
 * An organisation's monthly usage through the console, in Debian's Chromium, on a server with two quotas
 * (a million API requests, ten tokens, both refused past the allowance): a program records tokens with an
 * API key holding `usage:record`, and the Usage tab shows each unit's meter with its numbers in words,
 * "nearly used up" from 80 %, and "used up", refused until the reset date, at 100 %. A viewer sees the same.
 * The no-quota and warning-only states are checked on answers put in the page's way. Every state is checked
 * for CSP violations, console errors and serious axe findings, light and dark, desktop and phone.
 */
describe.runIf(needs("chromium"))("an organisation's usage in the console", { timeout: 180_000 }, () => {
  let t: TestApp;
  let browser: Browser;
  let base = "";
  let orgId = "";
  let viewerId = "";
  let key = "";
  let page: Page;
  const contexts: Watched[] = [];

  beforeAll(async () => {
    ({ t, base } = await servedApp({ QUOTAS: "api_requests=1000000,tokens=10" }));
    browser = await launchChromium();
    await createUser(t, OWNER, PW);
    viewerId = await createUser(t, VIEWER, PW);
  });
  afterAll(async () => {
    for (const c of contexts) expect(c.problems).toEqual([]);
    await browser?.close();
    await t?.close();
  });

  async function signIn(email: string): Promise<Page> {
    const w = await watchedContext(browser, base);
    contexts.push(w);
    const p = await w.context.newPage();
    await p.goto(`${base}/`);
    await p.getByLabel("Email").fill(email);
    await p.getByLabel("Password").fill(PW);
    await p.getByRole("button", { name: "Sign in" }).click();
    await heading(p, "Organisations").waitFor();
    return p;
  }
  const heading = (p: Page, name: string) => p.getByRole("heading", { level: 1, name });
  /** A program metering its own unit with the API key, from outside any browser. */
  const record = (quantity: number) =>
    fetch(`${base}/v1/orgs/${orgId}/usage`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", "x-api-key": key },
      body: JSON.stringify({ unit: "tokens", quantity }),
    });
  /** One unit's entry on the Usage screen, by the heading that names it. */
  const unit = (p: Page, name: string) =>
    p
      .getByRole("list", { name: "Monthly allowances" })
      .getByRole("listitem")
      .filter({ has: p.getByRole("heading", { name, exact: true }) });
  // Page-side values are source text: this project's type-check has no DOM library (as in console-kit).
  const inPage = <T>(p: Page, source: string) => p.evaluate(source) as Promise<T>;
  /** The reset moment as the server states it, and as the screen must show it: the person's own date. */
  async function resetDay(p: Page): Promise<string> {
    const usage = (await (await p.request.get(`${base}/v1/orgs/${orgId}/usage`)).json()) as {
      resetsAt: string;
    };
    return inPage<string>(
      p,
      `new Date(${JSON.stringify(usage.resetsAt)}).toLocaleDateString(undefined, { dateStyle: "medium" })`,
    );
  }

  it("RATE-6: the console shows the organisation's usage: a labelled meter per unit with the numbers in words, and 'nearly used up' from 80 %", async () => {
    page = await signIn(OWNER);
    await page.getByLabel("Name", { exact: true }).fill(ORG);
    await page.getByRole("button", { name: "Create organisation" }).click();
    await heading(page, ORG).waitFor();
    orgId = /\/app\/orgs\/(org_[0-9A-Z]{26})/.exec(page.url())![1]!;

    // The key, made with the owner's own session: its cookie (the context's) and its CSRF token.
    const session = (await (await page.request.get(`${base}/v1/auth/session`)).json()) as {
      csrfToken: string;
    };
    const created = await page.request.post(`${base}/v1/orgs/${orgId}/api-keys`, {
      headers: { "x-csrf-token": session.csrfToken },
      data: { name: "Token meter", scopes: ["usage:record"] },
    });
    expect(created.status()).toBe(201);
    key = ((await created.json()) as { key: string }).key;
    const first = await record(8);
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ unit: "tokens", used: 8, allowance: 10, mode: "refuse" });

    await page
      .getByRole("navigation", { name: `${ORG} sections` })
      .getByRole("link", { name: "Usage" })
      .click();
    await heading(page, `${ORG}: usage`).waitFor();
    expect(new URL(page.url()).pathname).toBe(`/app/orgs/${orgId}/usage`);

    const tokens = unit(page, "tokens");
    await tokens.getByText("8 of 10 tokens (80 %)").waitFor();
    const meter = page.getByRole("meter", { name: "tokens" });
    expect(await meter.getAttribute("value")).toBe("8");
    expect(await meter.getAttribute("max")).toBe("10");
    // The meter's description is the numbers and the state, in words.
    const described = (await meter.getAttribute("aria-describedby"))?.split(" ") ?? [];
    expect(described).toHaveLength(2);
    await tokens.getByText("Nearly used up:").waitFor();
    expect(await tokens.textContent()).toContain("2 left.");

    // API requests are counted too (this screen's own among them): far from their allowance, no warning.
    const million = await inPage<string>(page, "(1000000).toLocaleString()");
    const requests = unit(page, "api_requests");
    await requests.getByText(`of ${million} api_requests`).waitFor();
    expect(await requests.getByText("Nearly used up").count()).toBe(0);
    await page.getByText(`The counts start again from zero on ${await resetDay(page)}.`).waitFor();
    await checkPage(page, "org-usage-nearly");
  });

  it("RATE-6: at 100 % a refusing quota reads as used up, refused until the reset date; the next record gets 429", async () => {
    expect(((await (await record(2)).json()) as { used: number }).used).toBe(10);
    const refused = await record(1);
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("QUOTA_EXCEEDED");

    // On a phone: the tabs scroll sideways, and the current one is scrolled into view.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.reload();
    await heading(page, `${ORG}: usage`).waitFor();
    const tabs = page.getByRole("navigation", { name: `${ORG} sections` });
    const [bar, tab] = [
      await tabs.boundingBox(),
      await tabs.getByRole("link", { name: "Usage" }).boundingBox(),
    ];
    // (Within a pixel: scroll positions are whole pixels, boxes are not.)
    expect(tab!.x).toBeGreaterThanOrEqual(bar!.x - 1);
    expect(tab!.x + tab!.width).toBeLessThanOrEqual(bar!.x + bar!.width + 1);
    const tokens = unit(page, "tokens");
    await tokens.getByText("10 of 10 tokens (100 %)").waitFor();
    expect(await page.getByRole("meter", { name: "tokens" }).getAttribute("value")).toBe("10");
    await tokens.getByText(`Used up — requests are refused until ${await resetDay(page)}.`).waitFor();
    expect(await tokens.getByText("Nearly used up").count()).toBe(0);
    await checkPage(page, "org-usage-used-up");
  });

  it("RATE-6: every member has the Usage tab: a viewer, who has no API keys tab, reads the same numbers", async () => {
    await new OrgStore(t.db.global, t.db.engine).addMember(orgId, viewerId, "VIEWER", Date.now());
    const viewer = await signIn(VIEWER);
    await viewer.goto(`${base}/app/orgs/${orgId}`);
    await heading(viewer, ORG).waitFor();
    const tabs = viewer.getByRole("navigation", { name: `${ORG} sections` });
    await tabs.getByRole("link", { name: "Usage" }).click();
    await heading(viewer, `${ORG}: usage`).waitFor();
    expect(await tabs.getByRole("link", { name: "API keys" }).count()).toBe(0);
    await unit(viewer, "tokens").getByText("10 of 10 tokens (100 %)").waitFor();
    await unit(viewer, "tokens")
      .getByText(/^Used up — requests are refused until /)
      .waitFor();
  });

  it("RATE-6: with no quota the screen says none applies; a warning-only quota past its allowance is never called refused", async () => {
    const usageUrl = `${base}/v1/orgs/${orgId}/usage`;
    const answer = (units: unknown[]) => ({
      status: 200,
      contentType: "application/json",
      body: JSON.stringify({ month: "2026-05", resetsAt: "2026-06-01T00:00:00.000Z", units }),
    });
    await page.route(usageUrl, (route) => route.fulfill(answer([])), { times: 1 });
    await page.reload();
    await page.getByText("No usage quotas apply to this organisation.").waitFor();
    expect(await page.getByRole("meter").count()).toBe(0);
    await checkPage(page, "org-usage-none");

    await page.route(
      usageUrl,
      (route) =>
        route.fulfill(
          answer([
            { unit: "ai_tokens", used: 2_600_000, allowance: 2_000_000, mode: "warn" },
            { unit: "exports", used: 45, allowance: 50, mode: "warn" },
            { unit: "api_requests", used: 3, allowance: 100_000, mode: "refuse" },
          ]),
        ),
      { times: 1 },
    );
    await page.reload();
    const over = unit(page, "ai_tokens");
    const [used, allowance] = await inPage<[string, string]>(
      page,
      "[(2600000).toLocaleString(), (2000000).toLocaleString()]",
    );
    await over.getByText(`${used} of ${allowance} ai_tokens (130 %)`).waitFor();
    await over.getByText("Over the allowance (warning only): nothing is refused.").waitFor();
    expect(await over.textContent()).not.toContain("refused until");
    await unit(page, "exports").getByText("Past the allowance, use continues (warning only).").waitFor();
    // A sliver of the allowance is not "0 %".
    await unit(page, "api_requests").getByText("(less than 1 %)").waitFor();
    await checkPage(page, "org-usage-warn");
  });
});
