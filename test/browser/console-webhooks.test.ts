import type { Browser, Locator, Page } from "playwright-core";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser, type TestApp } from "../harness.js";
import { launchChromium, needs } from "../services.js";
import { Receiver } from "../webhook-receiver.js";
import { checkPage, servedApp, type Watched, watchedContext } from "./console-kit.js";

const OWNER = "hooks-owner@example.org";
const PW = "correct horse battery staple";
const ORG = "Hooked Co";
const NAME = "Billing service";

/**
 * An organisation's webhooks through the console, in Debian's Chromium, delivered for real by the
 * dispatcher running in the served app to a receiver on 127.0.0.1 (opened by BULWARK_WEBHOOK_ALLOWLIST;
 * one retry after 1 s, so a failing delivery is dead-lettered within seconds). An owner adds an endpoint
 * and takes its secret from the box that shows it once; a test event arrives signed with it (checked with
 * the standardwebhooks library) and shows as delivered with its attempt; after a rotation a delivery the
 * receiver refuses with 500 shows its failed attempts and the receiver's answer as text, and a replay,
 * once the receiver is back, is delivered with the same webhook-id. Every state is checked for CSP
 * violations, console errors and serious axe findings, light and dark, desktop and phone.
 */
describe.runIf(needs("chromium"))("webhooks in the console", { timeout: 180_000 }, () => {
  let t: TestApp;
  let rx: Receiver;
  let browser: Browser;
  let base = "";
  let page: Page;
  let first = "";
  let second = "";
  const contexts: Watched[] = [];

  beforeAll(async () => {
    rx = await new Receiver().start();
    ({ t, base } = await servedApp({
      BULWARK_WEBHOOK_ALLOWLIST: "127.0.0.1",
      WEBHOOK_WORKER: "on",
      WEBHOOK_RETRY_SCHEDULE: "1s",
      WEBHOOK_TIMEOUT_SECONDS: "5",
    }));
    browser = await launchChromium();
    await createUser(t, OWNER, PW);
  });
  afterAll(async () => {
    for (const c of contexts) expect(c.problems).toEqual([]);
    await browser?.close();
    await t?.close();
    await rx?.close();
  });

  const heading = (name: string) => page.getByRole("heading", { level: 1, name });
  const endpointRow = () =>
    page.getByRole("list", { name: "Webhook endpoints" }).locator(":scope > li").first();
  /** The deliveries, newest first. */
  const deliveries = () => page.getByRole("list", { name: "Webhook deliveries" }).locator(":scope > li");
  const badge = (row: Locator, words: string) => row.locator(".badge", { hasText: new RegExp(`^${words}$`) });
  const shownSecret = async () => (await page.getByTestId("new-secret").textContent())?.trim() ?? "";
  /** What the receiver got so far, once it has got `n` requests (bounded: the dispatcher polls every 0.5 s). */
  const received = async (n: number) => {
    await expect.poll(() => rx.got.length, { timeout: 20_000 }).toBeGreaterThanOrEqual(n);
    return rx.got[n - 1]!;
  };

  it("HOOK-7: an owner opens Webhooks from the organisation's tabs; a bad event type and an internal address are refused next to their fields", async () => {
    const w = await watchedContext(browser, base);
    contexts.push(w);
    await w.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
    page = await w.context.newPage();
    await page.goto(`${base}/`);
    await page.getByLabel("Email").fill(OWNER);
    await page.getByLabel("Password").fill(PW);
    await page.getByRole("button", { name: "Sign in" }).click();
    await heading("Organisations").waitFor();
    await page.getByLabel("Name", { exact: true }).fill(ORG);
    await page.getByRole("button", { name: "Create organisation" }).click();
    await heading(ORG).waitFor();
    const orgId = /\/app\/orgs\/(org_[0-9A-Z]{26})/.exec(page.url())![1]!;

    await page
      .getByRole("navigation", { name: `${ORG} sections` })
      .getByRole("link", { name: "Webhooks" })
      .click();
    await heading(`${ORG}: webhooks`).waitFor();
    expect(new URL(page.url()).pathname).toBe(`/app/orgs/${orgId}/webhooks`);
    await page.getByText("No endpoints yet").waitFor();
    await page.getByText("No deliveries yet").waitFor();
    await checkPage(page, "org-webhooks-empty");

    // A malformed event type is named by the console; nothing is sent.
    await page.getByLabel("URL").fill("http://10.0.0.7/hook");
    await page.getByLabel("Event types (optional)").fill("member.role_changed\nMember Removed");
    await page.getByRole("button", { name: "Add endpoint" }).click();
    await page.getByText("Not an event type: “Member”, “Removed”.", { exact: false }).waitFor();
    // The server's refusal of a private address (HOOK-7) lands next to the URL field.
    await page.getByLabel("Event types (optional)").fill("member.role_changed");
    await page.getByRole("button", { name: "Add endpoint" }).click();
    await page.getByText("10.0.0.7 resolves to a private address").waitFor();
    expect(await page.getByLabel("URL").getAttribute("aria-invalid")).toBe("true");
    expect(await page.evaluate("document.activeElement?.name")).toBe("url");
  });

  it("HOOK-1: a new endpoint's secret is shown once and copied; a test event arrives signed with it and shows as delivered", async () => {
    await page.getByLabel("URL").fill(`${rx.url}/hook`);
    await page.getByLabel("Description (optional)").fill(NAME);
    await page.getByRole("button", { name: "Add endpoint" }).click();
    await page.getByRole("heading", { name: `Signing secret of ${NAME}` }).waitFor();
    first = await shownSecret();
    expect(first).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(await page.evaluate("document.activeElement?.id")).toBe("new-secret-title");
    await checkPage(page, "org-webhooks-secret");
    await page.getByRole("button", { name: "Copy secret" }).click();
    await page.getByText("The secret is on your clipboard.").waitFor();
    expect(await page.evaluate("navigator.clipboard.readText()")).toBe(first);
    await page.getByRole("button", { name: "I have stored it" }).click();
    await page.getByTestId("new-secret").waitFor({ state: "detached" });
    expect(await page.content()).not.toContain(first);
    await badge(endpointRow(), "On").waitFor();
    await endpointRow().getByText("member.role_changed").waitFor();

    // A test event goes to this endpoint whatever its filter, signed with the secret just shown.
    await endpointRow().getByRole("button", { name: "Send test event" }).click();
    await page.getByText(`A test event is on its way to ${NAME}`).waitFor();
    const got = await received(1);
    const body = new Webhook(first).verify(got.body, Receiver.headers(got)) as { type: string };
    expect(body.type).toBe("webhook.test");
    expect(got.path).toBe("/hook");

    // The list asks again on its own until the delivery has arrived.
    const row = deliveries().first();
    await badge(row, "Delivered").waitFor();
    await row.getByText(`to ${NAME}`).waitFor();
    await page.getByText("1 delivery shown, newest first.").waitFor();
    await checkPage(page, "org-webhooks-list");
    await row.getByRole("button", { name: "Attempts", exact: true }).click();
    const detail = row.getByRole("region", { name: /^Delivery whd_/ });
    await detail.getByText(String(got.headers["webhook-id"])).waitFor();
    await badge(detail, "HTTP 204").waitFor();
    await detail.getByText(/· \d+ ms$/).waitFor();
    await checkPage(page, "org-webhooks-delivery");
  });

  it("HOOK-2: rotating shows the new secret once; the previous one keeps signing beside it", async () => {
    await endpointRow().getByRole("button", { name: "Rotate secret" }).click();
    const dialog = page.getByRole("dialog", { name: `Rotate the secret of ${NAME}?` });
    await dialog.getByText("keeps signing beside it for the grace period").waitFor();
    await dialog.getByRole("button", { name: "Rotate secret" }).click();
    await page.getByRole("heading", { name: `The new signing secret of ${NAME}` }).waitFor();
    second = await shownSecret();
    expect(second).toMatch(/^whsec_/);
    expect(second).not.toBe(first);
    await page.getByText(/The previous secret keeps signing beside the new one until/).waitFor();
    await page.getByRole("button", { name: "I have stored it" }).click();
    await endpointRow()
      .getByText(/previous secret signs until/)
      .waitFor();
  });

  it("HOOK-3: a delivery the receiver refuses shows each failed attempt and the answer as text; replayed once it is back, it is delivered", async () => {
    rx.answer = () => ({
      status: 500,
      body: "<b>down</b> for maintenance",
      headers: { "content-type": "text/html" },
    });
    const before = rx.got.length;
    await endpointRow().getByRole("button", { name: "Send test event" }).click();
    const got = await received(before + 1);
    // Both secrets sign during the grace period: a receiver on either one accepts it.
    for (const secret of [second, first]) new Webhook(secret).verify(got.body, Receiver.headers(got));
    const id = String(got.headers["webhook-id"]);

    // One retry after 1 s, then no retries left.
    const row = deliveries().first();
    await badge(row, "Failed").waitFor({ timeout: 20_000 });
    await row.getByText("last answer HTTP 500").waitFor();
    await row.getByRole("button", { name: "Attempts", exact: true }).click();
    const detail = row.getByRole("region", { name: /^Delivery whd_/ });
    await detail.getByText(id).waitFor();
    await detail.getByText("Attempt 2").waitFor();
    expect(await badge(detail, "HTTP 500").count()).toBe(2);
    // The receiver's HTML is shown as the text it is: no element of it reaches the page.
    await detail.getByText("<b>down</b> for maintenance").first().waitFor();
    expect(await detail.locator("pre b").count()).toBe(0);
    await endpointRow().getByText("2 failed attempts in a row").waitFor();
    await checkPage(page, "org-webhooks-failed");

    rx.answer = () => ({ status: 200, body: "ok" });
    const sent = rx.got.length;
    await detail.getByRole("button", { name: "Replay" }).click();
    await detail.getByText("Sent again, with the same webhook-id").waitFor();
    const again = await received(sent + 1);
    expect(again.headers["webhook-id"]).toBe(id);
    new Webhook(second).verify(again.body, Receiver.headers(again));
    await badge(row, "Delivered").waitFor({ timeout: 20_000 });
    await detail.getByText("Attempt 3").waitFor();
    await badge(detail, "HTTP 200").waitFor();
    await endpointRow().getByText("No failures").waitFor();
    await checkPage(page, "org-webhooks-replayed");
  });

  it("HOOK-5: an endpoint is turned off and on, edited, and deleted after a confirm step; its deliveries stay listed", async () => {
    await endpointRow().getByRole("button", { name: "Turn off" }).click();
    await badge(endpointRow(), "Off").waitFor();
    expect(await endpointRow().getByRole("button", { name: "Send test event" }).count()).toBe(0);
    await endpointRow().getByRole("button", { name: "Turn on" }).click();
    await badge(endpointRow(), "On").waitFor();

    await endpointRow().getByRole("button", { name: "Edit" }).click();
    const edit = page.getByRole("form", { name: `Edit ${NAME}` });
    expect(await edit.getByLabel("URL").inputValue()).toBe(`${rx.url}/hook`);
    await edit.getByLabel("Description (optional)").fill("Ledger");
    await edit.getByLabel("Event types (optional)").fill("");
    await edit.getByRole("button", { name: "Save changes" }).click();
    await page.getByText("Ledger was saved.").waitFor();
    await endpointRow().getByText("Every event type").waitFor();

    // Filtering the deliveries by status keeps the filter in the address.
    await page.getByLabel("Status").selectOption({ label: "Failed (no retries left)" });
    await page.getByText("No deliveries match these filters.").waitFor();
    expect(new URL(page.url()).searchParams.get("status")).toBe("dead");
    await page.getByLabel("Status").selectOption({ label: "Any status" });
    await expect.poll(() => deliveries().count(), { timeout: 10_000 }).toBe(2);

    await endpointRow().getByRole("button", { name: "Delete" }).click();
    const dialog = page.getByRole("dialog", { name: "Delete Ledger?" });
    await dialog.getByText("This cannot be undone.").waitFor();
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await badge(endpointRow(), "On").waitFor();
    await endpointRow().getByRole("button", { name: "Delete" }).click();
    await dialog.getByRole("button", { name: "Delete endpoint" }).click();
    await page.getByText("Ledger was deleted.").waitFor();
    await page.getByText("No endpoints yet").waitFor();
    await deliveries().first().getByText("to a deleted endpoint").waitFor();
  });
});
