import { readFileSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonical as serverCanonical } from "../../src/audit/entry.js";
import { noteSigner } from "../../src/audit/note.js";
import {
  canonical,
  fromBase64,
  leafOf,
  type Proof,
  rootFromPath,
  verifyProof,
} from "../../web/src/audit-proof.js";
import { createAdmin } from "../admins.js";
import { createUser, login, type TestApp } from "../harness.js";
import { launchChromium, needs } from "../services.js";
import { checkPage, servedApp, type Watched, watchedContext } from "./console-kit.js";

const OWNER = "audit-owner@example.org";
const ADMIN = "ops-audit@platform.example";
const PW = "correct horse battery staple";

/**
 * The audit log in the console, in Debian's Chromium: an owner renames the organisation, opens the Audit
 * log tab and finds the request record of the rename, filters by action, pages with the cursor, opens an
 * entry and sees its inclusion proof verified by the browser itself (a tampered proof is refused), and
 * downloads the exports; a platform admin reads the platform's log and an organisation's. Every state is
 * checked for CSP violations, console errors and serious axe findings, light and dark, desktop and phone.
 */
describe.runIf(needs("chromium"))("the audit log in the console", { timeout: 180_000 }, () => {
  let t: TestApp;
  let browser: Browser;
  let base = "";
  let orgId = "";
  let page: Page;
  let totp: Awaited<ReturnType<typeof createAdmin>>;
  const contexts: Watched[] = [];

  beforeAll(async () => {
    ({ t, base } = await servedApp());
    browser = await launchChromium();
    await createUser(t, OWNER, PW);
    totp = await createAdmin(t, ADMIN, PW);
  });
  afterAll(async () => {
    for (const c of contexts) expect(c.problems).toEqual([]);
    await browser?.close();
    await t?.close();
  });

  /** Request records are buffered for up to 100 ms (src/audit/service.ts): wait them out. */
  const settled = () => new Promise((r) => setTimeout(r, 400));
  const heading = (p: Page, name: string) => p.getByRole("heading", { level: 1, name });
  const entries = (p: Page) => p.getByRole("list", { name: "Audit entries" }).locator(":scope > li");
  /** The rows of request records of `method` on `route`, as the list shows them. */
  const requests = (p: Page, method: string, route: string) =>
    entries(p).filter({ hasText: `${method} ${route}` });
  async function download(p: Page, link: string): Promise<string> {
    const [d] = await Promise.all([p.waitForEvent("download"), p.getByRole("link", { name: link }).click()]);
    const path = await d.path();
    return readFileSync(path, "utf8");
  }

  it("AUDIT-1: an owner renames the organisation, opens the Audit log tab and finds the request record", async () => {
    const w = await watchedContext(browser, base);
    contexts.push(w);
    page = await w.context.newPage();
    await page.goto(`${base}/`);
    await page.getByLabel("Email").fill(OWNER);
    await page.getByLabel("Password").fill(PW);
    await page.getByRole("button", { name: "Sign in" }).click();
    await heading(page, "Organisations").waitFor();
    await page.getByLabel("Name", { exact: true }).fill("Audited Co");
    await page.getByRole("button", { name: "Create organisation" }).click();
    await heading(page, "Audited Co").waitFor();
    orgId = /\/app\/orgs\/(org_[0-9A-Z]{26})/.exec(page.url())![1]!;
    await page.getByLabel("Name", { exact: true }).fill("Audited Company");
    await page.getByRole("button", { name: "Save name" }).click();
    await heading(page, "Audited Company").waitFor();

    await page
      .getByRole("navigation", { name: "Audited Company sections" })
      .getByRole("link", { name: "Audit log" })
      .click();
    await heading(page, "Audited Company: audit log").waitFor();
    expect(new URL(page.url()).pathname).toBe(`/app/orgs/${orgId}/audit`);
    // Request records are written within 100 ms of the response: refresh until the rename is there.
    const rename = requests(page, "PATCH", "/v1/orgs/:orgId");
    await expect
      .poll(async () => {
        if ((await rename.count()) > 0) return true;
        await page.getByRole("button", { name: "Refresh" }).click();
        return false;
      })
      .toBe(true);
    await rename.first().getByText("HTTP 200").waitFor();
    await rename.first().getByText(OWNER).waitFor();
    await checkPage(page, "org-audit");
  });

  it("AUDIT-2: the filters live in the address; by action, then paged with Show more", async () => {
    // 30 more renames, made with the API: more than one page of 25.
    const { cookie, csrf } = await login(t, OWNER, PW);
    for (let i = 0; i < 30; i++) {
      const res = await t.app.inject({
        method: "PATCH",
        url: `/v1/orgs/${orgId}`,
        headers: { cookie, "x-csrf-token": csrf },
        payload: { name: `Audited Company ${i}` },
      });
      expect(res.statusCode).toBe(200);
    }
    await settled();

    await page.getByText("Filter entries").click();
    await page.getByLabel("Action").fill("http.request");
    await page.getByRole("button", { name: "Apply filters" }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get("action")).toBe("http.request");
    await page.getByText("Filter entries (1 in use)").waitFor();
    await expect.poll(() => entries(page).count()).toBe(25);
    await page.getByText("25+ entries shown, newest first.").waitFor();
    // Newest first: the last rename is the first row.
    const first = entries(page).first();
    await first.getByText("PATCH /v1/orgs/:orgId").waitFor();
    for (const text of await entries(page).locator("strong code").allTextContents())
      expect(text).toBe("http.request");
    await page.getByRole("button", { name: "Show more" }).click();
    await expect.poll(() => entries(page).count()).toBeGreaterThan(25);
    // The log holds the 31 renames (the creation, before the organisation was there, is the platform's).
    expect(await requests(page, "PATCH", "/v1/orgs/:orgId").count()).toBe(31);
    expect(await page.getByRole("button", { name: "Show more" }).count()).toBe(0);

    // A filter matching nothing says so.
    await page.getByLabel("Action").fill("member.removed");
    await page.getByRole("button", { name: "Apply filters" }).click();
    await page.getByText("No entries match these filters.").waitFor();
    await page.getByRole("link", { name: "Clear filters" }).click();
    await expect.poll(() => new URL(page.url()).search).toBe("");
    await expect.poll(() => entries(page).count()).toBe(25);
  });

  it("AUDIT-4: an entry's details show every fact, and its inclusion proof is verified in the browser", async () => {
    const row = requests(page, "PATCH", "/v1/orgs/:orgId").first();
    const button = row.getByRole("button", { name: "Details" });
    await button.click();
    expect(await row.getByRole("button", { name: "Hide details" }).getAttribute("aria-expanded")).toBe(
      "true",
    );
    const detail = row.getByRole("region");
    await detail.getByRole("heading", { level: 3 }).waitFor();
    for (const text of ["Request record", "PATCH /v1/orgs/:orgId", "127.0.0.1", "User agent", OWNER, orgId])
      await detail.getByText(text, { exact: false }).first().waitFor();
    const verdict = detail.getByRole("status");
    await verdict.getByText("Verified.", { exact: true }).waitFor();
    const words = (await verdict.textContent()) ?? "";
    const keyId = /key ([0-9a-f]{8})\)/.exec(words)?.[1];
    expect(keyId, words).toBeDefined();
    expect(words).toMatch(/Included in signed checkpoint of \d+ entries \(key [0-9a-f]{8}\)\./);
    expect(words).toContain("the entry hashes to its leaf");
    expect(words).toContain("Ed25519 signature is valid");
    const keys = (await (await fetch(`${base}/.well-known/audit-keys.json`)).json()) as {
      keys: Array<{ keyId: string }>;
    };
    expect(keys.keys.map((k) => k.keyId)).toContain(keyId);
    await detail.getByText("Proof data").click();
    await detail.getByText(/— .*\/audit /).waitFor();
    await checkPage(page, "org-audit-detail");

    // The only-this-actor link narrows the list to this owner's entries.
    await detail.getByRole("link", { name: "Only this actor's entries" }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get("actor")).toMatch(/^usr_/);
    await row.getByRole("button", { name: "Details" }).waitFor();
  });

  it("AUDIT-4: a proof that does not lead to the signed root is refused, and said so", async () => {
    // A man in the middle changes one hash of the path: the browser's own check catches it.
    await page.route(/\/audit-events\/aud_[0-9A-Z]{26}\/proof$/, async (route) => {
      const res = await route.fetch();
      const proof = (await res.json()) as Proof;
      const first = fromBase64(proof.proof[0]!);
      first[0] = (first[0]! + 1) % 256;
      proof.proof[0] = Buffer.from(first).toString("base64");
      await route.fulfill({ response: res, json: proof });
    });
    const row = requests(page, "PATCH", "/v1/orgs/:orgId").nth(1);
    await row.getByRole("button", { name: "Details" }).click();
    const verdict = row.getByRole("region").getByRole("status");
    await verdict.getByText("Not verified.").waitFor();
    expect(await verdict.textContent()).toContain("The audit path does not lead to the checkpoint's root.");
    await checkPage(page, "org-audit-tampered");
    await page.unrouteAll();
  });

  it("AUDIT-5: the export links download NDJSON, CSV and the verification bundle with the session cookie", async () => {
    await page.goto(`${base}/app/orgs/${orgId}/audit?action=http.request`);
    await heading(page, "Audited Company 29: audit log").waitFor();
    const ndjson = (await download(page, "Download NDJSON")).trim().split("\n");
    expect(ndjson.length).toBe(31);
    for (const line of ndjson) expect(JSON.parse(line).action).toBe("http.request");
    const csv = await download(page, "Download CSV");
    expect(csv.split("\n")[0]).toMatch(/^id,log,seq,time,type,action,/);
    const bundle = (await download(page, "Download verification bundle")).trim().split("\n");
    expect(JSON.parse(bundle[0]!).format).toBe("bulwark-audit-bundle");
  });

  it("AUDIT-3: a platform admin reads the platform's log, then one organisation's from its row", async () => {
    const w = await watchedContext(browser, base);
    contexts.push(w);
    const admin = await w.context.newPage();
    await admin.goto(`${base}/admin`);
    await admin.getByLabel("Email").fill(ADMIN);
    await admin.getByLabel("Password").fill(PW);
    await admin.getByLabel("Authenticator code").fill(totp.code());
    await admin.getByRole("button", { name: "Sign in" }).click();
    await heading(admin, "Users").waitFor();
    await admin.getByRole("navigation", { name: "Admin" }).getByRole("link", { name: "Audit log" }).click();
    await heading(admin, "Audit log").waitFor();
    await settled();

    await admin.getByText("Filter entries").click();
    await admin.getByLabel("Log").selectOption({ label: "The platform's own" });
    await admin.getByRole("button", { name: "Apply filters" }).click();
    await expect.poll(() => new URL(admin.url()).searchParams.get("log")).toBe("platform");
    // The sign-ins are the platform's: the owner's and this admin's own; every row shown is of that log.
    const logs = () => entries(admin).locator("p.muted").allTextContents();
    await expect
      .poll(async () => (await logs()).length > 0 && (await logs()).every((l) => l.includes("log platform")))
      .toBe(true);
    const signIns = requests(admin, "POST", "/v1/admin/auth/login");
    await signIns.first().waitFor();
    await requests(admin, "POST", "/v1/auth/login").first().waitFor();
    await signIns.first().getByRole("button", { name: "Details" }).click();
    const detail = signIns.first().getByRole("region");
    await detail.getByText("POST /v1/admin/auth/login").waitFor();
    // No proof here: the admin's route has none.
    expect(await detail.getByText("Inclusion proof").count()).toBe(0);
    await checkPage(admin, "admin-audit");

    await admin
      .getByRole("navigation", { name: "Admin" })
      .getByRole("link", { name: "Organisations" })
      .click();
    await admin.getByRole("link", { name: "Audit log of Audited Company 29" }).click();
    await heading(admin, "Audit log").waitFor();
    expect(new URL(admin.url()).searchParams.get("log")).toBe(orgId);
    await admin.getByText("Filter entries (1 in use)").waitFor();
    expect(await admin.getByLabel("Organisation id").inputValue()).toBe(orgId);
    await requests(admin, "PATCH", "/v1/orgs/:orgId").first().waitFor();
    for (const text of await logs()) expect(text).toContain(`log ${orgId}`);
    await checkPage(admin, "admin-audit-org");
  });
});

describe("the console's proof check (web/src/audit-proof.ts)", () => {
  const vectors = JSON.parse(
    readFileSync(new URL("../vectors/rfc9162-merkle.json", import.meta.url), "utf8"),
  ) as {
    leafInputs: string[];
    roots: string[];
    inclusion: Array<{ leafIndex: number; treeSize: number; proof: string[] }>;
  };
  const hex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));
  const leaf = async (input: string) =>
    new Uint8Array(
      await crypto.subtle.digest("SHA-256", Buffer.concat([Buffer.from([0]), Buffer.from(input, "hex")])),
    );

  it("AUDIT-4: RFC 9162 inclusion vectors lead to their roots; a changed hash, index or size does not", async () => {
    expect(vectors.inclusion.length).toBeGreaterThan(0);
    for (const v of vectors.inclusion) {
      const l = await leaf(vectors.leafInputs[v.leafIndex]!);
      const path = v.proof.map(hex);
      const root = await rootFromPath(l, v.leafIndex, v.treeSize, path);
      expect(Buffer.from(root!).toString("hex"), `${v.leafIndex} of ${v.treeSize}`).toBe(
        vectors.roots[v.treeSize],
      );
      const wrong = async (r: Uint8Array | null) =>
        r === null || Buffer.from(r).toString("hex") !== vectors.roots[v.treeSize];
      if (path.length) {
        const bent = path.map((p) => new Uint8Array(p));
        bent[0]![0] = (bent[0]![0]! + 1) % 256;
        expect(await wrong(await rootFromPath(l, v.leafIndex, v.treeSize, bent))).toBe(true);
        expect(await wrong(await rootFromPath(l, v.leafIndex, v.treeSize, path.slice(1)))).toBe(true);
      }
      expect(await wrong(await rootFromPath(l, v.leafIndex, v.treeSize, [...path, l]))).toBe(true);
      expect(await rootFromPath(l, v.treeSize, v.treeSize, path)).toBeNull();
      if (v.leafIndex + 1 < v.treeSize && path.length)
        expect(await wrong(await rootFromPath(l, v.leafIndex + 1, v.treeSize, path))).toBe(true);
    }
  });

  it("AUDIT-4: the console writes an entry's canonical bytes exactly as the server hashes them", async () => {
    const entry = {
      v: 1,
      seq: 7,
      log: "org_X",
      id: "aud_1",
      time: "2026-01-01T00:00:00.000Z",
      after: { z: [1, "é", null, { b: true, a: -0.5 }], "": "\u2028\ud83d\ude00", A: 1e21 },
      request: { durationMs: 12.34, status: 201 },
    };
    expect(canonical(entry)).toBe(serverCanonical(entry));
    const parsed = JSON.parse(JSON.stringify(entry));
    expect(canonical(parsed)).toBe(serverCanonical(entry));
    expect(Buffer.from(await leafOf(entry)).toString("hex")).toBe(
      Buffer.from(await leaf(Buffer.from(serverCanonical(entry)).toString("hex"))).toString("hex"),
    );
  });

  it('AUDIT-4: a checkpoint signed by a key whose base64 holds a "+" verifies (the key is read after name+id+)', async () => {
    // Seeds until the verifier key's base64 holds a "+": about half of all keys do.
    let seed = 0;
    let signer = noteSigner("console.example/audit", Buffer.alloc(32, seed));
    while (!signer.vkey.split("+").slice(2).join("+").includes("+"))
      signer = noteSigner("console.example/audit", Buffer.alloc(32, ++seed));
    const entry = { id: "aud_1", seq: 0, action: "x" };
    const l = await leafOf(entry);
    const root = Buffer.from(l).toString("base64");
    const origin = "console.example/audit/org_X";
    const cp = {
      size: 1,
      root,
      keyId: signer.keyId,
      note: signer.sign(`${origin}\n1\n${root}\n`),
      createdAt: "",
    };
    const proof: Proof = {
      id: "aud_1",
      leafIndex: 0,
      leafHash: root,
      treeSize: 1,
      proof: [],
      checkpoint: cp,
    };
    const keys = [{ keyId: signer.keyId, vkey: signer.vkey, algorithm: "Ed25519", current: true }];
    expect(await verifyProof(entry, proof, keys, origin)).toMatchObject({ ok: true, signature: "checked" });
  });

  it("AUDIT-4: a proof for another entry, or of a changed entry, is refused before any path is walked", async () => {
    const entry = { id: "aud_1", seq: 0, action: "x" };
    const l = await leafOf(entry);
    const cp = {
      size: 1,
      root: Buffer.from(l).toString("base64"),
      keyId: "00000000",
      note: "",
      createdAt: "",
    };
    const proof: Proof = {
      id: "aud_1",
      leafIndex: 0,
      leafHash: cp.root,
      treeSize: 1,
      proof: [],
      checkpoint: cp,
    };
    expect(await verifyProof({ ...entry, id: "aud_2" }, proof, [], "o")).toEqual({
      ok: false,
      reason: "The proof is for another entry.",
    });
    expect(await verifyProof({ ...entry, action: "y" }, proof, [], "o")).toMatchObject({ ok: false });
    // The path leads to the root, but the note is not signed: refused too.
    expect(await verifyProof(entry, proof, [], "o")).toEqual({
      ok: false,
      reason: "The checkpoint's note has no signature.",
    });
  });
});
