import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TestApp, testApp } from "../harness.js";
import { launchChromium, needs } from "../services.js";

/** Debian's Chromium (installed by .ci/run); the test is skipped where it is absent. */

describe.runIf(needs("chromium"))("security page in a real browser", () => {
  let t: TestApp;
  let base = "";
  beforeAll(async () => {
    t = await testApp();
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
});
