import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { catalog } from "../../examples/catalog/index.js";
import { asUser, createUser, ENGINE, login, type TestApp, testApp } from "../../test/harness.js";
import { type LocalS3, startS3 } from "../../test/s3.js";
import { LocalObjectStore } from "./local.js";

const PW = "uploads passphrase 12";
const TTL_S = 60;
/** A PNG signature and some bytes: 64 in all. */
const PNG = Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), Buffer.alloc(56, 7)]);
/** A whole second, so S3's second-granular X-Amz-Date is exactly the signing time. */
const T = Date.UTC(2026, 11, 7, 12, 0, 0);

interface Store {
  readonly name: string;
  env(): Promise<Record<string, string>>;
  /** What the store answers a link used with the wrong type, a longer body, late, and with no length. */
  readonly refusals: { type: number; size: number; late: number; chunked: number };
  /** How far past the link's expiry the store refuses it: S3 refuses only after the last second. */
  readonly lateBy: number;
  close(): Promise<void>;
}

let s3: LocalS3 | undefined;
let dir = "";
const STORES: Store[] = [
  {
    name: "local-disk store",
    async env() {
      dir = mkdtempSync(join(tmpdir(), "bulwark-uploads-"));
      return { UPLOAD_DIR: dir };
    },
    refusals: { type: 415, size: 413, late: 403, chunked: 411 },
    lateBy: 0,
    async close() {
      rmSync(dir, { recursive: true, force: true });
    },
  },
  {
    name: "S3-compatible server (s3rver)",
    async env() {
      s3 = await startS3();
      return {
        UPLOAD_BUCKET: s3.bucket,
        S3_ENDPOINT: s3.endpoint,
        S3_FORCE_PATH_STYLE: "true",
        S3_ACCESS_KEY_ID: s3.accessKeyId,
        S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      };
    },
    refusals: { type: 403, size: 403, late: 403, chunked: 403 },
    lateBy: 1000,
    async close() {
      await s3?.close();
    },
  },
];

describe.each(STORES)(`DATA-3: pre-signed uploads to the $name (${ENGINE})`, (store) => {
  let t: TestApp;
  let base = "";
  let a: { cookie: string; csrf: string };
  let b: { cookie: string; csrf: string };
  let orgA = "";
  let orgB = "";

  beforeAll(async () => {
    t = await testApp(
      { ...(await store.env()), UPLOAD_URL_TTL_SECONDS: String(TTL_S), UPLOAD_MAX_BYTES: "1000" },
      undefined,
      { extensions: [catalog] },
    );
    await t.app.listen({ port: 0, host: "127.0.0.1" });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    await createUser(t, "up-a@example.org", PW);
    await createUser(t, "up-b@example.org", PW);
    a = await login(t, "up-a@example.org", PW);
    b = await login(t, "up-b@example.org", PW);
    orgA = (await call(a, "POST", "/v1/orgs", { name: "Uploads A" })).json().org.id;
    orgB = (await call(b, "POST", "/v1/orgs", { name: "Uploads B" })).json().org.id;
  });
  afterAll(async () => {
    await t.close();
    await store.close();
  });
  afterEach(() => vi.useRealTimers());

  const call = (who: { cookie: string; csrf: string }, method: string, url: string, payload?: object) =>
    asUser(t, who, method, url, payload);

  /** The link as a browser would use it: the local store's links name PUBLIC_URL, here the test's port. */
  const reach = (url: string) => (url.includes("/v1/storage/") ? base + url.slice(url.indexOf("/v1/")) : url);

  async function link(size = PNG.length, contentType = "image/png") {
    const res = await call(a, "POST", `/v1/orgs/${orgA}/uploads`, { contentType, size });
    expect(res.statusCode, res.body).toBe(201);
    return res.json() as { upload: { id: string; expiresAt: string }; url: string; headers: object };
  }

  const put = (url: string, body: Buffer, type = "image/png") =>
    fetch(reach(url), { method: "PUT", headers: { "content-type": type }, body });

  const status = async (id: string, who = a, org = orgA) =>
    (await call(who, "GET", `/v1/orgs/${org}/uploads/${id}`)).json().upload?.status;

  it("DATA-3: a file goes to the store through its link, never through the API, and becomes a product's image", async () => {
    const made = await link();
    expect(made.headers).toEqual({ "content-type": "image/png" });
    // The console may send files to the bucket and show them from it, and to nowhere else.
    const csp = String((await t.app.inject({ url: "/app" })).headers["content-security-policy"]);
    expect(csp).toContain(s3 ? `connect-src 'self' ${s3.endpoint};` : "connect-src 'self';");
    if (s3) {
      expect(new URL(made.url).origin).toBe(s3.endpoint);
      // The link signs the type and the length as headers: S3 checks both.
      expect(new URL(made.url).searchParams.get("X-Amz-SignedHeaders")).toBe(
        "content-length;content-type;host",
      );
    }
    expect(made.url).toContain(`orgs/${orgA}/${made.upload.id}`);
    expect(await status(made.upload.id)).toBe("pending");
    // Not usable before its file arrived.
    const early = await call(a, "POST", `/v1/orgs/${orgA}/products`, {
      name: "Vase",
      sku: "VASE-0",
      priceCents: 1,
      stock: 1,
      imageUploadId: made.upload.id,
    });
    expect(early.json().error.code).toBe("UPLOAD_INCOMPLETE");

    const sent = await put(made.url, PNG);
    expect(sent.status, await sent.clone().text()).toBeLessThan(300);
    expect(await status(made.upload.id)).toBe("uploaded");
    if (!s3) expect(readFileSync(join(dir, "orgs", orgA, made.upload.id)).equals(PNG)).toBe(true);

    const product = await call(a, "POST", `/v1/orgs/${orgA}/products`, {
      name: "Vase",
      sku: "VASE-1",
      priceCents: 4200,
      stock: 3,
      imageUploadId: made.upload.id,
    });
    expect(product.statusCode, product.body).toBe(201);
    expect(await status(made.upload.id)).toBe("attached");
    const shown = await call(a, "GET", `/v1/orgs/${orgA}/products/${product.json().product.id}`);
    const image = await fetch(reach(shown.json().product.imageUrl));
    expect(image.status).toBe(200);
    expect(image.headers.get("content-type")).toBe("image/png");
    expect(Buffer.from(await image.arrayBuffer()).equals(PNG)).toBe(true);
    if (!s3) {
      // Shown as the signed type, unable to run anything, embeddable by the link's holder.
      expect(image.headers.get("content-security-policy")).toBe("default-src 'none'; sandbox");
      expect(image.headers.get("x-content-type-options")).toBe("nosniff");
      expect(image.headers.get("cross-origin-resource-policy")).toBe("cross-origin");
      expect(image.headers.get("content-disposition")).toBe("inline");
    }

    // The upload link still works until it expires, but the attached file no longer sits under it.
    const swapped = Buffer.alloc(PNG.length, 1);
    expect((await put(made.url, swapped)).status).toBeLessThan(300);
    const again = await call(a, "GET", `/v1/orgs/${orgA}/products/${product.json().product.id}`);
    const still = await fetch(reach(again.json().product.imageUrl));
    expect(Buffer.from(await still.arrayBuffer()).equals(PNG)).toBe(true);

    // A PDF is an allowed upload, but not a product image: the catalog says which types it takes.
    const pdf = await link(9, "application/pdf");
    expect((await put(pdf.url, Buffer.from("%PDF-1.7\n"), "application/pdf")).status).toBeLessThan(300);
    const notImage = await call(a, "PATCH", `/v1/orgs/${orgA}/products/${product.json().product.id}`, {
      imageUploadId: pdf.upload.id,
    });
    expect(notImage.statusCode).toBe(422);
    expect(notImage.json().error.code).toBe("UPLOAD_NOT_ALLOWED");

    // Another organisation can neither see the upload nor attach it.
    expect((await call(b, "GET", `/v1/orgs/${orgB}/uploads/${made.upload.id}`)).statusCode).toBe(404);
    const stolen = await call(b, "POST", `/v1/orgs/${orgB}/products`, {
      name: "Stolen",
      sku: "VASE-1",
      priceCents: 1,
      stock: 1,
      imageUploadId: made.upload.id,
    });
    expect(stolen.json().error.code).toBe("UPLOAD_UNKNOWN");
  });

  it("DATA-3: a link refuses another content type, a body longer than announced, another key, and a late use", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(T);
    const made = await link();
    const wrongType = await put(made.url, PNG, "text/html");
    expect(wrongType.status).toBe(store.refusals.type);
    const tooLong = await put(made.url, Buffer.concat([PNG, Buffer.from("x")]));
    expect(tooLong.status).toBe(store.refusals.size);
    // The same signature on another organisation's key.
    const moved = made.url.replace(`orgs/${orgA}/`, `orgs/${orgB}/`);
    expect((await put(moved, PNG)).status).toBe(403);
    if (s3)
      expect(s3.refused).toEqual(["SignatureDoesNotMatch", "SignatureDoesNotMatch", "SignatureDoesNotMatch"]);

    // The last moment of its life the link still works; past it, it is refused.
    const late = await link();
    vi.setSystemTime(T + TTL_S * 1000 - 1);
    expect((await put(made.url, PNG)).status).toBeLessThan(300);
    vi.setSystemTime(T + TTL_S * 1000 + store.lateBy);
    const refused = await put(late.url, PNG);
    expect(refused.status).toBe(store.refusals.late);
    expect(await refused.text()).toMatch(/expired/i);
    // Back on the real clock (the server's own signed calls to S3 must not look skewed): the refused
    // attempts stored nothing, the one in time did.
    vi.useRealTimers();
    expect(await status(made.upload.id)).toBe("uploaded");
    expect(await status(late.upload.id)).toBe("pending");
  });

  it("DATA-3: a link is refused for a type outside the allowlist, active content, or a size over the limit", async () => {
    for (const [contentType, size] of [
      ["text/html", 10],
      ["image/svg+xml", 10],
      ["application/x-msdownload", 10],
      ["image/png", 1001],
    ] as const) {
      const res = await call(a, "POST", `/v1/orgs/${orgA}/uploads`, { contentType, size });
      expect(res.statusCode).toBe(422);
      expect(res.json().error.code).toBe("UPLOAD_NOT_ALLOWED");
    }
    expect(
      (await call(a, "POST", `/v1/orgs/${orgA}/uploads`, { contentType: "image/png", size: 0 })).statusCode,
    ).toBe(400);
  });

  it("DATA-3, OBS-2: a link's signature never reaches the log, and a body cut short is the client's failure", async () => {
    // With S3 the link never reaches Bulwark (its redaction in logs is proven in src/log/redact.test.ts).
    if (s3) return;
    const made = await link();
    expect((await put(made.url, PNG)).status).toBeLessThan(300);
    const logged = t.rawLogs.join("");
    expect(logged).not.toContain(new URL(made.url).searchParams.get("signature")!);
    expect(logged).toContain("signature=[REDACTED]");
    // Ten bytes of the 64 announced, then the client goes away.
    const cut = await link();
    const before = t.logs.length;
    const writes = vi.spyOn(LocalObjectStore.prototype, "write");
    await new Promise<void>((resolve, reject) => {
      const req = request(reach(cut.url), {
        method: "PUT",
        headers: { "content-type": "image/png", "content-length": String(PNG.length) },
      });
      req.on("error", () => resolve());
      req.write(PNG.subarray(0, 10), () => setTimeout(() => req.destroy(), 50));
      req.on("close", () => resolve());
      setTimeout(() => reject(new Error("no close")), 5000);
    });
    // The store's write, watched (it still runs): it settles once the server has given up on the body.
    const failure = await vi.waitFor(() => {
      expect(writes.mock.results.length).toBeGreaterThan(0);
      // Wrapped: waitFor would otherwise wait on the promise itself.
      return { settled: writes.mock.results.at(-1)!.value as Promise<void> };
    });
    await expect(failure.settled).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await new Promise((r) => setImmediate(r));
    expect(t.logs.slice(before).filter((l) => l.level === "error" || Number(l.level) >= 50)).toEqual([]);
    expect(await status(cut.upload.id)).toBe("pending");
    expect(readdirSync(join(dir, "orgs", orgA)).filter((f) => f.endsWith(".part"))).toEqual([]);
    writes.mockRestore();
  });

  it("DATA-3: the daily sweep deletes uploads nobody attached a day after their link expired, and nothing else", async () => {
    const unused = await link();
    expect((await put(unused.url, PNG)).status).toBeLessThan(300);
    const used = await link();
    expect((await put(used.url, PNG)).status).toBeLessThan(300);
    const product = await call(a, "POST", `/v1/orgs/${orgA}/products`, {
      name: "Kept",
      sku: "SWEEP-1",
      priceCents: 1,
      stock: 1,
      imageUploadId: used.upload.id,
    });
    expect(product.statusCode).toBe(201);
    // An attach whose transaction rolls back (the SKU is taken) still moved the file: it reads as
    // uploaded, not lost, and the sweep removes it where it was moved.
    const rolled = await link();
    expect((await put(rolled.url, PNG)).status).toBeLessThan(300);
    const taken = await call(a, "POST", `/v1/orgs/${orgA}/products`, {
      name: "Again",
      sku: "SWEEP-1",
      priceCents: 1,
      stock: 1,
      imageUploadId: rolled.upload.id,
    });
    expect(taken.json().error.code).toBe("SKU_TAKEN");
    expect(await status(rolled.upload.id)).toBe("uploaded");
    const uploads = t.app.bulwark.service("uploads");
    const due = Date.parse(unused.upload.expiresAt) + 86_400_000;
    // The job's clock across the boundary: at a day after expiry it is still there; a moment later, gone.
    await uploads.sweep(due);
    expect(await status(unused.upload.id)).toBe("uploaded");
    expect(await uploads.sweep(due + 1)).toBeGreaterThanOrEqual(1);
    expect((await call(a, "GET", `/v1/orgs/${orgA}/uploads/${unused.upload.id}`)).statusCode).toBe(404);
    expect(await uploads.objects.head(`orgs/${orgA}/${unused.upload.id}`)).toBeUndefined();
    await uploads.sweep(Date.parse(rolled.upload.expiresAt) + 86_400_000 + 1);
    expect(await uploads.objects.head(`orgs/${orgA}/${rolled.upload.id}.kept`)).toBeUndefined();
    expect((await call(a, "GET", `/v1/orgs/${orgA}/uploads/${rolled.upload.id}`)).statusCode).toBe(404);
    // The attached one, and its file, stay.
    expect(await status(used.upload.id)).toBe("attached");
    const shown = await call(a, "GET", `/v1/orgs/${orgA}/products/${product.json().product.id}`);
    expect((await fetch(reach(shown.json().product.imageUrl))).status).toBe(200);
    expect(t.app.bulwark.service("jobs").schedules()["uploads.sweep"]).toBe(86_400_000);
  });

  it("DATA-3: a link refuses a body without a length, a forged signature, and a read", async () => {
    const made = await link();
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = request(reach(made.url), {
        method: "PUT",
        headers: { "content-type": "image/png", "transfer-encoding": "chunked" },
      });
      req.on("response", (res) => resolve(res.statusCode ?? 0));
      req.on("error", reject);
      req.end(PNG);
    });
    expect(chunked).toBe(store.refusals.chunked);
    const forged = made.url.replace(/(signature=)[^&]+/i, "$1AAAA");
    const res = await put(forged, PNG);
    expect(res.status).toBe(403);
    expect(await res.text()).toMatch(s3 ? /SignatureDoesNotMatch/ : /UPLOAD_LINK_INVALID/);
    // An upload link is not a download link (the method is signed).
    expect((await fetch(reach(made.url))).status).toBe(403);
    expect(await status(made.upload.id)).toBe("pending");
  });
});

describe(`DATA-3, RATE-6: upload links count against the organisation's quota (${ENGINE})`, () => {
  it("RATE-6: with an upload_bytes quota, a link that would pass it is refused before it exists", async () => {
    const t = await testApp({ QUOTAS: "upload_bytes=100", UPLOAD_DIR: mkdtempSync(join(tmpdir(), "bw-q-")) });
    try {
      await createUser(t, "quota@example.org", PW);
      const s = await login(t, "quota@example.org", PW);
      const headers = { cookie: s.cookie, "x-csrf-token": s.csrf };
      const org = (
        await t.app.inject({ method: "POST", url: "/v1/orgs", headers, payload: { name: "Q" } })
      ).json().org.id;
      const ask = (size: number) =>
        t.app.inject({
          method: "POST",
          url: `/v1/orgs/${org}/uploads`,
          headers,
          payload: { contentType: "image/png", size },
        });
      expect((await ask(64)).statusCode).toBe(201);
      const over = await ask(64);
      expect(over.statusCode).toBe(429);
      expect(over.json().error.code).toBe("QUOTA_EXCEEDED");
      expect(await t.db.withOrg(org, (tx) => tx.selectFrom("uploads").select("id").execute())).toHaveLength(
        1,
      );
    } finally {
      await t.close();
    }
  });
});
