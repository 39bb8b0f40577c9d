import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TestApp, testApp } from "../harness.js";
import { launchChromium, needs } from "../services.js";
import { checkPage } from "./console-kit.js";

/** Debian's Chromium (installed by .ci/run); the test is skipped where it is absent. */

describe.runIf(needs("chromium"))("security page in a real browser", () => {
  let t: TestApp;
  let base = "";
  beforeAll(async () => {
    t = await testApp({
      SUBPROCESSORS: JSON.stringify([
        {
          name: "Example Hosting",
          purpose: "servers and database",
          location: "EU (Frankfurt)",
          url: "https://hosting.example",
        },
        { name: "Example Mail", purpose: "transactional mail", location: "EU" },
      ]),
    });
    await t.app.bulwark.posture.settled();
    base = await t.app.listen({ port: 0, host: "127.0.0.1" });
  });
  afterAll(() => t.close());

  it("POST-1: /security renders without JavaScript and passes its own CSP (no violation, styles applied)", async () => {
    const browser = await launchChromium();
    try {
      const context = await browser.newContext({ javaScriptEnabled: false });
      const page = await context.newPage();
      const violations: string[] = [];
      page.on("console", (m) => {
        if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
      });
      const res = await page.goto(`${base.replace("127.0.0.1", "localhost")}/security`);
      expect(res?.status()).toBe(200);
      expect(await page.locator("h1").textContent()).toBe("Bulwark security overview");
      expect(await page.locator(".claim").count()).toBeGreaterThan(20);
      // The hashed inline stylesheet applied: the claim badges are monospace, not the default font.
      const font = await page
        .locator(".id")
        .first()
        .evaluate(
          (el) =>
            (
              globalThis as unknown as { getComputedStyle(e: unknown): { fontFamily: string } }
            ).getComputedStyle(el).fontFamily,
        );
      expect(font).toMatch(/monospace/);
      expect(violations).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it("POST-1, POST-4, GDPR-4: /security has no serious axe finding in light and dark, on desktop and phone, with its sub-processor, ASVS and history tables", async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`${base.replace("127.0.0.1", "localhost")}/security`);
      const subprocessors = page.getByRole("table", { name: "Sub-processors" });
      expect(await subprocessors.getByRole("row").count()).toBe(3);
      expect(await subprocessors.getByRole("link", { name: "Example Hosting" }).getAttribute("href")).toBe(
        "https://hosting.example",
      );
      expect(await page.getByRole("heading", { name: "OWASP ASVS 5.0 coverage" }).count()).toBe(1);
      expect(await page.getByRole("heading", { name: "Signed posture and its history" }).count()).toBe(1);
      expect(
        await page
          .getByText(/claims are checked against this server's behaviour as it runs: all hold/)
          .count(),
      ).toBe(1);
      await checkPage(page, "security");
    } finally {
      await browser.close();
    }
  });
});
