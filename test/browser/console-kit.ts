import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { expect } from "vitest";
import { type TestApp, testApp } from "../harness.js";

/** Where the browser tests leave their screenshots (git-ignored): each page, light and dark, desktop and phone. */
export const SHOTS = new URL("../../test-results/screenshots/", import.meta.url);

const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/**
 * Bulwark listening on a free loopback port, as a browser reaches it: PUBLIC_URL (the links in its mail)
 * is that address. `env` and `options` go to testApp.
 */
export async function servedApp(
  env: Record<string, string> = {},
  options: Parameters<typeof testApp>[2] = {},
  /** `localhost` where the browser needs a domain (a WebAuthn RP ID cannot be an IP address). */
  host: "127.0.0.1" | "localhost" = "127.0.0.1",
  /** A port chosen beforehand (freePort), where something else must know the address first. */
  chosen?: number,
): Promise<{ t: TestApp; base: string }> {
  const port = chosen ?? (await freePort());
  const base = `http://${host}:${port}`;
  const t = await testApp(
    { PORT: String(port), PUBLIC_URL: base, LOG_LEVEL: "silent", ...env },
    undefined,
    options,
  );
  await t.app.listen({ port, host: "127.0.0.1" });
  return { t, base };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/**
 * A browser context that records what a console page must never do: a CSP violation (the
 * `securitypolicyviolation` event, reported from every document before any of its scripts run), an
 * uncaught error, or a console error. A failed API answer the page handles (a 4xx on /v1/…, shown to the
 * person in words) is the one console message Chromium prints that is not a fault; anything else counts.
 */
export async function watchedContext(browser: Browser, base: string) {
  const problems: string[] = [];
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.exposeFunction("__bulwarkCsp", (v: string) => problems.push(`CSP violation: ${v}`));
  // Source text (this project's type-check has no DOM library): runs in every document before its scripts.
  await context.addInitScript({
    content: `document.addEventListener("securitypolicyviolation", (e) =>
      window.__bulwarkCsp(e.violatedDirective + " " + e.blockedURI + " at " + e.sourceFile + ":" + e.lineNumber));`,
  });
  context.on("page", (page) => watch(page, base, problems));
  return { context, problems };
}

function watch(page: Page, base: string, problems: string[]): void {
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() !== "error" && !/Content Security Policy/.test(m.text())) return;
    const handled =
      /^Failed to load resource: the server responded with a status of 4\d\d/.test(m.text()) &&
      m.location().url.startsWith(`${base}/v1/`);
    if (!handled) problems.push(`console ${m.type()}: ${m.text()} (${m.location().url})`);
  });
}

/** axe-core's serious and critical findings on the page as it is now (run through the DevTools protocol, not a page script). */
export async function axeFindings(page: Page): Promise<string[]> {
  await page.evaluate(AXE);
  const result = await page.evaluate(async () => {
    const axe = (
      globalThis as unknown as {
        axe: {
          run(o: object): Promise<{
            violations: Array<{
              id: string;
              impact: string;
              help: string;
              nodes: Array<{ target: string[] }>;
            }>;
          }>;
        };
      }
    ).axe;
    return axe.run({ resultTypes: ["violations"] });
  });
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
}

/**
 * The checks every console page gets, where it stands: no serious or critical axe finding, in light and
 * dark, and its screenshots at desktop and phone widths. The viewport and colour scheme are restored.
 */
export async function checkPage(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.waitForLoadState("networkidle");
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    expect(await axeFindings(page), `${name} (${scheme})`).toEqual([]);
    for (const [width, height, size] of [
      [1280, 800, "desktop"],
      [390, 844, "phone"],
    ] as const) {
      await page.setViewportSize({ width, height });
      await page.screenshot({
        path: new URL(`${name}-${scheme}-${size}.png`, SHOTS).pathname,
        fullPage: true,
      });
    }
  }
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize({ width: 1280, height: 800 });
}

export type Watched = { context: BrowserContext; problems: string[] };
