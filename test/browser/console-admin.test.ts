import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAdmin } from "../admins.js";
import { createUser, login, type TestApp } from "../harness.js";
import { launchChromium, needs } from "../services.js";
import { checkPage, servedApp, type Watched, watchedContext } from "./console-kit.js";

const ADMIN = "ops@platform.example";
const USER = "customer@example.org";
const PW = "correct horse battery staple";

/**
 * Platform staff in the browser: the admin console's own sign-in with TOTP, finding a user, impersonating
 * with the banner on every portal page, stopping; and the two doors kept apart (AUTH-6): a portal
 * session never opens the admin console, an admin session never opens the portal.
 */
describe.runIf(needs("chromium"))("the admin console, as platform staff use it", { timeout: 180_000 }, () => {
  let t: TestApp;
  let browser: Browser;
  let base = "";
  let totp: Awaited<ReturnType<typeof createAdmin>>;
  let orgId = "";
  const contexts: Watched[] = [];

  beforeAll(async () => {
    ({ t, base } = await servedApp());
    browser = await launchChromium();
    totp = await createAdmin(t, ADMIN, PW);
    await createUser(t, USER, PW);
    const { cookie, csrf } = await login(t, USER, PW);
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/orgs",
      headers: { cookie, "x-csrf-token": csrf },
      payload: { name: "Customer Co" },
    });
    orgId = res.json().org.id;
  });
  afterAll(async () => {
    for (const c of contexts) expect(c.problems).toEqual([]);
    await browser?.close();
    await t?.close();
  });

  async function newPage(): Promise<Page> {
    const w = await watchedContext(browser, base);
    contexts.push(w);
    return w.context.newPage();
  }
  const heading = (page: Page, name: string) => page.getByRole("heading", { level: 1, name });
  let admin: Page;

  it("AUTHZ-3: an admin signs in at /admin with password and TOTP, and finds the user", async () => {
    admin = await newPage();
    await admin.goto(`${base}/admin`);
    await heading(admin, "Platform admin sign-in").waitFor();
    await checkPage(admin, "admin-sign-in");
    await admin.getByLabel("Email").fill(ADMIN);
    await admin.getByLabel("Password").fill(PW);
    await admin.getByLabel("Authenticator code").fill(totp.code());
    await admin.getByRole("button", { name: "Sign in" }).click();
    await heading(admin, "Users").waitFor();
    await admin.getByLabel("Find users by email").fill("CUSTOMER@");
    await admin.getByRole("button", { name: "Search" }).click();
    await expect.poll(() => new URL(admin.url()).searchParams.get("q")).toBe("CUSTOMER@");
    const rows = admin.getByRole("list", { name: "Users" }).getByRole("listitem");
    await expect.poll(() => rows.count()).toBe(1);
    await rows.getByText(USER).waitFor();
    await checkPage(admin, "admin-users");
    await admin.getByRole("link", { name: "Organisations" }).click();
    await admin.getByRole("list", { name: "Organisations" }).getByText("Customer Co").waitFor();
    await checkPage(admin, "admin-orgs");
  });

  it("OBS-6: the admin console lists background job runs, a failed one with its reason", async () => {
    const jobs = t.app.bulwark.service("jobs");
    await jobs.run("sessions.retention", () => t.app.bulwark.service("sessions").purgeEnded());
    await jobs.run("backup", async () => {
      throw new Error("BACKUP_DIR is not writable");
    });
    await admin.getByRole("link", { name: "Jobs" }).click();
    const rows = admin.getByRole("list", { name: "Job runs" }).getByRole("listitem");
    await rows.filter({ hasText: "backup" }).getByText("BACKUP_DIR is not writable").waitFor();
    await rows.filter({ hasText: "backup" }).getByText("failed", { exact: true }).waitFor();
    await rows.filter({ hasText: "sessions.retention" }).getByText("succeeded", { exact: true }).waitFor();
    // Each job's newest run heads the page, whatever ran since.
    const each = admin.getByRole("list", { name: "Latest run of each job" }).getByRole("listitem");
    await each.filter({ hasText: "backup" }).getByText("failed", { exact: true }).waitFor();
    await each.filter({ hasText: "sessions.retention" }).waitFor();
    await checkPage(admin, "admin-jobs");
  });

  it("AUTHZ-4: impersonation shows a banner with the time left on every portal page, until it is stopped", async () => {
    await admin.getByRole("link", { name: "Users" }).click();
    await admin.getByRole("button", { name: `Impersonate ${USER}` }).click();
    await admin.getByLabel("Reason (recorded)").fill("Support ticket 4711: cannot see the orders");
    await admin.getByLabel("Minutes").fill("20");
    await checkPage(admin, "admin-impersonate");
    await admin.getByRole("button", { name: "Start impersonating" }).click();
    await heading(admin, "Organisations").waitFor();
    // This server runs without the example catalog: its tabs are not offered.
    await admin.goto(`${base}/app/orgs/${orgId}`);
    await heading(admin, "Customer Co").waitFor();
    await admin.getByRole("link", { name: "Invitations" }).waitFor();
    await admin.waitForLoadState("networkidle");
    expect(await admin.getByRole("link", { name: "Products" }).count()).toBe(0);

    const banner = admin.getByRole("region", { name: "Impersonation" });
    const pages: Array<[string, string]> = [
      ["/app", "Organisations"],
      ["/app/account", "Account"],
      ["/app/sessions", "Sessions"],
      [`/app/orgs/${orgId}`, "Customer Co"],
      [`/app/orgs/${orgId}/members`, "Customer Co: members"],
      [`/app/orgs/${orgId}/invitations`, "Customer Co: invitations"],
    ];
    for (const [path, title] of pages) {
      await admin.goto(`${base}${path}`);
      await heading(admin, title).waitFor();
      await expect
        .poll(() => banner.textContent())
        .toMatch(new RegExp(`Impersonating ${USER}.*Ends in 1\\d:\\d\\d`));
    }
    await checkPage(admin, "portal-impersonating");
    // The user's second factor is theirs: the console says so in words.
    await admin.goto(`${base}/app/account`);
    const setUp = admin.getByRole("form", { name: "Set up two-factor authentication" });
    await setUp.getByLabel("Your password").fill(PW);
    await setUp.getByRole("button", { name: "Set up two-factor authentication" }).click();
    await admin.getByText("Not while impersonating").waitFor();

    await banner.getByRole("button", { name: "Stop impersonating" }).click();
    await heading(admin, "Users").waitFor();
    expect(await banner.count()).toBe(0);
  });

  it("AUTHZ-4: after impersonating and going back, signing out of the admin console really ends both sessions", async () => {
    await admin.getByRole("button", { name: `Impersonate ${USER}` }).click();
    await admin.getByLabel("Reason (recorded)").fill("Support ticket 4712: back, then sign out");
    await admin.getByRole("button", { name: "Start impersonating" }).click();
    await admin.getByRole("region", { name: "Impersonation" }).waitFor();
    await admin.goBack();
    await heading(admin, "Users").waitFor();
    await admin.getByRole("button", { name: "Sign out" }).click();
    await heading(admin, "Platform admin sign-in").waitFor();
    // The server agrees: a reload still shows the sign-in, and the impersonation ended with the admin session.
    await admin.reload();
    await heading(admin, "Platform admin sign-in").waitFor();
    await admin.goto(`${base}/app`);
    await heading(admin, "Sign in").waitFor();
    // Signed in again for the next test (each TOTP step's code signs in once: the next step's).
    await admin.goto(`${base}/admin`);
    await admin.getByLabel("Email").fill(ADMIN);
    await admin.getByLabel("Password").fill(PW);
    await admin.getByLabel("Authenticator code").fill(totp.code(30_000));
    await admin.getByRole("button", { name: "Sign in" }).click();
    await heading(admin, "Users").waitFor();
  });

  it("AUTH-6: an admin session never opens the portal, and a portal session never opens the admin console", async () => {
    // The admin, signed in to the admin console only (the impersonation's portal cookie is gone).
    await admin.goto(`${base}/app`);
    await heading(admin, "Sign in").waitFor();
    await admin.goto(`${base}/admin/users`);
    await heading(admin, "Users").waitFor();

    const user = await newPage();
    await user.goto(`${base}/`);
    await user.getByLabel("Email").fill(USER);
    await user.getByLabel("Password").fill(PW);
    await user.getByRole("button", { name: "Sign in" }).click();
    await heading(user, "Organisations").waitFor();
    await user.goto(`${base}/admin/users`);
    await heading(user, "Platform admin sign-in").waitFor();
    expect(await user.getByRole("list", { name: "Users" }).count()).toBe(0);
  });
});
