import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { catalog } from "../../examples/catalog/index.js";
import { createUser, ENGINE, login, type TestApp, testApp } from "../../test/harness.js";
import { type LocalS3, startS3 } from "../../test/s3.js";

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

  function call(who: { cookie: string; csrf: string }, method: string, url: string, payload?: object) {
    return t.app.inject({
      method: method as "GET",
      url,
      ...(payload ? { payload } : {}),
      headers: { cookie: who.cookie, "x-csrf-token": who.csrf },
    });
  }

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
