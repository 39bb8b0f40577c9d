import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog } from "../../examples/catalog/index.js";
import { createUser, type TestApp } from "../harness.js";
import { type LocalS3, startS3 } from "../s3.js";
import { launchChromium, needs } from "../services.js";
import { checkPage, freePort, servedApp, type Watched, watchedContext } from "./console-kit.js";

const PW = "correct horse battery staple";
/** A 1×1 PNG: a picture Chromium decodes, so a broken upload shows as an image that did not load. */
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
  "base64",
);

/**
 * DATA-3 in the console, in Debian's Chromium: a product gets its image from a file the browser sends
 * straight to storage (the local store, then an S3-compatible server on another origin, where the
 * console's CSP and the bucket's CORS rule must both let it through), and the product list shows it.
 * Every state is checked for CSP violations, console errors and serious axe findings.
 */
describe.runIf(needs("chromium"))("product images in the console", { timeout: 180_000 }, () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  for (const store of ["local", "s3"] as const) {
    describe(`stored in the ${store === "local" ? "local-disk store" : "S3-compatible server"}`, () => {
      let t: TestApp;
      let s3: LocalS3 | undefined;
      let page: Page;
      let w: Watched;
      const heading = (p: Page, name: string) => p.getByRole("heading", { level: 1, name });

      beforeAll(async () => {
        const port = await freePort();
        let env: Record<string, string> = {};
        if (store === "s3") {
          // The console's origin is known before the server starts, for the bucket's CORS rule.
          s3 = await startS3("images", [`http://127.0.0.1:${port}`]);
          env = {
            UPLOAD_BUCKET: s3.bucket,
            S3_ENDPOINT: s3.endpoint,
            S3_FORCE_PATH_STYLE: "true",
            S3_ACCESS_KEY_ID: s3.accessKeyId,
            S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
          };
        }
        const served = await servedApp(
          { ...env, PORT: String(port) },
          { extensions: [catalog] },
          "127.0.0.1",
          port,
        );
        t = served.t;
        await createUser(t, `images-${store}@example.org`, PW);
        w = await watchedContext(browser, served.base);
        page = await w.context.newPage();
        await page.goto(`${served.base}/`);
        await page.getByLabel("Email").fill(`images-${store}@example.org`);
        await page.getByLabel("Password").fill(PW);
        await page.getByRole("button", { name: "Sign in" }).click();
        await heading(page, "Organisations").waitFor();
        await page.getByLabel("Name", { exact: true }).fill("Pictures");
        await page.getByRole("button", { name: "Create organisation" }).click();
        await heading(page, "Pictures").waitFor();
      });
      afterAll(async () => {
        expect(w?.problems ?? []).toEqual([]);
        await w?.context.close();
        await t?.close();
        await s3?.close();
      });

      it("DATA-3: a new product's image goes from the browser to storage and shows in the list", async () => {
        await page.getByRole("link", { name: "Products" }).click();
        await heading(page, "Pictures: products").waitFor();
        await page.getByLabel("Name", { exact: true }).fill("Lamp");
        await page.getByLabel("SKU").fill("LAMP-1");
        await page.getByLabel("Price (EUR)").fill("30");
        await page.getByLabel("Stock").fill("2");
        await page
          .getByLabel(/^Image/)
          .setInputFiles({ name: "lamp.png", mimeType: "image/png", buffer: PNG });
        // The body goes to storage, never to the API: watch where the PUT goes.
        const sent = page.waitForRequest((r) => r.method() === "PUT");
        await page.getByRole("button", { name: "Add product" }).click();
        const put = await sent;
        expect(new URL(put.url()).pathname).toMatch(
          store === "s3" ? /^\/images\/orgs\// : /^\/v1\/storage\/orgs\//,
        );
        if (s3) expect(new URL(put.url()).origin).toBe(s3.endpoint);
        await page.getByText("Lamp was added.").waitFor();
        const img = page.getByRole("img", { name: "Lamp" });
        await img.waitFor();
        await expect
          .poll(() => img.evaluate((el) => (el as unknown as { naturalWidth: number }).naturalWidth))
          .toBe(1);
        await checkPage(page, `products-image-${store}`);
      });

      it("DATA-3: an existing product's image is changed from its row", async () => {
        const row = page.getByRole("listitem").filter({ hasText: "LAMP-1" });
        await row
          .getByLabel("Image for Lamp")
          .setInputFiles({ name: "lamp2.png", mimeType: "image/png", buffer: PNG });
        await page.getByText("Lamp has a new image.").waitFor();
        const uploads = await t.db.withOrg(
          (await t.db.global.selectFrom("organizations").select("id").executeTakeFirstOrThrow()).id,
          (tx) => tx.selectFrom("uploads").select(["attached_at"]).execute(),
        );
        expect(uploads.filter((u) => u.attached_at !== null)).toHaveLength(2);
      });
    });
  }
});
