import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog } from "../../examples/catalog/index.js";
import { ApiError } from "../../web/src/api.js";
import { describe as inWordsOf } from "../../web/src/messages.js";
import { createUser, type TestApp } from "../harness.js";
import { launchChromium, needs } from "../services.js";
import { checkPage, servedApp, type Watched, watchedContext } from "./console-kit.js";

const OWNER = "keys-owner@example.org";
const PW = "correct horse battery staple";
const NAME = "Billing sync";

/**
 * An organisation's API keys through the console, in Debian's Chromium: an owner creates a key with a
 * scope, takes it from the box that shows it once (Copy puts it on the clipboard), and a program (this
 * test's fetch) calls the API with it; the key is rotated with a grace period (both keys work), then the
 * new key is revoked after a confirm step (401 from the next request). Every state of the screen is
 * checked for CSP violations, console errors and serious axe findings, light and dark, desktop and phone.
 */
describe.runIf(needs("chromium"))("API keys in the console", { timeout: 180_000 }, () => {
  let t: TestApp;
  let browser: Browser;
  let base = "";
  let orgId = "";
  let page: Page;
  let first = "";
  let second = "";
  const contexts: Watched[] = [];

  beforeAll(async () => {
    ({ t, base } = await servedApp({}, { extensions: [catalog] }));
    browser = await launchChromium();
    await createUser(t, OWNER, PW);
  });
  afterAll(async () => {
    for (const c of contexts) expect(c.problems).toEqual([]);
    await browser?.close();
    await t?.close();
  });

  const heading = (name: string) => page.getByRole("heading", { level: 1, name });
  /** A program calling the API with a key, from outside any browser. */
  const call = (path: string, headers: Record<string, string>) =>
    fetch(`${base}${path}`, { headers: { accept: "application/json", ...headers } });
  const keys = () => page.getByRole("list", { name: "API keys" });
  /** A key's row, by the display prefix ("bwk_" and 8 characters) the list shows for it. */
  const row = (key: string) =>
    keys()
      .getByRole("listitem")
      .filter({ hasText: key.slice(0, 12) })
      .first();
  // Page-side checks are source text: this project's type-check has no DOM library (as in console-kit).
  const shownKey = async () => (await page.getByTestId("new-key").textContent())?.trim() ?? "";

  it("KEY-1, KEY-3: an owner opens API keys from the organisation's tabs; the form says what is wrong next to the field", async () => {
    const w = await watchedContext(browser, base);
    contexts.push(w);
    await w.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
    page = await w.context.newPage();
    await page.goto(`${base}/`);
    await page.getByLabel("Email").fill(OWNER);
    await page.getByLabel("Password").fill(PW);
    await page.getByRole("button", { name: "Sign in" }).click();
    await heading("Organisations").waitFor();
    await page.getByLabel("Name", { exact: true }).fill("Keyed Co");
    await page.getByRole("button", { name: "Create organisation" }).click();
    await heading("Keyed Co").waitFor();
    orgId = /\/app\/orgs\/(org_[0-9A-Z]{26})/.exec(page.url())![1]!;

    await page
      .getByRole("navigation", { name: "Keyed Co sections" })
      .getByRole("link", { name: "API keys" })
      .click();
    await heading("Keyed Co: API keys").waitFor();
    expect(new URL(page.url()).pathname).toBe(`/app/orgs/${orgId}/api-keys`);
    await page.getByText("No API keys yet.").waitFor();
    // The scopes offered are the ones this owner may grant, the catalog's included.
    await page.getByRole("checkbox", { name: "products:read" }).waitFor();
    await checkPage(page, "org-api-keys");

    // No scope, and an origin with a trailing slash: both named next to their fields, nothing sent.
    await page.getByLabel("Name", { exact: true }).fill(NAME);
    await page.getByLabel("Allowed origins (optional)").fill("https://app.example.org/");
    await page.getByRole("button", { name: "Create key" }).click();
    const scopes = page.getByRole("group", { name: "Scopes" });
    await scopes.getByText("Choose at least one scope.").waitFor();
    await page.getByText("“https://app.example.org/”").waitFor();
    expect(await page.getByLabel("Allowed origins (optional)").getAttribute("aria-invalid")).toBe("true");
    // The first field in error takes the focus: the group's first checkbox.
    expect(await page.evaluate("document.activeElement?.name")).toBe("scopes");
    await checkPage(page, "org-api-keys-errors");

    // The server's own field errors land next to their field too: an address that is not one.
    await page.getByLabel("Allowed origins (optional)").fill("https://app.example.org");
    await page.getByLabel("Allowed IP addresses (optional)").fill("127.0.0.1\nnot-an-ip");
    await page.getByRole("checkbox", { name: "org:read" }).check();
    await page.getByRole("button", { name: "Create key" }).click();
    await page.getByText("“not-an-ip” is not an IPv4 or IPv6 address or CIDR.").waitFor();
    expect(await page.getByLabel("Allowed IP addresses (optional)").getAttribute("aria-invalid")).toBe(
      "true",
    );
  });

  it("RATE-4: a refusal for too many requests says when to try again, from Retry-After; a spent quota says so", async () => {
    const answer = (code: string, retryAfter: string) => ({
      status: 429,
      headers: { "content-type": "application/json", "retry-after": retryAfter },
      body: JSON.stringify({ error: { code, message: "Too many requests; retry later.", requestId: "r" } }),
    });
    const create = `${base}/v1/orgs/${orgId}/api-keys`;
    await page.route(create, (route) => route.fulfill(answer("RATE_LIMITED", "42")), { times: 1 });
    await page.getByRole("button", { name: "Create key" }).click();
    await page.getByText("Too many attempts. Try again in 42 seconds.").waitFor();
    await page.route(create, (route) => route.fulfill(answer("QUOTA_EXCEEDED", String(12 * 86_400))), {
      times: 1,
    });
    await page.getByRole("button", { name: "Create key" }).click();
    await page.getByText("The organisation's monthly quota is used up. Try again in 12 days.").waitFor();
  });

  it("KEY-3: a key with one scope is shown once, copied, and calls the API; it reaches only what its scope allows", async () => {
    await page.getByLabel("Allowed IP addresses (optional)").fill("127.0.0.1\n::1");
    await page.getByRole("checkbox", { name: "products:read" }).check();
    const nextYear = `${new Date().getFullYear() + 1}-06-30`;
    await page.getByLabel("Valid until (optional)").fill(nextYear);
    await page.getByRole("button", { name: "Create key" }).click();
    await page.getByRole("heading", { name: `Your new key: ${NAME}` }).waitFor();
    first = await shownKey();
    expect(first).toMatch(/^bwk_[0-9A-Za-z]{36}$/);
    expect(await page.evaluate("document.activeElement?.id")).toBe("new-key-title");
    await page.getByText("it will not be shown again").waitFor();

    await page.getByRole("button", { name: "Copy key" }).click();
    await page.getByRole("button", { name: "Copied" }).waitFor();
    await page.getByText("The key is on your clipboard.").waitFor();
    expect(await page.evaluate("navigator.clipboard.readText()")).toBe(first);
    await row(first).getByText("Active", { exact: true }).waitFor();
    await checkPage(page, "org-api-keys-new");

    const org = await call(`/v1/orgs/${orgId}`, { "x-api-key": first });
    expect(org.status).toBe(200);
    expect(((await org.json()) as { org: { id: string } }).org.id).toBe(orgId);
    expect((await call(`/v1/orgs/${orgId}/products`, { authorization: `Bearer ${first}` })).status).toBe(200);
    expect((await call(`/v1/orgs/${orgId}/members`, { "x-api-key": first })).status).toBe(403);
    // Pinned to origins: a browser page elsewhere is refused.
    const elsewhere = await call(`/v1/orgs/${orgId}`, { "x-api-key": first, origin: "https://evil.example" });
    expect(elsewhere.status).toBe(403);
    expect(((await elsewhere.json()) as { error: { code: string } }).error.code).toBe(
      "API_KEY_ORIGIN_DENIED",
    );

    // Once dismissed, the key is gone from the page for good: a reload shows its prefix only.
    await page.getByRole("button", { name: "I have stored it" }).click();
    await page.getByTestId("new-key").waitFor({ state: "detached" });
    await page.reload();
    await heading("Keyed Co: API keys").waitFor();
    await row(first).waitFor();
    expect(await page.content()).not.toContain(first);
    const text = (await row(first).textContent()) ?? "";
    expect(text).toContain("org:read");
    expect(text).toContain("products:read");
    expect(text).toContain("https://app.example.org");
  });

  it("KEY-5: rotating with a one-hour grace shows the new key once; the new and the old key both work", async () => {
    await row(first).getByRole("button", { name: "Rotate" }).click();
    const dialog = page.getByRole("dialog", { name: `Rotate ${NAME}?` });
    await dialog.getByLabel("The old key keeps working for").selectOption({ label: "1 hour" });
    await checkPage(page, "org-api-keys-rotate");
    await dialog.getByRole("button", { name: "Rotate key" }).click();
    await page.getByRole("heading", { name: `The new key for ${NAME}` }).waitFor();
    second = await shownKey();
    expect(second).toMatch(/^bwk_/);
    expect(second).not.toBe(first);
    await page.getByText(/keeps working until/).waitFor();

    expect((await call(`/v1/orgs/${orgId}`, { "x-api-key": second })).status).toBe(200);
    expect((await call(`/v1/orgs/${orgId}`, { "x-api-key": first })).status).toBe(200);
    await row(first).getByText("Grace period", { exact: true }).waitFor();
    await row(first).getByText(second.slice(0, 12)).waitFor();
    await row(second).getByText("Active", { exact: true }).waitFor();
    // A key is rotated once: the old one offers no second rotation.
    expect(await row(first).getByRole("button", { name: "Rotate" }).count()).toBe(0);
    await checkPage(page, "org-api-keys-rotated");
  });

  it("KEY-4: revoking the new key asks first; from the next request it gets 401, the old one still works in its grace", async () => {
    await page.getByRole("button", { name: "I have stored it" }).click();
    await row(second).getByRole("button", { name: "Revoke" }).click();
    const dialog = page.getByRole("dialog", { name: `Revoke ${NAME}?` });
    await dialog.getByText("This cannot be undone.").waitFor();
    await checkPage(page, "org-api-keys-revoke");
    // Cancel first: nothing happens.
    await dialog.getByRole("button", { name: "Cancel" }).click();
    expect((await call(`/v1/orgs/${orgId}`, { "x-api-key": second })).status).toBe(200);
    await row(second).getByRole("button", { name: "Revoke" }).click();
    await dialog.getByRole("button", { name: "Revoke key" }).click();
    await page.getByText(`${NAME} (${second.slice(0, 12)}…) was revoked.`).waitFor();

    expect((await call(`/v1/orgs/${orgId}`, { "x-api-key": second })).status).toBe(401);
    expect((await call(`/v1/orgs/${orgId}`, { authorization: `Bearer ${second}` })).status).toBe(401);
    expect((await call(`/v1/orgs/${orgId}`, { "x-api-key": first })).status).toBe(200);
    await row(second).getByText("Revoked", { exact: true }).waitFor();
    expect(await row(second).getByRole("button").count()).toBe(0);
    await checkPage(page, "org-api-keys-revoked");
  });
});

describe("the console's words for key and quota refusals", () => {
  it("KEY-6, RATE-4: pinned-key refusals, a spent quota and an unavailable service read as sentences", () => {
    expect(inWordsOf(new ApiError(403, "API_KEY_ORIGIN_DENIED", "x"))).toMatch(
      /not be used from this website/,
    );
    expect(inWordsOf(new ApiError(403, "API_KEY_IP_DENIED", "x"))).toMatch(/not be used from this network/);
    expect(inWordsOf(new ApiError(429, "QUOTA_EXCEEDED", "x", [], 3 * 86_400))).toBe(
      "The organisation's monthly quota is used up. Try again in 3 days.",
    );
    expect(inWordsOf(new ApiError(503, "SERVICE_UNAVAILABLE", "x"))).toMatch(/briefly unavailable/);
    expect(inWordsOf(new ApiError(503, "SERVICE_UNAVAILABLE", "x", [], 30))).toBe(
      "The service is briefly unavailable. Try again in 30 seconds.",
    );
    // A 429 with a code the console does not know still says when to retry.
    expect(inWordsOf(new ApiError(429, "SOMETHING_NEW", "x", [], 42))).toBe(
      "Too many attempts. Try again in 42 seconds.",
    );
  });
});
